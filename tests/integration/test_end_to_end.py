"""The backbone path, all real: edge process -> Mosquitto -> processor process -> MQTT alerts + InfluxDB.

Two separate OS processes run the CLI exactly as an operator would; the test only watches the
broker (as a nurse station would) and queries InfluxDB with InfluxQL.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from edge_agent.simulator import patient_id
from tests.mqtt_recorder import MqttRecorder
from tests.procs import CliProcess
from tests.servers import InfluxServer, InfluxV2Proxy, MosquittoServer
from vitalstream.wire import AlertState, Transition, decode_alert_event, decode_alert_state, decode_vitals

pytestmark = pytest.mark.integration

SEED = 11
PATIENTS = 4
DURATION_S = 24
# Patient 0 has a tachycardia from t=3 s (HR ~165/min, over the 150/min limit for ~20 s);
# the three others are stable: a normal adult, an athlete (HR ~48) and a COPD patient (SpO2 ~90 %).
SCENARIO = "tachycardia@3+40,stable,athlete,copd"


def _wait_for_count(influxd: InfluxServer, db: str, expected: int, timeout_s: float = 20.0) -> int:
    deadline = time.monotonic() + timeout_s
    count = 0
    while time.monotonic() < deadline:
        rows = influxd.rows(db, "SELECT count(seq) FROM vitals")
        count = rows[0]["count"] if rows else 0
        if count >= expected:
            return count
        time.sleep(0.25)
    return count


def _run_pipeline(
    tmp_path: Path, mosquitto: MosquittoServer, store_args: list[str]
) -> tuple[dict[str, Any], MqttRecorder, CliProcess]:
    recorder = MqttRecorder(mosquitto.port, ["vitals/v1/#", "alerts/v1/#", "alert-events/v1/#", "deadletter/v1/#"])
    recorder.start()
    processor = CliProcess(
        ["process", "--broker", mosquitto.url, *store_args, "--client-id", "proc-e2e"], tmp_path, name="processor"
    )
    processor.wait_for_log("connected, subscribed")
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
            SCENARIO,
            "--seed",
            str(SEED),
        ],
        tmp_path,
        name="edge",
    )
    assert edge.wait(DURATION_S + 30) == 0, edge.stderr_tail()
    return edge.last_json(), recorder, processor


def test_edge_to_processor_to_influx_v1_and_mqtt(
    tmp_path: Path, mosquitto: MosquittoServer, influxd: InfluxServer, influx_db: str
) -> None:
    store_args = ["--influx-url", influxd.url, "--influx-api", "v1", "--influx-db", influx_db]
    summary, recorder, processor = _run_pipeline(tmp_path, mosquitto, store_args)
    try:
        published = summary["readings"]
        assert published == PATIENTS * DURATION_S
        assert summary["acknowledged"] == published
        assert _wait_for_count(influxd, influx_db, published) == published
    finally:
        assert processor.terminate() == 0, processor.stderr_tail()
        recorder.stop()

    # Every published reading is in InfluxDB exactly once: count by device and seq.
    rows = influxd.rows(influx_db, "SELECT seq FROM vitals GROUP BY device")
    by_device: dict[str, list[int]] = {}
    for row in rows:
        by_device.setdefault(row["device"], []).append(row["seq"])
    assert set(by_device) == {d["device"] for d in summary["devices"]}
    for device in summary["devices"]:
        seqs = sorted(by_device[device["device"]])
        assert seqs == list(range(device["first_seq"], device["last_seq"] + 1)), device
    # ... and the broker saw the same readings the database holds.
    seen = {(r.device, r.seq) for r in (decode_vitals(m.topic, m.payload) for m in recorder.on("vitals"))}
    assert seen == {(device, seq) for device, seqs in by_device.items() for seq in seqs}

    sick = patient_id(SEED, 0)
    # Exactly one alert in InfluxDB, for the scripted episode, with its explanation.
    alerts = influxd.rows(influx_db, "SELECT * FROM alerts")
    assert len(alerts) == 1, alerts
    (alert_row,) = alerts
    assert alert_row["patient"] == sick
    assert alert_row["kind"] == "hr_high"
    assert alert_row["priority"] == "high"
    assert alert_row["state"] == "active"
    assert alert_row["rule"] == "hard_limit:hr_high"
    assert alert_row["limit"] == 150.0
    assert alert_row["value"] > 150.0
    assert "above the hard limit of 150 /min" in alert_row["summary"]
    events = influxd.rows(influx_db, "SELECT * FROM alert_events")
    assert [(e["transition"], e["patient"]) for e in events] == [("raised", sick)]

    # Exactly one alert event on MQTT, and the retained state shows that one open alert.
    mqtt_events = [decode_alert_event(m.payload) for m in recorder.on("alert-events")]
    assert [(e.transition, e.alert.patient, e.alert.kind) for e in mqtt_events] == [
        (Transition.RAISED, sick, "hr_high")
    ]
    assert mqtt_events[0].alert.alert_id == alert_row["alert_id"]
    assert mqtt_events[0].alert.explanation.limit == 150.0
    states = [m for m in recorder.on("alerts") if m.payload]
    assert {m.topic for m in states} == {f"alerts/v1/ward-1/{sick}"}
    assert recorder.on("deadletter") == []

    # A station that connects only now still sees the open alert: it is retained.
    late_station = MqttRecorder(mosquitto.port, ["alerts/v1/#"], client_id="late-station").start()
    try:
        retained = late_station.wait_for(lambda m: m.retain and m.payload != b"")
    finally:
        late_station.stop()
    assert len(retained) == 1
    snapshot = decode_alert_state(retained[0].payload)
    assert [(a.patient, a.kind, a.state) for a in snapshot.alerts] == [(sick, "hr_high", AlertState.ACTIVE)]


def test_processor_writes_through_the_v2_write_api(
    tmp_path: Path, mosquitto: MosquittoServer, influxd: InfluxServer, influx_db: str, influx_v2: InfluxV2Proxy
) -> None:
    """The same path with ``--influx-api v2``: the official client's v2 write API, via the test proxy."""
    store_args = [
        "--influx-url",
        influx_v2.url,
        "--influx-api",
        "v2",
        "--influx-bucket",
        f"{influx_db}/autogen",
        "--influx-org",
        "vitalstream",
        "--influx-token",
        "test-token",
    ]
    summary, recorder, processor = _run_pipeline(tmp_path, mosquitto, store_args)
    try:
        assert _wait_for_count(influxd, influx_db, summary["readings"]) == summary["readings"]
    finally:
        assert processor.terminate() == 0, processor.stderr_tail()
        recorder.stop()
    assert influx_v2.writes > 0
    alerts = influxd.rows(influx_db, "SELECT * FROM alerts")
    assert [(a["patient"], a["kind"]) for a in alerts] == [(patient_id(SEED, 0), "hr_high")]
