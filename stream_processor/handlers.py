"""What the processor does with each kind of message it receives: decode it, run the core, plan the effects.

One received message (topic and payload) becomes its :class:`~stream_processor.effects.Effects`; the
service executes them and applies the error policy to whatever this raises (``RejectedMessage`` for
a message that breaks the contract, anything else for a bug). No MQTT client here, so every handler
runs without a broker. The counts it keeps are the service's (``/metrics``), and it logs to the
service's logger: these are the service's decisions.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable

from stream_processor.core import CommandOutcome, CommandRefused, ProcessorCore
from stream_processor.effects import Effects, EffectsPlanner
from stream_processor.sequence import SeqStatus
from vitalstream.wire import decode_command, decode_event, decode_observation, decode_vitals
from vitalstream.wire.topics import parse_command_topic

__all__ = ["MessageHandler"]


class MessageHandler:
    """Handles ``vitals``, ``observations``, ``events`` and ``commands`` messages; anything else has no effects.

    ``lock`` guards the core (the service's tick thread uses it too); ``clock_ms`` dates command answers.
    """

    def __init__(
        self,
        *,
        core: ProcessorCore,
        lock: threading.RLock,
        planner: EffectsPlanner,
        counts: Counter[str],
        clock_ms: Callable[[], int],
        log: logging.Logger,
    ) -> None:
        self._core = core
        self._lock = lock
        self._planner = planner
        self._counts = counts
        self._clock_ms = clock_ms
        self._log = log

    def handle(self, topic: str, payload: bytes | bytearray, now_ms: int) -> Effects:
        """The message's effects; raises ``RejectedMessage`` (or, on a bug, anything) instead."""
        root = topic.partition("/")[0]
        if root == "vitals":
            return self._reading(topic, payload, now_ms)
        if root == "commands":
            return self._command(topic, payload)
        if root == "observations":
            return self._observation(topic, payload, now_ms)
        if root == "events":
            return self._edge_event(topic, payload)
        return Effects()  # not ours to handle: acknowledged at once

    def _reading(self, topic: str, payload: bytes | bytearray, now_ms: int) -> Effects:
        reading = decode_vitals(topic, payload)
        with self._lock:
            outcome = self._core.on_reading(reading, now_ms=now_ms)
        counts = self._counts
        counts["readings"] += 1
        if outcome.seq.status is not SeqStatus.NEW:
            counts[f"readings_{outcome.seq.status.value}"] += 1
        if outcome.seq.gap:
            counts["seq_skipped"] += outcome.seq.gap
        return self._planner.reading(reading, outcome)

    def _observation(self, topic: str, payload: bytes | bytearray, now_ms: int) -> Effects:
        observation = decode_observation(topic, payload)
        with self._lock:
            outcome = self._core.on_observation(observation, now_ms=now_ms)
        self._counts["observations"] += 1
        return self._planner.observation(observation, outcome)

    def _edge_event(self, topic: str, payload: bytes | bytearray) -> Effects:
        event = decode_event(topic, payload)
        self._counts[f"edge_events_{event.kind}"] += 1
        self._log.info("edge event", extra={"patient": event.patient, "kind": event.kind, "event_id": event.event_id})
        return self._planner.edge_event(event)

    def _command(self, topic: str, payload: bytes | bytearray) -> Effects:
        command = decode_command(topic, payload)
        ward, _patient = parse_command_topic(topic)
        refused = None
        try:
            with self._lock:
                outcome = self._core.on_command(command)
        except CommandRefused as exc:
            self._counts[f"commands_refused_{exc.reason}"] += 1
            self._log.info(
                "command refused",
                extra={"patient": command.patient, "action": command.action.value, "reason": exc.reason},
            )
            refused, outcome = exc, CommandOutcome()
        else:
            self._counts["commands_duplicate" if outcome.duplicate else "commands"] += 1
        # The command is acknowledged once its answer is at the broker.
        return self._planner.command(command, outcome, ward=ward, refused=refused, now_ms=self._clock_ms())
