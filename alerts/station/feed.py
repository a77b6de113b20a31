"""The station's broker link: paho-mqtt on its own network thread, decoded messages handed to asyncio.

paho (built by :mod:`vitalstream.mqtt`, so TLS and credentials work as for the processor) keeps the
connection up: its network thread *is* the one reconnect loop, with backoff from 1 s to 30 s. Every
message is decoded on that thread, where a bad one costs nothing but a counter, and only the
decoded object crosses to the event loop (``call_soon_threadsafe``), where the pure
:class:`~alerts.station.state.StationState` lives. The session is clean: a station that comes back
wants the retained present, not a queue of what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import paho.mqtt.client as mqtt

from vitalstream.mqtt import connect_async, make_client
from vitalstream.settings import BrokerSettings
from vitalstream.wire import (
    AlertEvent,
    CommandResult,
    PatientAlerts,
    RejectedMessage,
    RejectReason,
    VitalsReading,
    decode_alert_event,
    decode_alert_state,
    decode_command_result,
    decode_vitals,
)
from vitalstream.wire.topics import VITALS_ALL, check_id

__all__ = ["BrokerFeed", "Decoded", "Rejected", "Snapshot", "decode_message", "ward_topics"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A retained alert state; ``alerts`` is ``None`` for an empty payload (nothing open)."""

    patient: str
    alerts: PatientAlerts | None


@dataclass(frozen=True, slots=True)
class Rejected:
    root: str
    reason: str


Decoded = Snapshot | AlertEvent | VitalsReading | CommandResult | Rejected


def ward_topics(ward: str) -> list[str]:
    """The four subscriptions of a station for ``ward`` (all QoS 1)."""
    return [f"alerts/v1/{ward}/+", f"alert-events/v1/{ward}/+", VITALS_ALL, f"command-results/v1/{ward}/+"]


def _ward_patient(topic: str, ward: str) -> str:
    parts = topic.split("/")
    if len(parts) != 4 or parts[1] != "v1" or parts[2] != ward:
        raise RejectedMessage(RejectReason.BAD_TOPIC, None, "not a topic of this ward")
    return check_id(parts[3], field="patient")


def _mismatch(field: str) -> RejectedMessage:
    return RejectedMessage(RejectReason.TOPIC_MISMATCH, field, f"payload {field} differs from the topic's")


def decode_message(topic: str, payload: bytes, ward: str) -> Decoded:
    """Turn one MQTT message into what the station state takes, or a :class:`Rejected` with the reason."""
    try:
        return _decode(topic, payload, ward)
    except RejectedMessage as exc:
        return Rejected(topic.partition("/")[0], exc.reason.value)


def _decode(topic: str, payload: bytes, ward: str) -> Decoded:
    root = topic.partition("/")[0]
    if root == "vitals":
        return decode_vitals(topic, payload)
    patient = _ward_patient(topic, ward)
    if root == "alerts":
        if not payload:
            return Snapshot(patient, None)
        snapshot = decode_alert_state(payload)
        if snapshot.patient != patient or snapshot.ward != ward:
            raise _mismatch("patient" if snapshot.patient != patient else "ward")
        return Snapshot(patient, snapshot)
    if root == "alert-events":
        event = decode_alert_event(payload)
        if event.alert.patient != patient or event.alert.ward != ward:
            raise _mismatch("alert.patient" if event.alert.patient != patient else "alert.ward")
        return event
    if root == "command-results":
        result = decode_command_result(payload)
        if result.patient != patient:
            raise _mismatch("patient")
        return result
    raise RejectedMessage(RejectReason.BAD_TOPIC, None, "not a topic the station reads")


class BrokerFeed:
    """Connects, subscribes to a ward, and calls ``deliver`` on the event loop for every message.

    ``on_state(connected=..., subscribed=...)`` is called on the loop whenever either changes.
    """

    def __init__(
        self,
        settings: BrokerSettings,
        *,
        ward: str,
        client_id: str,
        loop: asyncio.AbstractEventLoop,
        deliver: Callable[[Decoded], None],
        on_state: Callable[..., None],
    ) -> None:
        self._settings = settings
        self._ward = ward
        self._loop = loop
        self._deliver = deliver
        self._on_state = on_state
        self._subscribe_mid: int | None = None
        self._stopping = False
        self._client = make_client(settings, client_id=client_id, persistent=False)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def start(self) -> None:
        connect_async(self._client, self._settings, persistent=False)
        self._client.loop_start()

    def stop(self) -> None:
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, topic: str, payload: bytes) -> bool:
        """Queue a QoS 1 publish; False if the client is not connected (the caller answers 503)."""
        info = self._client.publish(topic, payload, qos=1)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    # ------------------------------------------------------------ network thread

    def _call(self, callback: Callable[[], None]) -> None:
        # RuntimeError: the loop is closed, the station is shutting down and nobody is listening.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:  # noqa: ANN401
        if reason.is_failure:
            log.error("broker refused connection", extra={"reason": str(reason)})
            return
        _, self._subscribe_mid = client.subscribe([(topic, 1) for topic in ward_topics(self._ward)])
        self._call(partial(self._on_state, connected=True, subscribed=False))

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, mid: int, codes: Any, _p: Any) -> None:  # noqa: ANN401
        if mid != self._subscribe_mid:
            return
        if any(code.is_failure for code in codes):
            # A broker ACL that hides a topic from the station: it must not claim to be ready.
            log.error("broker refused a subscription", extra={"codes": [str(code) for code in codes]})
            return
        log.info("connected, subscribed", extra={"broker": self._settings.display_url, "ward": self._ward})
        self._call(partial(self._on_state, connected=True, subscribed=True))

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:  # noqa: ANN401
        if not self._stopping:
            log.warning("disconnected from the broker; reconnecting", extra={"reason": str(reason)})
        self._call(partial(self._on_state, connected=False, subscribed=False))

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:  # noqa: ANN401
        self._call(partial(self._deliver, decode_message(message.topic, bytes(message.payload), self._ward)))
