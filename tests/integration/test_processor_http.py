"""The processor's HTTP side against real Mosquitto and InfluxDB: health, metrics, missed alert events."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.mqtt_recorder import MqttRecorder
from tests.procs import CliProcess
from tests.servers import InfluxServer, MosquittoServer
from vitalstream.wire import VitalsReading, encode_vitals
from vitalstream.wire.topics import vitals_topic

pytestmark = pytest.mark.integration


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:  # an HTTPError holds the connection open until closed
            return exc.code, exc.read()


def _metric(text: str, line_prefix: str) -> float:
    (line,) = [line for line in text.splitlines() if line.startswith(line_prefix + " ")]
    return float(line.rsplit(" ", 1)[1])


def test_health_metrics_and_missed_alert_events(
    tmp_path: Path, mosquitto: MosquittoServer, influxd: InfluxServer, influx_db: str
) -> None:
    processor = CliProcess(
        [
            "process", "--broker", mosquitto.url, "--influx-url", influxd.url, "--influx-api", "v1",
            "--influx-db", influx_db, "--state-dir", str(tmp_path / "state"), "--http-listen", "127.0.0.1:0",
        ],
        tmp_path,
        name="processor",
    )  # fmt: skip
    try:
        port = processor.wait_for_log("http endpoints up")["port"]
        base = f"http://127.0.0.1:{port}"
        processor.wait_for_log("connected, subscribed")
        assert _get(f"{base}/healthz")[0] == 200
        status, body = _get(f"{base}/readyz")
        assert (status, json.loads(body)["ready"]) == (200, True)

        publisher = MqttRecorder(mosquitto.port, ["alert-events/v1/#"]).start()
        start = int(time.time() * 1000) - 20_000
        for seq in range(10):
            reading = VitalsReading("p-1", "d-1", seq, start + seq * 1000, {"hr": 170.0})
            publisher.publish(vitals_topic("p-1", "d-1"), encode_vitals(reading))
        publisher.publish(vitals_topic("p-1", "d-1"), b"{not json")
        assert publisher.wait_for(lambda m: True), "no alert raised"

        deadline = time.monotonic() + 15
        events: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not events:
            status, body = _get(f"{base}/api/alert-events?ward=ward-1&patient=p-1&after=0")
            assert status == 200, body
            events = json.loads(body)["events"]
            time.sleep(0.2)
        publisher.stop()
        assert [(e["event_no"], e["transition"], e["kind"]) for e in events] == [(1, "raised", "hr_high")]
        assert json.loads(_get(f"{base}/api/alert-events?ward=ward-1&patient=p-1&after=1")[1])["events"] == []
        status, body = _get(f"{base}/api/alert-events?ward=ward-1&patient=p'%20OR%201=1")
        assert status == 400
        assert json.loads(body)["field"] == "patient"

        status, body = _get(f"{base}/metrics")
        text = body.decode()
        assert status == 200
        assert _metric(text, "vitalstream_readings_total") == 10
        assert _metric(text, 'vitalstream_rejected_total{reason="malformed_json"}') == 1
        raised = 'vitalstream_alert_transitions_total{kind="hr_high",priority="high",transition="raised"}'
        assert _metric(text, raised) == 1
        assert _metric(text, "vitalstream_processing_seconds_count") >= 11
        assert _metric(text, "vitalstream_spool_points") == 0
        assert "# TYPE vitalstream_processing_seconds histogram" in text
    finally:
        processor.terminate()
