"""``vitalstream process``: connect the store and the broker, then run the processor until stopped."""

from __future__ import annotations

import logging
import threading

from alerts.influx import make_influx_sink
from alerts.influxql import ensure_database
from alerts.sinks import PointSink, SinkError
from stream_processor.service import ProcessorService
from vitalstream.settings import Settings

__all__ = ["run_process"]

log = logging.getLogger(__name__)


def run_process(settings: Settings, *, stop: threading.Event, sink: PointSink | None = None) -> ProcessorService:
    """Run until ``stop`` is set. ``sink`` defaults to the configured InfluxDB."""
    if sink is None:
        if settings.influx.api == "v1":
            try:
                ensure_database(settings.influx)
            except SinkError as exc:
                # Not fatal: the writer retries until the database is there, and nothing is acked before.
                log.warning("could not create the InfluxDB database", extra={"error": str(exc)})
        sink = make_influx_sink(settings.influx)
        log.info("storing to InfluxDB", extra={"url": settings.influx.url, "api": settings.influx.api})
    service = ProcessorService(settings=settings, sink=sink)
    try:
        service.run(stop)
    finally:
        sink.close()
    return service
