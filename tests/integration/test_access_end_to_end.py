"""The real programs on the shipped broker configuration, each with only its generated credentials.

``vitalstream process``, ``vitalstream edge`` and ``vitalstream station`` run as separate processes,
reading their user name, password file and CA from ``VITALSTREAM_BROKER_*`` settings as compose gives
them, over TLS. A simulated tachycardia goes from the edge through the processor to the station's page,
and a nurse's acknowledgement goes back the other way: least privilege does not cost a single reading.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from edge_agent.simulator import device_id, patient_id
from tests.access_setup import add_observer, build_test_access, start_shipped_broker
from tests.procs import CliProcess, cli_env
from vitalstream_app.access.files import AccessLayout
from vitalstream_app.access.secrets import secret_path

pytestmark = pytest.mark.integration

SEED = 11
PATIENTS = 2
DURATION_S = 20
SCENARIO = "tachycardia@3+40,stable"  # patient 0: HR ~165/min from t=3 s; patient 1 stable


def _enrolment() -> str:
    patients = "\n".join(f'{patient_id(SEED, i)} = "ward-1"' for i in range(PATIENTS))
    devices = ", ".join(f'{device_id(SEED, i)} = "{patient_id(SEED, i)}"' for i in range(PATIENTS))
    return f"""
version = 1
[patients]
{patients}

[[edge]]
name = "edge-bedside"
devices = {{ {devices} }}

[[processor]]
name = "processor"

[[station]]
name = "station-ward-1"
ward = "ward-1"
"""


def _env(layout: AccessLayout, name: str, ca_file: str) -> dict[str, str]:
    return cli_env(
        VITALSTREAM_BROKER_USERNAME=name,
        VITALSTREAM_BROKER_PASSWORD_FILE=str(secret_path(layout.secrets, name)),
        VITALSTREAM_BROKER_CA_FILE=ca_file,
    )


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        document: dict[str, Any] = json.loads(response.read())
        return document


def _post(url: str, body: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        document: dict[str, Any] = json.loads(response.read())
        return response.status, document


def test_edge_processor_and_station_work_with_their_own_credentials_only(tmp_path: Path) -> None:
    layout = build_test_access(tmp_path / "access", _enrolment())
    broker = start_shipped_broker(tmp_path / "broker", layout)
    observer = add_observer(broker, layout)
    url = broker.url
    processes: list[CliProcess] = []
    try:
        processor = CliProcess(
            [
                "process",
                "--broker",
                url,
                "--sqlite",
                str(tmp_path / "points.sqlite"),
                "--state-dir",
                str(tmp_path / "state"),
            ],
            tmp_path,
            name="processor",
            env=_env(layout, "processor", broker.ca_file),
        )
        processes.append(processor)
        station = CliProcess(
            ["station", "--broker", url, "--ward", "ward-1", "--http-port", "0"],
            tmp_path,
            name="station",
            env=_env(layout, "station-ward-1", broker.ca_file),
        )
        processes.append(station)
        processor.wait_for_log("connected, subscribed")
        station.wait_for_log("connected, subscribed")
        page = station.wait_for_log("station serving")["url"].rstrip("/")
        edge = CliProcess(
            [
                "edge",
                "--broker",
                url,
                "--source",
                "sim:vitals",
                "--patients",
                str(PATIENTS),
                "--duration",
                str(DURATION_S),
                "--scenario",
                SCENARIO,
                "--seed",
                str(SEED),
            ],
            tmp_path,
            name="edge",
            env=_env(layout, "edge-bedside", broker.ca_file),
        )
        processes.append(edge)
        assert edge.wait(DURATION_S + 40) == 0, edge.stderr_tail()
        summary = edge.last_json()
        assert summary["readings"] == PATIENTS * DURATION_S
        assert summary["acknowledged"] == summary["readings"]

        sick = patient_id(SEED, 0)
        deadline = time.monotonic() + 20
        alerts: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not alerts:
            alerts = [a for a in _get(f"{page}/api/alerts")["alerts"] if a["kind"] == "hr_high"]
            time.sleep(0.2)
        assert [(a["patient"], a["state"]) for a in alerts] == [(sick, "active")], station.stderr_tail()
        status, answer = _post(f"{page}/api/alerts/{alerts[0]['alert_id']}/acknowledge", {"by": "nurse-12"})
        assert (status, answer["status"]) == (200, "applied"), answer
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            (alert,) = [a for a in _get(f"{page}/api/alerts")["alerts"] if a["alert_id"] == alerts[0]["alert_id"]]
            if alert["state"] == "acknowledged":
                break
            time.sleep(0.1)
        assert alert["state"] == "acknowledged"
        assert alert["acknowledged_by"] == "nurse-12"
    finally:
        for process in reversed(processes):
            if process.proc.poll() is None:
                assert process.terminate() == 0, process.stderr_tail()
        observer.close()
        broker.stop()
    # Every reading reached the processor (the observer saw them on the bus), nothing was dead-lettered,
    # and the only alert-state publisher on the bus was the processor (the only identity allowed to be).
    assert len(observer.on("vitals/")) == PATIENTS * DURATION_S
    assert observer.on("deadletter/") == []
    assert {m.topic for m in observer.on("alerts/")} == {f"alerts/v1/ward-1/{sick}"}
    for process in processes:
        log = process.stderr_path.read_text(errors="replace")
        assert "Not authorized" not in log, f"{process.name} was refused something it needs:\n{process.stderr_tail()}"
        for name in ("processor", "station-ward-1", "edge-bedside"):
            assert secret_path(layout.secrets, name).read_text().strip() not in log, (
                f"a password in {process.name}'s log"
            )
