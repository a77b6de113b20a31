"""NEWS2 on the stream: the score from the freshest inputs, its verdict with hysteresis, and its finding.

The score itself is the pure RCP chart (``stream_processor.news2``); what streaming adds is here:
which inputs are still fresh (stale ones count as missing, never as normal), how often to score
(every 5 s of device time: the inputs move slowly), and when an open NEWS2 alert may clear.
"""

from __future__ import annotations

from stream_processor.limits import Verdict
from stream_processor.news2 import News2Score, news2
from stream_processor.patient import PatientState
from stream_processor.rules.context import Finding, ReadingContext, explanation
from vitalstream.settings import AlertingSettings
from vitalstream.wire import AlertExplanation, Priority

__all__ = ["BAND_PRIORITY", "NEWS2_CLEAR_TOTAL", "NEWS2_EVERY_MS", "news2_finding", "news2_of", "news2_verdict"]

# Scoring every 5 s of device time is as good as every second for inputs this slow, and a fifth of the work.
NEWS2_EVERY_MS = 5000
# Hysteresis for NEWS2: an open NEWS2 alert clears only once the total is back to this or less, so
# a score hovering at a band edge (4, 5, 4, 5 ...) does not page, clear and page again.
NEWS2_CLEAR_TOTAL = 2
BAND_PRIORITY = {"low-medium": Priority.LOW, "medium": Priority.MEDIUM, "high": Priority.HIGH}
# Parameters the wearables measure continuously are fresh for ``news2_vitals_fresh_s``; the others (a
# nurse's observations) for ``news2_observations_fresh_s``.
_CONTINUOUS = frozenset({"respiration_rate", "spo2", "pulse", "temperature"})


def news2_of(state: PatientState, now_ms: int, alerting: AlertingSettings) -> News2Score:
    """NEWS2 from the freshest inputs; stale inputs count as missing, never as normal."""
    observations: dict[str, object] = {"spo2_scale": state.spo2_scale}
    for parameter, (value, ts_ms) in state.news2_inputs.items():
        horizon = alerting.news2_vitals_fresh_s if parameter in _CONTINUOUS else alerting.news2_observations_fresh_s
        if now_ms - ts_ms <= horizon * 1000:
            observations[parameter] = value
    return news2(observations)


def news2_verdict(score: News2Score, *, is_open: bool) -> Verdict:
    """Raising above the low band; an open alert holds until the total is back to ``NEWS2_CLEAR_TOTAL``."""
    if score.band != "low":
        return "raising"
    return "hold" if is_open and score.total > NEWS2_CLEAR_TOTAL else "clear"


def news2_finding(ctx: ReadingContext) -> Finding:
    """NEWS2 for the reading's time, as a finding whose priority follows the risk band."""
    score = news2_of(ctx.state, ctx.reading.ts_ms, ctx.alerting)
    verdict = news2_verdict(score, is_open=ctx.state.is_open("news2"))

    def describe(held_ms: int) -> AlertExplanation:
        missing = f"; not scored (missing or stale): {', '.join(score.missing)}" if score.missing else ""
        detail: dict[str, float | str] = {f"points_{k}": float(v) for k, v in score.points.items()}
        detail["total"] = float(score.total)
        detail["band"] = score.band
        if score.missing:
            detail["missing"] = ",".join(score.missing)
        return explanation(
            ctx,
            rule="news2",
            summary=f"NEWS2 {score.total} ({score.band} risk){missing}",
            value=float(score.total),
            detail=detail,
            response=score.response,
        )

    return Finding("news2", verdict, describe, priority=BAND_PRIORITY.get(score.band))
