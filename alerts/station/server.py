"""``vitalstream station``: the nurse station's I/O shell, one page over HTTP, fed from MQTT.

Routes::

    GET  /                                  the page (station.js, station.css beside it)
    GET  /events                            Server-Sent Events: "snapshot" on connect, then "patient"
                                            (one patient's alerts changed), "trends" (every 5 s),
                                            "status" (broker connection); a heartbeat comment every 15 s
    GET  /api/alerts                        the open alerts as JSON, most urgent first
    POST /api/alerts/{alert_id}/{action}    acknowledge | resolve | false_alarm, body {"by": "nurse-12"}:
                                            200 applied/duplicate, 404 unknown alert, 409 not allowed,
                                            504 no answer within the timeout, 503 broker unavailable
    GET  /healthz, /readyz, /metrics        alive; connected and subscribed; Prometheus text

Everything runs on one asyncio loop: the state (:class:`~alerts.station.state.StationState`) is
touched only there, fed by :class:`~alerts.station.feed.BrokerFeed` from the paho thread. The
clock is read here (command timestamps), never in the state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from importlib import resources
from typing import Any

import orjson

from alerts.station.commands import (
    CommandAnswer,
    PendingCommands,
    command_id_for,
    http_reply,
)
from alerts.station.feed import BrokerFeed, Decoded, Rejected, Snapshot
from alerts.station.metrics import StationMetrics
from alerts.station.state import StationState, alert_view
from alerts.station.trends import TrendBook
from alerts.station.web import MAX_HEAD, HttpError, Request, event_stream_head, read_request, reply, sse_message
from vitalstream.errors import ConfigError
from vitalstream.settings import Settings
from vitalstream.wire import (
    AlertAction,
    AlertCommand,
    AlertEvent,
    CommandResult,
    RejectedMessage,
    VitalsReading,
    encode_command,
)
from vitalstream.wire.topics import check_id, command_topic

__all__ = ["Station", "run_station"]

log = logging.getLogger(__name__)

_JSON = "application/json"
_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/station.js": ("station.js", "text/javascript; charset=utf-8"),
    "/station.css": ("station.css", "text/css; charset=utf-8"),
}
_HEARTBEAT_S = 15.0
_TRENDS_EVERY_S = 5.0
# Retained snapshots arrive right after the SUBACK; patients none confirmed by then are gone.
_RESYNC_S = 1.0
# A page that falls this far behind is cut off; its EventSource reconnects and gets a fresh snapshot.
_SSE_QUEUE = 256
_ACTIONS = {action.value: action for action in AlertAction}


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def _load_static() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("alerts.station").joinpath("static")
    return {path: (folder.joinpath(name).read_bytes(), kind) for path, (name, kind) in _STATIC.items()}


class Station:
    """HTTP and SSE for the pages, commands out, state in. Use on one event loop only."""

    def __init__(
        self,
        *,
        ward: str,
        command_timeout_s: float = 5.0,
        trend_window_s: float = 600.0,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.state = StationState(ward=ward, trends=TrendBook(window_ms=int(trend_window_s * 1000)))
        self.metrics = StationMetrics()
        self.connected = False
        self.ready = False
        self._timeout_s = command_timeout_s
        self._clock_ms = clock_ms
        self._static = _load_static()
        self._pending = PendingCommands()
        self._waiters: dict[str, asyncio.Future[CommandAnswer | None]] = {}
        self._clients: set[asyncio.Queue[bytes | None]] = set()
        self._connections: set[asyncio.Task[Any]] = set()
        self._publish: Callable[[str, bytes], bool] = lambda _topic, _payload: False
        self._ever_connected = False
        self._logged_rejections: set[str] = set()

    def attach(self, publish: Callable[[str, bytes], bool]) -> None:
        """Where commands go (``BrokerFeed.publish``); until then every command answers 503."""
        self._publish = publish

    @property
    def sse_clients(self) -> int:
        return len(self._clients)

    # ------------------------------------------------------------ from the broker feed

    def deliver(self, item: Decoded) -> None:
        if isinstance(item, VitalsReading):
            self.metrics.messages["vitals"] += 1
            self.state.apply_vitals(item)
        elif isinstance(item, Snapshot):
            self.metrics.messages["alerts"] += 1
            if self.state.apply_snapshot(item.patient, item.alerts):
                self._broadcast("patient", self.state.patient_json(item.patient))
        elif isinstance(item, AlertEvent):
            self.metrics.messages["alert-events"] += 1
            self._pending.on_event(item)
            if self.state.apply_event(item):
                self._broadcast("patient", self.state.patient_json(item.alert.patient))
        elif isinstance(item, CommandResult):
            self.metrics.messages["command-results"] += 1
            answer = self._pending.on_result(item)
            if answer is not None:
                self._settle(answer.command_id, answer)
        else:
            self._rejected(item)

    def _rejected(self, item: Rejected) -> None:
        self.metrics.rejected[item.reason] += 1
        # The first of each kind is worth a line; a device repeating it is visible in the metrics.
        if item.reason not in self._logged_rejections:
            self._logged_rejections.add(item.reason)
            log.warning("station ignored a bad message", extra={"topic_root": item.root, "reason": item.reason})

    def on_broker_state(self, *, connected: bool, subscribed: bool) -> None:
        if connected and not self.connected:
            if self._ever_connected:
                self.metrics.mqtt_reconnects += 1
            self._ever_connected = True
        if subscribed and not self.ready:
            self.state.begin_resync()
            asyncio.get_running_loop().call_later(_RESYNC_S, self._finish_resync)
        if (connected, subscribed) != (self.connected, self.ready):
            self.connected, self.ready = connected, subscribed
            self._broadcast("status", self._status())

    def _finish_resync(self) -> None:
        for patient in self.state.finish_resync():
            self._broadcast("patient", self.state.patient_json(patient))

    def _status(self) -> dict[str, Any]:
        return {"connected": self.connected, "ready": self.ready}

    # ------------------------------------------------------------ server-sent events

    def _broadcast(self, event: str, obj: object) -> None:
        if not self._clients:
            return
        message = sse_message(event, orjson.dumps(obj))
        for queue in list(self._clients):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                # Too slow to keep up: end its stream; the browser reconnects and starts from a snapshot.
                self._clients.discard(queue)
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(None)

    async def push_trends(self) -> None:
        """Sparklines move slowly: one update for every page every few seconds is plenty."""
        while True:
            await asyncio.sleep(_TRENDS_EVERY_S)
            if self._clients:
                self._broadcast("trends", self.state.trend_json())

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=_SSE_QUEUE)
        snapshot = {**self.state.snapshot_json(), "status": self._status()}
        # retry: how long EventSource waits before reconnecting (its default, 3 s, leaves the banner up longer).
        writer.write(event_stream_head() + b"retry: 2000\n\n" + sse_message("snapshot", orjson.dumps(snapshot)))
        self._clients.add(queue)
        gone = asyncio.ensure_future(reader.read(1))  # the page never sends; EOF means it went away
        try:
            await writer.drain()
            while True:
                get = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({get, gone}, timeout=_HEARTBEAT_S, return_when=asyncio.FIRST_COMPLETED)
                if gone in done:
                    get.cancel()
                    return
                if get not in done:
                    get.cancel()
                    writer.write(b": heartbeat\n\n")
                else:
                    message = get.result()
                    if message is None:
                        return
                    writer.write(message)
                await writer.drain()
        finally:
            self._clients.discard(queue)
            gone.cancel()

    def close_streams(self) -> None:
        for queue in list(self._clients):
            self._clients.discard(queue)
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)

    # ------------------------------------------------------------ HTTP

    async def handle_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            while True:
                try:
                    request = await read_request(reader)
                except HttpError as exc:
                    writer.write(_json_reply(exc.status, {"error": exc.reason}, keep_alive=False))
                    await writer.drain()
                    return
                if request is None:
                    return
                if request.method == "GET" and request.path == "/events":
                    await self._stream(reader, writer)
                    return
                writer.write(await self._respond(request))
                await writer.drain()
                if not request.keep_alive:
                    return
        except (ConnectionError, asyncio.CancelledError):
            pass  # the page went away, or the station is stopping
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()

    def cancel_connections(self) -> None:
        for task in list(self._connections):
            task.cancel()

    async def _respond(self, request: Request) -> bytes:
        path, method = request.path, request.method
        keep_alive = request.keep_alive
        if path in self._static:
            if method != "GET":
                return _json_reply(405, {"error": "method not allowed"}, keep_alive=keep_alive)
            content, kind = self._static[path]
            return reply(200, content, kind, keep_alive=keep_alive)
        if method == "GET":
            return self._get(path, keep_alive=keep_alive)
        parts = path.split("/")
        if method == "POST" and len(parts) == 5 and parts[:3] == ["", "api", "alerts"] and parts[4] in _ACTIONS:
            status, body = await self._command(request, parts[3], _ACTIONS[parts[4]])
            return _json_reply(status, body, keep_alive=keep_alive)
        return _json_reply(404 if method == "POST" else 405, {"error": "no such route"}, keep_alive=keep_alive)

    def _get(self, path: str, *, keep_alive: bool) -> bytes:
        if path == "/api/alerts":
            body = {
                "ward": self.state.ward,
                **self._status(),
                "alerts": [alert_view(a) for a in self.state.open_alerts()],
            }
            return _json_reply(200, body, keep_alive=keep_alive)
        if path == "/healthz":
            return _json_reply(200, {"status": "alive"}, keep_alive=keep_alive)
        if path == "/readyz":
            return _json_reply(200 if self.ready else 503, self._status(), keep_alive=keep_alive)
        if path == "/metrics":
            text = self.metrics.render(
                sse_clients=self.sse_clients,
                alerts=self.state.counts_by_priority(),
                connected=self.connected,
                ready=self.ready,
            )
            return reply(200, text.encode(), "text/plain; version=0.0.4; charset=utf-8", keep_alive=keep_alive)
        return _json_reply(404, {"error": "no such route"}, keep_alive=keep_alive)

    # ------------------------------------------------------------ commands

    async def _command(self, request: Request, alert_id: str, action: AlertAction) -> tuple[int, dict[str, Any]]:
        refusal = _check_command_request(request)
        if refusal is not None:
            self.metrics.commands["not_sent"] += 1
            return refusal
        try:
            body = orjson.loads(request.body)
            by = check_id(body["by"], field="by") if isinstance(body, dict) and isinstance(body.get("by"), str) else ""
        except (orjson.JSONDecodeError, RejectedMessage):
            by = ""
        if not by:
            self.metrics.commands["not_sent"] += 1
            return 400, {"status": "invalid", "reason": "bad_by", "detail": 'body must be {"by": "<staff id>"}'}
        alert = self.state.find(alert_id)
        if alert is None:
            self.metrics.commands["not_sent"] += 1
            return 404, {"status": "refused", "reason": "unknown_alert", "detail": "no open alert with this id"}
        if not self.ready:
            self.metrics.commands["not_sent"] += 1
            return 503, {"status": "unavailable", "reason": "broker_unavailable", "detail": "not connected"}
        command = AlertCommand(
            command_id=command_id_for(alert_id, action, by, event_no=self.state.event_no(alert.patient)),
            action=action,
            alert_id=alert_id,
            patient=alert.patient,
            by=by,
            ts_ms=self._clock_ms(),
        )
        future = self._waiters.get(command.command_id)
        if future is None:  # else: the same click again while the first is on its way; share its answer
            future = self._waiters[command.command_id] = asyncio.get_running_loop().create_future()
            self._pending.add(command)
            if not self._publish(command_topic(alert.ward, alert.patient), encode_command(command)):
                self._pending.expire(command.command_id)
                del self._waiters[command.command_id]
                self.metrics.commands["not_sent"] += 1
                return 503, {"status": "unavailable", "reason": "broker_unavailable", "detail": "not connected"}
            asyncio.get_running_loop().call_later(
                self._timeout_s, lambda: self._settle(command.command_id, self._pending.expire(command.command_id))
            )
        answer = await asyncio.shield(future)
        log.info(
            "command answered",
            extra={
                "patient": alert.patient,
                "alert_id": alert_id,
                "action": action.value,
                "status": "no_answer" if answer is None else answer.status,
                "reason": None if answer is None else answer.reason,
                "source": None if answer is None else answer.source,
            },
        )
        return http_reply(answer, timeout_s=self._timeout_s)

    def _settle(self, command_id: str, answer: CommandAnswer | None) -> None:
        future = self._waiters.pop(command_id, None)
        if future is not None and not future.done():
            self.metrics.commands["no_answer" if answer is None else answer.status] += 1
            future.set_result(answer)


def _check_command_request(request: Request) -> tuple[int, dict[str, Any]] | None:
    """Cross-site request forgery guards: a JSON content type (a form cannot send one cross-origin without
    a CORS preflight, which the station never grants) and, when the browser names it, our own origin."""
    if not request.headers.get("content-type", "").startswith(_JSON):
        return 415, {"status": "invalid", "reason": "content_type", "detail": "send application/json"}
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if origin is not None and origin not in {f"http://{host}", f"https://{host}"}:
        return 403, {"status": "invalid", "reason": "cross_origin", "detail": "commands come from the station page"}
    return None


def _json_reply(status: int, body: object, *, keep_alive: bool) -> bytes:
    return reply(status, orjson.dumps(body), _JSON, keep_alive=keep_alive)


# ---------------------------------------------------------------- entry point


def run_station(settings: Settings, *, stop: threading.Event) -> None:
    """Serve until ``stop`` is set."""
    asyncio.run(_serve(settings, stop))


async def _serve(settings: Settings, stop: threading.Event) -> None:
    config = settings.station
    try:
        check_id(config.ward, field="ward")
    except RejectedMessage:
        # It becomes part of the subscription: "+" or "#" in it would widen the station to other wards.
        raise ConfigError("must be 1-64 characters of A-Za-z0-9_.-", source="station.ward") from None
    loop = asyncio.get_running_loop()
    station = Station(ward=config.ward, command_timeout_s=config.command_timeout_s)
    # A unique id by default: two stations sharing one would keep disconnecting each other.
    client_id = config.client_id or f"vitalstream-station-{config.ward}-{uuid.uuid4().hex[:8]}"
    feed = BrokerFeed(
        settings.broker,
        ward=config.ward,
        client_id=client_id,
        loop=loop,
        deliver=station.deliver,
        on_state=station.on_broker_state,
    )
    station.attach(feed.publish)
    try:
        server = await asyncio.start_server(
            station.handle_connection, config.http_host, config.http_port, limit=MAX_HEAD
        )
    except OSError as exc:
        raise ConfigError(f"cannot listen on {config.http_host}:{config.http_port}: {exc.strerror}") from None
    port = server.sockets[0].getsockname()[1]
    log.info("station serving", extra={"url": f"http://{config.http_host}:{port}/", "ward": config.ward})
    feed.start()
    trends = asyncio.create_task(station.push_trends())
    try:
        while not stop.is_set():
            await asyncio.sleep(0.2)
    finally:
        trends.cancel()
        server.close()
        station.close_streams()
        station.cancel_connections()
        await server.wait_closed()
        feed.stop()
        log.info("station stopped")
