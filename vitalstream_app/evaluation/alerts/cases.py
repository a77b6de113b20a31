"""What is true in the alert evaluation: the events a nurse must hear about, and the alert kinds that fit them.

An alert is *true* when its kind fits a true event going on (from the event's onset to five minutes after
its end); each event also names the kinds that *detect* it and its rule's own definition time.
"""

from __future__ import annotations

from dataclasses import dataclass

from stream_processor.replay import Stream

__all__ = [
    "ARRHYTHMIA",
    "DAY_S",
    "GRACE_S",
    "HR_HIGH",
    "HR_LOW",
    "PHYSIOLOGICAL",
    "RR_HIGH",
    "SPO2_LOW",
    "TEMP_HIGH",
    "Case",
    "TrueEvent",
]

DAY_S = 86_400
GRACE_S = 300.0  # alerts up to 5 min after an event's end still belong to it (recovery, clear delays)

HR_HIGH = frozenset({"hr_high", "hr_high_warning", "hr_deviation", "tachycardia", "news2"})
HR_LOW = frozenset({"hr_low", "hr_low_warning", "hr_deviation", "bradycardia", "news2"})
SPO2_LOW = frozenset({"spo2_low", "spo2_low_warning", "spo2_deviation", "news2"})
RR_HIGH = frozenset({"rr_high", "rr_high_warning", "rr_deviation", "news2"})
TEMP_HIGH = frozenset({"temp_high", "temp_high_warning", "temp_deviation", "news2"})
ARRHYTHMIA = frozenset(
    {"asystole", "ventricular_fibrillation", "ventricular_tachycardia", "tachycardia", "bradycardia", "af"}
)
PHYSIOLOGICAL = HR_HIGH | HR_LOW | SPO2_LOW | RR_HIGH | TEMP_HIGH | {"rr_low", "rr_low_warning", "temp_low"}


@dataclass(frozen=True, slots=True)
class TrueEvent:
    """Something a nurse must hear about: when it truly began and ended, which alert kinds detect it,
    which kinds are not false while it lasts, and the detecting rule's own definition time."""

    name: str
    family: str  # abrupt | trend | rhythm | technical
    onset_s: float
    end_s: float
    detect: frozenset[str]
    accept: frozenset[str]
    definition_s: float = 0.0

    def covers(self, kind: str, t_s: float) -> bool:
        return kind in self.accept and self.onset_s <= t_s <= self.end_s + GRACE_S


@dataclass(frozen=True, slots=True)
class Case:
    stream: Stream
    group: str
    events: tuple[TrueEvent, ...] = ()
    scripted: bool = True
