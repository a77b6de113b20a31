"""The processor's pure core: readings and commands in, alert transitions out. No I/O, no clock.

The service calls :meth:`ProcessorCore.on_reading` with each decoded reading and the current time
(``now_ms``, used only to tell a backlog from live data) and turns the returned outcome into MQTT
messages and database points. Replaying the same readings with the same ``now_ms`` values gives
the same alerts, ids included.

>>> from vitalstream.settings import LimitsSettings
>>> from vitalstream.wire import VitalsReading
>>> core = ProcessorCore(rules=hard_limit_rules(LimitsSettings()), ward_of=lambda p: "icu")
>>> t0 = 1_790_000_000_000
>>> outcomes = [core.on_reading(VitalsReading("p-1", "d-1", s, t0 + 1000 * s, {"hr": 170.0}), now_ms=t0 + 1000 * s)
...             for s in range(8)]
>>> [(o.events[0].transition.value, o.events[0].alert.kind) for o in outcomes if o.events]
[('raised', 'hr_high')]
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from stream_processor.alert_lifecycle import AlertLifecycle, AlertSubject, CommandRefused
from stream_processor.limits import LimitRule, hard_limit_rules
from stream_processor.sequence import SeqStatus, SeqTracker, SeqVerdict
from vitalstream.wire import (
    VITALS,
    Alert,
    AlertCommand,
    AlertEvent,
    AlertExplanation,
    PatientAlerts,
    VitalsReading,
)

__all__ = ["CommandOutcome", "CommandRefused", "PatientState", "ProcessorCore", "ReadingOutcome", "hard_limit_rules"]

_MAX_REMEMBERED_COMMANDS = 256


@dataclass(slots=True)
class PatientState:
    """Everything the processor knows about one patient. Small and picklable (it is checkpointed)."""

    ward: str
    lifecycles: dict[str, AlertLifecycle] = field(default_factory=dict)
    devices: dict[str, SeqTracker] = field(default_factory=dict)
    event_no: int = 0
    commands_seen: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def open_alerts(self) -> tuple[Alert, ...]:
        alerts = [lc.alert for lc in self.lifecycles.values() if lc.is_open and lc.alert is not None]
        return tuple(sorted(alerts, key=lambda a: (a.priority.rank, a.raised_ms)))


@dataclass(frozen=True, slots=True)
class ReadingOutcome:
    """What one reading did: its sequence status, alert transitions and, if any, the new alert snapshot."""

    seq: SeqVerdict
    retrospective: bool
    events: tuple[AlertEvent, ...] = ()
    snapshot: PatientAlerts | None = None


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """A command's effect; ``duplicate`` means the same ``command_id`` was applied before (nothing changed)."""

    events: tuple[AlertEvent, ...] = ()
    snapshot: PatientAlerts | None = None
    duplicate: bool = False


class ProcessorCore:
    """Per-patient state plus the rules that turn readings into alerts."""

    def __init__(
        self,
        *,
        rules: Sequence[LimitRule],
        ward_of: Callable[[str], str],
        horizon_s: float = 300.0,
        clear_delay_s: float = 5.0,
    ) -> None:
        self._rules = tuple(rules)
        self._ward_of = ward_of
        self._horizon_ms = int(horizon_s * 1000)
        self._clear_delay_ms = int(clear_delay_s * 1000)
        self.patients: dict[str, PatientState] = {}

    def _patient(self, patient: str) -> PatientState:
        state = self.patients.get(patient)
        if state is None:
            state = PatientState(ward=self._ward_of(patient))
            for rule in self._rules:
                state.lifecycles[rule.kind] = AlertLifecycle(
                    kind=rule.kind,
                    priority=rule.priority,
                    delay_ms=int(rule.delay_s * 1000),
                    clear_delay_ms=self._clear_delay_ms,
                )
            self.patients[patient] = state
        return state

    def on_reading(self, reading: VitalsReading, *, now_ms: int) -> ReadingOutcome:
        state = self._patient(reading.patient)
        tracker = state.devices.get(reading.device)
        if tracker is None:
            tracker = state.devices[reading.device] = SeqTracker()
        verdict = tracker.observe(reading.seq, ts_ms=reading.ts_ms)
        retrospective = now_ms - reading.ts_ms > self._horizon_ms
        if verdict.status is SeqStatus.DUPLICATE:
            return ReadingOutcome(verdict, retrospective)

        subject = AlertSubject(reading.patient, state.ward, reading.device)
        events: list[AlertEvent] = []
        for rule in self._rules:
            value = reading.vitals.get(rule.vital)
            if value is None:
                continue
            lifecycle = state.lifecycles[rule.kind]
            for transition, alert in lifecycle.observe(
                rule.verdict(value),
                ts_ms=reading.ts_ms,
                subject=subject,
                retrospective=retrospective,
                describe=_limit_explainer(rule, value, reading),
            ):
                state.event_no += 1
                events.append(AlertEvent(state.event_no, transition, reading.ts_ms, alert))
        if not events:
            return ReadingOutcome(verdict, retrospective)
        return ReadingOutcome(
            verdict, retrospective, tuple(events), self._snapshot(reading.patient, state, reading.ts_ms)
        )

    def on_command(self, command: AlertCommand) -> CommandOutcome:
        """Apply an acknowledge / resolve / false-alarm command; raises :class:`CommandRefused`."""
        state = self.patients.get(command.patient)
        if state is None:
            raise CommandRefused("unknown_alert", "no alert for this patient")
        if command.command_id in state.commands_seen:
            return CommandOutcome(duplicate=True)
        lifecycle = next(
            (lc for lc in state.lifecycles.values() if lc.alert is not None and lc.alert.alert_id == command.alert_id),
            None,
        )
        if lifecycle is None:
            raise CommandRefused("unknown_alert", "no alert with this id for this patient")
        transition, alert = lifecycle.command(command.action, by=command.by, ts_ms=command.ts_ms)
        state.commands_seen[command.command_id] = None
        if len(state.commands_seen) > _MAX_REMEMBERED_COMMANDS:
            state.commands_seen.popitem(last=False)
        state.event_no += 1
        event = AlertEvent(state.event_no, transition, command.ts_ms, alert, by=command.by)
        return CommandOutcome((event,), self._snapshot(command.patient, state, command.ts_ms))

    def _snapshot(self, patient: str, state: PatientState, ts_ms: int) -> PatientAlerts:
        return PatientAlerts(ward=state.ward, patient=patient, updated_ms=ts_ms, alerts=state.open_alerts())

    def open_alerts(self) -> list[Alert]:
        return [alert for state in self.patients.values() for alert in state.open_alerts()]


def _limit_explainer(rule: LimitRule, value: float, reading: VitalsReading) -> Callable[[int], AlertExplanation]:
    def describe(held_ms: int) -> AlertExplanation:
        return AlertExplanation(
            rule=f"hard_limit:{rule.kind}",
            summary=rule.summary(value, held_ms / 1000),
            vital=rule.vital,
            value=value,
            limit=rule.limit,
            unit=VITALS[rule.vital].ucum,
            sqi=dict(reading.sqi),
            models=dict(reading.models),
        )

    return describe
