"""What the nurse station knows: the ward's open alerts, merged from retained snapshots and live events.

Two sources describe the same alerts. The retained ``alerts/v1/{ward}/{patient}`` snapshot is the
processor's whole truth about a patient and replaces whatever the station had; an alert event
(``alert-events/v1/...``) is one change, applied only if its ``event_no`` is newer than what the
station already reflects, because the processor publishes the event *before* the snapshot that
already contains it. Snapshots win even when their number is lower: a processor that lost its
numbering must never leave a station ignoring a patient.

After a reconnect, the broker sends the retained snapshots again, but a patient whose last alert
closed while the station was away has no retained message any more. :meth:`StationState.begin_resync`
and :meth:`StationState.finish_resync` bracket that replay and drop the patients nobody confirmed.

Pure: no clock, no I/O; the station shell feeds decoded messages in and renders what comes out.

>>> from vitalstream.wire import AlertExplanation, AlertState, Priority
>>> state = StationState(ward="w-1")
>>> def alert(n, priority, raised):
...     return Alert(f"a-{n}", f"p-{n}", "w-1", "d-1", "hr_high", priority, AlertState.ACTIVE,
...                  raised, raised, raised, AlertExplanation("hard_limit:hr_high", "HR high"))
>>> _ = state.apply_snapshot("p-1", PatientAlerts("w-1", "p-1", 5, (alert(1, Priority.LOW, 1),), event_no=1))
>>> _ = state.apply_snapshot("p-2", PatientAlerts("w-1", "p-2", 5, (alert(2, Priority.HIGH, 3),), event_no=1))
>>> [a.alert_id for a in state.open_alerts()]
['a-2', 'a-1']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alerts.station.trends import TrendBook
from vitalstream.wire import Alert, AlertEvent, AlertState, PatientAlerts, VitalsReading

__all__ = ["StationState", "alert_view", "sort_key"]


def sort_key(alert: Alert) -> tuple[int, int, str]:
    """Most urgent first (high, medium, low), then the oldest; the id only makes the order total."""
    return (alert.priority.rank, alert.raised_ms, alert.alert_id)


def alert_view(alert: Alert) -> dict[str, Any]:
    """The facts one alert card shows, as JSON for the page (no device id: the nurse does not need it)."""
    explanation = alert.explanation
    return {
        "alert_id": alert.alert_id,
        "patient": alert.patient,
        "kind": alert.kind,
        "priority": alert.priority.value,
        "state": alert.state.value,
        "onset_ms": alert.onset_ms,
        "raised_ms": alert.raised_ms,
        "updated_ms": alert.updated_ms,
        "retrospective": alert.retrospective,
        "escalated": alert.escalated,
        "acknowledged_by": alert.acknowledged_by,
        "rule": explanation.rule,
        "summary": explanation.summary,
        "response": explanation.response,
        "vital": explanation.vital,
        "value": explanation.value,
        "limit": explanation.limit,
        "unit": explanation.unit,
        "baseline": dict(explanation.baseline),
        "sqi": dict(explanation.sqi),
    }


class StationState:
    """The open alerts of one ward and a short vitals trend per patient."""

    def __init__(self, *, ward: str, trends: TrendBook | None = None) -> None:
        self.ward = ward
        self.trends = trends or TrendBook()
        self._alerts: dict[str, dict[str, Alert]] = {}
        self._event_no: dict[str, int] = {}
        self._confirmed: set[str] | None = None
        # Events the station knows it missed (a jump in event_no); the next snapshot repairs the view.
        self.event_gaps = 0

    # ------------------------------------------------------------ inputs

    def apply_snapshot(self, patient: str, snapshot: PatientAlerts | None) -> bool:
        """Apply the retained state of ``patient`` (``None``: empty payload, nothing open). True if it changed."""
        if self._confirmed is not None:
            self._confirmed.add(patient)
        self.trends.keep(patient)
        before = self._alerts.get(patient, {})
        if snapshot is None:
            self._alerts.pop(patient, None)
            return bool(before)
        self._event_no[patient] = snapshot.event_no
        after = {alert.alert_id: alert for alert in snapshot.alerts if alert.state is not AlertState.RESOLVED}
        if after:
            self._alerts[patient] = after
        else:
            self._alerts.pop(patient, None)
        return after != before

    def apply_event(self, event: AlertEvent) -> bool:
        """Apply one lifecycle transition if it is newer than what the station shows. True if it changed."""
        alert = event.alert
        patient = alert.patient
        if self._confirmed is not None:
            self._confirmed.add(patient)
        self.trends.keep(patient)
        known = self._event_no.get(patient, 0)
        if event.event_no <= known:
            return False  # already part of a snapshot (or a redelivery)
        if known and event.event_no > known + 1:
            self.event_gaps += event.event_no - known - 1
        self._event_no[patient] = event.event_no
        alerts = self._alerts.setdefault(patient, {})
        if alert.state is AlertState.RESOLVED:
            alerts.pop(alert.alert_id, None)
        else:
            alerts[alert.alert_id] = alert
        if not alerts:
            del self._alerts[patient]
        return True

    def apply_vitals(self, reading: VitalsReading) -> None:
        self.trends.add(reading.patient, reading.ts_ms, reading.vitals)

    def begin_resync(self) -> None:
        """The subscription was (re)made: retained snapshots are about to arrive again."""
        self._confirmed = set()

    def finish_resync(self) -> list[str]:
        """Forget patients that no retained snapshot or event confirmed since :meth:`begin_resync`."""
        confirmed, self._confirmed = self._confirmed, None
        if confirmed is None:
            return []
        stale = sorted(set(self._alerts) - confirmed)
        for patient in stale:
            del self._alerts[patient]
        return stale

    # ------------------------------------------------------------ queries

    def open_alerts(self) -> list[Alert]:
        """Every open (active or acknowledged) alert of the ward, most urgent first, then oldest first."""
        return sorted((a for alerts in self._alerts.values() for a in alerts.values()), key=sort_key)

    def find(self, alert_id: str) -> Alert | None:
        for alerts in self._alerts.values():
            found = alerts.get(alert_id)
            if found is not None:
                return found
        return None

    def event_no(self, patient: str) -> int:
        """The number of the last event of ``patient`` that the station reflects."""
        return self._event_no.get(patient, 0)

    def patients(self) -> list[str]:
        return sorted(self._alerts)

    def counts_by_priority(self) -> Mapping[tuple[str, str], int]:
        """Open alerts by (priority, state), for the metrics."""
        counts: dict[tuple[str, str], int] = {}
        for alert in self.open_alerts():
            key = (alert.priority.value, alert.state.value)
            counts[key] = counts.get(key, 0) + 1
        return counts

    def trend_json(self, alerts: list[Alert] | None = None) -> dict[str, dict[str, list[tuple[int, float]]]]:
        """``{patient: {vital: [(ms, value), ...]}}`` for the vital behind each open alert (those with one)."""
        trends: dict[str, dict[str, list[tuple[int, float]]]] = {}
        for alert in self.open_alerts() if alerts is None else alerts:
            vital = alert.explanation.vital
            if vital is None:
                continue
            series = self.trends.series(alert.patient, vital)
            if series:
                trends.setdefault(alert.patient, {})[vital] = series
        return trends

    def snapshot_json(self) -> dict[str, Any]:
        """Everything the page needs to draw itself from nothing."""
        alerts = self.open_alerts()
        return {"ward": self.ward, "alerts": [alert_view(a) for a in alerts], "trends": self.trend_json(alerts)}

    def patient_json(self, patient: str) -> dict[str, Any]:
        """One patient's open alerts (empty when none are left) and their trends: a change for the page."""
        alerts = sorted(self._alerts.get(patient, {}).values(), key=sort_key)
        return {"patient": patient, "alerts": [alert_view(a) for a in alerts], "trends": self.trend_json(alerts)}
