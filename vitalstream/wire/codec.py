"""Bytes <-> messages. Decoding validates everything and names the field and the fault.

Decoding is the boundary: what comes out is a frozen, fully checked object, and anything else is a
:class:`~vitalstream.wire.errors.RejectedMessage` with a reason code. The codec is pure (no I/O,
no clock), so the same bytes always give the same answer.

Forward compatibility: unknown *top-level* fields are ignored, so a v1 reader accepts a v1 message
from a newer writer. Unknown keys inside ``vitals`` are rejected instead: their unit is unknown to
this reader, and a vital silently dropped is worse than a message sent to the dead-letter topic.

>>> from vitalstream.wire.messages import VitalsReading
>>> reading = VitalsReading("p-1", "d-1", seq=7, ts_ms=1_790_000_000_000, vitals={"hr": 72.0})
>>> decode_vitals("vitals/v1/p-1/d-1", encode_vitals(reading)) == reading
True
>>> decode_vitals("vitals/v1/p-1/d-1", b'{"v": 1, "patient": "p-1", "device": "d-1", "seq": 1}')
Traceback (most recent call last):
...
vitalstream.wire.errors.RejectedMessage: missing_field at ts: required
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping
from typing import Any, TypeAlias, TypeVar

import orjson

from vitalstream.wire.errors import RejectedMessage, RejectReason
from vitalstream.wire.messages import (
    SCHEMA_VERSION,
    Alert,
    AlertAction,
    AlertCommand,
    AlertEvent,
    AlertExplanation,
    AlertState,
    CommandResult,
    CommandStatus,
    DeadLetter,
    EdgeEvent,
    Observation,
    PatientAlerts,
    Priority,
    Resolution,
    Rhythm,
    Transition,
    VitalsReading,
    Waveform,
)
from vitalstream.wire.timefmt import format_ts, parse_ts
from vitalstream.wire.topics import (
    check_id,
    parse_command_topic,
    parse_events_topic,
    parse_observations_topic,
    parse_vitals_topic,
)
from vitalstream.wire.vitals import VITALS

__all__ = [
    "MAX_ALERT_BYTES",
    "MAX_COMMAND_BYTES",
    "MAX_DEADLETTER_PAYLOAD",
    "MAX_EVENT_BYTES",
    "MAX_VITALS_BYTES",
    "SQI_CHANNELS",
    "decode_alert_event",
    "decode_alert_state",
    "decode_command",
    "decode_command_result",
    "decode_deadletter",
    "decode_event",
    "decode_observation",
    "decode_vitals",
    "encode_alert_event",
    "encode_alert_state",
    "encode_command",
    "encode_command_result",
    "encode_deadletter",
    "encode_event",
    "encode_observation",
    "encode_vitals",
    "explanation_json",
]

# A full vitals reading with every optional part is under 1 KiB; 8 KiB leaves room for growth
# while stopping a runaway device from pushing megabytes through the 1 Hz path.
MAX_VITALS_BYTES = 8 * 1024
MAX_COMMAND_BYTES = 4 * 1024
MAX_ALERT_BYTES = 256 * 1024
# An event carries up to a few 30 s waveform snippets as base64 int16: about 30 KB per 360 Hz lead.
MAX_EVENT_BYTES = 512 * 1024
_MAX_WAVEFORM_S = 120
_EVENT_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")
# Dead letters keep the original bytes, but not unboundedly: a 10 MB garbage payload keeps its head.
MAX_DEADLETTER_PAYLOAD = 64 * 1024
SQI_CHANNELS = frozenset({"ecg", "ppg", "resp", "spo2", "temp", "bp", "acc"})
BEAT_CLASSES = frozenset({"N", "S", "V", "F", "Q"})
RUN_CLASSES = frozenset({"V", "S"})
_MAX_SEQ = 2**63 - 1
_MAX_BEATS = 1000
_MAX_TEXT = 2000

JsonObject: TypeAlias = dict[str, Any]
_E = TypeVar("_E", Priority, AlertState, Resolution, Transition, AlertAction, CommandStatus)


# ---------------------------------------------------------------- field readers


def _load(payload: bytes | bytearray, limit: int) -> JsonObject:
    if len(payload) > limit:
        raise RejectedMessage(RejectReason.TOO_LARGE, None, f"{len(payload)} bytes exceeds the {limit}-byte limit")
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        # orjson refuses NaN/Infinity literals; the stdlib parser accepts them, so a second try tells a
        # non-finite number (reported below with its field) apart from bytes that are not JSON at all.
        try:
            obj = json.loads(payload)
        except (ValueError, RecursionError) as exc:
            raise RejectedMessage(RejectReason.MALFORMED_JSON, None, _json_error_text(exc)) from None
    if not isinstance(obj, dict):
        raise RejectedMessage(RejectReason.NOT_AN_OBJECT, None, f"top level is a JSON {_json_type(obj)}")
    version = obj.get("v")
    # type() check: True == 1 in Python, but a boolean is not a schema version.
    if type(version) is not int or version != SCHEMA_VERSION:
        if version is None:
            raise RejectedMessage(RejectReason.MISSING_FIELD, "v", "required (schema version)")
        raise RejectedMessage(
            RejectReason.UNSUPPORTED_VERSION, "v", f"schema version {_short(version)} is not {SCHEMA_VERSION}"
        )
    return obj


def _json_error_text(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at byte {exc.pos}"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 at byte {exc.start}"
    return "not valid JSON"


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _missing(path: str) -> RejectedMessage:
    return RejectedMessage(RejectReason.MISSING_FIELD, path, "required")


def _wrong(path: str, expected: str, value: object) -> RejectedMessage:
    return RejectedMessage(RejectReason.WRONG_TYPE, path, f"expected {expected}, got {_json_type(value)}")


def _number(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong(path, "number", value)
    try:
        number = float(value)
    except OverflowError:  # an integer with hundreds of digits: JSON allows it, no vital is that large
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, path, "integer too large") from None
    if not math.isfinite(number):
        raise RejectedMessage(RejectReason.NOT_FINITE, path, "NaN and infinities are not values")
    return number


def _integer(value: object, path: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and not math.isfinite(value):
            raise RejectedMessage(RejectReason.NOT_FINITE, path, "NaN and infinities are not values")
        raise _wrong(path, "integer", value)
    if not lo <= value <= hi:
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, path, f"{_short(value)} is outside {lo}..{hi}")
    return value


def _fraction(value: object, path: str) -> float:
    number = _number(value, path)
    if not 0.0 <= number <= 1.0:
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, path, f"{number:g} is outside 0..1")
    return number


def _text(value: object, path: str, max_len: int = _MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise _wrong(path, "string", value)
    if len(value) > max_len:
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, path, f"longer than {max_len} characters")
    return value


def _object(value: object, path: str) -> JsonObject:
    if not isinstance(value, dict):
        raise _wrong(path, "object", value)
    return value


def _required(obj: JsonObject, key: str, path: str = "") -> object:
    try:
        return obj[key]
    except KeyError:
        raise _missing(path + key) from None


def _timestamp(value: object, path: str) -> int:
    text = _text(value, path, 64)
    try:
        return parse_ts(text)
    except ValueError as exc:
        raise RejectedMessage(RejectReason.BAD_TIMESTAMP, path, f"{_short(text)} {exc}") from None


def _ident(value: object, path: str) -> str:
    return check_id(_text(value, path, 64), field=path)


def _enum(kind: type[_E], value: object, path: str) -> _E:
    text = _text(value, path, 64)
    try:
        return kind(text)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, path, f"{_short(text)} is not one of {allowed}") from None


def _model_ref(value: object, path: str) -> str:
    ref = _text(value, path, 128)
    name, sep, version = ref.partition("@")
    if not (sep and name and version):
        raise RejectedMessage(RejectReason.WRONG_TYPE, path, f"{_short(ref)} is not name@version")
    return ref


# ---------------------------------------------------------------- vitals


def decode_vitals(topic: str, payload: bytes | bytearray) -> VitalsReading:
    """Decode and validate one vitals reading that arrived on ``topic``.

    This runs for every reading the processor receives (10,000 a second), so the checks for the common,
    valid shape are written out inline; anything unusual goes through the field readers, which name the
    field and the fault.
    """
    topic_patient, topic_device = parse_vitals_topic(topic)
    obj = _load(payload, MAX_VITALS_BYTES)

    # Equal to the topic's already validated identifier (the common case), or wrong in some way that
    # the field reader names precisely before the mismatch is reported.
    if obj.get("patient") != topic_patient and _ident(_required(obj, "patient"), "patient") != topic_patient:
        raise RejectedMessage(RejectReason.TOPIC_MISMATCH, "patient", "payload patient differs from the topic's")
    if obj.get("device") != topic_device and _ident(_required(obj, "device"), "device") != topic_device:
        raise RejectedMessage(RejectReason.TOPIC_MISMATCH, "device", "payload device differs from the topic's")
    seq = obj.get("seq")
    if type(seq) is not int or not 0 <= seq <= _MAX_SEQ:
        seq = _integer(_required(obj, "seq"), "seq", 0, _MAX_SEQ)
    ts_ms = _timestamp(_required(obj, "ts"), "ts")

    sqi = obj.get("sqi")
    rhythm = obj.get("rhythm")
    beats = obj.get("beats")
    models = obj.get("models")
    runs = obj.get("runs")
    return VitalsReading(
        topic_patient,
        topic_device,
        seq,
        ts_ms,
        vitals=_vitals(_required(obj, "vitals")),
        sqi={} if sqi is None else _sqi(sqi),
        rhythm=None if rhythm is None else _rhythm(rhythm),
        beats={} if beats is None else _beats(beats),
        models={} if models is None else _models(models),
        runs={} if runs is None else _runs(runs),
    )


def _vitals(raw: object) -> dict[str, float]:
    vitals: dict[str, float] = {}
    for key, raw_value in _object(raw, "vitals").items():
        spec = VITALS.get(key)
        kind = type(raw_value)
        if spec is not None and (kind is float or kind is int) and spec.low <= raw_value <= spec.high:
            vitals[key] = float(raw_value)  # the common case: a known vital, a plain number in range
            continue
        path = f"vitals.{key}"
        if spec is None:
            raise RejectedMessage(RejectReason.UNKNOWN_FIELD, path, f"not a v1 vital (known: {', '.join(VITALS)})")
        value = _number(raw_value, path)
        if not spec.contains(value):
            raise RejectedMessage(
                RejectReason.OUT_OF_RANGE, path, f"{value:g} {spec.ucum} is outside {spec.low:g}..{spec.high:g}"
            )
        vitals[key] = value
    if "sbp" in vitals and "dbp" in vitals and vitals["dbp"] >= vitals["sbp"]:
        raise RejectedMessage(RejectReason.INCONSISTENT, "vitals.dbp", "diastolic is not below systolic")
    return vitals


def _sqi(raw: object) -> dict[str, float]:
    sqi: dict[str, float] = {}
    if raw is not None:
        for channel, value in _object(raw, "sqi").items():
            if channel in SQI_CHANNELS and type(value) is float and 0.0 <= value <= 1.0:
                sqi[channel] = value
                continue
            if channel not in SQI_CHANNELS:
                raise RejectedMessage(RejectReason.UNKNOWN_FIELD, f"sqi.{channel}", "not a known channel")
            sqi[channel] = _fraction(value, f"sqi.{channel}")
    return sqi


def _rhythm(raw: object) -> Rhythm | None:
    if raw is None:
        return None
    obj = _object(raw, "rhythm")
    return Rhythm(
        label=_text(_required(obj, "label", "rhythm."), "rhythm.label", 16),
        p=_fraction(_required(obj, "p", "rhythm."), "rhythm.p"),
    )


def _beats(raw: object) -> dict[str, int]:
    beats: dict[str, int] = {}
    if raw is not None:
        for beat_class, value in _object(raw, "beats").items():
            if beat_class not in BEAT_CLASSES:
                raise RejectedMessage(RejectReason.UNKNOWN_FIELD, f"beats.{beat_class}", "not an AAMI class N S V F Q")
            beats[beat_class] = _integer(value, f"beats.{beat_class}", 0, _MAX_BEATS)
    return beats


def _runs(raw: object) -> dict[str, int]:
    runs: dict[str, int] = {}
    if raw is not None:
        for beat_class, value in _object(raw, "runs").items():
            if beat_class not in RUN_CLASSES:
                raise RejectedMessage(RejectReason.UNKNOWN_FIELD, f"runs.{beat_class}", "runs are counted for V and S")
            runs[beat_class] = _integer(value, f"runs.{beat_class}", 0, _MAX_BEATS)
    return runs


def _models(raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    return {
        _text(output, "models", 32): _model_ref(ref, f"models.{output}")
        for output, ref in _object(raw, "models").items()
    }


def encode_vitals(reading: VitalsReading) -> bytes:
    obj: JsonObject = {
        "v": SCHEMA_VERSION,
        "patient": reading.patient,
        "device": reading.device,
        "seq": reading.seq,
        "ts": format_ts(reading.ts_ms),
        "vitals": dict(reading.vitals),
    }
    if reading.sqi:
        obj["sqi"] = dict(reading.sqi)
    if reading.rhythm is not None:
        obj["rhythm"] = {"label": reading.rhythm.label, "p": reading.rhythm.p}
    if reading.beats:
        obj["beats"] = dict(reading.beats)
    if reading.models:
        obj["models"] = dict(reading.models)
    if reading.runs:
        obj["runs"] = dict(reading.runs)
    return orjson.dumps(obj)


# ---------------------------------------------------------------- alerts


def explanation_json(explanation: AlertExplanation) -> JsonObject:
    """An explanation as the JSON object the wire carries (also what ``vitalstream replay`` prints)."""
    obj: JsonObject = {"rule": explanation.rule, "summary": explanation.summary}
    for key in ("vital", "value", "limit", "unit"):
        value = getattr(explanation, key)
        if value is not None:
            obj[key] = value
    for key in ("baseline", "sqi", "models", "detail"):
        mapping: Mapping[str, object] = getattr(explanation, key)
        if mapping:
            obj[key] = dict(mapping)
    if explanation.response is not None:
        obj["response"] = explanation.response
    return obj


def _alert_obj(alert: Alert) -> JsonObject:
    obj: JsonObject = {
        "alert_id": alert.alert_id,
        "patient": alert.patient,
        "ward": alert.ward,
        "device": alert.device,
        "kind": alert.kind,
        "priority": alert.priority.value,
        "state": alert.state.value,
        "onset": format_ts(alert.onset_ms),
        "raised": format_ts(alert.raised_ms),
        "updated": format_ts(alert.updated_ms),
        "retrospective": alert.retrospective,
        "escalated": alert.escalated,
        "explanation": explanation_json(alert.explanation),
    }
    if alert.acknowledged_by is not None:
        obj["acknowledged_by"] = alert.acknowledged_by
    if alert.resolved_ms is not None:
        obj["resolved"] = format_ts(alert.resolved_ms)
    if alert.resolution is not None:
        obj["resolution"] = alert.resolution.value
    return obj


def _float_map(value: object, path: str) -> dict[str, float]:
    return {str(key): _number(raw, f"{path}.{key}") for key, raw in _object(value, path).items()}


def _optional(obj: JsonObject, key: str) -> object | None:
    return obj.get(key)


def _parse_explanation(value: object, path: str) -> AlertExplanation:
    obj = _object(value, path)
    prefix = path + "."
    vital = _optional(obj, "vital")
    number = _optional(obj, "value")
    limit = _optional(obj, "limit")
    unit = _optional(obj, "unit")
    return AlertExplanation(
        rule=_text(_required(obj, "rule", prefix), prefix + "rule", 64),
        summary=_text(_required(obj, "summary", prefix), prefix + "summary"),
        vital=None if vital is None else _text(vital, prefix + "vital", 32),
        value=None if number is None else _number(number, prefix + "value"),
        limit=None if limit is None else _number(limit, prefix + "limit"),
        unit=None if unit is None else _text(unit, prefix + "unit", 32),
        baseline=_float_map(obj.get("baseline", {}), prefix + "baseline"),
        sqi=_float_map(obj.get("sqi", {}), prefix + "sqi"),
        models={
            str(k): _model_ref(v, f"{prefix}models.{k}")
            for k, v in _object(obj.get("models", {}), prefix + "models").items()
        },
        response=None if (response := obj.get("response")) is None else _text(response, prefix + "response"),
        detail=_detail(obj.get("detail", {}), prefix + "detail"),
    )


def _detail(value: object, path: str) -> dict[str, float | str]:
    detail: dict[str, float | str] = {}
    for key, raw in _object(value, path).items():
        name = _text(key, path, 64)
        detail[name] = _text(raw, f"{path}.{name}", 500) if isinstance(raw, str) else _number(raw, f"{path}.{name}")
    return detail


def _parse_alert(value: object, path: str) -> Alert:
    obj = _object(value, path)
    p = path + "."
    resolved = _optional(obj, "resolved")
    resolution = _optional(obj, "resolution")
    acknowledged_by = _optional(obj, "acknowledged_by")
    retrospective = obj.get("retrospective", False)
    escalated = obj.get("escalated", False)
    if not isinstance(retrospective, bool):
        raise _wrong(p + "retrospective", "boolean", retrospective)
    if not isinstance(escalated, bool):
        raise _wrong(p + "escalated", "boolean", escalated)
    return Alert(
        alert_id=_text(_required(obj, "alert_id", p), p + "alert_id", 64),
        patient=_ident(_required(obj, "patient", p), p + "patient"),
        ward=_ident(_required(obj, "ward", p), p + "ward"),
        device=_ident(_required(obj, "device", p), p + "device"),
        kind=_text(_required(obj, "kind", p), p + "kind", 64),
        priority=_enum(Priority, _required(obj, "priority", p), p + "priority"),
        state=_enum(AlertState, _required(obj, "state", p), p + "state"),
        onset_ms=_timestamp(_required(obj, "onset", p), p + "onset"),
        raised_ms=_timestamp(_required(obj, "raised", p), p + "raised"),
        updated_ms=_timestamp(_required(obj, "updated", p), p + "updated"),
        explanation=_parse_explanation(_required(obj, "explanation", p), p + "explanation"),
        retrospective=retrospective,
        escalated=escalated,
        acknowledged_by=None if acknowledged_by is None else _text(acknowledged_by, p + "acknowledged_by", 64),
        resolved_ms=None if resolved is None else _timestamp(resolved, p + "resolved"),
        resolution=None if resolution is None else _enum(Resolution, resolution, p + "resolution"),
    )


def encode_alert_state(snapshot: PatientAlerts) -> bytes:
    """The retained payload of ``alerts/v1/{ward}/{patient}``; publish ``b""`` instead when no alert is open."""
    return orjson.dumps(
        {
            "v": SCHEMA_VERSION,
            "ward": snapshot.ward,
            "patient": snapshot.patient,
            "updated": format_ts(snapshot.updated_ms),
            "event_no": snapshot.event_no,
            "alerts": [_alert_obj(alert) for alert in snapshot.alerts],
        }
    )


def decode_alert_state(payload: bytes | bytearray) -> PatientAlerts:
    obj = _load(payload, MAX_ALERT_BYTES)
    raw_alerts = _required(obj, "alerts")
    if not isinstance(raw_alerts, list):
        raise _wrong("alerts", "array", raw_alerts)
    return PatientAlerts(
        ward=_ident(_required(obj, "ward"), "ward"),
        patient=_ident(_required(obj, "patient"), "patient"),
        updated_ms=_timestamp(_required(obj, "updated"), "updated"),
        alerts=tuple(_parse_alert(raw, f"alerts[{i}]") for i, raw in enumerate(raw_alerts)),
        event_no=_integer(obj.get("event_no", 0), "event_no", 0, _MAX_SEQ),
    )


def encode_alert_event(event: AlertEvent) -> bytes:
    obj: JsonObject = {
        "v": SCHEMA_VERSION,
        "event_no": event.event_no,
        "transition": event.transition.value,
        "ts": format_ts(event.ts_ms),
        "alert": _alert_obj(event.alert),
    }
    if event.by is not None:
        obj["by"] = event.by
    return orjson.dumps(obj)


def decode_alert_event(payload: bytes | bytearray) -> AlertEvent:
    obj = _load(payload, MAX_ALERT_BYTES)
    by = _optional(obj, "by")
    return AlertEvent(
        event_no=_integer(_required(obj, "event_no"), "event_no", 1, _MAX_SEQ),
        transition=_enum(Transition, _required(obj, "transition"), "transition"),
        ts_ms=_timestamp(_required(obj, "ts"), "ts"),
        alert=_parse_alert(_required(obj, "alert"), "alert"),
        by=None if by is None else _text(by, "by", 64),
    )


# ---------------------------------------------------------------- commands


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
    obj = _load(payload, MAX_COMMAND_BYTES)
    patient = _ident(_required(obj, "patient"), "patient")
    if patient != topic_patient:
        raise RejectedMessage(RejectReason.TOPIC_MISMATCH, "patient", "payload patient differs from the topic's")
    note = _optional(obj, "note")
    return AlertCommand(
        command_id=_ident(_required(obj, "command_id"), "command_id"),
        action=_enum(AlertAction, _required(obj, "action"), "action"),
        alert_id=_text(_required(obj, "alert_id"), "alert_id", 64),
        patient=patient,
        by=_ident(_required(obj, "by"), "by"),
        ts_ms=_timestamp(_required(obj, "ts"), "ts"),
        note=None if note is None else _text(note, "note", 500),
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
    obj = _load(payload, MAX_COMMAND_BYTES)
    reason, detail = _optional(obj, "reason"), _optional(obj, "detail")
    return CommandResult(
        command_id=_ident(_required(obj, "command_id"), "command_id"),
        action=_enum(AlertAction, _required(obj, "action"), "action"),
        alert_id=_text(_required(obj, "alert_id"), "alert_id", 64),
        patient=_ident(_required(obj, "patient"), "patient"),
        status=_enum(CommandStatus, _required(obj, "status"), "status"),
        ts_ms=_timestamp(_required(obj, "ts"), "ts"),
        reason=None if reason is None else _ident(reason, "reason"),
        detail=None if detail is None else _text(detail, "detail", 500),
    )


# ---------------------------------------------------------------- dead letters


def encode_deadletter(letter: DeadLetter) -> bytes:
    """The original bytes travel base64-encoded (they may not be UTF-8) and cut to a bounded head."""
    kept = letter.payload[:MAX_DEADLETTER_PAYLOAD]
    # Topic, field and detail come from a hostile message too: bound them like the payload.
    obj: JsonObject = {
        "v": SCHEMA_VERSION,
        "topic": letter.topic[:1024],
        "reason": letter.reason,
        "detail": letter.detail[:_MAX_TEXT],
        "received": format_ts(letter.received_ms),
        "size": letter.size,
        "truncated": len(kept) < letter.size,
        "payload_b64": base64.b64encode(kept).decode("ascii"),
    }
    if letter.field is not None:
        obj["field"] = letter.field[:256]
    return orjson.dumps(obj)


def decode_deadletter(payload: bytes | bytearray) -> DeadLetter:
    obj = _load(payload, 2 * MAX_DEADLETTER_PAYLOAD)
    field = _optional(obj, "field")
    raw_b64 = _text(_required(obj, "payload_b64"), "payload_b64", 2 * MAX_DEADLETTER_PAYLOAD)
    try:
        original = base64.b64decode(raw_b64, validate=True)
    except ValueError:
        raise _wrong("payload_b64", "base64", raw_b64) from None
    return DeadLetter(
        topic=_text(_required(obj, "topic"), "topic", 1024),
        reason=_text(_required(obj, "reason"), "reason", 64),
        field=None if field is None else _text(field, "field", 256),
        detail=_text(_required(obj, "detail"), "detail"),
        received_ms=_timestamp(_required(obj, "received"), "received"),
        size=_integer(_required(obj, "size"), "size", 0, _MAX_SEQ),
        payload=original,
    )


# ---------------------------------------------------------------- edge events


def _waveform_obj(wave: Waveform) -> JsonObject:
    return {
        "kind": wave.kind,
        "lead": wave.lead,
        "fs": wave.fs,
        "start": format_ts(wave.start_ms),
        "scale": wave.scale,
        "unit": wave.unit,
        "encoding": "int16le-base64",
        "data": base64.b64encode(wave.data).decode("ascii"),
    }


def encode_event(event: EdgeEvent) -> bytes:
    obj: JsonObject = {
        "v": SCHEMA_VERSION,
        "event_id": event.event_id,
        "patient": event.patient,
        "device": event.device,
        "kind": event.kind,
        "ts": format_ts(event.ts_ms),
    }
    if event.detail:
        obj["detail"] = dict(event.detail)
    if event.models:
        obj["models"] = dict(event.models)
    if event.waveforms:
        obj["waveforms"] = [_waveform_obj(w) for w in event.waveforms]
    return orjson.dumps(obj)


def _parse_waveform(value: object, path: str) -> Waveform:
    obj = _object(value, path)
    p = path + "."
    encoding = _text(_required(obj, "encoding", p), p + "encoding", 32)
    if encoding != "int16le-base64":
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, p + "encoding", "only int16le-base64 is defined in v1")
    fs = _number(_required(obj, "fs", p), p + "fs")
    if not 1.0 <= fs <= 10_000.0:
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, p + "fs", f"{fs:g} Hz is outside 1..10000")
    raw = _text(_required(obj, "data", p), p + "data", MAX_EVENT_BYTES)
    try:
        data = base64.b64decode(raw, validate=True)
    except ValueError:
        raise _wrong(p + "data", "base64", raw) from None
    if len(data) % 2 or len(data) // 2 > fs * _MAX_WAVEFORM_S:
        raise RejectedMessage(
            RejectReason.OUT_OF_RANGE, p + "data", f"not whole int16 samples or over {_MAX_WAVEFORM_S} s"
        )
    scale = _number(_required(obj, "scale", p), p + "scale")
    if scale <= 0:
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, p + "scale", "must be positive")
    kind = _text(_required(obj, "kind", p), p + "kind", 8)
    if kind not in {"ecg", "ppg", "resp"}:
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, p + "kind", f"{_short(kind)} is not one of ecg, ppg, resp")
    return Waveform(
        kind=kind,
        lead=_text(_required(obj, "lead", p), p + "lead", 16),
        fs=fs,
        start_ms=_timestamp(_required(obj, "start", p), p + "start"),
        scale=scale,
        unit=_text(_required(obj, "unit", p), p + "unit", 16),
        data=data,
    )


def decode_event(topic: str, payload: bytes | bytearray) -> EdgeEvent:
    """Decode an edge event from ``events/v1/{patient}/{device}``."""
    topic_patient, topic_device = parse_events_topic(topic)
    obj = _load(payload, MAX_EVENT_BYTES)
    patient = _ident(_required(obj, "patient"), "patient")
    device = _ident(_required(obj, "device"), "device")
    if (patient, device) != (topic_patient, topic_device):
        field = "patient" if patient != topic_patient else "device"
        raise RejectedMessage(RejectReason.TOPIC_MISMATCH, field, f"payload {field} differs from the topic's")
    kind = _text(_required(obj, "kind"), "kind", 32)
    if not _EVENT_KIND.fullmatch(kind):
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, "kind", "must be lower_snake_case, at most 32 characters")
    detail: dict[str, float | str] = {}
    for key, raw in _object(obj.get("detail", {}), "detail").items():
        detail[_text(key, "detail", 32)] = raw if isinstance(raw, str) else _number(raw, f"detail.{key}")
    raw_waves = obj.get("waveforms", [])
    if not isinstance(raw_waves, list) or len(raw_waves) > 8:
        raise _wrong("waveforms", "array of at most 8 waveforms", raw_waves)
    return EdgeEvent(
        event_id=_ident(_required(obj, "event_id"), "event_id"),
        patient=patient,
        device=device,
        kind=kind,
        ts_ms=_timestamp(_required(obj, "ts"), "ts"),
        detail=detail,
        models=_models(obj.get("models")),
        waveforms=tuple(_parse_waveform(w, f"waveforms[{i}]") for i, w in enumerate(raw_waves)),
    )


# ---------------------------------------------------------------- observations

_OBSERVATION_NUMBERS = {
    "respiration_rate": "rr",
    "spo2": "spo2",
    "systolic_bp": "sbp",
    "pulse": "hr",
    "temperature": "temp",
}


def encode_observation(observation: Observation) -> bytes:
    obj: JsonObject = {
        "v": SCHEMA_VERSION,
        "patient": observation.patient,
        "source": observation.source,
        "ts": format_ts(observation.ts_ms),
        "values": dict(observation.values),
    }
    if observation.by is not None:
        obj["by"] = observation.by
    return orjson.dumps(obj)


def decode_observation(topic: str, payload: bytes | bytearray) -> Observation:
    """Decode an observation from ``observations/v1/{patient}/{source}``; values are range-checked like vitals."""
    topic_patient, topic_source = parse_observations_topic(topic)
    obj = _load(payload, MAX_COMMAND_BYTES)
    patient = _ident(_required(obj, "patient"), "patient")
    source = _ident(_required(obj, "source"), "source")
    if (patient, source) != (topic_patient, topic_source):
        field = "patient" if patient != topic_patient else "source"
        raise RejectedMessage(RejectReason.TOPIC_MISMATCH, field, f"payload {field} differs from the topic's")
    values: dict[str, float | str | bool] = {}
    for key, raw in _object(_required(obj, "values"), "values").items():
        path = f"values.{key}"
        if key in _OBSERVATION_NUMBERS:
            spec = VITALS[_OBSERVATION_NUMBERS[key]]
            number = _number(raw, path)
            if not spec.contains(number):
                raise RejectedMessage(
                    RejectReason.OUT_OF_RANGE, path, f"{number:g} {spec.ucum} is outside {spec.low:g}..{spec.high:g}"
                )
            values[key] = number
        elif key == "on_oxygen":
            if not isinstance(raw, bool):
                raise _wrong(path, "boolean", raw)
            values[key] = raw
        elif key == "spo2_scale":
            values[key] = _integer(raw, path, 1, 2)
        elif key == "consciousness":
            level = _text(raw, path, 1)
            if level not in {"A", "C", "V", "P", "U"}:
                raise RejectedMessage(RejectReason.OUT_OF_RANGE, path, f"{_short(level)} is not one of A, C, V, P, U")
            values[key] = level
        else:
            known = ", ".join([*_OBSERVATION_NUMBERS, "on_oxygen", "spo2_scale", "consciousness"])
            raise RejectedMessage(RejectReason.UNKNOWN_FIELD, path, f"not an observation (known: {known})")
    by = obj.get("by")
    return Observation(
        patient=patient,
        source=source,
        ts_ms=_timestamp(_required(obj, "ts"), "ts"),
        values=values,
        by=None if by is None else _ident(by, "by"),
    )
