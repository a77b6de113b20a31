"""InfluxDB goes away for 30 s while the processor raises alerts and stores vitals: nothing is lost,
nothing is stored twice, and the alerts raised meanwhile are all there once the database is back."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from edge_agent.simulator import patient_id
from tests.conftest import require_binary
from tests.mqtt_recorder import MqttRecorder
from tests.procs import CliProcess, cli_env
from tests.servers import InfluxServer, MosquittoServer
from vitalstream.wire import Transition, decode_alert_event

pytestmark = pytest.mark.integration

SEED = 11
PATIENTS = 5
DURATION_S = 70
OUTAGE_S = 30


def _raised(recorder: MqttRecorder) -> list[str]:
    decoded = [decode_alert_event(m.payload) for m in list(recorder.messages)]
    return [e.alert.alert_id for e in decoded if e.transition is Transition.RAISED]


def test_thirty_seconds_without_influxdb_lose_nothing_and_store_everything_once(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    # Our own influxd: this test stops and restarts it.
    (tmp_path / "influxd").mkdir()
    influxd = InfluxServer(require_binary("influxd", "/usr/bin/influxd"), tmp_path / "influxd").start()
    db = "outage"
    influxd.create_database(db)
    events = MqttRecorder(mosquitto.port, ["alert-events/v1/#"], client_id="station").start()
    processor = CliProcess(
        [
            "process", "--broker", mosquitto.url, "--influx-url", influxd.url, "--influx-api", "v1",
            "--influx-db", db, "--client-id", "proc-outage", "--state-dir", str(tmp_path / "state"),
        ],
        tmp_path / "processor",
        name="processor",
        env=cli_env(VITALSTREAM_INFLUX_TIMEOUT_S="2"),
    )  # fmt: skip
    processor.wait_for_log("connected, subscribed")
    edge = CliProcess(
        [
            "edge", "--broker", mosquitto.url, "--source", "sim:vitals", "--patients", str(PATIENTS),
            "--duration", str(DURATION_S), "--seed", str(SEED), "--spool", str(tmp_path / "edge.spool"),
            # Both deteriorations begin and are raised while the database is down (t = 12..42 s).
            "--scenario", "tachycardia@18+100,desaturation@20+100",
        ],
        tmp_path / "edge",
        name="edge",
    )  # fmt: skip
    try:
        time.sleep(12)
        influxd.stop()
        down_at = time.monotonic()
        while time.monotonic() - down_at < OUTAGE_S - 1 and len(_raised(events)) < 2:
            time.sleep(0.2)
        raised_while_down = _raised(events)
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        influxd.start()
        assert edge.wait(DURATION_S + 60) == 0, edge.stderr_tail()
        published = edge.last_json()["readings"]
        assert published == PATIENTS * DURATION_S

        rows: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = influxd.rows(db, "SELECT seq FROM vitals GROUP BY device")
            if len(rows) >= published:
                break
            time.sleep(0.5)
        assert processor.terminate() == 0, processor.stderr_tail()
    finally:
        events.stop()
        processor.kill()
        edge.kill()

    # Every reading exactly once.
    assert len(rows) == published
    assert len({(r["device"], r["seq"]) for r in rows}) == published
    # Both alerts were raised on MQTT while the database was down, and both are stored, once.
    assert len(raised_while_down) == 2
    tachy, desat = patient_id(SEED, 0), patient_id(SEED, 1)
    alerts = influxd.rows(db, "SELECT * FROM alerts")
    assert sorted((a["patient"], a["kind"]) for a in alerts) == sorted([(tachy, "hr_high"), (desat, "spo2_low")])
    stored_events = influxd.rows(db, "SELECT * FROM alert_events")
    assert Counter(e["transition"] for e in stored_events)["raised"] == 2
    # The outage went through the disk spool, not into broker redelivery.
    logs = processor.logs()
    assert any(line.get("event") == "store unavailable, spooling to disk" for line in logs)
    assert any(line.get("event") == "disk spool drained into the store" for line in logs)
    stopped = next(line for line in logs if line.get("event") == "processor stopped")
    assert stopped["spooled_total"] > 0
    assert stopped["drained_total"] == stopped["spooled_total"]
    assert stopped["spooled_points"] == 0
    influxd.stop()
