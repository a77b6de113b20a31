"""The processor's small HTTP side: health for orchestrators, metrics for operators, and missed alert
events for telemedicine platforms.

    GET /healthz      200 while the main loop is ticking and the MQTT network loop runs (a wedged process,
                      or one that no longer receives anything, fails it: 503 with the reasons)
    GET /readyz       200 once subscribed to the broker; 503 with the reasons otherwise
    GET /metrics      Prometheus text format (readings, rejections by reason, alerts by kind and priority,
                      write queue, disk spool, processing latency histogram)
    GET /api/alert-events?ward=W&patient=P&after=N[&limit=L]
                      the patient's alert events with ``event_no`` > N, oldest first, read back from
                      InfluxDB: a subscriber that saw a gap in ``event_no`` fetches what it missed

Standard library only (``http.server`` on a daemon thread): these endpoints are scraped every few
seconds, not served at volume. No identifiers or payloads are logged. Bind it to loopback or a
management network; the event API has no login of its own.
"""

from __future__ import annotations

import logging
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import orjson

from alerts.sinks import SinkError
from vitalstream.wire import RejectedMessage
from vitalstream.wire.topics import check_id

if TYPE_CHECKING:
    from stream_processor.service import ProcessorService
    from vitalstream.settings import InfluxSettings

__all__ = ["ProcessorHttp", "alert_events_query", "parse_listen"]

log = logging.getLogger(__name__)

_MAX_EVENTS = 1000
_STALE_TICK_S = 10.0
_LOOP_STOPPED = "MQTT network loop stopped: no messages are received"
# What a stored alert_events row says, in the order a reader wants it (the rest follows).
_EVENT_KEYS = ("event_no", "transition", "time", "alert_id", "kind", "priority", "state", "summary", "by")


def parse_listen(text: str) -> tuple[str, int]:
    """``"127.0.0.1:8081"`` -> ``("127.0.0.1", 8081)``; port 0 picks a free port."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def alert_events_query(ward: str, patient: str, after: int, limit: int) -> str:
    """InfluxQL for one patient's events after ``after``; ids are checked first, so quoting is safe."""
    check_id(ward, field="ward")
    check_id(patient, field="patient")
    # Safe: both ids match [A-Za-z0-9][A-Za-z0-9_.-]* (no quotes), the numbers are ints.
    return (
        f"SELECT * FROM alert_events WHERE ward = '{ward}' AND patient = '{patient}' "  # noqa: S608
        f"AND event_no > {int(after)} ORDER BY time ASC LIMIT {int(limit)}"
    )


class ProcessorHttp:
    """Serves the endpoints above for one :class:`ProcessorService` until :meth:`stop`."""

    def __init__(self, service: ProcessorService, listen: str, influx: InfluxSettings | None) -> None:
        self._service = service
        self._influx = influx
        host, port = parse_listen(listen)
        handler = self._handler_class()
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="processor-http", daemon=True)

    def start(self) -> ProcessorHttp:
        self._thread.start()
        log.info("http endpoints up", extra={"port": self.port})
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------ endpoints

    def health(self) -> tuple[int, dict[str, Any]]:
        age = time.monotonic() - self._service.last_tick
        stalled = age >= _STALE_TICK_S
        reasons = [f"main loop has not ticked for {age:.0f} s"] if stalled else []
        if self._service.network_loop_failed:
            reasons.append(_LOOP_STOPPED)
        status = "stalled" if stalled else "network_loop_stopped" if reasons else "ok"
        return (503 if reasons else 200), {"status": status, "last_tick_s": round(age, 1), "reasons": reasons}

    def ready(self) -> tuple[int, dict[str, Any]]:
        reasons = []
        if not self._service.ready.is_set():
            reasons.append("not subscribed to the broker")
        if self._service.network_loop_failed:
            reasons.append(_LOOP_STOPPED)
        return (200 if not reasons else 503), {"ready": not reasons, "reasons": reasons}

    def alert_events(self, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        if self._influx is None:
            return 501, {"error": "alert events are read back from InfluxDB; this processor stores to SQLite"}
        try:
            ward, patient = query["ward"][0], query["patient"][0]
            after = int(query.get("after", ["0"])[0])
            limit = min(_MAX_EVENTS, max(1, int(query.get("limit", [str(_MAX_EVENTS)])[0])))
            influxql = alert_events_query(ward, patient, after, limit)
        except (KeyError, IndexError):
            return 400, {"error": "ward and patient are required"}
        except ValueError:
            return 400, {"error": "after and limit must be integers"}
        except RejectedMessage as exc:
            return 400, {"error": exc.detail, "field": exc.field}
        from alerts.influxql import query as influx_query  # noqa: PLC0415 -- processor extra only

        try:
            rows = influx_query(self._influx, influxql)
        except SinkError as exc:
            return 503, {"error": f"store unavailable: {exc}"}
        events = sorted((_event(row) for row in rows), key=lambda e: int(e.get("event_no", 0)))
        more = len(events) == limit
        return 200, {"ward": ward, "patient": patient, "after": after, "events": events, "more": more}

    # ------------------------------------------------------------ plumbing

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "vitalstream-processor"

            def log_message(self, *_args: object) -> None:
                return  # query strings carry patient pseudonyms; access logs are not needed here

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/metrics":
                    self._send(200, api._service.metrics_text().encode(), "text/plain; version=0.0.4")
                    return
                routes = {"/healthz": api.health, "/readyz": api.ready}
                if url.path in routes:
                    status, body = routes[url.path]()
                elif url.path == "/api/alert-events":
                    status, body = api.alert_events(parse_qs(url.query))
                else:
                    status, body = 404, {"error": "not found"}
                self._send(status, orjson.dumps(body), "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(HTTPStatus(status))
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

        return Handler


def _event(row: dict[str, Any]) -> dict[str, Any]:
    first = {key: row[key] for key in _EVENT_KEYS if key in row and row[key] is not None}
    return first | {k: v for k, v in sorted(row.items()) if k not in first and v is not None}
