"""Kill the processor with SIGKILL mid-stream and restart it: no duplicate alert, no lost reading, no flood."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from edge_agent.simulator import patient_id
from tests.mqtt_recorder import MqttRecorder
from tests.procs import CliProcess, cli_env
from tests.servers import InfluxServer, MosquittoServer
from vitalstream.wire import Transition, decode_alert_event

pytestmark = pytest.mark.integration

SEED = 5
PATIENTS = 6
DURATION_S = 60


def test_sigkill_and_restart_keep_alerts_unique_and_readings_complete(
    tmp_path: Path, mosquitto: MosquittoServer, influxd: InfluxServer, influx_db: str
) -> None:
    events = MqttRecorder(mosquitto.port, ["alert-events/v1/#"], client_id="station").start()
    env = cli_env(VITALSTREAM_PROCESSOR_CHECKPOINT_EVERY_S="3")
    args = [
        "process",
        "--broker",
        mosquitto.url,
        "--influx-url",
        influxd.url,
        "--influx-api",
        "v1",
        "--influx-db",
        influx_db,
        "--client-id",
        "proc-restart",
        "--state-dir",
        str(tmp_path / "state"),
    ]
    first = CliProcess(args, tmp_path / "run1", name="processor-1", env=env)
    first.wait_for_log("connected, subscribed")
    edge = CliProcess(
        [
            "edge",
            "--broker",
            mosquitto.url,
            "--source",
            "sim:vitals",
            "--patients",
            str(PATIENTS),
            "--duration",
            str(DURATION_S),
            "--scenario",
            "tachycardia@5+100,desaturation@8+100",
            "--seed",
            str(SEED),
            "--spool",
            str(tmp_path / "edge.spool"),
        ],
        tmp_path / "edge",
        name="edge",
    )
    # Both alerts are raised by about t = 20 s; a checkpoint is written every 3 s.
    time.sleep(30)
    first.kill()  # SIGKILL: no flush, no final checkpoint, unacknowledged readings stay at the broker
    time.sleep(3)
    second = CliProcess(args, tmp_path / "run2", name="processor-2", env=env)
    second.wait_for_log("connected, subscribed")
    assert edge.wait(DURATION_S + 60) == 0, edge.stderr_tail()
    published = edge.last_json()["readings"]
    assert published == PATIENTS * DURATION_S

    deadline = time.monotonic() + 30
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = influxd.rows(influx_db, "SELECT seq FROM vitals GROUP BY device")
        if len(rows) >= published:
            break
        time.sleep(0.5)
    assert second.terminate() == 0, second.stderr_tail()
    events.stop()

    # No lost reading, none twice.
    assert len(rows) == published
    assert len({(r["device"], r["seq"]) for r in rows}) == published

    # Exactly one alert per deteriorating patient, stored once, raised once on MQTT.
    tachy, desat = patient_id(SEED, 0), patient_id(SEED, 1)
    alerts = influxd.rows(influx_db, "SELECT * FROM alerts")
    assert sorted((a["patient"], a["kind"]) for a in alerts) == sorted([(tachy, "hr_high"), (desat, "spo2_low")])
    stored_events = influxd.rows(influx_db, "SELECT * FROM alert_events")
    assert Counter(e["transition"] for e in stored_events)["raised"] == 2
    mqtt_events = [decode_alert_event(m.payload) for m in events.messages]
    raised = [
        (e.alert.patient, e.alert.kind, e.alert.alert_id) for e in mqtt_events if e.transition is Transition.RAISED
    ]
    assert len(raised) == len(set(raised)) == 2
    # Each patient's event numbers never repeat (a restart continues the stream, it does not start over).
    for patient in (tachy, desat):
        numbers = [e.event_no for e in mqtt_events if e.alert.patient == patient]
        assert len(numbers) == len(set(numbers))
    # The second run restored the checkpoint and adopted the retained alert states.
    logs = {line.get("event") for line in second.logs()}
    assert {"checkpoint restored", "retained alert states adopted"} <= logs
