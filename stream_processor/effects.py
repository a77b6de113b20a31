"""What one processing outcome does to the world: the points to store and the messages to publish.

Pure: no I/O, no clock, no logging, no MQTT client. The service turns each outcome (a reading with
what the core made of it, an observation, an edge event, a clinician's command, a tick, a rejected
message) into :class:`Effects` with one call to :class:`EffectsPlanner`, then executes them: it
publishes each message in order with the message's ack ticket and submits the points. So a
reading's path runs one way, and every message the processor sends can be tested without a broker.

Order of the publishes, which subscribers rely on: for each alert event, the event and then (FHIR
on) its FHIR resources; then the patient's retained alert snapshot (an empty retained payload when
nothing is open: that deletes the retained message); then whatever the outcome adds (the reading's
FHIR vitals when due, the command's answer, so whoever reads "applied" can already see the new state).

>>> from vitalstream.wire import VitalsReading
>>> from stream_processor.core import ReadingOutcome
>>> planner = EffectsPlanner(fhir=True, fhir_vitals_every_s=0, ward_of=lambda patient: "icu")
>>> reading = VitalsReading("p-1", "d-1", 7, 1_790_000_000_000, {"hr": 72.0})
>>> effects = planner.reading(reading, ReadingOutcome())
>>> [p.topic for p in effects.publishes], [point.measurement for point in effects.points or ()]
(['fhir/v1/icu/p-1/Observation'], ['vitals'])
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from alerts.fhir import alert_resources, fhir_topic, vitals_observations
from alerts.points import AnyPoint, alert_event_point, alert_point, edge_event_point, observation_point, vitals_point
from stream_processor.core import CommandOutcome, CommandRefused, Outcome
from vitalstream.wire import (
    AlertCommand,
    AlertEvent,
    CommandResult,
    CommandStatus,
    DeadLetter,
    EdgeEvent,
    Observation,
    VitalsReading,
    encode_alert_event,
    encode_alert_state,
    encode_command_result,
    encode_deadletter,
)
from vitalstream.wire.topics import alert_events_topic, alert_state_topic, command_result_topic, deadletter_topic

__all__ = ["Effects", "EffectsPlanner", "FhirVitalsSchedule", "Publish"]


@dataclass(frozen=True, slots=True)
class Publish:
    """One MQTT message to send (always QoS 1)."""

    topic: str
    payload: bytes
    retain: bool = False


@dataclass(frozen=True, slots=True)
class Effects:
    """Everything one outcome does, in the order it must go out.

    ``points`` is one entry of the store's write queue, even when empty (a command's answer is then
    acknowledged behind the writes before it); ``None`` means the outcome does not touch the store
    (a dead letter). ``events`` are the alert transitions behind the publishes, for the service to
    count and log.
    """

    publishes: tuple[Publish, ...] = ()
    points: tuple[AnyPoint, ...] | None = None
    events: tuple[AlertEvent, ...] = ()


class FhirVitalsSchedule:
    """When a device's reading also goes out as FHIR Observations: once per period, at a phase of its own.

    The phase is a hash of the patient and device ids, so a ward that starts at once, or a minute
    boundary, does not turn into a burst of thousands of publishes that would delay the alerts queued
    behind them (measured: p99 reading-to-alert 73 ms -> 2.2 s). A new device waits for its phase: its
    first Observation comes within one period. ``every_ms`` 0 publishes every reading.

    >>> schedule = FhirVitalsSchedule(every_ms=60_000)
    >>> due = [schedule.due("p-1", "d-1", 1_790_000_000_000 + s * 1000) for s in range(180)]
    >>> sum(due), due[0]
    (3, False)
    """

    __slots__ = ("_at", "every_ms")

    def __init__(self, *, every_ms: int) -> None:
        self.every_ms = every_ms
        self._at: dict[tuple[str, str], tuple[int, int]] = {}  # device -> (phase, last period published)

    def due(self, patient: str, device: str, ts_ms: int) -> bool:
        every_ms = self.every_ms
        if every_ms <= 0:
            return True
        key = (patient, device)
        phase_and_period = self._at.get(key)
        if phase_and_period is None:
            phase = zlib.crc32(f"{patient}/{device}".encode()) % every_ms
            self._at[key] = (phase, (ts_ms - phase) // every_ms)
            return False
        phase, period = phase_and_period
        current = (ts_ms - phase) // every_ms
        if current <= period:
            return False
        self._at[key] = (phase, current)
        return True


class EffectsPlanner:
    """Turns outcomes into :class:`Effects`; owns the FHIR vitals schedule (its only state).

    ``fhir`` publishes alert events as FHIR resources too; ``fhir_vitals_every_s`` (FHIR on, >= 0) also
    publishes each device's vitals once per that period (0: every reading); negative: never.
    """

    def __init__(self, *, fhir: bool, fhir_vitals_every_s: float, ward_of: Callable[[str], str]) -> None:
        self._fhir = fhir
        self._ward_of = ward_of
        every = int(fhir_vitals_every_s * 1000) if fhir and fhir_vitals_every_s >= 0 else None
        self.fhir_vitals = None if every is None else FhirVitalsSchedule(every_ms=every)

    # ------------------------------------------------------------ one call per outcome

    def reading(self, reading: VitalsReading, outcome: Outcome) -> Effects:
        """A reading and what the core made of it. A duplicate's point is written again on purpose: same key,
        same value, so it changes nothing, and its ack then waits for durability like any other."""
        return self._with_alerts(outcome, (vitals_point(reading),), self._fhir_vitals(reading))

    def observation(self, observation: Observation, outcome: Outcome) -> Effects:
        return self._with_alerts(outcome, (observation_point(observation),))

    def edge_event(self, event: EdgeEvent) -> Effects:
        return Effects(points=(edge_event_point(event),))

    def command(
        self,
        command: AlertCommand,
        outcome: Outcome,
        *,
        ward: str,
        refused: CommandRefused | None,
        now_ms: int,
    ) -> Effects:
        """A clinician's command: the alert changes it made, then the answer on ``command-results`` (sent at
        ``now_ms``). ``refused`` is the core's refusal, ``None`` if it took the command."""
        if refused is not None:
            status, reason, detail = CommandStatus.REFUSED, refused.reason, refused.detail
        else:
            duplicate = isinstance(outcome, CommandOutcome) and outcome.duplicate
            status, reason, detail = (CommandStatus.DUPLICATE if duplicate else CommandStatus.APPLIED), None, None
        result = CommandResult(
            command.command_id, command.action, command.alert_id, command.patient, status, now_ms,
            reason=reason, detail=detail,
        )  # fmt: skip
        answer = Publish(command_result_topic(ward, command.patient), encode_command_result(result))
        return self._with_alerts(outcome, (), (answer,))

    def tick(self, outcome: Outcome) -> Effects:
        """Silent devices and escalations found by the clock (no message to acknowledge)."""
        return self._with_alerts(outcome, ())

    def dead_letter(
        self, topic: str, payload: bytes | bytearray, *, reason: str, field: str | None, detail: str, now_ms: int
    ) -> Effects:
        """A message that was rejected or could not be handled, kept with its reason (and its original bytes)
        on the dead-letter topic of its root, so that nothing is lost and the sender can be fixed."""
        letter = DeadLetter(
            topic=topic, reason=reason, field=field, detail=detail, received_ms=now_ms, size=len(payload),
            payload=bytes(payload),
        )  # fmt: skip
        return Effects(publishes=(Publish(deadletter_topic(topic), encode_deadletter(letter)),))

    # ------------------------------------------------------------ parts

    def _with_alerts(self, outcome: Outcome, points: tuple[AnyPoint, ...], then: tuple[Publish, ...] = ()) -> Effects:
        events = outcome.events
        snapshot = outcome.snapshot
        if not events and snapshot is None:
            return Effects(publishes=then, points=points)
        publishes: list[Publish] = []
        alert_points: list[AnyPoint] = []
        for event in events:
            alert = event.alert
            publishes.append(Publish(alert_events_topic(alert.ward, alert.patient), encode_alert_event(event)))
            if self._fhir:
                publishes += [
                    Publish(fhir_topic(resource, alert.ward, alert.patient), orjson.dumps(resource))
                    for resource in alert_resources(event)
                ]
            alert_points += (alert_point(alert), alert_event_point(event))
        if snapshot is not None:
            # An empty retained payload deletes the retained message: no open alerts, nothing shown.
            payload = encode_alert_state(snapshot) if snapshot.alerts else b""
            publishes.append(Publish(alert_state_topic(snapshot.ward, snapshot.patient), payload, retain=True))
        return Effects(publishes=(*publishes, *then), points=(*points, *alert_points), events=events)

    def _fhir_vitals(self, reading: VitalsReading) -> tuple[Publish, ...]:
        schedule = self.fhir_vitals
        if schedule is None or not schedule.due(reading.patient, reading.device, reading.ts_ms):
            return ()
        ward = self._ward_of(reading.patient)
        return tuple(
            Publish(fhir_topic(resource, ward, reading.patient), orjson.dumps(resource))
            for resource in vitals_observations(reading)
        )
