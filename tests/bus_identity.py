"""One MQTT client acting as one identity, recording what the broker answered: CONNACK, SUBACK and PUBACK
reason codes, and every message it received. For the access-control tests against the shipped broker.

Mosquitto 2.0 answers a refused QoS 1 publish with PUBACK "Not authorized" and then closes the connection
(measured with 2.0.11); :meth:`BusIdentity.publish` waits for that and for paho's reconnection, so the
next step of a test runs on a live connection again.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from tests.mqtt_recorder import Received


class BusIdentity:
    """``BusIdentity(port, ca_file, "station-ward-1", password).connect()``; ``username=None`` is anonymous."""

    def __init__(
        self,
        port: int,
        ca_file: str | None,
        username: str | None,
        password: str | None = None,
        *,
        client_id: str = "",
        protocol: MQTTProtocolVersion = mqtt.MQTTv5,
    ) -> None:
        self.messages: list[Received] = []
        self.connack: str | None = None
        self._port = port
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._up = threading.Event()
        self.disconnects = 0
        self._acks: dict[int, str] = {}
        self._subacks: dict[int, list[str]] = {}
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or f"t-{username}-{time.monotonic_ns()}", protocol=protocol
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        if ca_file is not None:
            self._client.tls_set(ca_certs=ca_file, cert_reqs=ssl.CERT_REQUIRED)
        # Reconnect at once after the broker closes the connection on a refused publish (paho takes ints
        # in its annotation but sleeps for any number of seconds).
        self._client.reconnect_delay_set(min_delay=cast("int", 0.05), max_delay=1)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.on_publish = self._on_publish

    # ---------------------------------------------------------------- callbacks (paho's thread)

    def _on_connect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connack = str(reason)
        self._connected.set()
        if not reason.is_failure:
            self._up.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, _reason: Any, _p: Any) -> None:
        self._up.clear()
        self.disconnects += 1

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Received(message.topic, bytes(message.payload), bool(message.retain), message.qos))

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, mid: int, codes: Any, _p: Any) -> None:
        with self._lock:
            self._subacks[mid] = [str(code) for code in codes]

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        with self._lock:
            self._acks[mid] = str(reason)

    # ---------------------------------------------------------------- API

    def connect(self, timeout_s: float = 10.0) -> str:
        """Connect and return the CONNACK reason (``"Success"``, ``"Not authorized"``, ...)."""
        self._client.connect("127.0.0.1", self._port)
        self._client.loop_start()
        self._wait(self._connected.is_set, timeout_s, "no CONNACK")
        assert self.connack is not None
        return self.connack

    @property
    def connected(self) -> bool:
        return self._client.is_connected()

    def subscribe(self, *topics: str, timeout_s: float = 10.0) -> list[str]:
        """Subscribe at QoS 1 and return the SUBACK reason per topic (``"Granted QoS 1"`` or a refusal)."""
        self._wait(self._up.is_set, timeout_s, "not connected")
        rc, mid = self._client.subscribe([(topic, 1) for topic in topics])
        assert rc == mqtt.MQTT_ERR_SUCCESS, rc
        assert mid is not None
        self._wait(lambda: mid in self._subacks, timeout_s, "no SUBACK")
        return self._subacks[mid]

    def publish(self, topic: str, payload: bytes, *, retain: bool = False, timeout_s: float = 10.0) -> str:
        """Publish at QoS 1 and return the PUBACK reason (MQTT 5 tells a refusal: ``"Not authorized"``)."""
        self._wait(self._up.is_set, timeout_s, "not connected")
        before = self.disconnects
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        self._wait(lambda: info.mid in self._acks, timeout_s, "no PUBACK")
        reason = self._acks[info.mid]
        if reason not in {"Success", "No matching subscribers"}:
            deadline = time.monotonic() + 2.0
            while self.disconnects == before and time.monotonic() < deadline:
                time.sleep(0.01)
            self._wait(self._up.is_set, timeout_s, "no reconnection after a refused publish")
        return reason

    def on(self, prefix: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.topic.startswith(prefix)]

    def wait_for(self, predicate: Callable[[Received], bool], timeout_s: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                found = [m for m in self.messages if predicate(m)]
            if found:
                return found
            time.sleep(0.02)
        return []

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        # paho leaves the wake-up socket pair of loop_start() to its __del__; a client that reconnected
        # (kicked by the broker) sits in a reference cycle, and the garbage collector may finalise the
        # sockets first, which warnings-as-errors turns into a failure of whichever test runs then.
        self._client._reset_sockets()

    @staticmethod
    def _wait(done: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} within {timeout_s} s")
            time.sleep(0.01)
