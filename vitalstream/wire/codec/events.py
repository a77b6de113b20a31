"""Edge events (``events/v1/{patient}/{device}``): something the edge saw (AF onset, a run of
ventricular beats, signal loss), with the waveform snippets around it.

Events are the only messages carrying binary samples, so they have their own, larger size limit and the
waveform checks (encoding, sample rate, whole int16 samples, at most two minutes per snippet).
"""

from __future__ import annotations

import base64
import re

import orjson

from vitalstream.wire.codec.fields import (
    MAX_EVENT_BYTES,
    JsonObject,
    ident,
    json_object,
    load,
    model_refs,
    number,
    required,
    short,
    text,
    timestamp,
    wrong_type,
)
from vitalstream.wire.errors import RejectedMessage, RejectReason
from vitalstream.wire.messages import SCHEMA_VERSION, EdgeEvent, Waveform
from vitalstream.wire.timefmt import format_ts
from vitalstream.wire.topics import parse_events_topic

__all__ = ["decode_event", "encode_event"]

_MAX_WAVEFORM_S = 120
_EVENT_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")


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
    obj = json_object(value, path)
    p = path + "."
    encoding = text(required(obj, "encoding", p), p + "encoding", 32)
    if encoding != "int16le-base64":
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, p + "encoding", "only int16le-base64 is defined in v1")
    fs = number(required(obj, "fs", p), p + "fs")
    if not 1.0 <= fs <= 10_000.0:
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, p + "fs", f"{fs:g} Hz is outside 1..10000")
    raw = text(required(obj, "data", p), p + "data", MAX_EVENT_BYTES)
    try:
        data = base64.b64decode(raw, validate=True)
    except ValueError:
        raise wrong_type(p + "data", "base64", raw) from None
    if len(data) % 2 or len(data) // 2 > fs * _MAX_WAVEFORM_S:
        raise RejectedMessage(
            RejectReason.OUT_OF_RANGE, p + "data", f"not whole int16 samples or over {_MAX_WAVEFORM_S} s"
        )
    scale = number(required(obj, "scale", p), p + "scale")
    if scale <= 0:
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, p + "scale", "must be positive")
    kind = text(required(obj, "kind", p), p + "kind", 8)
    if kind not in {"ecg", "ppg", "resp"}:
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, p + "kind", f"{short(kind)} is not one of ecg, ppg, resp")
    return Waveform(
        kind=kind,
        lead=text(required(obj, "lead", p), p + "lead", 16),
        fs=fs,
        start_ms=timestamp(required(obj, "start", p), p + "start"),
        scale=scale,
        unit=text(required(obj, "unit", p), p + "unit", 16),
        data=data,
    )


def decode_event(topic: str, payload: bytes | bytearray) -> EdgeEvent:
    """Decode an edge event from ``events/v1/{patient}/{device}``."""
    topic_patient, topic_device = parse_events_topic(topic)
    obj = load(payload, MAX_EVENT_BYTES)
    patient = ident(required(obj, "patient"), "patient")
    device = ident(required(obj, "device"), "device")
    if (patient, device) != (topic_patient, topic_device):
        field = "patient" if patient != topic_patient else "device"
        raise RejectedMessage(RejectReason.TOPIC_MISMATCH, field, f"payload {field} differs from the topic's")
    kind = text(required(obj, "kind"), "kind", 32)
    if not _EVENT_KIND.fullmatch(kind):
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, "kind", "must be lower_snake_case, at most 32 characters")
    detail: dict[str, float | str] = {}
    for key, raw in json_object(obj.get("detail", {}), "detail").items():
        detail[text(key, "detail", 32)] = raw if isinstance(raw, str) else number(raw, f"detail.{key}")
    raw_waves = obj.get("waveforms", [])
    if not isinstance(raw_waves, list) or len(raw_waves) > 8:
        raise wrong_type("waveforms", "array of at most 8 waveforms", raw_waves)
    return EdgeEvent(
        event_id=ident(required(obj, "event_id"), "event_id"),
        patient=patient,
        device=device,
        kind=kind,
        ts_ms=timestamp(required(obj, "ts"), "ts"),
        detail=detail,
        models=model_refs(obj.get("models")),
        waveforms=tuple(_parse_waveform(w, f"waveforms[{i}]") for i, w in enumerate(raw_waves)),
    )
