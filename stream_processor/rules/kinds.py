"""Every alert kind the processor can raise: how its lifecycle is set up, and which kinds describe one event.

The rules say *whether* a condition holds on a reading; this table says what the alert lifecycle
does with it (base priority, how long the condition must hold, how long it must be gone) and which
alarms are one physiological event. While a more specific or more serious alert of a group is open,
the others of that group are not raised: one tachycardia pages once, not as ``tachycardia`` and
``hr_high`` and ``hr_high_warning``.
"""

from __future__ import annotations

from dataclasses import dataclass

from stream_processor.limits import LimitRule
from stream_processor.rules.early_warning import NEWS2_EVERY_MS
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream.wire import Priority

__all__ = ["GROUPS", "RuleSpec", "rule_specs"]

# Most specific or most serious first; a kind is held back while an earlier kind of its group is open.
GROUPS: tuple[tuple[str, ...], ...] = (
    ("ventricular_fibrillation", "asystole", "bradycardia", "hr_low", "hr_low_warning", "hr_deviation"),
    ("ventricular_tachycardia", "tachycardia", "hr_high", "hr_high_warning", "hr_deviation"),
    ("spo2_low", "spo2_low_warning", "spo2_deviation"),
    ("rr_low", "rr_low_warning", "rr_deviation"),
    ("rr_high", "rr_high_warning", "rr_deviation"),
    ("temp_high", "temp_high_warning", "temp_deviation"),
)


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """How the lifecycle of a kind is set up: base priority, condition delay, clear delay, and the longest
    gap between evaluations before a pending condition starts over."""

    kind: str
    priority: Priority
    delay_s: float
    clear_delay_s: float
    max_gap_s: float = 5.0


def rule_specs(limits: LimitsSettings, alerting: AlertingSettings, hard: tuple[LimitRule, ...]) -> dict[str, RuleSpec]:
    """Every kind the processor can raise, with its lifecycle parameters."""
    a = alerting
    specs = [RuleSpec(rule.kind, rule.priority, rule.delay_s, limits.clear_delay_s) for rule in hard]
    specs += [
        RuleSpec("asystole", Priority.HIGH, 0.0, 5.0),
        RuleSpec("ventricular_fibrillation", Priority.HIGH, 0.0, 5.0),
        RuleSpec("ventricular_tachycardia", Priority.HIGH, 0.0, 10.0),
        RuleSpec("bradycardia", Priority.HIGH, 0.0, 5.0),
        RuleSpec("tachycardia", Priority.HIGH, 0.0, 5.0),
        RuleSpec("af", Priority.MEDIUM, a.af_delay_s, 60.0),
        RuleSpec("signal_quality", Priority.LOW, a.technical_after_s, 10.0),
        RuleSpec("no_data", Priority.MEDIUM, 0.0, 0.0),
        RuleSpec("news2", Priority.MEDIUM, a.news2_delay_s, 60.0, max_gap_s=3 * NEWS2_EVERY_MS / 1000),
    ]
    for vital in ("hr", "spo2", "rr", "temp"):
        for side in ("high", "low"):
            specs.append(RuleSpec(f"{vital}_{side}_warning", Priority.LOW, a.soft_delay_s, 30.0))
        specs.append(RuleSpec(f"{vital}_deviation", Priority.LOW, a.deviation_delay_s, 60.0))
    return {spec.kind: spec for spec in specs}
