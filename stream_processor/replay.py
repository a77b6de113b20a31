"""Recorded and scripted streams through the edge pipeline and the processor core, on a virtual clock.

One process, no broker, no wall clock: each stream (one patient) gets its own
:class:`~stream_processor.core.ProcessorCore`, and time is the stream's own event time, advanced a
second at a time. Readings arrive at their timestamp (live, so nothing is retrospective), the
silent-device check runs every virtual second, and a simulated clinician (``Nurse``) may answer
alerts with commands that take effect at their own time. The same streams with the same settings
give the same alerts, ids included.

Streams come from

- WFDB records (MIT-BIH, ...) and BIDMC ``*_Signals.csv`` files: the waveforms go through the
  edge pipeline (QRS, beats, rhythm, SQI, PPG pulse) exactly as on a device;
- scripted scenarios (``scenario:SPEC``, see :mod:`edge_agent.scenarios`): simulated waveforms
  through the edge pipeline, or (``scenario-vitals:SPEC``) a wearable's 1 Hz numbers directly,
  which is cheap enough for patient-days.

Every reading is encoded and decoded with the wire codec on its way, as it would be on the bus.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from stream_processor.core import CommandRefused, ProcessorCore
from vitalstream.errors import ConfigError
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream.wire import (
    AlertCommand,
    AlertEvent,
    Observation,
    Transition,
    VitalsReading,
    decode_vitals,
    encode_vitals,
)
from vitalstream.wire.topics import vitals_topic

if TYPE_CHECKING:
    from edge_agent.frames import DeviceFrame
    from edge_agent.pipeline import EdgeModels
    from edge_agent.scenarios import Scenario

__all__ = [
    "REPLAY_START_MS",
    "Nurse",
    "ReplayedAlert",
    "Stream",
    "recording_streams",
    "replay_stream",
    "scenario_stream",
    "scenario_streams",
    "streams_for",
]

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
    """A raised alert, placed on the stream's own time line (``t_s`` from the stream's start)."""

    record: str
    t_s: float
    event: AlertEvent

    def as_json(self) -> dict[str, object]:
        from vitalstream.wire.codec import explanation_json  # noqa: PLC0415

        alert = self.event.alert
        return {
            "record": self.record,
            "kind": alert.kind,
            "priority": alert.priority.value,
            "t": round(self.t_s, 3),
            "onset_t": round((alert.onset_ms - self.event.ts_ms) / 1000 + self.t_s, 3),
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
    """Run one stream through a fresh processor core; every raised alert, in order."""
    core = ProcessorCore(limits=limits, alerting=alerting, ward_of=lambda _patient: REPLAY_WARD)
    end_s = stream.seconds if until_s is None else min(stream.seconds, until_s)
    end_ms = stream.start_ms + int(end_s * 1000)
    raised: list[ReplayedAlert] = []
    commands: list[tuple[int, int, AlertCommand]] = []  # (ts, order, command): a heap
    refused = [0]

    def collect(events: Iterable[AlertEvent]) -> None:
        for event in events:
            if event.transition is not Transition.RAISED:
                continue
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
    return raised


# ---------------------------------------------------------------- streams


def _over_the_wire(reading: VitalsReading) -> VitalsReading:
    return decode_vitals(vitals_topic(reading.patient, reading.device), encode_vitals(reading))


def _fixed(readings: list[VitalsReading]) -> Callable[[], Iterable[VitalsReading]]:
    return lambda: readings


def _edge_readings(
    frames: Iterator[list[DeviceFrame]], patient: str, device: str, models: EdgeModels
) -> list[VitalsReading]:
    from dataclasses import replace  # noqa: PLC0415

    from edge_agent.pipeline import DevicePipeline  # noqa: PLC0415

    pipeline = DevicePipeline(patient, device)
    readings: list[VitalsReading] = []
    for batch in frames:
        for frame in batch:
            reading, _events = pipeline.process(frame, models)
            readings.append(_over_the_wire(replace(reading, seq=len(readings))))
    return readings


def recording_streams(path: Path, *, models: EdgeModels, until_s: float | None = None) -> list[Stream]:
    """One stream per WFDB record or BIDMC signals file at ``path`` (its ECG and PLETH through the edge)."""
    from edge_agent.recording_replay import RecordingReplay, find_recordings  # noqa: PLC0415

    streams = []
    for file in find_recordings(path):
        source = RecordingReplay([file], start_ms=REPLAY_START_MS)
        ((patient, device),) = source.devices
        seconds = source.seconds if until_s is None else min(source.seconds, int(until_s))

        def frames(source: RecordingReplay = source, seconds: int = seconds) -> Iterator[list[DeviceFrame]]:
            for second in range(1, seconds + 1):
                yield source.frames_until(REPLAY_START_MS + second * 1000)

        readings = _edge_readings(frames(), patient, device, models)
        record = f"{file.parent.name}/{file.name.removesuffix('.hea').removesuffix('_Signals.csv')}"
        streams.append(Stream(record, patient, REPLAY_START_MS, seconds, _fixed(readings)))
    return streams


def scenario_stream(scenario: Scenario, *, record: str, seconds: int, seed: int, models: EdgeModels | None) -> Stream:
    """One simulated patient: waveforms through the edge (``models`` given), else the wearable's 1 Hz numbers."""
    from edge_agent.simulator import SimulatedWard, WaveformWard  # noqa: PLC0415

    if models is not None:
        ward = WaveformWard([scenario], seed=seed, start_ms=REPLAY_START_MS)
        ((patient, device),) = [(d.patient, d.device) for d in ward.devices]
        frames = (ward.frames_until(REPLAY_START_MS + second * 1000) for second in range(1, seconds + 1))
        readings = _edge_readings(frames, patient, device, models)
        return Stream(record, patient, REPLAY_START_MS, seconds, _fixed(readings))

    def generate() -> Iterator[VitalsReading]:
        ward = SimulatedWard([scenario], seed=seed, start_ms=REPLAY_START_MS)
        for second in range(1, seconds + 1):
            yield from (_over_the_wire(r) for r in ward.readings_until(REPLAY_START_MS + second * 1000))

    patient = SimulatedWard([scenario], seed=seed, start_ms=REPLAY_START_MS).devices[0].patient
    return Stream(record, patient, REPLAY_START_MS, seconds, generate)


def scenario_streams(
    spec: str,
    *,
    seconds: int | None,
    seed: int,
    models: EdgeModels | None,
    until_s: float | None = None,
) -> list[Stream]:
    """One stream per entry of a scenario spec (see :func:`scenario_stream`). ``seconds`` defaults to two
    minutes past the last episode."""
    from edge_agent.scenarios import parse_scenarios  # noqa: PLC0415

    entries = [entry.strip() for entry in spec.split(",") if entry.strip()]
    if not entries:
        raise ConfigError("empty scenario spec", source="scenario")
    streams = []
    for index, scenario in enumerate(parse_scenarios(spec, patients=len(entries))):
        length = seconds
        if length is None:
            length = int(max((e.onset_s + e.duration_s + e.ramp_s for e in scenario.episodes), default=600.0)) + 120
        if until_s is not None:
            length = min(length, int(until_s))
        record = f"scenario/{scenario.name}" if len(entries) == 1 else f"scenario/{index}:{scenario.name}"
        streams.append(
            scenario_stream(scenario, record=record, seconds=length, seed=seed * 1000 + index, models=models)
        )
    return streams


def streams_for(
    targets: Sequence[str],
    *,
    models: Callable[[], EdgeModels],
    seconds: int | None = None,
    seed: int = 7,
    until_s: float | None = None,
) -> Iterator[Stream]:
    """The streams named on the command line, one target after the other (lazily: replay starts at once)."""
    for target in targets:
        if target.startswith("scenario:"):
            yield from scenario_streams(
                target.removeprefix("scenario:"), seconds=seconds, seed=seed, models=models(), until_s=until_s
            )
        elif target.startswith("scenario-vitals:"):
            yield from scenario_streams(
                target.removeprefix("scenario-vitals:"), seconds=seconds, seed=seed, models=None, until_s=until_s
            )
        else:
            yield from recording_streams(Path(target), models=models(), until_s=until_s)
