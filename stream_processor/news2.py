"""NEWS2, the Royal College of Physicians' National Early Warning Score 2 (RCP 2017), as a pure function.

Seven parameters score 0-3 points each; the total and any single red score (3) give the risk band
and the clinical response. A parameter that is missing (or stale, as the streaming caller decides)
is listed in ``missing`` and scores nothing: a total over fewer parameters is a lower bound, and
the caller must see that rather than a confident-looking number.

Scale 2 for SpO2 is for patients with a prescribed target of 88-92 % (e.g. hypercapnic respiratory
failure); scale 1 for everyone else. Non-integer values are rounded half up to the chart's
resolution (whole numbers; temperature to 0.1 Cel) before scoring.

>>> score = news2({"respiration_rate": 22, "spo2": 95, "on_oxygen": False, "systolic_bp": 118,
...                "pulse": 112, "consciousness": "A", "temperature": 38.4})
>>> score.total, score.band, score.points["pulse"], score.missing
(6, 'medium', 2, ())
>>> news2({"consciousness": "V"}).band
'low-medium'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["PARAMETERS", "RESPONSES", "News2Error", "News2Score", "news2"]

PARAMETERS = ("respiration_rate", "spo2", "on_oxygen", "systolic_bp", "pulse", "consciousness", "temperature")

RESPONSES = {
    "low": "Minimum 12-hourly observations if the score is 0; minimum 4-6 hourly otherwise. A registered nurse "
    "assesses the patient and decides whether observations should be more frequent or care escalated.",
    "low-medium": "Minimum 1-hourly observations. A registered nurse informs the medical team caring for the "
    "patient, who review and decide whether escalation of care is necessary.",
    "medium": "Urgent response: minimum 1-hourly observations. A registered nurse immediately informs the medical "
    "team; urgent assessment by a clinician or team with core competencies in the care of acutely ill patients; "
    "care in an environment with monitoring facilities.",
    "high": "Emergency response: continuous monitoring of vital signs. A registered nurse immediately informs the "
    "medical team (at least specialist registrar level); emergency assessment by a team with critical care "
    "competencies, including advanced airway management; consider transfer to a level 2 or 3 care facility.",
}


class News2Error(ValueError):
    """An observation that cannot be scored; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class News2Score:
    total: int
    band: str
    points: Mapping[str, int]
    missing: tuple[str, ...]

    @property
    def response(self) -> str:
        return RESPONSES[self.band]

    @property
    def complete(self) -> bool:
        return not self.missing


def _round(value: float, places: int = 0) -> float:
    """Half up to ``places`` decimals; the tiny epsilon absorbs binary representation (38.05 * 10 = 380.4999...)."""
    scale = float(10**places)
    return math.floor(value * scale + 0.5 + 1e-9) / scale


def _number(observations: Mapping[str, object], key: str, low: float, high: float) -> float | None:
    value = observations.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise News2Error(key, f"expected a finite number, got {value!r}")
    if not low <= value <= high:
        raise News2Error(key, f"{value:g} is outside the plausible range {low:g}..{high:g}")
    return float(value)


def _respiration(rr: float) -> int:
    rr = _round(rr)
    return 3 if rr <= 8 else 1 if rr <= 11 else 0 if rr <= 20 else 2 if rr <= 24 else 3


def _spo2_scale1(spo2: float) -> int:
    spo2 = _round(spo2)
    return 3 if spo2 <= 91 else 2 if spo2 <= 93 else 1 if spo2 <= 95 else 0


def _spo2_scale2(spo2: float, *, on_oxygen: bool | None) -> int:
    spo2 = _round(spo2)
    if spo2 <= 83:
        return 3
    if spo2 <= 85:
        return 2
    if spo2 <= 87:
        return 1
    if spo2 <= 92 or not on_oxygen:
        return 0  # the target range, or >= 93 % on air
    return 1 if spo2 <= 94 else 2 if spo2 <= 96 else 3  # above target on oxygen: too much oxygen


def _systolic(sbp: float) -> int:
    sbp = _round(sbp)
    return 3 if sbp <= 90 else 2 if sbp <= 100 else 1 if sbp <= 110 else 0 if sbp <= 219 else 3


def _pulse(pulse: float) -> int:
    pulse = _round(pulse)
    return (
        3
        if pulse <= 40
        else 1
        if pulse <= 50
        else 0
        if pulse <= 90
        else 1
        if pulse <= 110
        else 2
        if pulse <= 130
        else 3
    )


def _temperature(temp: float) -> int:
    temp = _round(temp, 1)
    return 3 if temp <= 35.0 else 1 if temp <= 36.0 else 0 if temp <= 38.0 else 1 if temp <= 39.0 else 2


def news2(observations: Mapping[str, object]) -> News2Score:
    """Score one set of observations (keys as in :data:`PARAMETERS`, plus ``spo2_scale`` 1 or 2).

    ``consciousness`` is ACVPU: ``A`` alert, ``C`` new confusion, ``V`` voice, ``P`` pain, ``U``
    unresponsive. Raises :class:`News2Error` for values that cannot be scored.
    """
    scale = observations.get("spo2_scale", 1)
    if scale not in (1, 2) or isinstance(scale, bool):
        raise News2Error("spo2_scale", f"must be 1 or 2, got {scale!r}")
    on_oxygen = observations.get("on_oxygen")
    if on_oxygen is not None and not isinstance(on_oxygen, bool):
        raise News2Error("on_oxygen", f"must be true or false, got {on_oxygen!r}")
    consciousness = observations.get("consciousness")
    if consciousness is not None and consciousness not in {"A", "C", "V", "P", "U"}:
        raise News2Error("consciousness", f"must be one of A, C, V, P, U, got {consciousness!r}")

    def spo2_points(spo2: float) -> int:
        return _spo2_scale2(spo2, on_oxygen=on_oxygen) if scale == 2 else _spo2_scale1(spo2)

    numeric = {
        "respiration_rate": (0, 120, _respiration),
        "spo2": (0, 100, spo2_points),
        "systolic_bp": (10, 300, _systolic),
        "pulse": (0, 350, _pulse),
        "temperature": (10, 47, _temperature),
    }
    points: dict[str, int] = {}
    for parameter in PARAMETERS:
        if parameter in numeric:
            low, high, scorer = numeric[parameter]
            value = _number(observations, parameter, low, high)
            if value is not None:
                points[parameter] = scorer(value)
        elif parameter == "on_oxygen" and on_oxygen is not None:
            points[parameter] = 2 if on_oxygen else 0
        elif parameter == "consciousness" and consciousness is not None:
            points[parameter] = 0 if consciousness == "A" else 3

    total = sum(points.values())
    if total >= 7:
        band = "high"
    elif total >= 5:
        band = "medium"
    elif 3 in points.values():
        band = "low-medium"
    else:
        band = "low"
    missing = tuple(p for p in PARAMETERS if p not in points)
    return News2Score(total=total, band=band, points=points, missing=missing)
