"""Alerts out: storage points and sinks (InfluxDB v1/v2, SQLite), the batching writer, and what
nurse stations see (``WardBoard``). InfluxDB-specific modules (``alerts.influx``) import lazily."""

from alerts.points import AnyPoint, Point, VitalsPoint, alert_event_point, alert_point, vitals_point
from alerts.sinks import PointSink, SinkError, SinkRejected, SinkUnavailable, SqlitePointStore
from alerts.ward_board import PatientRow, WardBoard
from alerts.writer import BatchingWriter

__all__ = [
    "AnyPoint",
    "BatchingWriter",
    "PatientRow",
    "Point",
    "PointSink",
    "SinkError",
    "SinkRejected",
    "SinkUnavailable",
    "SqlitePointStore",
    "VitalsPoint",
    "WardBoard",
    "alert_event_point",
    "alert_point",
    "vitals_point",
]
