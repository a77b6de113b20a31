"""One alarm's record through the edge pipeline and the processor, up to the alarm and not a sample beyond.

:func:`evaluate_record` is the whole per-record work, run in a worker process by the evaluation and
directly by the tests: replay the record to 300 s (``replay_stream(until_s=300)``; the stream itself is
cut there too, so the edge never sees a sample after the alarm), keep every alert with when it ended,
and decide. An exception anywhere in the record's replay is the record's result, not the evaluation's
end: it is reported with the record (``error``) and the decision is false (the alarm is suppressed,
which for a true alarm is the costly mistake).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from edge_agent.pipeline import EdgeModels
from stream_processor.replay import replay_stream
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream_app.evaluation.alarms.decision import ALARM_AT_S, Span, active_kinds, decide, spans_of
from vitalstream_app.evaluation.alarms.layout import Alarm, signal_names
from vitalstream_app.replay_sources import recording_streams

__all__ = ["RecordResult", "evaluate_record"]


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What one record gave: every alert up to the alarm, the kinds active in the window, and the decisions."""

    alarm: Alarm
    decision: bool
    strict: bool  # the decision with the alarm's own rhythm kind only
    kinds: tuple[str, ...]  # every alert kind active in the window, fitting or not
    spans: tuple[Span, ...]
    signals: tuple[str, ...] = ()
    seconds: float = 0.0  # wall time of the record
    error: str | None = None

    @classmethod
    def failed(
        cls, alarm: Alarm, error: BaseException, *, signals: tuple[str, ...] = (), seconds: float = 0.0
    ) -> RecordResult:
        """A record whose replay raised: reported with ``"<ExceptionType>: message"``, the alarm suppressed."""
        return cls(
            alarm, decision=False, strict=False, kinds=(), spans=(), signals=signals, seconds=seconds,
            error=f"{type(error).__name__}: {error}",
        )  # fmt: skip

    @property
    def outcome(self) -> str:
        if self.alarm.truth:
            return "TP" if self.decision else "FN"
        return "FP" if self.decision else "TN"

    def as_json(self) -> dict[str, object]:
        line: dict[str, object] = {
            "record": self.alarm.record,
            "alarm": self.alarm.type,
            "truth": self.alarm.truth,
            "decision": self.decision,
            "outcome": self.outcome,
            "kinds": list(self.kinds),
            "alerts": [
                {
                    "kind": s.kind,
                    "t": round(s.t, 3),
                    "cleared_t": None if s.cleared_t is None else round(s.cleared_t, 3),
                }
                for s in self.spans
            ],
            "signals": list(self.signals),
            "wall_s": round(self.seconds, 2),
        }
        if self.error is not None:
            line["error"] = self.error
        return line


def evaluate_record(
    header: Path,
    alarm: Alarm,
    *,
    models: EdgeModels,
    limits: LimitsSettings,
    alerting: AlertingSettings,
    until_s: float = ALARM_AT_S,
) -> RecordResult:
    """Replay ``header``'s record to ``until_s`` and decide ``alarm`` (see the module docstring)."""
    started = time.perf_counter()
    try:
        signals = signal_names(header)
    except OSError:
        signals = ()
    try:
        (stream,) = recording_streams(header, models=models, until_s=until_s)
        alerts = replay_stream(stream, limits=limits, alerting=alerting, until_s=until_s)
    except Exception as exc:  # noqa: BLE001 -- a crash in one record is that record's result, reported with it
        return RecordResult.failed(alarm, exc, signals=signals, seconds=time.perf_counter() - started)
    spans = tuple(spans_of(alerts))
    kinds = tuple(sorted(active_kinds(spans)))
    return RecordResult(
        alarm,
        decision=decide(alarm.type, kinds),
        strict=decide(alarm.type, kinds, strict=True),
        kinds=kinds,
        spans=spans,
        signals=signals,
        seconds=time.perf_counter() - started,
    )
