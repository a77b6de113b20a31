"""A test subscriber that records every message it receives (topic, payload, retain flag)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    qos: int


class MqttRecorder:
    def __init__(self, port: int, topics: list[str], *, client_id: str = "test-recorder", qos: int = 1) -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self._client.on_connect = lambda c, *_: c.subscribe([(t, qos) for t in topics])
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message
        self._port = port

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Received(message.topic, bytes(message.payload), bool(message.retain), message.qos))

    def start(self) -> MqttRecorder:
        self._client.connect("127.0.0.1", self._port)
        self._client.loop_start()
        assert self._subscribed.wait(10), "recorder could not subscribe"
        return self

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def on(self, root: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.topic.split("/", 1)[0] == root]

    def wait_for(self, predicate: Any, timeout_s: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                matched = [m for m in self.messages if predicate(m)]
            if matched:
                return matched
            time.sleep(0.05)
        return []

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(10)
