"""Alerts: the retained per-patient state (``alerts/v1/{ward}/{patient}``), the alert events, and the
explanation both carry.

State and events share one alert object and one explanation, so they are encoded and parsed here once;
``vitalstream replay`` prints explanations with :func:`explanation_json` so its output reads like the wire.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from vitalstream.wire.codec.fields import (
    MAX_ALERT_BYTES,
    MAX_SEQ,
    JsonObject,
    enum,
    ident,
    integer,
    json_object,
    load,
    model_ref,
    number,
    optional,
    required,
    text,
    timestamp,
    wrong_type,
)
from vitalstream.wire.messages import (
    SCHEMA_VERSION,
    Alert,
    AlertEvent,
    AlertExplanation,
    AlertState,
    PatientAlerts,
    Priority,
    Resolution,
    Transition,
)
from vitalstream.wire.timefmt import format_ts

__all__ = ["decode_alert_event", "decode_alert_state", "encode_alert_event", "encode_alert_state", "explanation_json"]


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
    return {str(key): number(raw, f"{path}.{key}") for key, raw in json_object(value, path).items()}


def _parse_explanation(value: object, path: str) -> AlertExplanation:
    obj = json_object(value, path)
    prefix = path + "."
    vital = optional(obj, "vital")
    measured = optional(obj, "value")
    limit = optional(obj, "limit")
    unit = optional(obj, "unit")
    return AlertExplanation(
        rule=text(required(obj, "rule", prefix), prefix + "rule", 64),
        summary=text(required(obj, "summary", prefix), prefix + "summary"),
        vital=None if vital is None else text(vital, prefix + "vital", 32),
        value=None if measured is None else number(measured, prefix + "value"),
        limit=None if limit is None else number(limit, prefix + "limit"),
        unit=None if unit is None else text(unit, prefix + "unit", 32),
        baseline=_float_map(obj.get("baseline", {}), prefix + "baseline"),
        sqi=_float_map(obj.get("sqi", {}), prefix + "sqi"),
        models={
            str(k): model_ref(v, f"{prefix}models.{k}")
            for k, v in json_object(obj.get("models", {}), prefix + "models").items()
        },
        response=None if (response := obj.get("response")) is None else text(response, prefix + "response"),
        detail=_detail(obj.get("detail", {}), prefix + "detail"),
    )


def _detail(value: object, path: str) -> dict[str, float | str]:
    detail: dict[str, float | str] = {}
    for key, raw in json_object(value, path).items():
        name = text(key, path, 64)
        detail[name] = text(raw, f"{path}.{name}", 500) if isinstance(raw, str) else number(raw, f"{path}.{name}")
    return detail


def _parse_alert(value: object, path: str) -> Alert:
    obj = json_object(value, path)
    p = path + "."
    resolved = optional(obj, "resolved")
    resolution = optional(obj, "resolution")
    acknowledged_by = optional(obj, "acknowledged_by")
    retrospective = obj.get("retrospective", False)
    escalated = obj.get("escalated", False)
    if not isinstance(retrospective, bool):
        raise wrong_type(p + "retrospective", "boolean", retrospective)
    if not isinstance(escalated, bool):
        raise wrong_type(p + "escalated", "boolean", escalated)
    return Alert(
        alert_id=text(required(obj, "alert_id", p), p + "alert_id", 64),
        patient=ident(required(obj, "patient", p), p + "patient"),
        ward=ident(required(obj, "ward", p), p + "ward"),
        device=ident(required(obj, "device", p), p + "device"),
        kind=text(required(obj, "kind", p), p + "kind", 64),
        priority=enum(Priority, required(obj, "priority", p), p + "priority"),
        state=enum(AlertState, required(obj, "state", p), p + "state"),
        onset_ms=timestamp(required(obj, "onset", p), p + "onset"),
        raised_ms=timestamp(required(obj, "raised", p), p + "raised"),
        updated_ms=timestamp(required(obj, "updated", p), p + "updated"),
        explanation=_parse_explanation(required(obj, "explanation", p), p + "explanation"),
        retrospective=retrospective,
        escalated=escalated,
        acknowledged_by=None if acknowledged_by is None else text(acknowledged_by, p + "acknowledged_by", 64),
        resolved_ms=None if resolved is None else timestamp(resolved, p + "resolved"),
        resolution=None if resolution is None else enum(Resolution, resolution, p + "resolution"),
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
    obj = load(payload, MAX_ALERT_BYTES)
    raw_alerts = required(obj, "alerts")
    if not isinstance(raw_alerts, list):
        raise wrong_type("alerts", "array", raw_alerts)
    return PatientAlerts(
        ward=ident(required(obj, "ward"), "ward"),
        patient=ident(required(obj, "patient"), "patient"),
        updated_ms=timestamp(required(obj, "updated"), "updated"),
        alerts=tuple(_parse_alert(raw, f"alerts[{i}]") for i, raw in enumerate(raw_alerts)),
        event_no=integer(obj.get("event_no", 0), "event_no", 0, MAX_SEQ),
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
    obj = load(payload, MAX_ALERT_BYTES)
    by = optional(obj, "by")
    return AlertEvent(
        event_no=integer(required(obj, "event_no"), "event_no", 1, MAX_SEQ),
        transition=enum(Transition, required(obj, "transition"), "transition"),
        ts_ms=timestamp(required(obj, "ts"), "ts"),
        alert=_parse_alert(required(obj, "alert"), "alert"),
        by=None if by is None else text(by, "by", 64),
    )
