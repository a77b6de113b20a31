"""A model that fails on a window costs that output for that second, is counted and logged once, and nothing else.

Each edge model in turn is made to raise (an ONNX model replaced by a broken one, a DSP model's entry
point patched); the simulated ward keeps being monitored, the failed output is withheld and named in
the reading's ``faults``, every other output still comes, and a QRS detector that failed once
recovers without a false asystole or a false AF call on the beats it lost.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np
import pytest
from numpy.typing import ArrayLike, NDArray

from edge_agent import pipeline as pipeline_module
from edge_agent.dsp import Array
from edge_agent.isolation import ModelFaults
from edge_agent.models.beats import BeatClassifier
from edge_agent.models.ppg_hr import PpgHeartRate
from edge_agent.models.qrs_stream import Indices, StreamingQrsDetector
from edge_agent.models.rhythm import RhythmClassifier
from edge_agent.models.sqi import EcgQuality
from edge_agent.pipeline import EdgeModels, PipelineSource
from edge_agent.scenarios import parse_scenarios
from edge_agent.simulator import WaveformWard
from vitalstream.wire import Fault, VitalsReading, decode_vitals, encode_vitals
from vitalstream.wire.topics import vitals_topic

T0 = 1_790_000_000_000
SECRET = "0.8137 mV"  # stands for data an exception message might quote: it must never reach a log


@pytest.fixture(scope="module")
def models() -> EdgeModels:
    return EdgeModels.load()


class BrokenQuality(EcgQuality):
    def __init__(self) -> None:  # no session: this model never gets as far as running one
        self.threshold = 0.5

    def score(self, window: ArrayLike, fs: float) -> float:
        raise RuntimeError(f"onnxruntime: bad input {SECRET}")


class BrokenBeats(BeatClassifier):
    def __init__(self) -> None:
        pass

    def classify(
        self, signal: Array, fs: float, peaks: NDArray[np.int64], targets: NDArray[np.int64]
    ) -> tuple[list[str], NDArray[np.float32]]:
        raise ValueError(f"features out of range: {SECRET}")


class BrokenRhythm(RhythmClassifier):
    def __init__(self) -> None:
        pass

    def predict(
        self, beat_times_s: NDArray[np.float64], beat_classes: Sequence[str] | None = None
    ) -> tuple[str, dict[str, float]]:
        raise IndexError(SECRET)


def run(models: EdgeModels, seconds: int, spec: str = "stable", patients: int = 2) -> dict[str, list[VitalsReading]]:
    ward = WaveformWard(parse_scenarios(spec, patients=patients), seed=5, start_ms=T0)
    source = PipelineSource(ward, models)
    readings: dict[str, list[VitalsReading]] = {d.patient: [] for d in ward.devices}
    for second in range(seconds):
        for item in source.poll(T0 + second * 1000):
            if isinstance(item, VitalsReading):
                assert decode_vitals(vitals_topic(item.patient, item.device), encode_vitals(item)) == item
                readings[item.patient].append(item)
    return readings


def test_a_failing_model_is_withheld_and_counted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    faults, withheld = ModelFaults(), dict[str, Fault]()
    with caplog.at_level(logging.WARNING, logger="edge_agent.isolation"):
        for _ in range(120):
            assert faults.run("sqi", withheld, BrokenQuality().score, np.zeros(10), 250.0) is None
        none = np.zeros(1, dtype=np.int64)
        faults.run("sqi", withheld, BrokenBeats().classify, np.zeros(9), 250.0, none, none)  # a new kind: logged
        assert faults.run("vf", withheld, max, 1, 2) == 2
    assert withheld == {"sqi": Fault.MODEL_ERROR}
    assert faults.failures == {"sqi": 121}
    logged = [(r.model, r.error, r.failures) for r in caplog.records]  # type: ignore[attr-defined]
    first, tenth, hundredth = (("sqi", "RuntimeError", n) for n in (1, 10, 100))
    assert logged == [first, tenth, hundredth, ("sqi", "ValueError", 121)]
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("output", "broken"),
    [("sqi", {"sqi": BrokenQuality()}), ("beats", {"beats": BrokenBeats()}), ("rhythm", {"rhythm": BrokenRhythm()})],
)
def test_a_broken_onnx_model_costs_only_its_own_output(
    models: EdgeModels, output: str, broken: dict[str, object]
) -> None:
    readings = run(dataclasses.replace(models, **broken), 40)  # type: ignore[arg-type]
    for stream in readings.values():
        assert len(stream) == 40  # every second of every patient
        settled = stream[35:]
        assert all(r.faults.get(output) is Fault.MODEL_ERROR for r in settled)
        assert all(output not in r.models for r in settled)
        assert all(set(r.faults) <= {output} for r in stream)  # nothing else failed
        # the other outputs keep coming
        assert all("pr" in r.vitals and "ppg" in r.sqi for r in settled)
        assert all(("hr" in r.vitals) for r in settled)
        assert output == "rhythm" or all(r.rhythm is not None and r.rhythm.label == "N" for r in settled)
        assert output == "sqi" or all(r.sqi["ecg"] > 0.8 for r in settled)
        assert output == "beats" or all(sum(r.beats.values()) <= 3 for r in settled)


def test_a_broken_dsp_model_costs_only_its_own_output(models: EdgeModels, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_pulse(self: PpgHeartRate, window: Array) -> tuple[float | None, float]:
        raise FloatingPointError(SECRET)

    def broken_vf(window: Array, fs: float) -> tuple[bool, dict[str, float]]:
        raise ZeroDivisionError(SECRET)

    monkeypatch.setattr(PpgHeartRate, "update", broken_pulse)
    monkeypatch.setattr(pipeline_module, "is_vf", broken_vf)
    for stream in run(models, 35).values():
        settled = stream[10:]
        assert all(r.faults == {"ppg_hr": Fault.MODEL_ERROR, "vf": Fault.MODEL_ERROR} for r in settled)
        assert all("pr" not in r.vitals and "ppg" not in r.sqi for r in stream)
        assert all(abs(r.vitals["hr"] - stream[-1].vitals["hr"]) < 8 and r.sqi["ecg"] > 0.8 for r in settled)


def test_a_qrs_detector_that_failed_once_restarts_without_a_false_asystole(
    models: EdgeModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    pushes = {"count": 0}
    original = StreamingQrsDetector.push
    poisoned: set[int] = set()

    def push_failing_on_the_20th_chunk(self: StreamingQrsDetector, samples: Array) -> Indices:
        # The 20th chunk breaks the detector for good (as a half-done update would): only a new one works.
        pushes["count"] += 1
        if pushes["count"] == 20 or id(self) in poisoned:
            poisoned.add(id(self))
            raise RuntimeError(SECRET)
        return original(self, samples)

    monkeypatch.setattr(StreamingQrsDetector, "push", push_failing_on_the_20th_chunk)
    (stream,) = run(models, 70, patients=1).values()
    assert [i for i, r in enumerate(stream) if r.faults.get("hr") is Fault.MODEL_ERROR] == [19]
    gap = [i for i, r in enumerate(stream) if r.faults.get("hr") is Fault.INPUT_GAP]
    assert gap == list(range(20, 24))  # withheld while the lost second is within the 5 s asystole window
    assert all("hr" not in stream[i].vitals for i in [19, *gap])
    assert all(r.vitals.get("hr", 60.0) > 40.0 for r in stream)  # no false asystole from the lost beats
    recovered = stream[24:]
    assert all(abs(r.vitals["hr"] - stream[18].vitals["hr"]) < 8 for r in recovered)
    rhythm_gap = [i for i, r in enumerate(stream) if r.faults.get("rhythm") is Fault.INPUT_GAP]
    assert rhythm_gap == list(range(19, 49))  # until the lost second has left the 30 s rhythm window
    assert all(r.rhythm is not None and r.rhythm.label == "N" for r in stream[49:])
    assert all(sum(r.beats.values()) >= 1 for r in stream[25:])  # the fresh detector finds the beats


def test_one_patients_failing_model_leaves_the_other_patients_alone(models: EdgeModels) -> None:
    class QualityFailingOnFlatLines(EcgQuality):
        """The real model, except that it raises on a flat window (as if its features divided by zero)."""

        def score(self, window: ArrayLike, fs: float) -> float:
            if float(np.ptp(np.asarray(window))) < 0.05:
                raise ZeroDivisionError(SECRET)
            return super().score(window, fs)

    quality = QualityFailingOnFlatLines()
    readings = run(dataclasses.replace(models, sqi=quality), 50, spec="stable,leadoff@15+25", patients=2)
    stable, lead_off = readings.values()
    assert all(r.faults == {} for r in stable)
    assert all(r.sqi["ecg"] > 0.8 for r in stable[5:])
    failed = [i for i, r in enumerate(lead_off) if "sqi" in r.faults]
    assert failed  # the flat windows of the lead-off episode
    assert all(15 <= i <= 45 for i in failed)
    assert all("ecg" in lead_off[i].sqi for i in range(5, 50) if i not in failed)
