"""Hard clinical limits: rules that always alarm when crossed, whatever has been learned about a patient.

A rule looks at one vital of one reading and says whether it is past the limit (``raising``), back
inside the clear threshold (``clear``) or in the hysteresis band between them (neither). The gap
between the two thresholds keeps a value hovering at the limit from toggling the alarm.

>>> from vitalstream.settings import LimitsSettings
>>> rules = {rule.kind: rule for rule in hard_limit_rules(LimitsSettings())}
>>> rules["hr_high"].verdict(155.0), rules["hr_high"].verdict(145.0), rules["hr_high"].verdict(120.0)
('raising', 'hold', 'clear')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vitalstream.settings import LimitsSettings
from vitalstream.wire import VITALS, Priority

__all__ = ["LimitRule", "Verdict", "hard_limit_rules"]

Verdict = Literal["raising", "hold", "clear"]


@dataclass(frozen=True, slots=True)
class LimitRule:
    """``vital`` above (``direction="high"``) or below (``"low"``) ``limit`` for ``delay_s`` raises ``kind``."""

    kind: str
    vital: str
    direction: Literal["high", "low"]
    limit: float
    clear: float
    delay_s: float
    priority: Priority
    label: str

    def verdict(self, value: float) -> Verdict:
        if self.direction == "high":
            if value > self.limit:
                return "raising"
            return "clear" if value < self.clear else "hold"
        if value < self.limit:
            return "raising"
        return "clear" if value > self.clear else "hold"

    def summary(self, value: float, held_s: float) -> str:
        unit = VITALS[self.vital].ucum
        side = "above" if self.direction == "high" else "below"
        return f"{self.label} {value:g} {unit} {side} the hard limit of {self.limit:g} {unit} for {held_s:.0f} s"


def hard_limit_rules(limits: LimitsSettings) -> tuple[LimitRule, ...]:
    """The hard-limit rules for a ward profile. Priorities follow IEC 60601-1-8 (high = act now)."""
    s = limits
    return (
        LimitRule("hr_high", "hr", "high", s.hr_high, s.hr_high_clear, s.hr_delay_s, Priority.HIGH, "Heart rate"),
        LimitRule("hr_low", "hr", "low", s.hr_low, s.hr_low_clear, s.hr_delay_s, Priority.HIGH, "Heart rate"),
        LimitRule("spo2_low", "spo2", "low", s.spo2_low, s.spo2_low_clear, s.spo2_delay_s, Priority.HIGH, "SpO2"),
        LimitRule(
            "rr_high", "rr", "high", s.rr_high, s.rr_high_clear, s.rr_delay_s, Priority.MEDIUM, "Respiratory rate"
        ),
        LimitRule("rr_low", "rr", "low", s.rr_low, s.rr_low_clear, s.rr_delay_s, Priority.HIGH, "Respiratory rate"),
        LimitRule(
            "temp_high", "temp", "high", s.temp_high, s.temp_high_clear, s.temp_delay_s, Priority.MEDIUM, "Temperature"
        ),
        LimitRule(
            "temp_low", "temp", "low", s.temp_low, s.temp_low_clear, s.temp_delay_s, Priority.MEDIUM, "Temperature"
        ),
    )
