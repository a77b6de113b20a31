"""The whole per-device pipeline, fed hostile recordings, publishes a valid reading every second and never crashes.

ECG and PPG of every kind in :mod:`tests.hostile_signals` (the ECG kind is the parameter, the PPG
kind is drawn), at device rates from 25 Hz to 1 kHz, in chunks of a normal second, nothing, one
sample, a few or half a second, and 25-35 s at once (a device flushing its buffer: enough for the
rhythm window; a second flush lets the events that opened fall due with their snippets). Every
reading must pass the wire contract unchanged (the codec checks types, ranges and finiteness), and
no model may fail: the isolation of :mod:`edge_agent.isolation` is switched off here, so a model
that raises on a window fails the test with its traceback instead of becoming a ``faults`` entry.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

from edge_agent.dsp import Array
from edge_agent.frames import DeviceFrame, SignalChunk
from edge_agent.isolation import ModelFaults
from edge_agent.models.beats import CLASSES, BeatClassifier
from edge_agent.pipeline import DevicePipeline, EdgeModels
from edge_agent.scenarios import parse_scenarios
from edge_agent.simulator import WaveformWard
from tests.hostile_signals import ECG_RATES, KINDS, PPG_RATES, bounded, signal
from vitalstream.wire import EdgeEvent, Fault, VitalsReading, decode_event, decode_vitals, encode_event, encode_vitals
from vitalstream.wire.codec import MAX_BEATS
from vitalstream.wire.topics import events_topic, vitals_topic

P = ParamSpec("P")
T = TypeVar("T")
T0 = 1_790_000_000_000
CHUNKS_S: tuple[float | str, ...] = (1.0, 1.0, 1.0, 1.0, 0.0, "one", "few", 0.5)


@pytest.fixture(scope="module")
def models() -> EdgeModels:
    return EdgeModels.load()


class Stream:
    """A device's frames, and how they were made (a plain class: Hypothesis prints its ``repr``, not every sample)."""

    def __init__(self, ecg: tuple[str, float] | None, ppg: tuple[str, float] | None, frames: list[DeviceFrame]) -> None:
        self.ecg, self.ppg, self.frames = ecg, ppg, frames

    def __repr__(self) -> str:  # the failing example as Hypothesis prints it: kinds, rates and chunk sizes only
        sizes = [[len(c.samples) for c in f.chunks] for f in self.frames]
        return f"Stream(ecg={self.ecg}, ppg={self.ppg}, chunks={sizes})"


def _samples(plan: list[float | str], fs: float) -> list[int]:
    return [1 if step == "one" else 3 if step == "few" else round(float(step) * fs) for step in plan]


@st.composite
def streams(draw: st.DrawFn, ecg_kind: str) -> Stream:
    ecg_fs = draw(st.sampled_from(ECG_RATES))
    ppg = draw(st.none() | st.tuples(st.sampled_from(KINDS), st.sampled_from(PPG_RATES)))
    ecg = draw(st.none() | st.just((ecg_kind, ecg_fs))) if ppg is not None else (ecg_kind, ecg_fs)
    # A few odd seconds, a flush (rhythm window full, events open), more seconds, maybe a second flush
    # (the events fall due with their snippets), and a last second or two.
    seconds = st.sampled_from(CHUNKS_S)
    flush: st.SearchStrategy[float | str] = st.sampled_from([25.0, 35.0])
    plan: list[float | str] = [
        *draw(st.lists(seconds, max_size=3)),
        *draw(st.lists(flush, max_size=1)),
        *draw(st.lists(seconds, min_size=2, max_size=5)),
        *draw(st.lists(flush, max_size=1)),
        *draw(st.lists(seconds, min_size=1, max_size=2)),
    ]
    seed = draw(st.integers(0, 2**32 - 1))
    channels = []
    for kind, spec in (("ecg", ecg), ("ppg", ppg)):
        if spec is None:
            continue
        name, fs = spec
        sizes = _samples(plan, fs)
        x = signal(name, sum(sizes), fs, seed)
        bounds = np.cumsum([0, *sizes])
        channels.append([SignalChunk(kind, kind.upper(), fs, x[a:b]) for a, b in itertools.pairwise(bounds)])
    frames, ts_ms = [], T0
    for second, step in enumerate(plan):
        ts_ms += max(1000, round(float(step) * 1000) if isinstance(step, float) else 0)  # time passes, sent or not
        chunks = tuple(channel[second] for channel in channels)
        frames.append(DeviceFrame("p-hostile", "d-hostile", ts_ms, {"spo2": 97.0}, chunks))
    return Stream(ecg, ppg, frames)


class Unguarded(ModelFaults):
    """No isolation: a model that raises fails the test with its own traceback instead of becoming a fault."""

    def run(
        self, output: str, withheld: dict[str, Fault], call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T | None:
        return call(*args, **kwargs)


def _assert_well_formed(reading: VitalsReading) -> None:
    assert reading.faults == {}
    assert decode_vitals(vitals_topic(reading.patient, reading.device), encode_vitals(reading)) == reading
    assert 0.0 <= reading.vitals.get("hr", 0.0) <= 350.0
    assert "pr" not in reading.vitals or 30.0 <= reading.vitals["pr"] <= 220.0
    assert all(0.0 <= q <= 1.0 for q in reading.sqi.values())
    assert reading.rhythm is None or 0.0 <= reading.rhythm.p <= 1.0
    assert reading.vitals["spo2"] == 97.0  # the other sensors' vitals always travel on


def _assert_event_well_formed(event: EdgeEvent) -> None:
    assert decode_event(events_topic(event.patient, event.device), encode_event(event)) == event
    assert all(w.count >= 0 for w in event.waveforms)


@pytest.mark.parametrize("ecg_kind", KINDS)
@bounded
@given(data=st.data())
def test_every_second_of_a_hostile_recording_gives_a_valid_reading(
    models: EdgeModels, ecg_kind: str, data: st.DataObject
) -> None:
    stream = data.draw(streams(ecg_kind))
    pipeline = DevicePipeline("p-hostile", "d-hostile", Unguarded())
    for frame in stream.frames:
        reading, events = pipeline.process(frame, models)
        assert reading.ts_ms == frame.ts_ms
        _assert_well_formed(reading)
        for event in events:
            _assert_event_well_formed(event)


class EveryBeatVentricular(BeatClassifier):
    def __init__(self) -> None:  # no model: every beat is V
        pass

    def classify(
        self, signal: Array, fs: float, peaks: NDArray[np.int64], targets: NDArray[np.int64]
    ) -> tuple[list[str], NDArray[np.float32]]:
        proba = np.zeros((len(targets), len(CLASSES)), dtype=np.float32)
        proba[:, CLASSES.index("V")] = 1.0
        return ["V"] * len(targets), proba


def test_a_ventricular_run_beyond_the_contract_bound_is_reported_at_the_bound(models: EdgeModels) -> None:
    """Sustained VT for more than ~5 min: the run is reported as 1000 beats (the wire maximum), never rejected."""
    ward = WaveformWard(parse_scenarios("stable", patients=1), seed=5, start_ms=T0)
    pipeline = DevicePipeline("p-vt", "d-vt", Unguarded())
    pipeline._v_streak = MAX_BEATS - 5  # white box: 1000 beats of VT would take minutes of simulation
    broken_heart = dataclasses.replace(models, beats=EveryBeatVentricular())
    runs = []
    for second in range(12):
        for frame in ward.frames_until(T0 + second * 1000):
            reading, _ = pipeline.process(frame, broken_heart)
            assert decode_vitals(vitals_topic(reading.patient, reading.device), encode_vitals(reading)) == reading
            runs.append(reading.runs.get("V", 0))
    assert runs[-1] == MAX_BEATS
    assert pipeline._v_streak > MAX_BEATS  # the run went on; only its report is bounded
