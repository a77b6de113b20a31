"""Clinicians' commands (``commands/v1/{ward}/{patient}``) and the processor's answer to each.

A command and its result name the same command, action, alert and patient, so they live together;
only the command arrives on a topic that carries its patient, and that patient must match the payload's.
"""

from __future__ import annotations

import orjson

from vitalstream.wire.codec.fields import (
    MAX_COMMAND_BYTES,
    JsonObject,
    enum,
    ident,
    load,
    optional,
    required,
    text,
    timestamp,
)
from vitalstream.wire.errors import RejectedMessage, RejectReason
from vitalstream.wire.messages import SCHEMA_VERSION, AlertAction, AlertCommand, CommandResult, CommandStatus
from vitalstream.wire.timefmt import format_ts
from vitalstream.wire.topics import parse_command_topic

__all__ = ["decode_command", "decode_command_result", "encode_command", "encode_command_result"]


def encode_command(command: AlertCommand) -> bytes:
    obj: JsonObject = {
        "v": SCHEMA_VERSION,
        "command_id": command.command_id,
        "action": command.action.value,
        "alert_id": command.alert_id,
        "patient": command.patient,
        "by": command.by,
        "ts": format_ts(command.ts_ms),
    }
    if command.note is not None:
        obj["note"] = command.note
    return orjson.dumps(obj)


def decode_command(topic: str, payload: bytes | bytearray) -> AlertCommand:
    """Decode a command from ``commands/v1/{ward}/{patient}``; the payload's patient must match the topic's."""
    _ward, topic_patient = parse_command_topic(topic)
    obj = load(payload, MAX_COMMAND_BYTES)
    patient = ident(required(obj, "patient"), "patient")
    if patient != topic_patient:
        raise RejectedMessage(RejectReason.TOPIC_MISMATCH, "patient", "payload patient differs from the topic's")
    note = optional(obj, "note")
    return AlertCommand(
        command_id=ident(required(obj, "command_id"), "command_id"),
        action=enum(AlertAction, required(obj, "action"), "action"),
        alert_id=text(required(obj, "alert_id"), "alert_id", 64),
        patient=patient,
        by=ident(required(obj, "by"), "by"),
        ts_ms=timestamp(required(obj, "ts"), "ts"),
        note=None if note is None else text(note, "note", 500),
    )


def encode_command_result(result: CommandResult) -> bytes:
    obj: JsonObject = {
        "v": SCHEMA_VERSION,
        "command_id": result.command_id,
        "action": result.action.value,
        "alert_id": result.alert_id,
        "patient": result.patient,
        "status": result.status.value,
        "ts": format_ts(result.ts_ms),
    }
    if result.reason is not None:
        obj["reason"] = result.reason
    if result.detail is not None:
        obj["detail"] = result.detail
    return orjson.dumps(obj)


def decode_command_result(payload: bytes | bytearray) -> CommandResult:
    obj = load(payload, MAX_COMMAND_BYTES)
    reason, detail = optional(obj, "reason"), optional(obj, "detail")
    return CommandResult(
        command_id=ident(required(obj, "command_id"), "command_id"),
        action=enum(AlertAction, required(obj, "action"), "action"),
        alert_id=text(required(obj, "alert_id"), "alert_id", 64),
        patient=ident(required(obj, "patient"), "patient"),
        status=enum(CommandStatus, required(obj, "status"), "status"),
        ts_ms=timestamp(required(obj, "ts"), "ts"),
        reason=None if reason is None else ident(reason, "reason"),
        detail=None if detail is None else text(detail, "detail", 500),
    )
