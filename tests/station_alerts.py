"""Alerts, snapshots and events for the nurse-station tests, shaped as the processor sends them."""

from __future__ import annotations

import dataclasses

from vitalstream.wire import (
    Alert,
    AlertEvent,
    AlertExplanation,
    AlertState,
    PatientAlerts,
    Priority,
    Resolution,
    Transition,
)

T0 = 1_790_000_000_000
WARD = "ward-1"


def make_alert(
    n: int,
    *,
    patient: str = "p-1",
    priority: Priority = Priority.HIGH,
    raised_ms: int = T0,
    state: AlertState = AlertState.ACTIVE,
    vital: str | None = "hr",
) -> Alert:
    return Alert(
        alert_id=f"a-{n}",
        patient=patient,
        ward=WARD,
        device="d-1",
        kind="hr_high",
        priority=priority,
        state=state,
        onset_ms=raised_ms - 6000,
        raised_ms=raised_ms,
        updated_ms=raised_ms,
        explanation=AlertExplanation(
            "hard_limit:hr_high",
            "Heart rate 163 /min above the hard limit of 150 /min for 6 s",
            vital=vital,
            value=163.0,
            limit=150.0,
            unit="/min",
            response="Review within 15 min",
        ),
    )


def snapshot(patient: str, alerts: tuple[Alert, ...], event_no: int) -> PatientAlerts:
    return PatientAlerts(WARD, patient, T0, alerts, event_no=event_no)


def event(event_no: int, transition: Transition, alert: Alert, by: str | None = None) -> AlertEvent:
    return AlertEvent(event_no, transition, alert.updated_ms, alert, by=by)


def acknowledged(alert: Alert, by: str = "nurse-12") -> Alert:
    return dataclasses.replace(
        alert, state=AlertState.ACKNOWLEDGED, acknowledged_by=by, updated_ms=alert.updated_ms + 1
    )


def resolved(alert: Alert) -> Alert:
    return dataclasses.replace(alert, state=AlertState.RESOLVED, resolution=Resolution.RESOLVED, resolved_ms=T0 + 9)
