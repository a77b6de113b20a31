"""``vitalstream process``: connect the store and the broker, then run the processor until stopped."""

from __future__ import annotations

import logging
import threading

from alerts.influx import make_influx_sink
from alerts.influxql import ensure_database
from alerts.sinks import PointSink, SinkError, SqlitePointStore
from stream_processor.http_api import ProcessorHttp
from stream_processor.service import ProcessorService
from vitalstream.settings import Settings

__all__ = ["build_sink", "run_process"]

log = logging.getLogger(__name__)


def build_sink(settings: Settings) -> PointSink:
    """The configured store: SQLite if ``processor.sqlite_path`` is set, else InfluxDB (for InfluxDB 1.x the
    database is created if it is missing)."""
    if settings.processor.sqlite_path:
        log.info("storing to SQLite", extra={"path": settings.processor.sqlite_path})
        return SqlitePointStore(settings.processor.sqlite_path)
    if settings.influx.api == "v1":
        try:
            ensure_database(settings.influx)
        except SinkError as exc:
            # Not fatal: the writer retries until the database is there, and nothing is acked before.
            log.warning("could not create the InfluxDB database", extra={"error": str(exc)})
    log.info("storing to InfluxDB", extra={"url": settings.influx.url, "api": settings.influx.api})
    return make_influx_sink(settings.influx)


def run_process(settings: Settings, *, stop: threading.Event) -> None:
    """Run until ``stop`` is set."""
    sink = build_sink(settings)
    service = ProcessorService(settings=settings, sink=sink)
    http = None
    if settings.processor.http_listen:
        influx = None if settings.processor.sqlite_path else settings.influx
        http = ProcessorHttp(service, settings.processor.http_listen, influx).start()
    try:
        service.run(stop)
    finally:
        if http is not None:
            http.stop()
        sink.close()
