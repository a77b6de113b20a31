"""The value rules: hard limits, soft (ward warning) limits and deviations from the patient's own normal.

They sit together because they share their facts: each judges one vital's value, against a fixed
limit or the learned baseline, and explains itself with the same baseline facts. From the most to
the least certain:

- **hard limits** (``hr_high``, ``spo2_low``, ...): crossing one always alarms; learning cannot change it;
- **soft limits** (``hr_high_warning``, ...): ward warning thresholds, low priority, which the
  patient's learned normal silences when the value is usual *for that patient* (an athlete's 48/min,
  a COPD patient's 89 %);
- **deviations** (``hr_deviation``, ...): the patient leaves their own band while inside every limit.
"""

from __future__ import annotations

from stream_processor.limits import LimitRule, Verdict
from stream_processor.rules.context import (
    Describe,
    Finding,
    ReadingContext,
    ecg_and_pulse_disagree,
    established,
    explanation,
)
from vitalstream.wire import VITALS, AlertExplanation

__all__ = ["deviation_findings", "hard_limit_finding", "soft_limit_findings"]

_LABEL = {"hr": "Heart rate", "spo2": "SpO2", "rr": "Respiratory rate", "temp": "Temperature"}


def _baseline_facts(ctx: ReadingContext, vital: str, value: float) -> dict[str, float]:
    baseline = ctx.state.baselines.get(vital)
    if baseline is None or baseline.learned == 0:
        return {}
    return {
        "mean": round(baseline.mean, 2),
        "sd": round(baseline.sd, 2),
        "z": round(baseline.z(value), 2),
        "learned_s": baseline.learned_s,
    }


def _widening(ctx: ReadingContext, kind: str) -> float:
    """Clinician feedback: each false alarm of this kind widens the personal band a little, bounded."""
    if not ctx.alerting.use_feedback:
        return 0.0
    return min(ctx.alerting.feedback_max_sd, ctx.state.feedback.get(kind, 0) * ctx.alerting.feedback_step_sd)


# ---------------------------------------------------------------- hard limits


def hard_limit_finding(ctx: ReadingContext, rule: LimitRule) -> Finding | None:
    """The finding of one hard limit, or ``None`` when its vital is absent or the verdict does not matter."""
    value = ctx.value(rule.vital)
    if value is None:
        return None
    verdict = rule.verdict(value)
    if not ctx.wanted(rule.kind, verdict):
        return None

    def describe(held_ms: int) -> AlertExplanation:
        return explanation(
            ctx,
            rule=f"hard_limit:{rule.kind}",
            summary=rule.summary(value, held_ms / 1000),
            vital=rule.vital,
            value=value,
            limit=rule.limit,
            baseline=_baseline_facts(ctx, rule.vital, value),
        )

    if rule.vital == "hr" and verdict == "raising" and ecg_and_pulse_disagree(ctx):
        verdict = "hold"  # the ECG says one thing, a good PPG another: an artefact, not a heart rate
    return Finding(rule.kind, verdict, describe, gate=ctx.gate_for(rule.vital))


# ---------------------------------------------------------------- soft limits


def soft_limit_findings(ctx: ReadingContext) -> list[Finding]:
    """The ward warning levels, silenced where the value is usual for this patient."""
    a = ctx.alerting
    table = (
        ("hr", "high", a.soft_hr_high),
        ("hr", "low", a.soft_hr_low),
        ("spo2", "low", a.soft_spo2_low),
        ("rr", "high", a.soft_rr_high),
        ("rr", "low", a.soft_rr_low),
        ("temp", "high", a.soft_temp_high),
    )
    findings = []
    for vital, side, threshold in table:
        value = ctx.value(vital)
        if value is None:
            continue
        kind = f"{vital}_{side}_warning"
        beyond = value > threshold if side == "high" else value < threshold
        # Hysteresis: 5 % of the threshold on the safe side before the warning clears.
        back = value < threshold * 0.95 if side == "high" else value > threshold * 1.05
        verdict: Verdict = "raising" if beyond else "clear" if back else "hold"
        if not ctx.wanted(kind, verdict):
            continue
        usual = False
        if beyond and a.use_baselines and established(ctx, vital):
            low, high = ctx.state.baselines[vital].band(a.personal_band_sd + _widening(ctx, kind))
            usual = low <= value <= high
            if usual:
                verdict = "clear"  # unusual for the ward, usual for this patient: not a warning
        describe = _soft_describer(ctx, kind=kind, vital=vital, side=side, value=value, threshold=threshold)
        findings.append(Finding(kind, verdict, describe, gate=ctx.gate_for(vital)))
    return findings


def _soft_describer(
    ctx: ReadingContext, *, kind: str, vital: str, side: str, value: float, threshold: float
) -> Describe:
    def describe(held_ms: int) -> AlertExplanation:
        unit = VITALS[vital].ucum
        direction = "above" if side == "high" else "below"
        facts = _baseline_facts(ctx, vital, value)
        usual = f"; the patient's usual is {facts['mean']:g} +- {facts['sd']:g} {unit}" if facts else ""
        summary = (
            f"{_LABEL[vital]} {value:g} {unit} {direction} the ward warning level of {threshold:g} {unit} "
            f"for {held_ms / 1000:.0f} s{usual}"
        )
        return explanation(
            ctx, rule=f"soft_limit:{kind}", summary=summary, vital=vital, value=value, limit=threshold, baseline=facts
        )

    return describe


# ---------------------------------------------------------------- deviations


def deviation_findings(ctx: ReadingContext) -> list[Finding]:
    """Values far outside the patient's own learned band (only once the baseline is established)."""
    a = ctx.alerting
    if not a.use_baselines:
        return []
    findings = []
    for vital in ("hr", "spo2", "rr", "temp"):
        value = ctx.value(vital)
        if value is None or not established(ctx, vital):
            continue
        kind = f"{vital}_deviation"
        baseline = ctx.state.baselines[vital]
        z = baseline.z(value)
        limit = a.deviation_z + _widening(ctx, kind)
        verdict: Verdict = "raising" if abs(z) >= limit else "clear" if abs(z) < a.deviation_clear_z else "hold"
        if not ctx.wanted(kind, verdict):
            continue
        describe = _deviation_describer(ctx, vital=vital, value=value, z=z, limit=limit)
        findings.append(Finding(kind, verdict, describe, gate=ctx.gate_for(vital)))
    return findings


def _deviation_describer(ctx: ReadingContext, *, vital: str, value: float, z: float, limit: float) -> Describe:
    baseline = ctx.state.baselines[vital]
    mean, sd = baseline.mean, baseline.sd

    def describe(held_ms: int) -> AlertExplanation:
        unit = VITALS[vital].ucum
        summary = (
            f"{_LABEL[vital]} {value:g} {unit} is {abs(z):.1f} s.d. {'above' if z > 0 else 'below'} this "
            f"patient's usual {mean:.1f} +- {sd:.1f} {unit} for {held_ms / 60000:.0f} min"
        )
        return explanation(
            ctx,
            rule=f"personal_baseline:{vital}",
            summary=summary,
            vital=vital,
            value=value,
            limit=round(mean + (limit if z > 0 else -limit) * sd, 2),
            baseline={"mean": round(mean, 2), "sd": round(sd, 2), "z": round(z, 2)},
        )

    return describe
