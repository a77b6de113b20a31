"""The shipped broker configuration refuses the forgeries of issue 10, each one, on a real Mosquitto.

The broker runs deploy/mosquitto/mosquitto.conf itself (paths and port mapped, tests/servers.py) with the
access files ``vitalstream access build`` generated from a two-ward enrolment (tests/access_setup.py). A
test-only observer that reads every topic shows that a refused message reached nobody; every refusal is
paired with the same identity's allowed action succeeding, so a broker that refused everything would fail.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import MQTTProtocolVersion

from tests.access_setup import add_observer, build_test_access, identity, start_shipped_broker
from tests.bus_identity import BusIdentity
from tests.servers import ShippedMosquitto
from vitalstream_app.access.files import AccessLayout

pytestmark = pytest.mark.integration

OK = "Success"
# A publish the broker took: MQTT 5 says "No matching subscribers" when nobody listens.
ACCEPTED = {"Success", "No matching subscribers"}
REFUSED = "Not authorized"
GRANTED = ["Granted QoS 1"]
# How long a refused message is given to show up anywhere before we conclude it did not.
SETTLE_S = 0.5
READING = b'{"v": 1, "note": "the broker never looks inside; the topic decides"}'


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> AccessLayout:
    return build_test_access(tmp_path_factory.mktemp("access"))


@pytest.fixture
def broker(tmp_path: Path, layout: AccessLayout) -> Iterator[ShippedMosquitto]:
    server = start_shipped_broker(tmp_path / "broker", layout)
    yield server
    server.stop()


@pytest.fixture
def observer(broker: ShippedMosquitto, layout: AccessLayout) -> Iterator[BusIdentity]:
    client = add_observer(broker, layout)
    yield client
    client.close()


def _settled(observer: BusIdentity, marker: str) -> None:
    """Publishes nothing; waits until a message the processor sends after the forgeries has arrived, so
    anything sent before it (same broker, in order) would have arrived too."""
    assert observer.wait_for(lambda m: m.topic == marker, timeout_s=10), f"marker {marker} never arrived"


# ---------------------------------------------------------------------------------------------- who gets in


@pytest.mark.parametrize("protocol", [mqtt.MQTTv5, mqtt.MQTTv311])
def test_anonymous_and_wrong_credentials_are_refused(
    broker: ShippedMosquitto, layout: AccessLayout, protocol: MQTTProtocolVersion
) -> None:
    for username, password in [(None, None), ("edge-1", "not-the-password"), ("nobody", "x" * 43), ("", "")]:
        client = BusIdentity(broker.port, broker.ca_file, username, password, protocol=protocol)
        reason = client.connect()
        assert reason != OK, (username, reason)
        time.sleep(0.05)
        assert not client.connected
        client.close()
    allowed = identity(broker, layout, "edge-1")  # the same door opens for the right credentials
    allowed.close()


def test_there_is_no_plain_text_listener_and_an_unknown_certificate_is_refused(broker: ShippedMosquitto) -> None:
    # Plain MQTT on the only listener: the broker expects a TLS handshake and never answers a CONNECT.
    client = BusIdentity(broker.port, None, None)
    with pytest.raises((AssertionError, OSError)):
        client.connect(timeout_s=2)
    client.close()
    # TLS without our CA: the broker's certificate does not verify.
    context = ssl.create_default_context()
    with socket.create_connection(("127.0.0.1", broker.port), timeout=5) as raw, pytest.raises(ssl.SSLError):
        context.wrap_socket(raw, server_hostname="127.0.0.1")


def test_one_identity_cannot_take_over_anothers_connection_or_session(
    broker: ShippedMosquitto, layout: AccessLayout
) -> None:
    processor = identity(broker, layout, "processor", client_id="vitalstream-processor")
    for client_id in ("vitalstream-processor", "processor"):
        intruder = identity(broker, layout, "station-ward-1", client_id=client_id)
        time.sleep(0.2)
        assert processor.connected, f"a station connecting as client id {client_id!r} kicked the processor out"
        intruder.close()
    # Its own identity does take over (the client id is the user name): one running process per identity.
    second = identity(broker, layout, "processor", client_id="anything")
    deadline = time.monotonic() + 5
    while processor.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not processor.connected
    processor.close()
    second.close()


# ---------------------------------------------------------------------------------------------- devices


def test_a_device_publishes_only_its_own_readings_and_events(
    broker: ShippedMosquitto, layout: AccessLayout, observer: BusIdentity
) -> None:
    edge = identity(broker, layout, "edge-1")  # d-1 of p-1
    processor = identity(broker, layout, "processor")
    assert processor.subscribe("vitals/v1/+/+", "events/v1/+/+") == GRANTED * 2
    assert edge.publish("vitals/v1/p-1/d-1", READING) in ACCEPTED
    assert edge.publish("events/v1/p-1/d-1", READING) in ACCEPTED
    forged = [
        "vitals/v1/p-2/d-1",  # its own device id, another patient
        "vitals/v1/p-1/d-2",  # its patient, another (real) device
        "vitals/v1/p-1/d-forged",
        "vitals/v1/p-invented-0001/d-1",  # a patient nobody admitted (the 5,000-patient flood)
        "events/v1/p-2/d-2",
        "events/v1/p-9/d-1",
    ]
    for topic in forged:
        assert edge.publish(topic, READING) == REFUSED, topic
    assert edge.publish("vitals/v1/p-1/d-1", b"marker") in ACCEPTED
    _settled(observer, "vitals/v1/p-1/d-1")
    time.sleep(SETTLE_S)
    for reader in (observer, processor):
        assert sorted({m.topic for m in reader.messages}) == ["events/v1/p-1/d-1", "vitals/v1/p-1/d-1"]
    edge.close()
    processor.close()


def test_a_device_can_neither_read_nor_command_nor_observe(
    broker: ShippedMosquitto, layout: AccessLayout, observer: BusIdentity
) -> None:
    edge = identity(broker, layout, "edge-1")
    for topic in ("vitals/v1/p-1/d-1", "vitals/v1/+/+", "#", "deadletter/v1/#", "alerts/v1/ward-1/+", "commands/v1/#"):
        assert edge.subscribe(topic) == [REFUSED], topic
    command = {"v": 1, "command_id": "c-1", "action": "false_alarm", "alert_id": "a-1", "patient": "p-1", "by": "x"}
    assert edge.publish("commands/v1/ward-1/p-1", json.dumps(command).encode()) == REFUSED
    # An anonymous "consciousness: U" raised NEWS2 in the issue; a device cannot send observations at all.
    assert edge.publish("observations/v1/p-1/edge-1", b'{"v": 1, "consciousness": "U"}') == REFUSED
    assert edge.publish("vitals/v1/p-1/d-1", b"marker") in ACCEPTED
    _settled(observer, "vitals/v1/p-1/d-1")
    time.sleep(SETTLE_S)
    assert {m.topic for m in observer.messages} == {"vitals/v1/p-1/d-1"}
    assert edge.messages == []
    edge.close()


# ---------------------------------------------------------------------------------------------- alert states


def _forge(broker: ShippedMosquitto, layout: AccessLayout, name: str, topic: str, payload: bytes) -> str:
    """One publish (retained) from ``name`` on a connection of its own (one connection per identity: the
    client id is the user name, so a second one would take over the first)."""
    client = identity(broker, layout, name)
    try:
        return client.publish(topic, payload, retain=True)
    finally:
        client.close()


def test_only_the_processor_writes_retained_alert_states_and_alert_events(
    broker: ShippedMosquitto, layout: AccessLayout, observer: BusIdentity
) -> None:
    forged_state = b'{"v": 1, "ward": "ward-1", "patient": "p-1", "alerts": [{"kind": "ventricular_fibrillation"}]}'
    for name in ("station-ward-1", "edge-1", "telemed-1"):
        assert _forge(broker, layout, name, "alerts/v1/ward-1/p-1", forged_state) == REFUSED, name
        assert _forge(broker, layout, name, "alert-events/v1/ward-1/p-1", b'{"transition": "resolved"}') == REFUSED
        assert _forge(broker, layout, name, "fhir/v1/ward-1/p-1/DetectedIssue", b"{}") == REFUSED
    late = identity(broker, layout, "station-ward-1")
    assert late.subscribe("alerts/v1/ward-1/+") == GRANTED
    time.sleep(SETTLE_S)
    assert late.messages == [], "a forged retained alert state reached a station"
    late.close()

    processor = identity(broker, layout, "processor")
    assert processor.publish("alerts/v1/ward-1/p-1", b"the processor's state", retain=True) in ACCEPTED
    assert processor.publish("alert-events/v1/ward-1/p-1", b"the processor's event") in ACCEPTED
    # Hiding a real open alarm: an empty retained state from a station (or a device) is refused too.
    for name in ("station-ward-1", "edge-1"):
        assert _forge(broker, layout, name, "alerts/v1/ward-1/p-1", b"") == REFUSED, name
    fresh = identity(broker, layout, "station-ward-1")
    assert fresh.subscribe("alerts/v1/ward-1/+") == GRANTED
    got = fresh.wait_for(lambda m: m.retain)
    assert [(m.topic, m.payload) for m in got] == [("alerts/v1/ward-1/p-1", b"the processor's state")]
    _settled(observer, "alert-events/v1/ward-1/p-1")
    assert [m.payload for m in observer.on("alert-events/")] == [b"the processor's event"]
    # Nothing the forgers sent reached anyone: the observer saw the processor's two messages only.
    assert sorted(m.payload for m in observer.messages) == [b"the processor's event", b"the processor's state"]
    processor.close()
    fresh.close()


# ---------------------------------------------------------------------------------------------- stations


def test_a_station_reads_and_commands_only_its_ward(
    broker: ShippedMosquitto, layout: AccessLayout, observer: BusIdentity
) -> None:
    ward1 = identity(broker, layout, "station-ward-1")
    ward2 = identity(broker, layout, "station-ward-2")
    # Exactly what `vitalstream station` subscribes to (alerts.station.feed.ward_topics).
    for station, ward in ((ward1, "ward-1"), (ward2, "ward-2")):
        topics = [f"alerts/v1/{ward}/+", f"alert-events/v1/{ward}/+", "vitals/v1/+/+", f"command-results/v1/{ward}/+"]
        assert station.subscribe(*topics) == GRANTED * 4
    for name, topic in (
        ("edge-1", "vitals/v1/p-1/d-1"),
        ("edge-2", "vitals/v1/p-2/d-2"),
        ("edge-9", "vitals/v1/p-9/d-9"),
    ):
        edge = identity(broker, layout, name)
        assert edge.publish(topic, READING) in ACCEPTED
        edge.close()
    _settled(observer, "vitals/v1/p-9/d-9")
    time.sleep(SETTLE_S)
    # Vitals topics are per patient: each station hears its own ward's patients, and no one else's.
    assert sorted(m.topic for m in ward1.on("vitals/")) == ["vitals/v1/p-1/d-1", "vitals/v1/p-2/d-2"]
    assert [m.topic for m in ward2.on("vitals/")] == ["vitals/v1/p-9/d-9"]

    processor = identity(broker, layout, "processor")
    assert processor.subscribe("commands/v1/+/+") == GRANTED
    assert ward1.publish("commands/v1/ward-1/p-1", b"acknowledge p-1") in ACCEPTED
    assert ward1.publish("commands/v1/ward-2/p-9", b"false alarm for another ward") == REFUSED
    # The processor acts on the patient a command names, so its own ward's prefix must not help either.
    assert ward1.publish("commands/v1/ward-1/p-9", b"false alarm under our prefix") == REFUSED
    assert ward2.publish("commands/v1/ward-2/p-9", b"acknowledge p-9") in ACCEPTED
    got = processor.wait_for(lambda m: m.topic == "commands/v1/ward-2/p-9")
    assert got
    time.sleep(SETTLE_S)
    assert [m.payload for m in processor.messages] == [b"acknowledge p-1", b"acknowledge p-9"]

    for topic in (
        "deadletter/v1/#",
        "deadletter/v1/vitals",
        "alerts/v1/ward-2/+",
        "alerts/v1/+/+",
        "vitals/v1/#",
        "fhir/v1/#",
    ):
        assert ward1.subscribe(topic) == [REFUSED], topic
    assert ward1.publish("vitals/v1/p-1/d-1", READING) == REFUSED
    for client in (ward1, ward2, processor):
        client.close()


# ---------------------------------------------------------------------------------------------- integrators


def test_an_integrator_follows_alert_events_and_fhir_of_its_scope_only(
    broker: ShippedMosquitto, layout: AccessLayout, observer: BusIdentity
) -> None:
    telemed = identity(broker, layout, "telemed-1")  # scope: ward-1
    # First: the broker closes the connection after a refused publish, and a clean session forgets its
    # subscriptions (the real clients subscribe again on every connection).
    assert telemed.publish("commands/v1/ward-1/p-1", b"{}") == REFUSED
    assert telemed.subscribe("alert-events/v1/ward-1/+", "fhir/v1/ward-1/+/#") == GRANTED * 2
    for topic in ("alert-events/v1/+/+", "alert-events/v1/ward-2/+", "fhir/v1/#", "vitals/v1/+/+", "deadletter/v1/#"):
        assert telemed.subscribe(topic) == [REFUSED], topic
    processor = identity(broker, layout, "processor")
    for topic in (
        "alert-events/v1/ward-1/p-1",
        "alert-events/v1/ward-2/p-9",
        "fhir/v1/ward-1/p-1/DetectedIssue",
        "fhir/v1/ward-2/p-9/Observation",
        "deadletter/v1/vitals",
    ):
        assert processor.publish(topic, b"{}") in ACCEPTED, topic
    _settled(observer, "deadletter/v1/vitals")
    time.sleep(SETTLE_S)
    assert sorted(m.topic for m in telemed.messages) == [
        "alert-events/v1/ward-1/p-1",
        "fhir/v1/ward-1/p-1/DetectedIssue",
    ]
    telemed.close()
    processor.close()


def test_nobody_enrolled_reads_dead_letters_and_only_the_processor_reads_every_vital(
    broker: ShippedMosquitto, layout: AccessLayout
) -> None:
    names = ["edge-1", "edge-9", "processor", "station-ward-1", "station-ward-2", "telemed-1", "broker-health"]
    for name in names:
        client = identity(broker, layout, name)
        assert client.subscribe("deadletter/v1/#") == [REFUSED], name
        assert client.subscribe("deadletter/v1/+") == [REFUSED], name
        expected = GRANTED if name == "processor" else [REFUSED]
        assert client.subscribe("vitals/v1/+/+") == (GRANTED if name.startswith("station") else expected), name
        client.close()
    admin = identity(broker, layout, "access-admin")  # administers access control, reads no patient data
    assert admin.subscribe("vitals/v1/+/+") == [REFUSED]
    assert admin.subscribe("#") == [REFUSED]
    admin.close()


def test_a_broker_whose_access_file_is_unreadable_admits_nobody(tmp_path: Path, layout: AccessLayout) -> None:
    workdir = tmp_path / "broken"
    (workdir / "data").mkdir(parents=True)
    (workdir / "data" / "dynamic-security.json").write_text("{not json", encoding="utf-8")
    server = start_shipped_broker(workdir, layout)
    try:
        for name in ("processor", "access-admin"):
            client = BusIdentity(
                server.port, server.ca_file, name, (layout.secrets / f"{name}.password").read_text().strip()
            )
            assert client.connect() != OK, f"{name} got in although the broker could not read its access file"
            client.close()
        anonymous = BusIdentity(server.port, server.ca_file, None)
        assert anonymous.connect() != OK
        anonymous.close()
    finally:
        server.stop()
