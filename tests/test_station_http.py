"""The nurse station's shell: its Prometheus metrics, and HTTP/SSE on loopback with the broker replaced
by a function."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson

from alerts.station import StationMetrics
from alerts.station.feed import Snapshot
from alerts.station.server import Station
from tests.station_alerts import T0, WARD, acknowledged, event, make_alert, snapshot
from vitalstream.wire import (
    AlertAction,
    AlertCommand,
    CommandResult,
    CommandStatus,
    Priority,
    Transition,
    decode_command,
)


def test_metrics_render_in_prometheus_text_format() -> None:
    metrics = StationMetrics()
    metrics.commands["applied"] += 2
    metrics.mqtt_reconnects = 1
    text = metrics.render(sse_clients=3, alerts={("high", "active"): 2}, connected=True, ready=False)
    lines = text.splitlines()
    assert "vitalstream_station_sse_clients 3" in lines
    assert 'vitalstream_station_alerts{priority="high",state="active"} 2' in lines
    assert 'vitalstream_station_alerts{priority="low",state="acknowledged"} 0' in lines
    assert 'vitalstream_station_commands_total{result="applied"} 2' in lines
    assert "vitalstream_station_mqtt_reconnects_total 1" in lines
    assert "vitalstream_station_ready 0" in lines
    assert all(line.startswith(("# HELP ", "# TYPE ", "vitalstream_station_")) for line in lines)


# ---------------------------------------------------------------- the HTTP shell, broker replaced


class FakeBroker:
    """Stands in for BrokerFeed.publish: records commands and answers them as a processor would."""

    def __init__(self, station: Station, answer: Callable[[AlertCommand], str | None]) -> None:
        self.station = station
        self.answer = answer
        self.sent: list[tuple[str, AlertCommand]] = []

    def publish(self, topic: str, payload: bytes) -> bool:
        cmd = decode_command(topic, payload)
        self.sent.append((topic, cmd))
        status = self.answer(cmd)
        if status is not None:
            reason = "transition_not_allowed" if status == "refused" else None
            message = CommandResult(
                cmd.command_id, cmd.action, cmd.alert_id, cmd.patient, CommandStatus(status), T0, reason
            )
            asyncio.get_running_loop().call_soon(self.station.deliver, message)
        return True


@asynccontextmanager
async def serving(station: Station) -> AsyncIterator[int]:
    server = await asyncio.start_server(station.handle_connection, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        station.close_streams()
        station.cancel_connections()
        await server.wait_closed()


async def http(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = {"Host": f"127.0.0.1:{port}", "Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
    writer.write(f"{method} {path} HTTP/1.1\r\n".encode() + "".join(f"{k}: {v}\r\n" for k, v in head.items()).encode())
    writer.write(b"\r\n" + body)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head_bytes, _, content = raw.partition(b"\r\n\r\n")
    lines = head_bytes.decode().split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split(" ")[1]), {k.lower(): v for k, v in fields.items()}, content


def _post(port: int, alert_id: str, action: str, body: object, **headers: str) -> Any:
    return http(
        port,
        "POST",
        f"/api/alerts/{alert_id}/{action}",
        orjson.dumps(body),
        {"Content-Type": "application/json", **headers},
    )


def _ready_station(timeout_s: float = 5.0) -> Station:
    station = Station(ward=WARD, command_timeout_s=timeout_s)
    station.on_broker_state(connected=True, subscribed=True)
    station.deliver(Snapshot("p-1", snapshot("p-1", (make_alert(1),), 1)))
    return station


def test_http_commands_answer_with_the_processors_result() -> None:
    async def scenario() -> None:
        station = _ready_station()
        answers = iter(["applied", "duplicate", "refused"])
        broker = FakeBroker(station, lambda _cmd: next(answers))
        station.attach(broker.publish)
        async with serving(station) as port:
            status, _, body = await _post(port, "a-1", "acknowledge", {"by": "nurse-12"})
            assert status == 200, body
            assert orjson.loads(body)["status"] == "applied"
            (topic, sent) = broker.sent[0]
            assert topic == "commands/v1/ward-1/p-1"
            assert (sent.action, sent.alert_id, sent.patient, sent.by) == (
                AlertAction.ACKNOWLEDGE,
                "a-1",
                "p-1",
                "nurse-12",
            )
            # The same click again (nothing changed in between): the same command id, a duplicate.
            status, _, body = await _post(port, "a-1", "acknowledge", {"by": "nurse-12"})
            assert (status, orjson.loads(body)["status"]) == (200, "duplicate")
            assert broker.sent[1][1].command_id == sent.command_id
            status, _, body = await _post(port, "a-1", "resolve", {"by": "nurse-12"})
            assert status == 409
            assert orjson.loads(body)["reason"] == "transition_not_allowed"
            assert station.metrics.commands == {"applied": 1, "duplicate": 1, "refused": 1}

    asyncio.run(scenario())


def test_http_commands_that_are_never_sent() -> None:
    async def scenario() -> None:
        station = _ready_station()
        broker = FakeBroker(station, lambda _cmd: "applied")
        station.attach(broker.publish)
        async with serving(station) as port:
            status, _, body = await _post(port, "a-404", "acknowledge", {"by": "nurse-12"})
            assert (status, orjson.loads(body)["reason"]) == (404, "unknown_alert")
            status, _, body = await _post(port, "a-1", "acknowledge", {"by": "not a valid id"})
            assert (status, orjson.loads(body)["reason"]) == (400, "bad_by")
            status, _, body = await _post(port, "a-1", "acknowledge", ["nurse-12"])
            assert status == 400
            status, _, _ = await http(port, "POST", "/api/alerts/a-1/acknowledge", b'{"by":"n-1"}')
            assert status == 415, "a cross-site form post cannot send JSON"
            status, _, _ = await _post(port, "a-1", "acknowledge", {"by": "n-1"}, Origin="http://evil.example")
            assert status == 403
            status, _, _ = await _post(port, "a-1", "delete", {"by": "n-1"})
            assert status == 404
            station.on_broker_state(connected=False, subscribed=False)
            status, _, body = await _post(port, "a-1", "acknowledge", {"by": "nurse-12"})
            assert (status, orjson.loads(body)["reason"]) == (503, "broker_unavailable")
            assert broker.sent == []
            assert station.metrics.commands == {"not_sent": 6}, "the unknown action is a 404 route, not a command"

    asyncio.run(scenario())


def test_http_command_without_an_answer_times_out_with_504_unless_the_alert_moved() -> None:
    async def scenario() -> None:
        station = _ready_station(timeout_s=0.3)
        broker = FakeBroker(station, lambda _cmd: None)
        station.attach(broker.publish)
        async with serving(station) as port:
            status, _, body = await _post(port, "a-1", "acknowledge", {"by": "nurse-12"})
            assert (status, orjson.loads(body)["status"]) == (504, "no_answer")
            # An older processor: no result, but the alert event shows the acknowledgement.
            post = asyncio.ensure_future(_post(port, "a-1", "acknowledge", {"by": "nurse-13"}))
            while len(broker.sent) < 2:
                await asyncio.sleep(0.01)
            moved = acknowledged(make_alert(1), by="nurse-13")
            station.deliver(event(2, Transition.ACKNOWLEDGED, moved, by="nurse-13"))
            status, _, body = await post
            assert status == 200
            assert orjson.loads(body)["source"] == "alert-event"
            assert station.metrics.commands == {"no_answer": 1, "applied": 1}

    asyncio.run(scenario())


def test_readiness_metrics_api_and_the_page() -> None:
    async def scenario() -> None:
        station = Station(ward=WARD)
        async with serving(station) as port:
            assert (await http(port, "GET", "/healthz"))[0] == 200
            assert (await http(port, "GET", "/readyz"))[0] == 503
            station.on_broker_state(connected=True, subscribed=True)
            assert (await http(port, "GET", "/readyz"))[0] == 200
            station.deliver(Snapshot("p-1", snapshot("p-1", (make_alert(1, priority=Priority.LOW), make_alert(2)), 1)))
            status, _, body = await http(port, "GET", "/api/alerts")
            assert status == 200
            assert [a["alert_id"] for a in orjson.loads(body)["alerts"]] == ["a-2", "a-1"]
            status, headers, body = await http(port, "GET", "/metrics")
            assert headers["content-type"].startswith("text/plain; version=0.0.4")
            assert 'vitalstream_station_alerts{priority="high",state="active"} 1' in body.decode()
            status, headers, body = await http(port, "GET", "/")
            assert status == 200
            assert "default-src 'self'" in headers["content-security-policy"]
            assert b"Connection lost" in body
            for asset in ("/station.js", "/station.css"):
                assert (await http(port, "GET", asset))[0] == 200
            assert (await http(port, "GET", "/nope"))[0] == 404
            assert (await http(port, "DELETE", "/api/alerts"))[0] == 405
            big = await http(
                port, "POST", "/api/alerts/a-1/acknowledge", b"x" * 5000, {"Content-Type": "application/json"}
            )
            assert big[0] == 413

    asyncio.run(scenario())


async def _next_event(reader: asyncio.StreamReader) -> tuple[str, Any]:
    block = (await asyncio.wait_for(reader.readuntil(b"\n\n"), 5)).decode()
    fields = dict(line.split(": ", 1) for line in block.strip().split("\n") if not line.startswith((":", "retry")))
    return fields.get("event", ""), orjson.loads(fields["data"]) if "data" in fields else None


def test_event_stream_sends_a_snapshot_then_changes_and_the_broker_state() -> None:
    async def scenario() -> None:
        station = _ready_station()
        async with serving(station) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            assert b"text/event-stream" in head
            name, data = await _next_event(reader)
            while name == "":  # the retry: line
                name, data = await _next_event(reader)
            assert name == "snapshot"
            assert [a["alert_id"] for a in data["alerts"]] == ["a-1"]
            assert data["status"] == {"connected": True, "ready": True}
            assert station.sse_clients == 1
            station.deliver(event(2, Transition.ACKNOWLEDGED, acknowledged(make_alert(1)), by="nurse-12"))
            name, data = await _next_event(reader)
            assert name == "patient"
            assert data["patient"] == "p-1"
            assert [(a["state"], a["acknowledged_by"]) for a in data["alerts"]] == [("acknowledged", "nurse-12")]
            station.on_broker_state(connected=False, subscribed=False)
            assert await _next_event(reader) == ("status", {"connected": False, "ready": False})
            writer.close()
            for _ in range(100):
                if station.sse_clients == 0:
                    break
                await asyncio.sleep(0.01)
            assert station.sse_clients == 0, "a page that goes away is noticed without waiting for a heartbeat"

    asyncio.run(scenario())
