"""A killed model does not stop the edge: a live agent whose PPG model raises on every window keeps
publishing every patient's readings through a real Mosquitto, with the pulse rate withheld and the
fault reported on each reading, in the run summary and (once, without data) in the log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mqtt_recorder import MqttRecorder
from tests.procs import cli_env
from tests.servers import MosquittoServer
from vitalstream.wire import Fault, decode_vitals

pytestmark = pytest.mark.integration

SECONDS, PATIENTS = 8, 3
SECRET = "1.2345 mV"  # stands for the sample values an exception message can quote; no log may show it

# The agent exactly as `vitalstream edge` runs it, with the PPG pulse-rate model broken for good.
KILLED_MODEL = (
    "import runpy, sys\n"
    "from edge_agent.models import ppg_hr\n"
    "def broken(self, window):\n"
    f"    raise FloatingPointError('overflow at {SECRET}')\n"
    "ppg_hr.PpgHeartRate.update = broken\n"
    "sys.argv = ['vitalstream', '--log-format', 'json', 'edge', '--broker', sys.argv[1], '--source', 'sim',\n"
    f"            '--patients', '{PATIENTS}', '--duration', '{SECONDS}', '--spool', sys.argv[2]]\n"
    "runpy.run_module('vitalstream', run_name='__main__')\n"
)


def test_an_edge_agent_with_a_model_that_always_fails_keeps_monitoring_every_patient(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    recorder = MqttRecorder(mosquitto.port, ["vitals/v1/#"]).start()
    result = subprocess.run(
        [sys.executable, "-c", KILLED_MODEL, mosquitto.url, str(tmp_path / "spool.sqlite")],
        check=False,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    assert recorder.wait_for(lambda _: len(recorder.messages) >= SECONDS * PATIENTS, timeout_s=10)
    recorder.stop()

    # Every patient, every second: the reading went out, without the pulse rate and saying why.
    readings = [decode_vitals(m.topic, m.payload) for m in recorder.messages]
    by_device: dict[str, list[int]] = {}
    for reading in readings:
        by_device.setdefault(reading.device, []).append(reading.seq)
        assert reading.faults == {"ppg_hr": Fault.MODEL_ERROR}
        assert "pr" not in reading.vitals
        assert "ppg" not in reading.sqi
        assert "ppg_hr" not in reading.models
    assert len(by_device) == PATIENTS
    assert all(sorted(seqs) == list(range(SECONDS)) for seqs in by_device.values())
    # The other models kept working (the ECG quality needs a full 5 s window first).
    settled = [r for r in readings if r.seq >= 5]
    assert all("hr" in r.vitals and "ecg" in r.sqi and "spo2" in r.vitals for r in settled)

    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["readings"] == SECONDS * PATIENTS
    assert summary["acknowledged"] == summary["readings"]
    assert summary["model_faults"] == {"ppg_hr": SECONDS * PATIENTS}
    assert [device["model_faults"] for device in summary["devices"]] == [{"ppg_hr": SECONDS}] * PATIENTS

    # Logged once when it first failed and again at the 10th failure: the model and the exception
    # type, never the exception's message, a payload or a patient.
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    failures = [line for line in logs if line.get("logger") == "edge_agent.isolation"]
    assert [(f["model"], f["error"], f["failures"]) for f in failures] == [
        ("ppg_hr", "FloatingPointError", 1),
        ("ppg_hr", "FloatingPointError", 10),
    ]
    assert all("patient" not in f and "device" not in f for f in failures)
    assert SECRET not in result.stderr
