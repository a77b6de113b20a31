"""A stream through the processor core on a virtual clock: the replay loop, free of any source or broker.

One process, no broker, no wall clock: each stream (one patient) gets its own
:class:`~stream_processor.core.ProcessorCore`, and time is the stream's own event time, advanced a
second at a time. Readings arrive at their timestamp (live, so nothing is retrospective), the
silent-device check runs every virtual second, and a simulated clinician (``Nurse``) may answer
alerts with commands that take effect at their own time. The same streams with the same settings
give the same alerts, ids included.

Each raised alert is followed to its end: ``cleared_t`` is when it was resolved, by whichever
transition ended it (the condition cleared, a clinician resolved it or called it a false alarm), or
``None`` while it is still open when the replay ends. An alert that re-opens (the same condition back
within the re-open window, the same id) is open again, so its ``cleared_t`` is that of its last end.

Where streams come from (recordings and scenarios through the edge pipeline) is the application's
business (``vitalstream_app.replay_sources``): the processor does not import the edge.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from stream_processor.core import CommandRefused, ProcessorCore
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream.wire import AlertCommand, AlertEvent, Observation, Transition, VitalsReading
from vitalstream.wire.codec import explanation_json

__all__ = ["REPLAY_START_MS", "REPLAY_WARD", "Nurse", "ReplayedAlert", "Stream", "replay_stream"]

# Every replayed stream starts at the same instant (2026-01-01T00:00:00Z): alert ids depend only on the data.
REPLAY_START_MS = 1_767_225_600_000
REPLAY_WARD = "replay"


@dataclass(frozen=True, slots=True)
class Stream:
    """One patient's input: a name to report, its start, its length and a way to (re)produce its readings.

    ``readings`` is called once per replay; recorded streams return a cached list (the edge pipeline
    ran once), scripted vitals streams generate afresh (cheaper than holding a patient-day in memory).
    """

    record: str
    patient: str
    start_ms: int
    seconds: int
    readings: Callable[[], Iterable[VitalsReading]]
    # A nurse's observations (NEWS2 inputs a wearable cannot measure), applied at their time.
    observations: tuple[Observation, ...] = ()


@dataclass(frozen=True, slots=True)
class ReplayedAlert:
    """A raised alert, placed on the stream's own time line (``t_s`` from the stream's start); ``cleared_t``
    is when it ended (seconds from the stream's start), or ``None`` if it was still open at the end."""

    record: str
    t_s: float
    event: AlertEvent
    cleared_t: float | None = None

    def as_json(self) -> dict[str, object]:
        alert = self.event.alert
        return {
            "record": self.record,
            "kind": alert.kind,
            "priority": alert.priority.value,
            "t": round(self.t_s, 3),
            "onset_t": round((alert.onset_ms - self.event.ts_ms) / 1000 + self.t_s, 3),
            "cleared_t": None if self.cleared_t is None else round(self.cleared_t, 3),
            "alert_id": alert.alert_id,
            "retrospective": alert.retrospective,
            "explanation": explanation_json(alert.explanation),
        }


class Nurse(Protocol):
    """A simulated clinician: may answer a raised alert with a command (its ``ts_ms`` says when)."""

    def respond(self, record: str, start_ms: int, event: AlertEvent) -> AlertCommand | None: ...


def replay_stream(
    stream: Stream,
    *,
    limits: LimitsSettings,
    alerting: AlertingSettings,
    until_s: float | None = None,
    nurse: Nurse | None = None,
) -> list[ReplayedAlert]:
    """Run one stream through a fresh processor core; every raised alert, in order, with when it ended."""
    core = ProcessorCore(limits=limits, alerting=alerting, ward_of=lambda _patient: REPLAY_WARD)
    end_s = stream.seconds if until_s is None else min(stream.seconds, until_s)
    end_ms = stream.start_ms + int(end_s * 1000)
    raised: list[ReplayedAlert] = []
    # alert id -> (index in raised, resolved_ms of its latest transition): every transition carries the
    # alert as it is now, so the last one seen says whether (and since when) it is resolved.
    ends: dict[str, tuple[int, int | None]] = {}
    commands: list[tuple[int, int, AlertCommand]] = []  # (ts, order, command): a heap
    refused = [0]

    def collect(events: Iterable[AlertEvent]) -> None:
        for event in events:
            alert_id = event.alert.alert_id
            if event.transition is not Transition.RAISED:
                followed = ends.get(alert_id)
                if followed is not None:
                    ends[alert_id] = (followed[0], event.alert.resolved_ms)
                continue
            ends[alert_id] = (len(raised), event.alert.resolved_ms)
            raised.append(ReplayedAlert(stream.record, (event.ts_ms - stream.start_ms) / 1000, event))
            command = nurse.respond(stream.record, stream.start_ms, event) if nurse is not None else None
            if command is not None:
                heapq.heappush(commands, (command.ts_ms, len(raised), command))

    observations = sorted(stream.observations, key=lambda o: o.ts_ms)

    def advance_to(now_ms: int) -> None:
        # Observations and commands due by now, then the silent-device check.
        while observations and observations[0].ts_ms <= now_ms:
            collect(core.on_observation(observations.pop(0), now_ms=now_ms).events)
        while commands and commands[0][0] <= now_ms:
            _, _, command = heapq.heappop(commands)
            try:
                collect(core.on_command(command).events)
            except CommandRefused:
                refused[0] += 1  # e.g. acknowledging an alert that has cleared meanwhile: as on a real ward
        for outcome in core.on_tick(now_ms):
            collect(outcome.events)

    clock_ms = stream.start_ms
    for reading in stream.readings():
        if reading.ts_ms > end_ms:
            break
        while clock_ms + 1000 < reading.ts_ms:  # a gap in the data: time goes on without it
            clock_ms += 1000
            advance_to(clock_ms)
        clock_ms = max(clock_ms, reading.ts_ms)
        collect(core.on_reading(reading, now_ms=reading.ts_ms).events)
        advance_to(clock_ms)
    while clock_ms + 1000 <= end_ms:  # the data ended before the stream did (a device that went silent)
        clock_ms += 1000
        advance_to(clock_ms)
    for index, resolved_ms in ends.values():
        if resolved_ms is not None:
            raised[index] = replace(raised[index], cleared_t=(resolved_ms - stream.start_ms) / 1000)
    return raised
