"""Nothing lost at the edge: a broker outage mid-stream, and an agent killed with SIGKILL mid-stream."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.procs import CliProcess
from tests.servers import InfluxServer, MosquittoServer
from vitalstream.wire import decode_vitals

pytestmark = pytest.mark.integration


class PersistentSubscriber:
    """A subscriber with a persistent MQTT 5 session: what the broker queued while it was away still arrives."""

    def __init__(self, port: int, topic: str = "vitals/v1/#") -> None:
        self.readings: list[tuple[str, int, int]] = []
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="seq-checker", protocol=mqtt.MQTTv5)
        self._client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(0.2, 1)  # type: ignore[arg-type]  # paho annotates int, sleeps a float
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self._client.connect("127.0.0.1", port, clean_start=False, properties=props)
        self._client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        r = decode_vitals(message.topic, message.payload)
        self.readings.append((r.device, r.seq, r.ts_ms))

    def wait_for(self, count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while len({(d, s) for d, s, _ in self.readings}) < count and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def _edge(tmp_path: Path, url: str, *, name: str, duration: int, patients: int = 3) -> CliProcess:
    return CliProcess(
        [
            "edge",
            "--broker",
            url,
            "--source",
            "sim:vitals",
            "--patients",
            str(patients),
            "--duration",
            str(duration),
            "--scenario",
            "stable",
            "--client-id",
            "edge-under-test",
            "--spool",
            str(tmp_path / "edge.spool.sqlite"),
        ],
        tmp_path,
        name=name,
    )


def test_broker_outage_mid_stream_loses_nothing(
    tmp_path: Path, mosquitto: MosquittoServer, influxd: InfluxServer, influx_db: str
) -> None:
    subscriber = PersistentSubscriber(mosquitto.port)
    processor = CliProcess(
        [
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
            "proc-outage",
        ],
        tmp_path,
        name="processor",
    )
    processor.wait_for_log("connected, subscribed")
    edge = _edge(tmp_path, mosquitto.url, name="edge", duration=40)
    time.sleep(10)
    mosquitto.stop()  # graceful: Mosquitto saves sessions and queues to its persistence file
    time.sleep(20)
    mosquitto.start()
    assert edge.wait(90) == 0, edge.stderr_tail()
    summary = edge.last_json()
    assert summary["readings"] == 3 * 40
    assert summary["acknowledged"] == summary["readings"]
    assert summary["connects"] >= 2
    subscriber.wait_for(3 * 40, timeout_s=30)
    subscriber.stop()

    # No sequence number missing at the subscriber, and each device's readings came in order.
    for device in summary["devices"]:
        seqs = [s for d, s, _ in subscriber.readings if d == device["device"]]
        assert sorted(set(seqs)) == list(range(40)), device
        first_seen = list(dict.fromkeys(seqs))
        assert first_seen == sorted(first_seen)
    # Every reading is stored exactly once (redeliveries land on the same point).
    deadline = time.monotonic() + 30
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = influxd.rows(influx_db, "SELECT seq FROM vitals GROUP BY device")
        if len(rows) == 3 * 40:
            break
        time.sleep(0.5)
    assert processor.terminate() == 0, processor.stderr_tail()
    assert len(rows) == 3 * 40
    assert len({(r["device"], r["seq"]) for r in rows}) == 3 * 40


def test_killed_agent_keeps_its_spool_and_sequence_numbers(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    subscriber = PersistentSubscriber(mosquitto.port)
    mosquitto.stop()  # nothing can be delivered: every reading stays in the spool
    first = _edge(tmp_path, mosquitto.url, name="edge-1", duration=600, patients=2)
    first.wait_for_log("edge agent started")
    time.sleep(8)
    first.kill()  # SIGKILL: no chance to flush or close anything
    mosquitto.start()
    second = _edge(tmp_path, mosquitto.url, name="edge-2", duration=5, patients=2)
    assert second.wait(60) == 0, second.stderr_tail()
    summary = second.last_json()
    assert summary["unacknowledged"] == 0
    # The second run drained the first run's readings too, and continued its sequence numbers.
    assert summary["acknowledged"] > summary["readings"]
    subscriber.wait_for(summary["acknowledged"], timeout_s=20)
    subscriber.stop()
    for device in summary["devices"]:
        seqs = sorted({s for d, s, _ in subscriber.readings if d == device["device"]})
        assert seqs[0] == 0
        assert seqs == list(range(seqs[-1] + 1)), "a gap or a reused sequence number"
        assert device["first_seq"] > 0  # the second run continued where the killed one stopped
        assert seqs[-1] == device["last_seq"]
