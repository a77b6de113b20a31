"""The nurse station's command matching: command ids, clicks waiting for an answer, the HTTP status of an answer."""

from __future__ import annotations

import json

import pytest

from alerts.station import CommandAnswer, PendingCommands, command_id_for, http_reply
from tests.station_alerts import T0, acknowledged, event, make_alert
from vitalstream.wire import (
    AlertAction,
    AlertCommand,
    CommandResult,
    CommandStatus,
    Transition,
    decode_command,
)


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
