"""Deciding one alarm: is an alert of a matching kind active at some moment between 284 s and 300 s?

The bedside monitor raised its alarm at 300 s of the record. Our system "agrees" with it (decision
true) when, by then, it has itself raised an alert that fits the alarm and that alert has not ended
before 284 s: raised at ``t <= 300`` and not cleared before 284 s (``cleared_t`` is ``None`` or
``>= 284``). Only data up to 300 s is used: the replay stops there, and an alert raised later is
never seen. The 16 s hold the longest definition (17 beats above 140 /min, about 7 s) plus the edge's
own latency (5 s windows for quality and asystole), so an alert raised for the same event a few
seconds before the monitor's, and perhaps just cleared, still counts; an alert that ended long
before the alarm does not.

**Which alert kinds fit which alarm** (:data:`ALARM_KINDS`, the one table to change). The first kind
of each row is the rhythm rule with the challenge's own definition (``stream_processor/rules.py``);
the score with that kind alone is reported too (``strict``). The others count because of how the
processor pages:

- the hard limit of the same direction (``hr_low`` for Bradycardia, ``hr_high`` for Tachycardia):
  the same slow or fast heart, judged on the 1 Hz heart rate over a condition delay instead of by
  beats; a nurse is paged at high priority for the same reason, and the rhythm alert, while open,
  holds the hard limit back (one event, one alert), so either may be the one that shows;
- the kinds that head the alarm's group (``GROUPS`` in ``stream_processor/rules.py``): while one of
  them is open the alarm's own kind *cannot* be raised (``ventricular_fibrillation`` holds back
  ``asystole`` and ``bradycardia``; ``asystole`` holds back ``bradycardia``;
  ``ventricular_tachycardia`` holds back ``tachycardia``). Not counting them would score the
  grouping, a paging decision, as a detection miss; what the nurse got for the event is the more
  serious alert;
- ``ventricular_fibrillation`` for a Ventricular_Tachycardia alarm: flutter is a very fast
  monomorphic VT and the border between them is blurred in the waveform and among annotators; a
  VF alert during a VT alarm sends the nurse with the defibrillator for the same ventricular
  tachyarrhythmia. The converse is not counted: the VF/flutter alarm names a fibrillatory or flutter
  waveform specifically, and a VT alert (five ventricular beats) does not claim one.

``af``, ``signal_quality``, ``no_data``, soft limits, deviations and NEWS2 never count: none of them
says the arrhythmia is there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from stream_processor.replay import ReplayedAlert

__all__ = ["ALARM_AT_S", "ALARM_KINDS", "WINDOW_START_S", "Span", "active_kinds", "decide", "spans_of"]

WINDOW_START_S = 284.0
ALARM_AT_S = 300.0

# Alarm type -> the alert kinds that agree with it; the first is the rhythm rule of the same definition.
ALARM_KINDS: dict[str, tuple[str, ...]] = {
    "Asystole": ("asystole", "ventricular_fibrillation"),
    "Bradycardia": ("bradycardia", "hr_low", "asystole", "ventricular_fibrillation"),
    "Tachycardia": ("tachycardia", "hr_high", "ventricular_tachycardia"),
    "Ventricular_Tachycardia": ("ventricular_tachycardia", "ventricular_fibrillation"),
    "Ventricular_Flutter_Fib": ("ventricular_fibrillation",),
}


class Span(NamedTuple):
    """One alert on the record's time line: its kind, when it was raised and when it ended (``None``: open)."""

    kind: str
    t: float
    cleared_t: float | None


def spans_of(alerts: Iterable[ReplayedAlert]) -> list[Span]:
    return [Span(a.event.alert.kind, a.t_s, a.cleared_t) for a in alerts]


def active_kinds(spans: Iterable[Span], *, start_s: float = WINDOW_START_S, end_s: float = ALARM_AT_S) -> set[str]:
    """The kinds of the alerts active at some moment in ``[start_s, end_s]``.

    >>> sorted(active_kinds([Span("asystole", 290.0, None), Span("hr_low", 100.0, 280.0), Span("af", 301.0, None)]))
    ['asystole']
    """
    return {s.kind for s in spans if s.t <= end_s and (s.cleared_t is None or s.cleared_t >= start_s)}


def decide(alarm_type: str, kinds: Iterable[str], *, strict: bool = False) -> bool:
    """True when one of ``kinds`` (active in the window) fits the alarm; ``strict``: its own rhythm kind only."""
    fitting: Sequence[str] = ALARM_KINDS[alarm_type]
    if strict:
        fitting = fitting[:1]
    return any(kind in fitting for kind in kinds)
