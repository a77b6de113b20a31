"""A nurse's click as an :class:`~vitalstream.wire.AlertCommand`, and how its answer becomes an HTTP reply.

The processor answers every command on ``command-results/v1/{ward}/{patient}``: ``applied``,
``duplicate`` (this ``command_id`` was applied before) or ``refused`` with a reason code. That answer
is authoritative. An alert event with the command's transition, alert and clinician is evidence too:
it is kept, and used only if no answer arrives in time (a processor that predates command results
still moves the alert, and telling the nurse "no answer" then would be wrong).

Command ids are derived from the alert, the action, the clinician and the patient's event number
the station showed: a double click (or a retried request) repeats the same id and the processor
reports a harmless duplicate, while the same nurse acting again after the alert changed gets a new id.

Pure: no clock, no I/O.

>>> first = command_id_for("a-1", AlertAction.ACKNOWLEDGE, "nurse-12", event_no=4)
>>> first == command_id_for("a-1", AlertAction.ACKNOWLEDGE, "nurse-12", event_no=4), first != command_id_for(
...     "a-1", AlertAction.ACKNOWLEDGE, "nurse-12", event_no=5)
(True, True)
>>> http_reply(CommandAnswer("c-1", "refused", reason="unknown_alert"))[0]
404
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from vitalstream.wire import AlertAction, AlertCommand, AlertEvent, CommandResult, Transition

__all__ = ["CommandAnswer", "PendingCommands", "command_id_for", "http_reply"]

_TRANSITION_OF = {
    AlertAction.ACKNOWLEDGE: Transition.ACKNOWLEDGED,
    AlertAction.RESOLVE: Transition.RESOLVED,
    AlertAction.FALSE_ALARM: Transition.FALSE_ALARM,
}


@dataclass(frozen=True, slots=True)
class CommandAnswer:
    """What the station tells the page: the status, the refusal reason, and where the answer came from."""

    command_id: str
    status: str
    reason: str | None = None
    detail: str | None = None
    source: str = "command-result"  # or "alert-event": inferred from the alert's transition


def command_id_for(alert_id: str, action: AlertAction, by: str, *, event_no: int) -> str:
    digest = hashlib.blake2b(f"{alert_id}|{action.value}|{by}|{event_no}".encode(), digest_size=12).hexdigest()
    return f"c-{digest}"


class PendingCommands:
    """Commands sent and not answered yet, keyed by ``command_id``."""

    def __init__(self) -> None:
        self._pending: dict[str, AlertCommand] = {}
        self._evidence: dict[str, CommandAnswer] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, command_id: object) -> bool:
        return command_id in self._pending

    def add(self, command: AlertCommand) -> None:
        self._pending[command.command_id] = command

    def on_result(self, result: CommandResult) -> CommandAnswer | None:
        """The answer for a pending command, or ``None`` if the result is for someone else's command."""
        command = self._pending.pop(result.command_id, None)
        self._evidence.pop(result.command_id, None)
        if command is None:
            return None
        return CommandAnswer(result.command_id, result.status.value, result.reason, result.detail)

    def on_event(self, event: AlertEvent) -> None:
        """Remember that a pending command visibly took effect (used only if no result arrives)."""
        for command in self._pending.values():
            if (
                _TRANSITION_OF[command.action] is event.transition
                and command.alert_id == event.alert.alert_id
                and command.by == event.by
            ):
                self._evidence[command.command_id] = CommandAnswer(command.command_id, "applied", source="alert-event")

    def expire(self, command_id: str) -> CommandAnswer | None:
        """The deadline passed: the evidence-based answer if there is one, else ``None`` (no answer)."""
        self._pending.pop(command_id, None)
        return self._evidence.pop(command_id, None)


def http_reply(answer: CommandAnswer | None, *, timeout_s: float = 5.0) -> tuple[int, dict[str, Any]]:
    """HTTP status and JSON body: 200 applied/duplicate, 404 unknown alert, 409 refused otherwise, 504 no answer."""
    if answer is None:
        return 504, {
            "status": "no_answer",
            "reason": "timeout",
            "detail": f"the processor did not answer within {timeout_s:g} s; the command may still apply",
        }
    body = {
        "status": answer.status,
        "reason": answer.reason,
        "detail": answer.detail,
        "command_id": answer.command_id,
        "source": answer.source,
    }
    if answer.status in {"applied", "duplicate"}:
        return 200, body
    if answer.reason == "unknown_alert":
        return 404, body
    # transition_not_allowed, and any refusal a newer processor may add: the alert is not in a state for it.
    return 409, body
