"""The vital signs the wire contract knows: key, LOINC code, UCUM unit and the plausible range.

Units are fixed by the contract rather than sent with every reading: a reading's ``hr`` is always
beats per minute. That keeps 1 Hz messages small and makes unit mix-ups impossible instead of
merely detectable. The ranges reject values no living patient (or working sensor) can produce;
they are wide on purpose and are *not* clinical alarm limits (see ``stream_processor.limits``).

>>> VITALS["hr"].loinc, VITALS["hr"].ucum
('8867-4', '/min')
>>> VITALS["spo2"].contains(101.0)
False
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["VITALS", "VitalSpec"]


@dataclass(frozen=True, slots=True)
class VitalSpec:
    """One vital sign: its wire key, display name, codes, unit and plausible range (inclusive)."""

    key: str
    name: str
    loinc: str
    ucum: str
    low: float
    high: float
    why: str

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


VITALS: dict[str, VitalSpec] = {
    spec.key: spec
    for spec in (
        VitalSpec(
            "hr",
            "Heart rate",
            "8867-4",
            "/min",
            0.0,
            350.0,
            "0 is asystole; ventricular rates above 300/min occur only in pre-excited AF, 350 leaves margin",
        ),
        VitalSpec(
            "pr",
            "Pulse rate (pulse oximetry)",
            "8889-8",
            "/min",
            0.0,
            350.0,
            "the pulse counted from the PPG; kept apart from the ECG heart rate so the two can be cross-checked",
        ),
        VitalSpec(
            "spo2",
            "Oxygen saturation (SpO2)",
            "59408-5",
            "%",
            0.0,
            100.0,
            "a saturation is a percentage",
        ),
        VitalSpec(
            "rr",
            "Respiratory rate",
            "9279-1",
            "/min",
            0.0,
            120.0,
            "0 is apnoea; neonates reach about 100/min",
        ),
        VitalSpec(
            "temp",
            "Body temperature",
            "8310-5",
            "Cel",
            10.0,
            47.0,
            "survived accidental hypothermia reaches about 13 Cel and heat stroke about 46.5 Cel",
        ),
        VitalSpec(
            "sbp",
            "Systolic blood pressure",
            "8480-6",
            "mm[Hg]",
            10.0,
            300.0,
            "below 10 mm[Hg] no cuff or line reads a systolic value; above 300 exceeds cuff ranges",
        ),
        VitalSpec(
            "dbp",
            "Diastolic blood pressure",
            "8462-4",
            "mm[Hg]",
            5.0,
            250.0,
            "must also stay below the systolic value of the same reading",
        ),
    )
}
