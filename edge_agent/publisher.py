"""Publish readings over MQTT at QoS 1 and know which ones the broker has acknowledged (PUBACK)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt

from vitalstream.mqtt import connect_async, make_client
from vitalstream.wire import VitalsReading, encode_vitals
from vitalstream.wire.topics import vitals_topic

if TYPE_CHECKING:
    from vitalstream.settings import BrokerSettings

__all__ = ["MqttReadingPublisher", "PublisherStats"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PublisherStats:
    published: int
    acknowledged: int
    payload_bytes: int

    @property
    def unacknowledged(self) -> int:
        return self.published - self.acknowledged


class MqttReadingPublisher:
    """Sends readings to ``vitals/v1/{patient}/{device}`` with QoS 1 and tracks their PUBACKs."""

    def __init__(self, settings: BrokerSettings, *, client_id: str) -> None:
        self._settings = settings
        self._client = make_client(settings, client_id=client_id, persistent=False)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        # Packet ids in publish order; PUBACKed ids land in _acked (written by the network thread).
        # paho keeps QoS 1 messages across reconnects and resends them, so a reading published while
        # the broker is away is delivered once it is back.
        self._inflight: deque[int] = deque()
        self._acked: set[int] = set()
        self._published = 0
        self._acknowledged = 0
        self._bytes = 0
        self._connected = threading.Event()
        self._stopping = False

    def _on_connect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("broker refused connection", extra={"reason": str(reason)})
            return
        self._connected.set()
        log.info("connected to broker", extra={"broker": self._settings.display_url})

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        if not self._stopping:
            log.warning(
                "disconnected from broker; unacknowledged readings will be resent", extra={"reason": str(reason)}
            )

    def start(self, *, wait_s: float = 10.0) -> bool:
        """Connect in the background; returns whether the connection came up within ``wait_s``."""
        connect_async(self._client, self._settings, persistent=False)
        self._client.loop_start()
        return self._connected.wait(wait_s)

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, _reason: Any, _p: Any) -> None:
        self._acked.add(mid)

    def publish(self, reading: VitalsReading) -> None:
        payload = encode_vitals(reading)
        info = self._client.publish(vitals_topic(reading.patient, reading.device), payload, qos=1)
        self._inflight.append(info.mid)
        self._published += 1
        self._bytes += len(payload)
        self._reap()

    def _reap(self) -> None:
        while self._inflight and self._inflight[0] in self._acked:
            self._acked.discard(self._inflight.popleft())
            self._acknowledged += 1

    def flush(self, timeout_s: float) -> bool:
        """Wait until the broker has acknowledged everything published so far."""
        deadline = time.monotonic() + timeout_s
        while True:
            self._reap()
            if not self._inflight:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def stats(self) -> PublisherStats:
        self._reap()
        return PublisherStats(self._published, self._acknowledged, self._bytes)

    def stop(self) -> None:
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()
