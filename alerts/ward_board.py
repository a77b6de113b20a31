"""What a nurse station shows: every patient's latest vitals and open alerts, built from MQTT messages.

A pure model fed with decoded messages (:meth:`WardBoard.on_vitals`, :meth:`WardBoard.on_alerts`),
so the same board serves the demo's terminal view and tests. ``render_table`` draws it with rich.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vitalstream.wire import Alert, PatientAlerts, VitalsReading

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["PatientRow", "WardBoard"]

_STYLE = {"high": "bold white on red", "medium": "bold black on yellow", "low": "cyan"}


@dataclass(slots=True)
class PatientRow:
    patient: str
    vitals: dict[str, float] = field(default_factory=dict)
    last_ts_ms: int = 0
    alerts: tuple[Alert, ...] = ()
    readings: int = 0


class WardBoard:
    def __init__(self) -> None:
        self.rows: dict[str, PatientRow] = {}

    def _row(self, patient: str) -> PatientRow:
        row = self.rows.get(patient)
        if row is None:
            row = self.rows[patient] = PatientRow(patient)
        return row

    def on_vitals(self, reading: VitalsReading) -> None:
        row = self._row(reading.patient)
        if reading.ts_ms >= row.last_ts_ms:
            row.vitals.update(reading.vitals)
            row.last_ts_ms = reading.ts_ms
        row.readings += 1

    def on_alerts(self, patient: str, snapshot: PatientAlerts | None) -> None:
        """Apply the retained alert state of a patient (``None``: the state was cleared)."""
        self._row(patient).alerts = () if snapshot is None else snapshot.alerts

    def ordered(self) -> list[PatientRow]:
        """Patients with the most urgent open alert first, then the rest by id."""

        def urgency(row: PatientRow) -> tuple[int, int, str]:
            if not row.alerts:
                return (3, 0, row.patient)
            top = min(row.alerts, key=lambda a: (a.priority.rank, a.raised_ms))
            return (top.priority.rank, top.raised_ms, row.patient)

        return sorted(self.rows.values(), key=urgency)

    def render_table(self, *, title: str = "VitalStream ward") -> Table:
        from rich.table import Table  # noqa: PLC0415 -- rich is a demo dependency
        from rich.text import Text  # noqa: PLC0415

        table = Table(title=title, expand=True)
        for column in ("patient", "HR /min", "SpO2 %", "RR /min", "Temp Cel", "BP mm[Hg]"):
            table.add_column(column, no_wrap=True)
        # The reasons matter most to a nurse: the alert column takes whatever width is left.
        table.add_column("alerts", ratio=1, min_width=24)
        for row in self.ordered():
            v = row.vitals

            def fmt(key: str, v: dict[str, float] = v) -> str:
                return f"{v[key]:g}" if key in v else "-"

            bp = f"{v['sbp']:g}/{v['dbp']:g}" if "sbp" in v and "dbp" in v else "-"
            alerts = Text()
            for index, alert in enumerate(row.alerts):
                state = "" if alert.state.value == "active" else f" [{alert.state.value}]"
                if index:
                    alerts.append("\n")
                alerts.append(f" {alert.priority.value.upper()} ", style=_STYLE[alert.priority.value])
                alerts.append(f" {alert.explanation.summary}{state}")
            table.add_row(row.patient, fmt("hr"), fmt("spo2"), fmt("rr"), fmt("temp"), bp, alerts)
        return table
