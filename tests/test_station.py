"""The nurse station: its pure state (ordering, snapshot/event merge, resync, trends, command matching),
the command-result parser, and the HTTP/SSE shell on loopback with the broker replaced by a function."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.station import (
    CommandAnswer,
    PendingCommands,
    StationMetrics,
    StationState,
    TrendBook,
    command_id_for,
    http_reply,
)
from alerts.station.feed import Rejected, Snapshot, decode_message, ward_topics
from alerts.station.server import Station
from vitalstream.wire import (
    Alert,
    AlertAction,
    AlertCommand,
    AlertEvent,
    AlertExplanation,
    AlertState,
    CommandResult,
    CommandStatus,
    PatientAlerts,
    Priority,
    RejectedMessage,
    Resolution,
    Transition,
    VitalsReading,
    decode_command,
    decode_command_result,
    encode_alert_event,
    encode_alert_state,
    parse_ts,
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


# ---------------------------------------------------------------- ordering


def test_alerts_are_ordered_by_priority_then_oldest_first() -> None:
    state = StationState(ward=WARD)
    state.apply_snapshot("p-1", snapshot("p-1", (make_alert(1, priority=Priority.LOW, raised_ms=T0),), 1))
    state.apply_snapshot(
        "p-2",
        snapshot(
            "p-2",
            (
                make_alert(2, patient="p-2", priority=Priority.HIGH, raised_ms=T0 + 5000),
                make_alert(3, patient="p-2", priority=Priority.MEDIUM, raised_ms=T0 + 1000),
            ),
            2,
        ),
    )
    state.apply_snapshot("p-3", snapshot("p-3", (acknowledged(make_alert(4, patient="p-3", raised_ms=T0)),), 3))
    # The acknowledged high alert is older than the active one: it stays in its place (priority, then age).
    assert [a.alert_id for a in state.open_alerts()] == ["a-4", "a-2", "a-3", "a-1"]
    assert state.counts_by_priority() == {
        ("high", "acknowledged"): 1,
        ("high", "active"): 1,
        ("medium", "active"): 1,
        ("low", "active"): 1,
    }


@given(
    st.lists(
        st.tuples(st.sampled_from(list(Priority)), st.integers(0, 10**6)),
        min_size=1,
        max_size=20,
    )
)
def test_ordering_never_puts_a_lower_priority_first(specs: list[tuple[Priority, int]]) -> None:
    state = StationState(ward=WARD)
    for n, (priority, offset) in enumerate(specs):
        patient = f"p-{n}"
        alert = make_alert(n, patient=patient, priority=priority, raised_ms=T0 + offset)
        state.apply_snapshot(patient, snapshot(patient, (alert,), 1))
    ordered = state.open_alerts()
    keys = [(a.priority.rank, a.raised_ms) for a in ordered]
    assert keys == sorted(keys)
    assert len(ordered) == len(specs)


# ---------------------------------------------------------------- snapshots and events


def test_snapshot_replaces_the_patients_alerts_and_an_empty_payload_clears_them() -> None:
    state = StationState(ward=WARD)
    assert state.apply_snapshot("p-1", snapshot("p-1", (make_alert(1), make_alert(2)), 2))
    assert state.apply_snapshot("p-1", snapshot("p-1", (make_alert(2),), 3))
    assert [a.alert_id for a in state.open_alerts()] == ["a-2"]
    assert not state.apply_snapshot("p-1", snapshot("p-1", (make_alert(2),), 3)), "same content: no change"
    assert state.apply_snapshot("p-1", None)
    assert state.open_alerts() == []
    assert state.patients() == []
    assert not state.apply_snapshot("p-1", None)


def test_an_event_newer_than_the_snapshot_applies_and_an_old_one_is_ignored() -> None:
    state = StationState(ward=WARD)
    raised = make_alert(1)
    state.apply_snapshot("p-1", snapshot("p-1", (raised,), 1))
    assert not state.apply_event(event(1, Transition.RAISED, raised)), "already in the snapshot"
    assert state.apply_event(event(2, Transition.ACKNOWLEDGED, acknowledged(raised), by="nurse-12"))
    (shown,) = state.open_alerts()
    assert shown.state is AlertState.ACKNOWLEDGED
    assert shown.acknowledged_by == "nurse-12"
    assert state.event_no("p-1") == 2
    # A redelivered older event does not roll the alert back.
    assert not state.apply_event(event(1, Transition.RAISED, raised))
    assert state.open_alerts()[0].state is AlertState.ACKNOWLEDGED
    # Resolution removes the alert from the open list.
    assert state.apply_event(event(3, Transition.RESOLVED, resolved(raised), by="nurse-12"))
    assert state.open_alerts() == []


def test_the_processor_order_event_then_snapshot_gives_one_change() -> None:
    """The processor publishes the event, then the retained snapshot that already contains it."""
    state = StationState(ward=WARD)
    raised = make_alert(1)
    assert state.apply_event(event(1, Transition.RAISED, raised))
    assert not state.apply_snapshot("p-1", snapshot("p-1", (raised,), 1))
    assert [a.alert_id for a in state.open_alerts()] == ["a-1"]


def test_a_gap_in_event_numbers_is_counted_and_the_next_snapshot_repairs_the_view() -> None:
    state = StationState(ward=WARD)
    first, second = make_alert(1), make_alert(2, raised_ms=T0 + 10)
    state.apply_event(event(1, Transition.RAISED, first))
    state.apply_event(event(4, Transition.RAISED, second))  # 2 and 3 were missed
    assert state.event_gaps == 2
    state.apply_snapshot("p-1", snapshot("p-1", (second,), 4))  # the missed events had closed the first
    assert [a.alert_id for a in state.open_alerts()] == ["a-2"]


def test_a_snapshot_wins_even_with_a_lower_event_number() -> None:
    """A processor that lost its numbering must not leave the station ignoring the patient."""
    state = StationState(ward=WARD)
    state.apply_event(event(50, Transition.RAISED, make_alert(1)))
    state.apply_snapshot("p-1", snapshot("p-1", (make_alert(2),), 1))
    assert [a.alert_id for a in state.open_alerts()] == ["a-2"]
    assert state.apply_event(event(2, Transition.RAISED, make_alert(3, raised_ms=T0 + 1)))
    assert [a.alert_id for a in state.open_alerts()] == ["a-2", "a-3"]


def test_resolved_alerts_in_a_snapshot_are_not_shown() -> None:
    state = StationState(ward=WARD)
    state.apply_snapshot("p-1", snapshot("p-1", (resolved(make_alert(1)),), 2))
    assert state.open_alerts() == []
    assert state.patients() == []


@given(st.permutations(range(4)))
def test_any_delivery_order_of_events_then_the_snapshot_shows_the_snapshot(order: list[int]) -> None:
    raised = make_alert(1)
    events = [
        event(1, Transition.RAISED, raised),
        event(2, Transition.RAISED, make_alert(2, raised_ms=T0 + 1)),
        event(3, Transition.ACKNOWLEDGED, acknowledged(raised), by="n-1"),
        event(4, Transition.RESOLVED, resolved(make_alert(2, raised_ms=T0 + 1))),
    ]
    state = StationState(ward=WARD)
    for index in order:
        state.apply_event(events[index])
    state.apply_snapshot("p-1", snapshot("p-1", (acknowledged(raised, "n-1"),), 4))
    assert [(a.alert_id, a.state) for a in state.open_alerts()] == [("a-1", AlertState.ACKNOWLEDGED)]


def test_resync_forgets_patients_whose_retained_state_vanished_while_away() -> None:
    state = StationState(ward=WARD)
    state.apply_snapshot("p-1", snapshot("p-1", (make_alert(1),), 1))
    state.apply_snapshot("p-2", snapshot("p-2", (make_alert(2, patient="p-2"),), 1))
    state.begin_resync()
    state.apply_snapshot("p-2", snapshot("p-2", (make_alert(2, patient="p-2"),), 1))  # p-1's was cleared
    assert state.finish_resync() == ["p-1"]
    assert [a.patient for a in state.open_alerts()] == ["p-2"]
    assert state.finish_resync() == [], "outside a resync nothing is dropped"


def test_snapshot_json_holds_what_a_card_shows_and_the_trend_of_the_alerting_vital() -> None:
    state = StationState(ward=WARD)
    for second in range(30):
        state.apply_vitals(VitalsReading("p-1", "d-1", second, T0 + second * 1000, {"hr": 100.0 + second, "spo2": 97}))
    state.apply_snapshot("p-1", snapshot("p-1", (make_alert(1), make_alert(2, vital=None)), 1))
    data = state.snapshot_json()
    assert data["ward"] == WARD
    card = data["alerts"][0]
    assert card["summary"].startswith("Heart rate 163")
    assert card["response"] == "Review within 15 min"
    assert (card["value"], card["limit"], card["unit"], card["vital"]) == (163.0, 150.0, "/min", "hr")
    assert "device" not in card
    hr = data["trends"]["p-1"]["hr"]
    assert hr[-1] == (T0 + 28_000, 129.0), "2 s buckets, the last value of the bucket"
    assert set(data["trends"]["p-1"]) == {"hr"}, "only the vital behind an alert travels"
    assert orjson.loads(orjson.dumps(data))["alerts"][1]["vital"] is None


# ---------------------------------------------------------------- trends


def test_trends_keep_the_window_and_ignore_late_readings() -> None:
    book = TrendBook(window_ms=60_000, step_ms=5_000)
    for second in range(120):
        book.add("p-1", T0 + second * 1000, {"hr": float(second), "bogus": 1.0})
    book.add("p-1", T0, {"hr": 999.0})  # late redelivery
    series = book.series("p-1", "hr")
    assert series[-1] == (T0 + 115_000, 119.0)
    assert series[0][0] > T0 + 119_000 - 60_000 - 5000
    assert all(value != 999.0 for _, value in series)
    assert book.series("p-1", "bogus") == []
    assert book.series("p-9", "hr") == []


def test_trends_of_patients_outside_the_ward_are_bounded_but_the_wards_are_kept() -> None:
    book = TrendBook(max_other_patients=3)
    book.keep("p-ward")
    for n in range(10):
        book.add(f"p-{n}", T0, {"hr": 70.0})
    book.add("p-ward", T0, {"hr": 70.0})
    assert len(book) == 4
    assert book.series("p-ward", "hr") == [(T0, 70.0)]
    assert book.series("p-9", "hr")
    assert not book.series("p-0", "hr"), "the least recently heard from went first"


# ---------------------------------------------------------------- commands


def command(action: AlertAction = AlertAction.ACKNOWLEDGE, by: str = "nurse-12", event_no: int = 1) -> AlertCommand:
    return AlertCommand(command_id_for("a-1", action, by, event_no=event_no), action, "a-1", "p-1", by, T0)


def result_for(cmd: AlertCommand, status: str, reason: str | None = None) -> CommandResult:
    return CommandResult(cmd.command_id, cmd.action, cmd.alert_id, cmd.patient, CommandStatus(status), T0, reason)


def test_command_ids_repeat_for_a_double_click_and_change_when_anything_changes() -> None:
    base = command_id_for("a-1", AlertAction.ACKNOWLEDGE, "nurse-12", event_no=3)
    assert base == command_id_for("a-1", AlertAction.ACKNOWLEDGE, "nurse-12", event_no=3)
    others = {
        command_id_for("a-1", AlertAction.ACKNOWLEDGE, "nurse-12", event_no=4),
        command_id_for("a-1", AlertAction.RESOLVE, "nurse-12", event_no=3),
        command_id_for("a-1", AlertAction.ACKNOWLEDGE, "nurse-13", event_no=3),
        command_id_for("a-2", AlertAction.ACKNOWLEDGE, "nurse-12", event_no=3),
    }
    assert base not in others
    assert len(others) == 4
    # The id passes the wire contract's identifier rule (the processor decodes it with decode_command).
    assert decode_command("commands/v1/ward-1/p-1", _encoded(command())).command_id == command().command_id


def _encoded(cmd: AlertCommand) -> bytes:
    from vitalstream.wire import encode_command  # noqa: PLC0415

    return encode_command(cmd)


def test_a_result_answers_its_own_pending_command_only() -> None:
    pending = PendingCommands()
    mine = command()
    pending.add(mine)
    assert pending.on_result(result_for(command(by="someone-else"), "applied")) is None
    assert mine.command_id in pending
    answer = pending.on_result(result_for(mine, "refused", "transition_not_allowed"))
    assert answer == CommandAnswer(mine.command_id, "refused", "transition_not_allowed")
    assert len(pending) == 0
    assert pending.on_result(result_for(mine, "applied")) is None, "answered once"


def test_an_alert_event_is_evidence_used_only_when_no_result_arrives() -> None:
    pending = PendingCommands()
    mine = command()
    pending.add(mine)
    alert = acknowledged(make_alert(1))
    pending.on_event(event(2, Transition.ACKNOWLEDGED, alert, by="nurse-12"))
    # Another clinician's acknowledgement, or another transition, is no evidence for this command.
    other = command(action=AlertAction.RESOLVE)
    pending.add(other)
    pending.on_event(event(3, Transition.ACKNOWLEDGED, alert, by="nurse-99"))
    assert pending.expire(other.command_id) is None
    answer = pending.expire(mine.command_id)
    assert answer == CommandAnswer(mine.command_id, "applied", source="alert-event")


def test_a_result_wins_over_the_evidence() -> None:
    pending = PendingCommands()
    mine = command()
    pending.add(mine)
    pending.on_event(event(2, Transition.ACKNOWLEDGED, acknowledged(make_alert(1)), by="nurse-12"))
    answer = pending.on_result(result_for(mine, "duplicate"))
    assert answer is not None
    assert (answer.status, answer.source) == ("duplicate", "command-result")
    assert pending.expire(mine.command_id) is None


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (CommandAnswer("c-1", "applied"), 200),
        (CommandAnswer("c-1", "duplicate"), 200),
        (CommandAnswer("c-1", "refused", "unknown_alert"), 404),
        (CommandAnswer("c-1", "refused", "transition_not_allowed", "the alert is already acknowledged"), 409),
        (CommandAnswer("c-1", "refused", "some_future_reason"), 409),
        (None, 504),
    ],
)
def test_http_status_of_an_answer(answer: CommandAnswer | None, status: int) -> None:
    code, body = http_reply(answer)
    assert code == status
    assert body["reason"] == (answer.reason if answer else "timeout")
    json.dumps(body)


def _result_payload(**overrides: object) -> bytes:
    obj: dict[str, object] = {
        "v": 1,
        "command_id": "c-1",
        "alert_id": "a-1",
        "patient": "p-1",
        "action": "acknowledge",
        "status": "refused",
        "reason": "transition_not_allowed",
        "detail": "the alert is already acknowledged",
        "ts": "2026-11-21T10:00:00Z",
        "future_field": [1, 2],
    }
    obj.update(overrides)
    return orjson.dumps({k: v for k, v in obj.items() if v is not ...})


def test_command_results_parse_with_null_reason_and_unknown_fields() -> None:
    result = decode_command_result(_result_payload(status="applied", reason=None, detail=None))
    applied_at = parse_ts("2026-11-21T10:00:00Z")
    assert result == CommandResult("c-1", AlertAction.ACKNOWLEDGE, "a-1", "p-1", CommandStatus.APPLIED, applied_at)
    refused = decode_command_result(_result_payload())
    assert (refused.reason, refused.detail) == ("transition_not_allowed", "the alert is already acknowledged")


@pytest.mark.parametrize(
    ("payload", "reason", "field"),
    [
        (b"not json", "malformed_json", None),
        (b"[1]", "not_an_object", None),
        (_result_payload(v=2), "unsupported_version", "v"),
        (_result_payload(v=True), "unsupported_version", "v"),
        (_result_payload(command_id=...), "missing_field", "command_id"),
        (_result_payload(command_id="bad id"), "bad_id", "command_id"),
        (_result_payload(status="maybe"), "out_of_range", "status"),
        (_result_payload(action="delete"), "out_of_range", "action"),
        (_result_payload(reason=7), "wrong_type", "reason"),
        (b"{" + b" " * 5000 + b"}", "too_large", None),
    ],
)
def test_bad_command_results_are_rejected_with_a_reason(payload: bytes, reason: str, field: str | None) -> None:
    with pytest.raises(RejectedMessage) as info:
        decode_command_result(payload)
    assert (info.value.reason.value, info.value.field) == (reason, field)


# ---------------------------------------------------------------- decoding at the boundary


def test_messages_of_another_ward_or_with_a_mismatched_patient_are_rejected() -> None:
    alert = make_alert(1)
    state = encode_alert_state(snapshot("p-1", (alert,), 1))
    assert isinstance(decode_message(f"alerts/v1/{WARD}/p-1", state, WARD), Snapshot)
    assert decode_message(f"alerts/v1/{WARD}/p-1", b"", WARD) == Snapshot("p-1", None)
    assert decode_message(f"alerts/v1/{WARD}/p-2", state, WARD) == Rejected("alerts", "topic_mismatch")
    assert decode_message("alerts/v1/ward-9/p-1", state, WARD) == Rejected("alerts", "bad_topic")
    raised = encode_alert_event(event(1, Transition.RAISED, alert))
    assert isinstance(decode_message(f"alert-events/v1/{WARD}/p-1", raised, WARD), AlertEvent)
    assert decode_message(f"alert-events/v1/{WARD}/p-7", raised, WARD) == Rejected("alert-events", "topic_mismatch")
    result = _result_payload()
    assert isinstance(decode_message(f"command-results/v1/{WARD}/p-1", result, WARD), CommandResult)
    assert decode_message(f"command-results/v1/{WARD}/p-2", result, WARD) == Rejected(
        "command-results", "topic_mismatch"
    )
    assert decode_message("vitals/v1/p-1/d-1", b"{}", WARD) == Rejected("vitals", "missing_field")
    assert ward_topics(WARD) == [
        "alerts/v1/ward-1/+",
        "alert-events/v1/ward-1/+",
        "vitals/v1/+/+",
        "command-results/v1/ward-1/+",
    ]


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


def test_station_package_all_is_sorted_and_complete() -> None:
    module = importlib.import_module("alerts.station")
    exported = list(module.__all__)
    assert exported == sorted(exported, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))
    assert all(hasattr(module, name) for name in exported)


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
