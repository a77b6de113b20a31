"""The processor's pure core: readings, observations, commands and clock ticks in; alert transitions out.

No I/O, no clock reads: the service passes the time in (``now_ms``, used only to tell a backlog
from live data and to notice silent devices), so replaying the same inputs with the same times
gives the same alerts, ids included.

Per reading: sequence check (duplicates change nothing) -> every rule's finding -> signal-quality
gating (a finding from an unusable channel is held back: the condition has to be seen on a good
signal for its full delay) -> grouping (one event, one alert) -> alert lifecycles -> protected
baseline learning (good signal, no alarm open, not itself anomalous) -> NEWS2 inputs -> escalation.

>>> from vitalstream.settings import AlertingSettings, LimitsSettings
>>> from vitalstream.wire import VitalsReading
>>> core = ProcessorCore(limits=LimitsSettings(), alerting=AlertingSettings(), ward_of=lambda p: "icu")
>>> t0 = 1_790_000_000_000
>>> outcomes = [core.on_reading(VitalsReading("p-1", "d-1", s, t0 + 1000 * s, {"hr": 170.0}), now_ms=t0 + 1000 * s)
...             for s in range(8)]
>>> [(e.transition.value, e.alert.kind) for o in outcomes for e in o.events]
[('raised', 'hr_high')]
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass, field

from stream_processor.alert_lifecycle import AlertLifecycle, AlertSubject, CommandRefused
from stream_processor.limits import LimitRule, hard_limit_rules
from stream_processor.patient import BASELINE_VITALS, DeviceSeen, PatientState
from stream_processor.rules import (
    BAND_PRIORITY,
    GROUPS,
    Finding,
    ReadingContext,
    RuleSpec,
    evaluate_reading,
    news2_of,
    news2_verdict,
    rule_specs,
)
from stream_processor.sequence import SeqStatus, SeqTracker, SeqVerdict
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream.wire import (
    Alert,
    AlertAction,
    AlertCommand,
    AlertEvent,
    AlertExplanation,
    Observation,
    PatientAlerts,
    Transition,
    VitalsReading,
)

__all__ = [
    "CommandOutcome",
    "CommandRefused",
    "Outcome",
    "PatientState",
    "ProcessorCore",
    "ReadingOutcome",
    "hard_limit_rules",
]

_MAX_REMEMBERED_COMMANDS = 256
_MAX_FEEDBACK = 3
_CHECKPOINT_VERSION = 1
# NEWS2 inputs from continuous vitals are smoothed (about 10 s) so one noisy second does not move the score.
_SMOOTHING = 0.1
_NEWS2_NAMES = {"hr": "pulse", "rr": "respiration_rate", "spo2": "spo2", "temp": "temperature"}


@dataclass(frozen=True, slots=True)
class Outcome:
    """Alert transitions caused by one input, and the patient's new alert snapshot if anything changed."""

    events: tuple[AlertEvent, ...] = ()
    snapshot: PatientAlerts | None = None


@dataclass(frozen=True, slots=True)
class ReadingOutcome(Outcome):
    seq: SeqVerdict = field(default_factory=lambda: SeqVerdict(SeqStatus.NEW))
    retrospective: bool = False


@dataclass(frozen=True, slots=True)
class CommandOutcome(Outcome):
    """``duplicate`` means the same ``command_id`` was applied before (nothing changed)."""

    duplicate: bool = False


class ProcessorCore:
    """Per-patient state plus the rules that turn readings into alerts."""

    def __init__(
        self,
        *,
        limits: LimitsSettings,
        alerting: AlertingSettings,
        ward_of: Callable[[str], str],
        horizon_s: float = 300.0,
    ) -> None:
        self._limits = limits
        self._alerting = alerting
        self._hard: tuple[LimitRule, ...] = hard_limit_rules(limits)
        self._specs: dict[str, RuleSpec] = rule_specs(limits, alerting, self._hard)
        self._groups = {kind: [g[: g.index(kind)] for g in GROUPS if kind in g] for g in GROUPS for kind in g}
        # The alert kinds whose being open means a vital is alarming (and must not teach its baseline).
        self._kinds_of_vital = {
            vital: frozenset(kind for group in GROUPS if any(k.startswith(vital) for k in group) for kind in group)
            for vital in BASELINE_VITALS
        }
        self._ward_of = ward_of
        self._horizon_ms = int(horizon_s * 1000)
        self.patients: dict[str, PatientState] = {}

    # ------------------------------------------------------------------ state

    def _patient(self, patient: str) -> PatientState:
        state = self.patients.get(patient)
        if state is None:
            state = self.patients[patient] = PatientState(ward=self._ward_of(patient))
        return state

    def _lifecycle(self, state: PatientState, kind: str) -> AlertLifecycle:
        lifecycle = state.lifecycles.get(kind)
        if lifecycle is None:
            spec = self._specs[kind]
            lifecycle = state.lifecycles[kind] = AlertLifecycle(
                kind=kind,
                priority=spec.priority,
                delay_ms=int(spec.delay_s * 1000),
                clear_delay_ms=int(spec.clear_delay_s * 1000),
                max_gap_ms=int(spec.max_gap_s * 1000),
                reopen_ms=int(self._alerting.reopen_within_s * 1000),
            )
        return lifecycle

    def _held_back_by_group(self, state: PatientState, kind: str) -> bool:
        return any(state.is_open(other) for earlier in self._groups.get(kind, []) for other in earlier)

    # ------------------------------------------------------------------ inputs

    def on_reading(self, reading: VitalsReading, *, now_ms: int) -> ReadingOutcome:
        state = self._patient(reading.patient)
        tracker = state.devices.get(reading.device)
        if tracker is None:
            tracker = state.devices[reading.device] = SeqTracker()
        verdict = tracker.observe(reading.seq, ts_ms=reading.ts_ms)
        retrospective = now_ms - reading.ts_ms > self._horizon_ms
        if verdict.status is SeqStatus.DUPLICATE:
            return ReadingOutcome(seq=verdict, retrospective=retrospective)
        state.seen[reading.device] = DeviceSeen(reading.ts_ms, now_ms)
        state.last_ts_ms = max(state.last_ts_ms, reading.ts_ms)

        subject = AlertSubject(reading.patient, state.ward, reading.device)
        ctx = ReadingContext(reading, state, self._limits, self._alerting)
        changes: list[tuple[Transition, Alert]] = []
        no_data = state.lifecycles.get("no_data")
        if no_data is not None and no_data.is_open:
            changes += self._clear_no_data(no_data, reading.ts_ms, subject, retrospective=retrospective)
        for finding in evaluate_reading(ctx, self._hard):
            changes += self._apply(state, ctx, finding, subject, retrospective=retrospective)
        self._learn(state, ctx)
        self._update_news2_inputs(state, ctx)
        for lifecycle in state.lifecycles.values():
            changes += lifecycle.escalate_if_due(reading.ts_ms, int(self._alerting.escalate_after_s * 1000))
        outcome = self._outcome(reading.patient, state, changes, reading.ts_ms)
        return ReadingOutcome(outcome.events, outcome.snapshot, seq=verdict, retrospective=retrospective)

    def _apply(
        self, state: PatientState, ctx: ReadingContext, finding: Finding, subject: AlertSubject, *, retrospective: bool
    ) -> list[tuple[Transition, Alert]]:
        if self._alerting.use_sqi_gating and not ctx.quality_ok(finding.gate):
            return []  # not fed at all: after 5 s of it a pending condition starts over
        verdict = finding.verdict
        if verdict == "raising" and self._held_back_by_group(state, finding.kind):
            verdict = "hold"
        lifecycle = state.lifecycles.get(finding.kind)
        if lifecycle is None:
            if verdict != "raising":
                return []
            lifecycle = self._lifecycle(state, finding.kind)
        changes = lifecycle.observe(
            verdict,
            ts_ms=ctx.reading.ts_ms,
            subject=subject,
            retrospective=retrospective,
            describe=finding.describe,
            priority=finding.priority,
        )
        if lifecycle.idle and lifecycle.alert is None:
            del state.lifecycles[finding.kind]  # keep only what carries state: a few hundred bytes each
        return changes

    def _learn(self, state: PatientState, ctx: ReadingContext) -> None:
        """Teach each baseline only good-quality, unalarming, unsurprising values (protected learning)."""
        if not self._alerting.use_baselines:
            return
        ts_ms = ctx.reading.ts_ms
        settled_after = self._alerting.baseline_min_s
        max_z = self._alerting.learn_max_z
        lifecycles = state.lifecycles
        for vital, value in ctx.measured:
            baseline = state.baselines.get(vital)
            if baseline is None:
                baseline = state.baseline(vital)
            if not baseline.due(ts_ms):
                baseline.observe(value, ts_ms=ts_ms, learn=False)  # change detection only
                continue
            alarming = bool(lifecycles) and any(
                state.is_open(kind) for kind in self._kinds_of_vital[vital] if kind in lifecycles
            )
            learn = not alarming and (baseline.learned_s < settled_after or abs(baseline.z(value)) < max_z)
            baseline.observe(value, ts_ms=ts_ms, learn=learn)

    def _update_news2_inputs(self, state: PatientState, ctx: ReadingContext) -> None:
        ts_ms = ctx.reading.ts_ms
        inputs = state.news2_inputs
        for vital, value in ctx.measured:
            parameter = _NEWS2_NAMES[vital]
            previous = inputs.get(parameter)
            smoothed = value
            if previous is not None and ts_ms - previous[1] <= 10_000:
                old = previous[0]
                if isinstance(old, float):
                    smoothed = old + _SMOOTHING * (value - old)
            inputs[parameter] = (smoothed, ts_ms)
        sbp = ctx.reading.vitals.get("sbp")
        if sbp is not None:
            inputs["systolic_bp"] = (sbp, ts_ms)

    def on_observation(self, observation: Observation, *, now_ms: int) -> Outcome:
        """A nurse's (or another device's) observations: NEWS2 inputs, scored at once."""
        state = self._patient(observation.patient)
        for key, value in observation.values.items():
            if key == "spo2_scale":
                state.spo2_scale = int(value)
            else:
                state.news2_inputs[key] = (value, observation.ts_ms)
        device = next(iter(state.seen), observation.source)
        subject = AlertSubject(observation.patient, state.ward, device)
        score = news2_of(state, observation.ts_ms, self._alerting)
        retrospective = now_ms - observation.ts_ms > self._horizon_ms
        lifecycle = state.lifecycles.get("news2")
        if lifecycle is None and score.band == "low":
            return Outcome()
        lifecycle = self._lifecycle(state, "news2")

        def describe(held_ms: int) -> AlertExplanation:
            return AlertExplanation(
                rule="news2",
                summary=f"NEWS2 {score.total} ({score.band} risk)",
                value=float(score.total),
                response=score.response,
                detail={"band": score.band, "total": float(score.total)},
            )

        # A nurse's observation is deliberate: it scores now, without the delay meant for noisy streams.
        changes = lifecycle.observe(
            news2_verdict(score, is_open=state.is_open("news2")),
            ts_ms=observation.ts_ms,
            subject=subject,
            retrospective=retrospective,
            describe=describe,
            priority=BAND_PRIORITY.get(score.band),
            immediate=True,
        )
        return self._outcome(observation.patient, state, changes, observation.ts_ms)

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
        if command.action is AlertAction.FALSE_ALARM and self._alerting.use_feedback:
            # Clinician feedback: the patient's personal band for this kind widens a little (bounded).
            state.feedback[alert.kind] = min(_MAX_FEEDBACK, state.feedback.get(alert.kind, 0) + 1)
        state.event_no += 1
        event = AlertEvent(state.event_no, transition, command.ts_ms, alert, by=command.by)
        return CommandOutcome((event,), self._snapshot(command.patient, state, command.ts_ms))

    def on_tick(self, now_ms: int) -> list[Outcome]:
        """Wall-clock checks: silent devices (``no_data``) and escalation of alerts nobody acknowledges."""
        outcomes = []
        deadline_ms = int(self._alerting.no_data_after_s * 1000)
        for patient, state in self.patients.items():
            changes: list[tuple[Transition, Alert]] = []
            for device, seen in state.seen.items():
                silent_ms = now_ms - seen.arrived_ms
                if silent_ms < deadline_ms:
                    continue
                lifecycle = self._lifecycle(state, "no_data")
                if lifecycle.is_open:
                    continue
                device_time = seen.ts_ms + silent_ms  # the device's clock, extrapolated

                def describe(held_ms: int, silent_ms: int = silent_ms, device: str = device) -> AlertExplanation:
                    return AlertExplanation(
                        rule="technical:no_data",
                        summary=f"No data from device {device} for {silent_ms / 1000:.0f} s",
                        detail={"silent_s": silent_ms / 1000},
                    )

                subject = AlertSubject(patient, state.ward, device)
                changes += lifecycle.observe(
                    "raising", ts_ms=device_time, subject=subject, retrospective=False, describe=describe
                )
            extrapolated = state.last_ts_ms + max(
                0, now_ms - max((s.arrived_ms for s in state.seen.values()), default=now_ms)
            )
            for lifecycle in state.lifecycles.values():
                changes += lifecycle.escalate_if_due(extrapolated, int(self._alerting.escalate_after_s * 1000))
            if changes:
                outcomes.append(self._outcome(patient, state, changes, extrapolated))
        return outcomes

    def _clear_no_data(
        self, lifecycle: AlertLifecycle, ts_ms: int, subject: AlertSubject, *, retrospective: bool
    ) -> list[tuple[Transition, Alert]]:
        def describe(held_ms: int) -> AlertExplanation:
            return AlertExplanation(rule="technical:no_data", summary="Data flows again")

        return lifecycle.observe(
            "clear",
            ts_ms=max(ts_ms, (lifecycle.last_ts_ms or 0) + 1),
            subject=subject,
            retrospective=retrospective,
            describe=describe,
        )

    # ------------------------------------------------------------------ results

    def _outcome(
        self, patient: str, state: PatientState, changes: list[tuple[Transition, Alert]], ts_ms: int
    ) -> Outcome:
        if not changes:
            return Outcome()
        events = []
        for transition, alert in changes:
            state.event_no += 1
            events.append(AlertEvent(state.event_no, transition, alert.updated_ms, alert))
        return Outcome(tuple(events), self._snapshot(patient, state, ts_ms))

    def _snapshot(self, patient: str, state: PatientState, ts_ms: int) -> PatientAlerts:
        return PatientAlerts(
            ward=state.ward, patient=patient, updated_ms=ts_ms, alerts=state.open_alerts(), event_no=state.event_no
        )

    def open_alerts(self) -> list[Alert]:
        return [alert for state in self.patients.values() for alert in state.open_alerts()]

    # ------------------------------------------------------------------ checkpoints

    def export_state(self) -> bytes:
        """Every patient's state, pickled (our own data only; loaded back by :meth:`restore_state`)."""
        return pickle.dumps({"version": _CHECKPOINT_VERSION, "patients": self.patients}, protocol=5)

    def restore_state(self, blob: bytes) -> None:
        document = pickle.loads(blob)  # noqa: S301 -- our own checkpoint file, written atomically by us
        if document.get("version") != _CHECKPOINT_VERSION:
            raise ValueError(f"checkpoint version {document.get('version')} is not {_CHECKPOINT_VERSION}")
        self.patients = document["patients"]

    def adopt_retained(self, snapshot: PatientAlerts) -> int:
        """Reconcile with the retained alert state found at start-up, which is newer than any checkpoint.

        Open alerts there are adopted (so they are not raised again); alerts the checkpoint still has
        open but the retained state does not were closed after the checkpoint and are closed here too.
        Returns how many lifecycles changed.
        """
        state = self._patient(snapshot.patient)
        state.event_no = max(state.event_no, snapshot.event_no)
        retained = {alert.kind: alert for alert in snapshot.alerts}
        changed = 0
        for kind, alert in retained.items():
            if kind not in self._specs:
                continue
            lifecycle = self._lifecycle(state, kind)
            if lifecycle.alert != alert:
                lifecycle.restore_open(alert)
                changed += 1
        for kind, lifecycle in list(state.lifecycles.items()):
            if lifecycle.is_open and kind not in retained:
                del state.lifecycles[kind]
                changed += 1
        return changed
