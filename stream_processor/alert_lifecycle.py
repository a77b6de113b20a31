"""The life of one alert kind for one patient: condition delay, hysteresis, raise, acknowledge, resolve.

::

    idle ──(condition holds for delay)──► ACTIVE ──(acknowledge)──► ACKNOWLEDGED
      ▲                                     │ │                          │
      │                                     │ └──────(resolve / false alarm by a clinician)──► RESOLVED
      └─────────(clear threshold held for clear delay: "cleared")◄───────┘

Event time only: every delay is measured on the readings' device timestamps, so replaying a
recording gives the same transitions whatever the wall clock says. A gap in the readings longer
than ``max_gap_ms`` restarts a pending condition: a delay has to be *observed*, not assumed.
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
    """A clinician's command that cannot apply: ``reason`` is ``unknown_alert`` or ``not_allowed``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


Describe = Callable[[int], AlertExplanation]


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
    )

    def __init__(
        self, *, kind: str, priority: Priority, delay_ms: int, clear_delay_ms: int, max_gap_ms: int = 5000
    ) -> None:
        self.kind = kind
        self.priority = priority
        self.delay_ms = delay_ms
        self.clear_delay_ms = clear_delay_ms
        self.max_gap_ms = max_gap_ms
        self.pending_since_ms: int | None = None
        self.clear_since_ms: int | None = None
        self.last_ts_ms: int | None = None
        self.alert: Alert | None = None

    @property
    def is_open(self) -> bool:
        return self.alert is not None and self.alert.state is not AlertState.RESOLVED

    def observe(
        self,
        verdict: Verdict,
        *,
        ts_ms: int,
        subject: AlertSubject,
        retrospective: bool,
        describe: Describe,
    ) -> list[tuple[Transition, Alert]]:
        """Feed one evaluation of the condition; returns the transitions it caused (usually none).

        ``describe(held_ms)`` builds the explanation; it is called only when an alert is raised or updated.
        """
        if self.last_ts_ms is not None and ts_ms <= self.last_ts_ms:
            return []  # out-of-order evaluation (a late reading): the lifecycle only moves forward
        gap = self.last_ts_ms is not None and ts_ms - self.last_ts_ms > self.max_gap_ms
        self.last_ts_ms = ts_ms
        if gap:
            self.pending_since_ms = None
            self.clear_since_ms = None

        if self.alert is None or self.alert.state is AlertState.RESOLVED:
            return self._while_idle(verdict, ts_ms, subject, retrospective=retrospective, describe=describe)
        return self._while_open(self.alert, verdict, ts_ms, retrospective=retrospective, describe=describe)

    def _while_idle(
        self, verdict: Verdict, ts_ms: int, subject: AlertSubject, *, retrospective: bool, describe: Describe
    ) -> list[tuple[Transition, Alert]]:
        if verdict != "raising":
            self.pending_since_ms = None
            return []
        if self.pending_since_ms is None:
            self.pending_since_ms = ts_ms
        held_ms = ts_ms - self.pending_since_ms
        if held_ms < self.delay_ms:
            return []
        onset = self.pending_since_ms
        self.pending_since_ms = None
        self.clear_since_ms = None
        self.alert = Alert(
            alert_id=alert_id(subject.patient, self.kind, onset),
            patient=subject.patient,
            ward=subject.ward,
            device=subject.device,
            kind=self.kind,
            priority=self.priority,
            state=AlertState.ACTIVE,
            onset_ms=onset,
            raised_ms=ts_ms,
            updated_ms=ts_ms,
            explanation=describe(held_ms),
            retrospective=retrospective,
        )
        return [(Transition.RAISED, self.alert)]

    def _while_open(
        self, alert: Alert, verdict: Verdict, ts_ms: int, *, retrospective: bool, describe: Describe
    ) -> list[tuple[Transition, Alert]]:
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
        if verdict == "raising" and alert.retrospective and not retrospective:
            # Raised from a backlog and still true on live data: now it is a present danger, page it.
            self.alert = replace(
                alert, retrospective=False, updated_ms=ts_ms, explanation=describe(ts_ms - alert.onset_ms)
            )
            return [(Transition.UPDATED, self.alert)]
        return []

    def command(self, action: AlertAction, *, by: str, ts_ms: int) -> tuple[Transition, Alert]:
        """Apply a clinician's command to the open alert, or raise :class:`CommandRefused`."""
        alert = self.alert
        if alert is None:
            raise CommandRefused("unknown_alert", "no such alert")
        if alert.state is AlertState.RESOLVED:
            raise CommandRefused("not_allowed", f"the alert is already resolved ({alert.resolution})")
        if action is AlertAction.ACKNOWLEDGE:
            if alert.state is AlertState.ACKNOWLEDGED:
                raise CommandRefused("not_allowed", "the alert is already acknowledged")
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
