"""The edge agent installs light, and the shipped broker policy loses nothing for a persistent session."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.conftest import require_binary
from tests.mqtt_recorder import MqttRecorder
from tests.procs import cli_env
from tests.servers import MosquittoServer
from vitalstream.wire import decode_vitals

pytestmark = pytest.mark.integration

# Modules only the processor or the demo may use. The edge must run with all of them missing.
NOT_ON_THE_EDGE = [
    "river",
    "influxdb_client",
    "aiomqtt",
    "amqtt",
    "rich",
    "urllib3",
    "alerts",
    "stream_processor",
    # Training and data tools: the models' runtime code must need none of them.
    "scipy",
    "sklearn",
    "torch",
    "wfdb",
    "pandas",
    "skl2onnx",
    "onnx",
]


def test_edge_agent_with_its_models_runs_without_processor_or_training_dependencies(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    recorder = MqttRecorder(mosquitto.port, ["vitals/v1/#"]).start()
    blocker = (
        "import sys, runpy, importlib.abc\n"
        f"BLOCKED = {NOT_ON_THE_EDGE!r}\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ImportError(f'{name} must not be imported on the edge')\n"
        "sys.meta_path.insert(0, Block())\n"
        "sys.argv = ['vitalstream', 'edge', '--broker', sys.argv[1], '--source', 'sim',\n"
        "            '--patients', '2', '--duration', '8', '--spool', sys.argv[2]]\n"
        "try:\n"
        "    runpy.run_module('vitalstream', run_name='__main__')\n"
        "finally:\n"
        "    leaked = sorted(m for m in sys.modules if m.split('.')[0] in BLOCKED)\n"
        "    assert not leaked, leaked\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", blocker, mosquitto.url, str(tmp_path / "spool.sqlite")],
        check=False,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert recorder.wait_for(lambda m: len(recorder.messages) >= 16, timeout_s=5)
    recorder.stop()
    readings = [decode_vitals(m.topic, m.payload) for m in recorder.messages]
    assert len(readings) == 16
    assert {r.seq for r in readings} == set(range(8))
    # The waveform simulator went through the real models: ECG quality needs a full 5 s window first.
    settled = [r for r in readings if r.seq >= 5]
    assert all("ecg" in r.sqi and "ppg" in r.sqi and "hr" in r.vitals for r in settled)
    assert all(r.models.get("sqi", "").startswith("sqi-ecg@") for r in settled)


def _queued_delivery(port: int, *, protocol: int, count: int) -> int:
    """Subscribe with a persistent session, go away, let ``count`` messages queue up, come back: how many arrive?"""
    received: list[int] = []

    def subscriber() -> mqtt.Client:
        version = MQTTProtocolVersion(protocol)
        clean = False if version is mqtt.MQTTv311 else None  # MQTT 5 sets it per connection (clean_start)
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"slow-{protocol}", protocol=version, clean_session=clean
        )
        client.on_message = lambda _c, _u, m: received.append(int(m.payload))
        return client

    def connect(client: mqtt.Client) -> None:
        if protocol == mqtt.MQTTv5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = 3600
            client.connect("127.0.0.1", port, clean_start=False, properties=props)
        else:
            client.connect("127.0.0.1", port)

    first = subscriber()
    connect(first)
    first.subscribe("load/#", qos=1)
    first.loop_start()
    time.sleep(0.3)
    first.disconnect()
    first.loop_stop()

    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{protocol}")
    publisher.connect("127.0.0.1", port)
    publisher.loop_start()
    infos = [publisher.publish("load/x", str(i).encode(), qos=1) for i in range(count)]
    for info in infos:
        info.wait_for_publish(10)
    publisher.disconnect()
    publisher.loop_stop()

    second = subscriber()
    connect(second)
    second.loop_start()
    # Wait until everything arrived, or nothing more has arrived for 1.5 s.
    deadline, seen, quiet_since = time.monotonic() + 30, -1, time.monotonic()
    while len(received) < count and time.monotonic() < deadline and time.monotonic() - quiet_since < 1.5:
        if len(received) != seen:
            seen, quiet_since = len(received), time.monotonic()
        time.sleep(0.1)
    second.disconnect()
    second.loop_stop()
    return len(set(received))


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_shipped_broker_policy_queues_everything_for_an_offline_session(
    mosquitto: MosquittoServer, protocol: int
) -> None:
    assert _queued_delivery(mosquitto.port, protocol=protocol, count=5000) == 5000


def test_mosquitto_defaults_would_drop_queued_messages(tmp_path: Path) -> None:
    """The control: without our policy, Mosquitto keeps only ~1000 queued messages. The test above can fail."""
    bare = MosquittoServer(require_binary("mosquitto", "/usr/sbin/mosquitto"), tmp_path)
    bare.config.write_text(bare.config.read_text().replace("include_dir", "# include_dir"))
    bare.start()
    try:
        delivered = _queued_delivery(bare.port, protocol=mqtt.MQTTv311, count=5000)
    finally:
        bare.stop()
    assert delivered < 5000
