"""The edge pipeline end to end in one process: waveforms in, readings and events out, real models."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from edge_agent.pipeline import EdgeModels, PipelineSource
from edge_agent.records import data_dir
from edge_agent.scenarios import parse_scenarios
from edge_agent.simulator import WaveformWard
from tests.procs import cli_env
from vitalstream.errors import ConfigError
from vitalstream.wire import EdgeEvent, VitalsReading, decode_event, decode_vitals, encode_event, encode_vitals
from vitalstream.wire.topics import events_topic, vitals_topic

T0 = 1_790_000_000_000


@pytest.fixture(scope="module")
def models() -> EdgeModels:
    return EdgeModels.load()


def run_ward(
    spec: str, patients: int, seconds: int, models: EdgeModels, seed: int = 5
) -> tuple[list[VitalsReading | EdgeEvent], WaveformWard]:
    ward = WaveformWard(parse_scenarios(spec, patients=patients), seed=seed, start_ms=T0)
    return PipelineSource(ward, models).poll(T0 + (seconds - 1) * 1000), ward


def by_patient(out: list[VitalsReading | EdgeEvent], patient: str) -> list[VitalsReading]:
    return [r for r in out if isinstance(r, VitalsReading) and r.patient == patient]


def test_stable_patient_heart_rate_rhythm_and_quality(models: EdgeModels) -> None:
    out, ward = run_ward("stable,athlete", 2, 60, models)
    for device, expected in zip(ward.devices, (74.0, 48.0), strict=True):
        readings = by_patient(out, device.patient)[20:]
        hrs = [r.vitals["hr"] for r in readings]
        assert abs(float(np.median(hrs)) - expected) < 6, hrs
        assert all(r.rhythm is not None and r.rhythm.label == "N" for r in readings)
        assert min(r.sqi["ecg"] for r in readings) > 0.8
        assert sum(r.beats.get("N", 0) for r in readings) > 0.8 * sum(sum(r.beats.values()) for r in readings)
        assert set(readings[0].models) >= {"hr", "sqi", "rhythm", "ppg_hr"}
        # hr is measured, not passed through: every reading's hr comes from the QRS detector ...
        assert all(r.models.get("hr") == models.refs["hr"] for r in readings if "hr" in r.vitals)
    # ... and the frames the pipeline got (the same ward, replayed) carry waveforms and no hr at all.
    frames = WaveformWard(parse_scenarios("stable,athlete", patients=2), seed=5, start_ms=T0).frames_until(
        T0 + 59 * 1000
    )
    assert len(frames) == 2 * 60
    assert all("hr" not in frame.vitals and {c.kind for c in frame.chunks} == {"ecg", "ppg"} for frame in frames)


def test_af_is_detected_and_sent_as_an_event_with_30_s_of_waveform(models: EdgeModels) -> None:
    out, ward = run_ward("af@20+90", 1, 140, models)
    patient = ward.devices[0].patient
    readings = by_patient(out, patient)
    af_seconds = [i for i, r in enumerate(readings) if r.rhythm is not None and r.rhythm.label == "AF"]
    assert af_seconds, "AF never detected"
    assert 20 < af_seconds[0] <= 60  # a 30 s window needs most of it in AF
    assert all(r.rhythm.label == "N" for r in readings[5:20] if r.rhythm is not None)
    events = [e for e in out if isinstance(e, EdgeEvent)]
    assert [e.kind for e in events] == ["af_onset"]
    ecg = next(w for w in events[0].waveforms if w.kind == "ecg")
    assert ecg.count == 30 * 360  # 10 s before the onset, 20 s after
    assert ecg.start_ms == events[0].ts_ms - 10_000
    decoded = decode_event(events_topic(patient, events[0].device), encode_event(events[0]))
    assert decoded == events[0]


def test_ventricular_beats_are_counted(models: EdgeModels) -> None:
    out, ward = run_ward("pvc@10+60", 1, 70, models)
    readings = by_patient(out, ward.devices[0].patient)
    v_during = sum(r.beats.get("V", 0) for r in readings[20:65])
    v_before = sum(r.beats.get("V", 0) for r in readings[:10])
    total_during = sum(sum(r.beats.values()) for r in readings[20:65])
    assert v_before == 0
    assert v_during > 0.3 * total_during  # bigeminy: every other beat ventricular


def test_lead_off_drops_quality_and_heart_rate_and_reports_signal_loss(models: EdgeModels) -> None:
    out, ward = run_ward("leadoff@20+30", 1, 80, models)
    readings = by_patient(out, ward.devices[0].patient)
    during = readings[27:48]
    assert max(r.sqi["ecg"] for r in during) < 0.3
    assert all("hr" not in r.vitals for r in during)  # an unusable ECG says nothing about the heart rate
    assert min(r.sqi["ecg"] for r in readings[65:]) > 0.8
    assert [e.kind for e in out if isinstance(e, EdgeEvent)] == ["signal_loss"]


def test_every_reading_passes_the_wire_contract(models: EdgeModels) -> None:
    out, _ = run_ward("mixed", 4, 40, models)
    for item in out:
        if isinstance(item, VitalsReading):
            assert decode_vitals(vitals_topic(item.patient, item.device), encode_vitals(item)) == item


def _mitdb() -> object:
    try:
        return data_dir() / "mitdb"
    except ConfigError:
        pytest.skip("no PhysioNet data directory (../shared/data)")


def test_classify_a_real_record(models: EdgeModels) -> None:
    mitdb = _mitdb()
    result = subprocess.run(
        [sys.executable, "-m", "vitalstream", "classify", str(mitdb / "208"), "--window", "30"],  # type: ignore[operator]
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 60  # 30 min 5 s of record, 30 s windows
    first = lines[3]
    assert set(first) == {"record", "t", "hr", "sqi", "rhythm", "beats"}
    assert first["record"] == "208"
    assert set(first["rhythm"]["p"]) == {"N", "AF"}
    # Record 208 has 992 PVCs (and 373 fusion beats): the classifier must find many.
    assert sum(line["beats"].get("V", 0) for line in lines) > 700
    assert 50 < np.median([line["hr"] for line in lines if line["hr"]]) < 120


def test_asystole_is_reported_as_zero_heart_rate_not_as_signal_loss(models: EdgeModels) -> None:
    out, ward = run_ward("asystole@30+15", 1, 60, models)
    readings = by_patient(out, ward.devices[0].patient)
    zero = [i for i, r in enumerate(readings) if r.vitals.get("hr") == 0.0]
    assert zero
    assert 34 <= zero[0] <= 37  # 5 s without a beat
    assert all(readings[i].vitals.get("hr", 1.0) > 0 for i in range(10, 30))
    assert "pr" not in readings[44].vitals  # no pulse in the PPG either
    assert [e.kind for e in out if isinstance(e, EdgeEvent)] == ["asystole"]


def test_ventricular_fibrillation_is_labelled_and_not_mistaken_for_asystole(models: EdgeModels) -> None:
    out, ward = run_ward("vf@30+20", 1, 60, models)
    readings = by_patient(out, ward.devices[0].patient)
    vf = [i for i, r in enumerate(readings) if r.rhythm is not None and r.rhythm.label == "VF"]
    assert vf
    assert 30 <= vf[0] <= 36
    assert all(r.vitals.get("hr") != 0.0 for r in readings)
    assert all(readings[i].rhythm.label != "VF" for i in range(5, 30))  # type: ignore[union-attr]
    assert [e.kind for e in out if isinstance(e, EdgeEvent)] == ["vf"]


def test_a_ventricular_run_reports_its_length_and_rate(models: EdgeModels) -> None:
    out, ward = run_ward("vrun@30+8", 1, 50, models)
    readings = by_patient(out, ward.devices[0].patient)
    longest = max(r.runs.get("V", 0) for r in readings)
    assert longest >= 5
    assert max(r.vitals.get("hr", 0.0) for r in readings if r.runs.get("V", 0) >= 5) > 100
    assert max(r.runs.get("V", 0) for r in readings[:28]) == 0


def test_pulse_rate_from_the_ppg_travels_apart_from_the_ecg_heart_rate(models: EdgeModels) -> None:
    out, ward = run_ward("stable", 1, 40, models)
    readings = by_patient(out, ward.devices[0].patient)[15:]
    assert all(abs(r.vitals["pr"] - r.vitals["hr"]) < 8 for r in readings if "pr" in r.vitals)
    assert sum("pr" in r.vitals for r in readings) > 0.8 * len(readings)
