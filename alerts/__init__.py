"""Alerts out: storage points and sinks (InfluxDB v1/v2, SQLite), the batching writer, and what
nurse stations see (``WardBoard``). InfluxDB-specific modules (``alerts.influx``) import lazily."""

from alerts.points import Point, alert_event_point, alert_point, vitals_point
from alerts.sinks import PointSink, SinkError, SinkRejected, SinkUnavailable, SqlitePointStore
from alerts.ward_board import PatientRow, WardBoard
from alerts.writer import BatchingWriter

__all__ = [
    "BatchingWriter",
    "PatientRow",
    "Point",
    "PointSink",
    "SinkError",
    "SinkRejected",
    "SinkUnavailable",
    "SqlitePointStore",
    "WardBoard",
    "alert_event_point",
    "alert_point",
    "vitals_point",
]
