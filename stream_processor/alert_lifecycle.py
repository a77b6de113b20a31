"""The life of one alert kind for one patient: condition delay, hysteresis, raise, update, escalate,
acknowledge, resolve, and re-opening instead of flapping.

::

    idle ──(condition holds for the delay)──► ACTIVE ──(acknowledge)──► ACKNOWLEDGED
      ▲                                       │  │  ▲                        │
      │      (raised again within the re-open │  │  └─(unacknowledged high   │
      │       window: the same alert re-opens)│  │     priority too long:    │
      │                                       │  │     ESCALATED)            │
      │                                       │  └───(resolve / false alarm by a clinician)──► RESOLVED
      └──────(clear threshold held for the clear delay: "cleared")◄────────────────┘

Event time only: every delay is measured on the readings' device timestamps, so replaying a
recording gives the same transitions whatever the wall clock says. A pending condition starts over
when the value is clearly normal again (past the clear threshold); values in the hysteresis band
between the two thresholds keep it pending without raising. A gap in the evaluations longer
than ``max_gap_ms`` (no data, or data held back for poor signal quality) restarts a pending
condition: a delay has to be *observed*, not assumed.

Flapping: a condition that clears and comes back within ``reopen_ms`` re-opens the alert it just
closed (same id, an ``updated`` transition) instead of paging again with a new one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace

from stream_processor.limits import Verdict
from vitalstream.wire import (
    Alert,
    AlertAction,
    AlertExplanation,
    AlertState,
    Priority,
    Resolution,
    Transition,
)

__all__ = ["AlertLifecycle", "AlertSubject", "CommandRefused", "alert_id"]


def alert_id(patient: str, kind: str, onset_ms: int) -> str:
    """Deterministic: the same condition starting at the same event time always has the same id.

    >>> alert_id("p-1", "hr_high", 1_790_000_000_000)
    'a-d7088553509bedbe84a5'
    """
    digest = hashlib.sha256(f"{patient}|{kind}|{onset_ms}".encode()).hexdigest()
    return f"a-{digest[:20]}"


@dataclass(frozen=True, slots=True)
class AlertSubject:
    """Who an alert is about."""

    patient: str
    ward: str
    device: str


class CommandRefused(Exception):
    """A clinician's command that cannot apply: ``reason`` is ``unknown_alert`` or ``transition_not_allowed``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


Describe = Callable[[int], AlertExplanation]
Changes = list[tuple[Transition, Alert]]


class AlertLifecycle:
    """State for one (patient, kind). Picklable; all times are event-time milliseconds."""

    __slots__ = (
        "alert",
        "clear_delay_ms",
        "clear_since_ms",
        "delay_ms",
        "kind",
        "last_ts_ms",
        "max_gap_ms",
        "pending_since_ms",
        "priority",
        "reopen_ms",
        "reopened",
    )

    def __init__(
        self,
        *,
        kind: str,
        priority: Priority,
        delay_ms: int,
        clear_delay_ms: int,
        max_gap_ms: int = 5000,
        reopen_ms: int = 120_000,
    ) -> None:
        self.kind = kind
        self.priority = priority
        self.delay_ms = delay_ms
        self.clear_delay_ms = clear_delay_ms
        self.max_gap_ms = max_gap_ms
        self.reopen_ms = reopen_ms
        self.pending_since_ms: int | None = None
        self.clear_since_ms: int | None = None
        self.last_ts_ms: int | None = None
        self.alert: Alert | None = None
        self.reopened = 0

    @property
    def is_open(self) -> bool:
        return self.alert is not None and self.alert.state is not AlertState.RESOLVED

    @property
    def idle(self) -> bool:
        """Nothing pending, nothing open: the lifecycle could be dropped without losing anything."""
        return self.pending_since_ms is None and not self.is_open

    def observe(
        self,
        verdict: Verdict,
        *,
        ts_ms: int,
        subject: AlertSubject,
        retrospective: bool,
        describe: Describe,
        priority: Priority | None = None,
        immediate: bool = False,
    ) -> Changes:
        """Feed one evaluation of the condition; returns the transitions it caused (usually none).

        ``describe(held_ms)`` builds the explanation, only when an alert is raised or updated.
        ``priority`` overrides the kind's priority for this evaluation (NEWS2 bands move it).
        ``immediate`` skips the condition delay (a nurse's deliberate observation, not a noisy stream).
        """
        if self.last_ts_ms is not None and ts_ms <= self.last_ts_ms:
            return []  # out-of-order evaluation (a late reading): the lifecycle only moves forward
        gap = self.last_ts_ms is not None and ts_ms - self.last_ts_ms > self.max_gap_ms
        self.last_ts_ms = ts_ms
        if gap:
            self.pending_since_ms = None
            self.clear_since_ms = None
        wanted = priority or self.priority
        if self.alert is None or self.alert.state is AlertState.RESOLVED:
            if immediate and verdict == "raising" and self.pending_since_ms is None:
                self.pending_since_ms = ts_ms - self.delay_ms
            return self._while_idle(verdict, ts_ms, subject, wanted, retrospective=retrospective, describe=describe)
        return self._while_open(self.alert, verdict, ts_ms, wanted, retrospective=retrospective, describe=describe)

    def _while_idle(
        self,
        verdict: Verdict,
        ts_ms: int,
        subject: AlertSubject,
        priority: Priority,
        *,
        retrospective: bool,
        describe: Describe,
    ) -> Changes:
        if verdict == "clear":
            self.pending_since_ms = None
            return []
        if verdict == "hold":
            # Inside the hysteresis band: not clearly normal again, so a pending condition keeps its
            # onset (noise around a threshold must not restart the delay forever); no raise meanwhile.
            return []
        if self.pending_since_ms is None:
            self.pending_since_ms = ts_ms
        held_ms = ts_ms - self.pending_since_ms
        if held_ms < self.delay_ms:
            return []
        onset = self.pending_since_ms
        self.pending_since_ms = None
        self.clear_since_ms = None
        previous = self.alert
        if (
            previous is not None
            and previous.resolution is Resolution.CLEARED
            and previous.resolved_ms is not None
            and onset - previous.resolved_ms <= self.reopen_ms
        ):
            # Flapping: the same condition is back within moments. Re-open, do not page anew.
            self.reopened += 1
            self.alert = replace(
                previous,
                state=AlertState.ACTIVE,
                resolution=None,
                resolved_ms=None,
                updated_ms=ts_ms,
                priority=priority,
                retrospective=retrospective,
                explanation=describe(held_ms),
            )
            return [(Transition.UPDATED, self.alert)]
        self.alert = Alert(
            alert_id=alert_id(subject.patient, self.kind, onset),
            patient=subject.patient,
            ward=subject.ward,
            device=subject.device,
            kind=self.kind,
            priority=priority,
            state=AlertState.ACTIVE,
            onset_ms=onset,
            raised_ms=ts_ms,
            updated_ms=ts_ms,
            explanation=describe(held_ms),
            retrospective=retrospective,
        )
        self.reopened = 0
        return [(Transition.RAISED, self.alert)]

    def _while_open(
        self,
        alert: Alert,
        verdict: Verdict,
        ts_ms: int,
        priority: Priority,
        *,
        retrospective: bool,
        describe: Describe,
    ) -> Changes:
        if verdict == "clear":
            if self.clear_since_ms is None:
                self.clear_since_ms = ts_ms
            if ts_ms - self.clear_since_ms < self.clear_delay_ms:
                return []
            self.clear_since_ms = None
            self.alert = replace(
                alert, state=AlertState.RESOLVED, resolution=Resolution.CLEARED, resolved_ms=ts_ms, updated_ms=ts_ms
            )
            return [(Transition.RESOLVED, self.alert)]
        self.clear_since_ms = None
        if verdict != "raising":
            return []
        if alert.retrospective and not retrospective:
            # Raised from a backlog and still true on live data: now it is a present danger, page it.
            self.alert = replace(
                alert,
                retrospective=False,
                updated_ms=ts_ms,
                priority=priority,
                explanation=describe(ts_ms - alert.onset_ms),
            )
            return [(Transition.UPDATED, self.alert)]
        if priority is not alert.priority:
            self.alert = replace(
                alert, priority=priority, updated_ms=ts_ms, explanation=describe(ts_ms - alert.onset_ms)
            )
            return [(Transition.UPDATED, self.alert)]
        return []

    def escalate_if_due(self, now_ms: int, after_ms: int) -> Changes:
        """An unacknowledged high-priority alert open for ``after_ms`` escalates (once)."""
        alert = self.alert
        if (
            alert is None
            or alert.state is not AlertState.ACTIVE
            or alert.priority is not Priority.HIGH
            or alert.escalated
            or alert.retrospective
            or now_ms - alert.raised_ms < after_ms
        ):
            return []
        self.alert = replace(alert, escalated=True, updated_ms=now_ms)
        return [(Transition.ESCALATED, self.alert)]

    def command(self, action: AlertAction, *, by: str, ts_ms: int) -> tuple[Transition, Alert]:
        """Apply a clinician's command to the open alert, or raise :class:`CommandRefused`."""
        alert = self.alert
        if alert is None:
            raise CommandRefused("unknown_alert", "no such alert")
        if alert.state is AlertState.RESOLVED:
            # Artefact alarms often clear by themselves before anyone looks. Calling such an alert a
            # false alarm afterwards is still what the clinician means, and it must still teach.
            if not (action is AlertAction.FALSE_ALARM and alert.resolution is Resolution.CLEARED):
                raise CommandRefused("transition_not_allowed", f"the alert is already resolved ({alert.resolution})")
            self.alert = replace(alert, resolution=Resolution.FALSE_ALARM, updated_ms=ts_ms)
            return Transition.FALSE_ALARM, self.alert
        if action is AlertAction.ACKNOWLEDGE:
            if alert.state is AlertState.ACKNOWLEDGED:
                raise CommandRefused("transition_not_allowed", "the alert is already acknowledged")
            self.alert = replace(alert, state=AlertState.ACKNOWLEDGED, acknowledged_by=by, updated_ms=ts_ms)
            return Transition.ACKNOWLEDGED, self.alert
        resolution = Resolution.FALSE_ALARM if action is AlertAction.FALSE_ALARM else Resolution.RESOLVED
        self.alert = replace(
            alert, state=AlertState.RESOLVED, resolution=resolution, resolved_ms=ts_ms, updated_ms=ts_ms
        )
        # A clinician closed it; if the condition persists it must be observed for a full delay again.
        self.pending_since_ms = None
        transition = Transition.FALSE_ALARM if action is AlertAction.FALSE_ALARM else Transition.RESOLVED
        return transition, self.alert

    def restore_open(self, alert: Alert) -> None:
        """Adopt an open alert found in the retained state at start-up (it is newer than the checkpoint)."""
        self.alert = alert
        self.pending_since_ms = None
        self.clear_since_ms = None
