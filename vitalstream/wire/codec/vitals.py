"""Vitals readings (``vitals/v1/{patient}/{device}``): the 1 Hz message, and the codec's hot path.

Unknown keys inside ``vitals`` are rejected, unlike unknown top-level fields: their unit is unknown to
this reader, and a vital silently dropped is worse than a message sent to the dead-letter topic.

``faults`` (the outputs the device withheld this second, and why) is an optional top-level field that
readers from before it ignore; this reader checks every key and code, since the storage turns each
key into a field name.
"""

from __future__ import annotations

import re

import orjson

from vitalstream.wire.codec.fields import (
    MAX_SEQ,
    MAX_VITALS_BYTES,
    JsonObject,
    enum,
    fraction,
    ident,
    integer,
    json_object,
    load,
    model_refs,
    number,
    required,
    short,
    text,
    timestamp,
)
from vitalstream.wire.errors import RejectedMessage, RejectReason
from vitalstream.wire.messages import SCHEMA_VERSION, Fault, Rhythm, VitalsReading
from vitalstream.wire.timefmt import format_ts
from vitalstream.wire.topics import parse_vitals_topic
from vitalstream.wire.vitals import VITALS

__all__ = ["BEAT_CLASSES", "MAX_BEATS", "OUTPUT_NAME", "RUN_CLASSES", "SQI_CHANNELS", "decode_vitals", "encode_vitals"]

SQI_CHANNELS = frozenset({"ecg", "ppg", "resp", "spo2", "temp", "bp", "acc"})
BEAT_CLASSES = frozenset({"N", "S", "V", "F", "Q"})
RUN_CLASSES = frozenset({"V", "S"})
MAX_BEATS = 1000  # beats of a class in one reading, and the longest run it may report
# An output name as in ``models`` (hr, rhythm, ppg_hr, ...): lower-case, so that it can become part of a
# storage field name (``fault_ppg_hr``) without escaping.
OUTPUT_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


def decode_vitals(topic: str, payload: bytes | bytearray) -> VitalsReading:
    """Decode and validate one vitals reading that arrived on ``topic``.

    This runs for every reading the processor receives (10,000 a second), so the checks for the common,
    valid shape are written out inline; anything unusual goes through the field readers, which name the
    field and the fault.
    """
    topic_patient, topic_device = parse_vitals_topic(topic)
    obj = load(payload, MAX_VITALS_BYTES)

    # Equal to the topic's already validated identifier (the common case), or wrong in some way that
    # the field reader names precisely before the mismatch is reported.
    if obj.get("patient") != topic_patient and ident(required(obj, "patient"), "patient") != topic_patient:
        raise RejectedMessage(RejectReason.TOPIC_MISMATCH, "patient", "payload patient differs from the topic's")
    if obj.get("device") != topic_device and ident(required(obj, "device"), "device") != topic_device:
        raise RejectedMessage(RejectReason.TOPIC_MISMATCH, "device", "payload device differs from the topic's")
    seq = obj.get("seq")
    if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
        seq = integer(required(obj, "seq"), "seq", 0, MAX_SEQ)
    ts_ms = timestamp(required(obj, "ts"), "ts")

    sqi = obj.get("sqi")
    rhythm = obj.get("rhythm")
    beats = obj.get("beats")
    models = obj.get("models")
    runs = obj.get("runs")
    faults = obj.get("faults")
    return VitalsReading(
        topic_patient,
        topic_device,
        seq,
        ts_ms,
        vitals=_vitals(required(obj, "vitals")),
        sqi={} if sqi is None else _sqi(sqi),
        rhythm=None if rhythm is None else _rhythm(rhythm),
        beats={} if beats is None else _beats(beats),
        models={} if models is None else model_refs(models),
        runs={} if runs is None else _runs(runs),
        faults={} if faults is None else _faults(faults),
    )


def _vitals(raw: object) -> dict[str, float]:
    vitals: dict[str, float] = {}
    for key, raw_value in json_object(raw, "vitals").items():
        spec = VITALS.get(key)
        kind = type(raw_value)
        if spec is not None and (kind is float or kind is int) and spec.low <= raw_value <= spec.high:
            vitals[key] = float(raw_value)  # the common case: a known vital, a plain number in range
            continue
        path = f"vitals.{key}"
        if spec is None:
            raise RejectedMessage(RejectReason.UNKNOWN_FIELD, path, f"not a v1 vital (known: {', '.join(VITALS)})")
        value = number(raw_value, path)
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
        for channel, value in json_object(raw, "sqi").items():
            if channel in SQI_CHANNELS and type(value) is float and 0.0 <= value <= 1.0:
                sqi[channel] = value
                continue
            if channel not in SQI_CHANNELS:
                raise RejectedMessage(RejectReason.UNKNOWN_FIELD, f"sqi.{channel}", "not a known channel")
            sqi[channel] = fraction(value, f"sqi.{channel}")
    return sqi


def _rhythm(raw: object) -> Rhythm | None:
    if raw is None:
        return None
    obj = json_object(raw, "rhythm")
    return Rhythm(
        label=text(required(obj, "label", "rhythm."), "rhythm.label", 16),
        p=fraction(required(obj, "p", "rhythm."), "rhythm.p"),
    )


def _beats(raw: object) -> dict[str, int]:
    beats: dict[str, int] = {}
    if raw is not None:
        for beat_class, value in json_object(raw, "beats").items():
            if beat_class not in BEAT_CLASSES:
                raise RejectedMessage(RejectReason.UNKNOWN_FIELD, f"beats.{beat_class}", "not an AAMI class N S V F Q")
            beats[beat_class] = integer(value, f"beats.{beat_class}", 0, MAX_BEATS)
    return beats


def _runs(raw: object) -> dict[str, int]:
    runs: dict[str, int] = {}
    if raw is not None:
        for beat_class, value in json_object(raw, "runs").items():
            if beat_class not in RUN_CLASSES:
                raise RejectedMessage(RejectReason.UNKNOWN_FIELD, f"runs.{beat_class}", "runs are counted for V and S")
            runs[beat_class] = integer(value, f"runs.{beat_class}", 0, MAX_BEATS)
    return runs


def _faults(raw: object) -> dict[str, Fault]:
    faults: dict[str, Fault] = {}
    for output, code in json_object(raw, "faults").items():
        if not OUTPUT_NAME.fullmatch(output):
            if len(output) > 32:
                raise RejectedMessage(RejectReason.OUT_OF_RANGE, "faults", f"output name {short(output)} is too long")
            detail = f"{short(output)} is not an output name (a-z, 0-9, _; a letter first)"
            raise RejectedMessage(RejectReason.WRONG_TYPE, "faults", detail)
        faults[output] = enum(Fault, code, f"faults.{output}")
    return faults


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
    if reading.faults:
        obj["faults"] = {output: str(fault) for output, fault in reading.faults.items()}
    return orjson.dumps(obj)
