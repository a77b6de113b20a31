"""Every rule on one reading, and the quiet fast path that skips them when none of them can raise.

Most readings are normal: no rule raises and nothing is pending or open for the patient. Telling
that from a few comparisons (``is_quiet``) instead of running every family saves most of the
per-reading cost. The fast path is only correct if it never says quiet when a rule would raise, so
its bounds are derived from the same settings the rules use, and ``tests/test_alert_rules.py``
checks it against the rules on random readings.
"""

from __future__ import annotations

from stream_processor.limits import LimitRule
from stream_processor.rules.context import Finding, ReadingContext, established
from stream_processor.rules.early_warning import NEWS2_EVERY_MS, news2_finding
from stream_processor.rules.rhythm import RHYTHM_COUNTERS, rhythm_findings
from stream_processor.rules.thresholds import deviation_findings, hard_limit_finding, soft_limit_findings

__all__ = ["evaluate_reading", "is_quiet"]


def is_quiet(ctx: ReadingContext) -> bool:  # noqa: PLR0911 -- one early exit per rule family reads best
    """True when no rule can raise on this reading and nothing is pending or open for the patient.

    Most readings are like that; for them the rules are skipped (and their counters reset). It must
    never say quiet when a rule would raise: ``tests/test_alert_rules.py`` checks that on random readings.
    """
    if ctx.open_kinds:
        return False
    reading, limits, a = ctx.reading, ctx.limits, ctx.alerting
    floor = a.sqi_min
    for quality in reading.sqi.values():
        if quality < floor:
            return False
    rate = ctx.rate
    if rate is not None:
        low = max(limits.hr_low, a.soft_hr_low)
        high = min(limits.hr_high, a.soft_hr_high, 140.0)  # 140: the extreme tachycardia definition
        if not low <= rate <= high:
            return False
    vitals = reading.vitals
    spo2 = vitals.get("spo2")
    if spo2 is not None and spo2 < max(limits.spo2_low, a.soft_spo2_low):
        return False
    rr = vitals.get("rr")
    if rr is not None and not max(limits.rr_low, a.soft_rr_low) <= rr <= min(limits.rr_high, a.soft_rr_high):
        return False
    temp = vitals.get("temp")
    if temp is not None and not limits.temp_low <= temp <= min(limits.temp_high, a.soft_temp_high):
        return False
    if reading.runs.get("V", 0) >= 5 or (reading.rhythm is not None and reading.rhythm.label != "N"):
        return False
    if a.use_baselines:
        for vital, value in (("hr", rate), ("spo2", spo2), ("rr", rr), ("temp", temp)):
            if (
                value is not None
                and established(ctx, vital)
                and abs(ctx.state.baselines[vital].z(value)) >= a.deviation_z
            ):
                return False
    return True


def evaluate_reading(ctx: ReadingContext, hard: tuple[LimitRule, ...]) -> list[Finding]:
    """Every rule's finding for one reading, in a fixed order (deterministic replays)."""
    if is_quiet(ctx):
        findings: list[Finding] = []
        counters = ctx.state.counters
        for key in RHYTHM_COUNTERS:
            if key in counters:
                counters[key] = 0.0  # what the rules would do: their conditions are all false here
    else:
        # Rhythm rules first: they head their groups, so when a rhythm alarm and a hard limit describing
        # the same event come due on one reading, the more specific one raises and holds the other back.
        findings = rhythm_findings(ctx)
        findings += [f for f in (hard_limit_finding(ctx, rule) for rule in hard) if f is not None]
        findings += soft_limit_findings(ctx)
        findings += deviation_findings(ctx)
    # NEWS2 moves slowly (smoothed inputs, minutes-long freshness): scoring it every 5 s of device time
    # is as good as every second, and a fifth of the work.
    counters = ctx.state.counters
    if ctx.reading.ts_ms - counters.get("news2_at", float("-inf")) >= NEWS2_EVERY_MS:
        counters["news2_at"] = float(ctx.reading.ts_ms)
        finding = news2_finding(ctx)
        if ctx.wanted(finding.kind, finding.verdict):
            findings.append(finding)
    return findings
