"""The demo's embedded broker (amqtt) admits only its own users, with this run's passwords, on their topics."""

from __future__ import annotations

import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest

from tests.bus_identity import BusIdentity
from vitalstream.settings import BrokerSettings
from vitalstream_app.demo import DEMO_USERS
from vitalstream_app.embedded_broker import EmbeddedBroker


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    server = EmbeddedBroker(users=DEMO_USERS).start()
    yield server
    server.stop()


def _client(broker: EmbeddedBroker, user: str | None, password: str | None) -> BusIdentity:
    return BusIdentity(broker.port, None, user, password, protocol=mqtt.MQTTv311)


def _password(broker: EmbeddedBroker, user: str) -> str:
    password = broker.client_settings(user, BrokerSettings()).password
    assert password is not None
    return password


def test_nobody_gets_in_without_this_runs_password(broker: EmbeddedBroker) -> None:
    other_run = EmbeddedBroker(users=DEMO_USERS)  # not started: only its (different) passwords are used
    for user, password in [
        (None, None),
        ("demo-edge", "wrong"),
        ("demo-edge", _password(other_run, "demo-edge")),
        ("someone", _password(broker, "demo-edge")),
    ]:
        client = _client(broker, user, password)
        assert client.connect() != "Success", user
        client.close()
    assert "demo-edge" not in broker.url  # the URL the console shows carries no credentials


def test_each_demo_client_has_only_its_topics(broker: EmbeddedBroker) -> None:
    station = _client(broker, "demo-station", _password(broker, "demo-station"))
    edge = _client(broker, "demo-edge", _password(broker, "demo-edge"))
    assert station.connect() == edge.connect() == "Success"
    assert station.subscribe("vitals/v1/+/+", "alerts/v1/+/+") == ["Granted QoS 1"] * 2
    assert edge.subscribe("vitals/v1/+/+") != ["Granted QoS 1"]
    assert station.subscribe("commands/v1/+/+") != ["Granted QoS 1"]
    edge.publish("vitals/v1/p-1/d-1", b"a reading")
    edge.publish("alerts/v1/ward-1/p-1", b"a forged alert state", retain=True)
    station.publish("alerts/v1/ward-1/p-1", b"another forged state", retain=True)
    assert station.wait_for(lambda m: m.topic == "vitals/v1/p-1/d-1")
    time.sleep(0.3)
    assert [m.topic for m in station.messages] == ["vitals/v1/p-1/d-1"]
    for client in (station, edge):
        client.close()
