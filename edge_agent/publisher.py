"""Delivery: drain the spool to the broker at QoS 1, delete each message only after its PUBACK.

This is the edge's one reconnect loop. Each connection attempt uses a fresh paho client (paho's
own resend-on-reconnect would duplicate what the spool resends anyway); failed attempts back off
exponentially from 0.5 s to 30 s with full jitter, so a ward of devices does not reconnect in
lockstep after a broker restart. On every (re)connection the spool is drained from its oldest
message, in order, with the original timestamps and sequence numbers.

Threads: the delivery thread (connect, publish from the spool, delete acknowledged rows) and
paho's network thread (its callbacks only enqueue facts; they never touch the spool).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from edge_agent.spool import Spool
from vitalstream.mqtt import connect_async, make_client
from vitalstream.settings import BrokerSettings

__all__ = ["DeliveryStats", "SpoolDelivery"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryStats:
    published: int
    acknowledged: int
    connects: int
    connected: bool


class SpoolDelivery:
    """Runs in its own thread; :meth:`notify` after putting messages into the spool wakes it up."""

    def __init__(
        self,
        spool: Spool,
        settings: BrokerSettings,
        *,
        client_id: str,
        window: int = 100,
        min_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        self._spool = spool
        self._settings = settings
        self._client_id = client_id
        self._window = window
        self._min_backoff = min_backoff_s
        self._max_backoff = max_backoff_s
        self._connect_timeout = connect_timeout_s
        self._rng = rng or random.Random()
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._acked_mids: deque[int] = deque()
        self._connected = threading.Event()
        self._inflight_count = 0
        self._published = 0
        self._acknowledged = 0
        self._connects = 0
        self._thread = threading.Thread(target=self._run, name="edge-delivery", daemon=True)

    # ------------------------------------------------------------------ API

    def start(self) -> None:
        self._thread.start()

    def notify(self) -> None:
        with self._wake:
            self._wake.notify()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def wait_drained(self, timeout_s: float) -> bool:
        """Wait until the spool is empty and nothing is in flight."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._spool.stats().messages == 0 and self._inflight_count == 0:
                return True
            self.notify()
            time.sleep(0.05)
        return self._spool.stats().messages == 0

    def stop(self) -> None:
        self._stopping.set()
        self.notify()
        self._thread.join(timeout=10.0)

    def stats(self) -> DeliveryStats:
        return DeliveryStats(self._published, self._acknowledged, self._connects, self._connected.is_set())

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        backoff = self._min_backoff
        while not self._stopping.is_set():
            lost = threading.Event()
            client = self._connect(lost)
            if client is None:
                delay = self._rng.uniform(0, backoff)  # full jitter
                log.info("broker unreachable, retrying", extra={"retry_in_s": round(delay, 2)})
                self._stopping.wait(delay)
                backoff = min(self._max_backoff, backoff * 2)
                continue
            backoff = self._min_backoff
            self._connects += 1
            try:
                self._pump(client, lost)
            finally:
                self._connected.clear()
                self._inflight_count = 0
                client.disconnect()
                client.loop_stop()

    def _connect(self, lost: threading.Event) -> mqtt.Client | None:
        client = make_client(self._settings, client_id=self._client_id, persistent=False)
        client.max_inflight_messages_set(self._window)
        up = threading.Event()

        def on_connect(_c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            if reason.is_failure:
                log.warning("broker refused the connection", extra={"reason": str(reason)})
                lost.set()
            else:
                up.set()

        def on_disconnect(_c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            lost.set()
            if not self._stopping.is_set():
                log.warning(
                    "disconnected from broker; the spool keeps everything unacknowledged", extra={"reason": str(reason)}
                )
            self.notify()

        def on_publish(_c: mqtt.Client, _u: Any, mid: int, _r: Any, _p: Any) -> None:
            self._acked_mids.append(mid)
            self.notify()

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_publish = on_publish
        try:
            connect_async(client, self._settings, persistent=False)
            client.loop_start()
        except (OSError, ValueError) as exc:
            log.warning("cannot start a connection", extra={"error": type(exc).__name__})
            return None
        deadline = time.monotonic() + self._connect_timeout
        while not (up.is_set() or lost.is_set() or self._stopping.is_set()) and time.monotonic() < deadline:
            up.wait(0.05)
        if not up.is_set() or lost.is_set():
            client.loop_stop()
            return None
        self._connected.set()
        log.info("connected to broker", extra={"broker": self._settings.display_url})
        return client

    def _pump(self, client: mqtt.Client, lost: threading.Event) -> None:
        inflight: dict[int, int] = {}  # packet id -> spool row id
        early: set[int] = set()  # PUBACKs that arrived before we recorded their packet id
        cursor = 0
        self._acked_mids.clear()
        while not lost.is_set() and not self._stopping.is_set():
            done: list[int] = []
            while self._acked_mids:
                early.add(self._acked_mids.popleft())
            for mid in [m for m in early if m in inflight]:
                early.discard(mid)
                done.append(inflight.pop(mid))
            if done:
                self._spool.delete(done)
                self._acknowledged += len(done)
            room = self._window - len(inflight)
            sent = 0
            if room > 0:
                for row in self._spool.peek(after_id=cursor, limit=room):
                    info = client.publish(row.topic, row.payload, qos=1)
                    if info.rc != mqtt.MQTT_ERR_SUCCESS:
                        lost.set()
                        break
                    inflight[info.mid] = row.id
                    cursor = row.id
                    sent += 1
                self._published += sent
            self._inflight_count = len(inflight)
            if not sent and not done:
                with self._wake:
                    self._wake.wait(0.2)
