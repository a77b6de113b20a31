"""Where replayed streams come from: recordings and scripted scenarios, through the edge pipeline.

- WFDB records (MIT-BIH, ...) and BIDMC ``*_Signals.csv`` files: the waveforms go through the
  edge pipeline (QRS, beats, rhythm, SQI, PPG pulse) exactly as on a device;
- scripted scenarios (``scenario:SPEC``, see :mod:`edge_agent.scenarios`): simulated waveforms
  through the edge pipeline, or (``scenario-vitals:SPEC``) a wearable's 1 Hz numbers directly,
  which is cheap enough for patient-days.

Every reading is encoded and decoded with the wire codec on its way, as it would be on the bus. The
streams then go through :func:`stream_processor.replay.replay_stream`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from edge_agent.frames import DeviceFrame
from edge_agent.pipeline import DevicePipeline, EdgeModels
from edge_agent.recording_replay import RecordingReplay, find_recordings
from edge_agent.scenarios import Scenario, parse_scenarios
from edge_agent.simulator import SimulatedWard, WaveformWard
from stream_processor.replay import REPLAY_START_MS, Stream
from vitalstream.errors import ConfigError
from vitalstream.wire import VitalsReading, decode_vitals, encode_vitals
from vitalstream.wire.topics import vitals_topic

__all__ = ["recording_streams", "scenario_stream", "scenario_streams", "streams_for"]


def _over_the_wire(reading: VitalsReading) -> VitalsReading:
    return decode_vitals(vitals_topic(reading.patient, reading.device), encode_vitals(reading))


def _fixed(readings: list[VitalsReading]) -> Callable[[], Iterable[VitalsReading]]:
    return lambda: readings


def _edge_readings(
    frames: Iterator[list[DeviceFrame]], patient: str, device: str, models: EdgeModels
) -> list[VitalsReading]:

    pipeline = DevicePipeline(patient, device)
    readings: list[VitalsReading] = []
    for batch in frames:
        for frame in batch:
            reading, _events = pipeline.process(frame, models)
            readings.append(_over_the_wire(replace(reading, seq=len(readings))))
    return readings


def recording_streams(path: Path, *, models: EdgeModels, until_s: float | None = None) -> list[Stream]:
    """One stream per WFDB record or BIDMC signals file at ``path`` (its ECG and PLETH through the edge)."""

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
