"""Observations (``observations/v1/{patient}/{source}``): the NEWS2 inputs a wearable cannot provide,
entered by a nurse or another device.

Their numbers are range-checked against the same vitals table as readings; the other values (on oxygen,
SpO2 scale, consciousness) have their own closed sets.
"""

from __future__ import annotations

import orjson

from vitalstream.wire.codec.fields import (
    MAX_COMMAND_BYTES,
    JsonObject,
    ident,
    integer,
    json_object,
    load,
    number,
    required,
    short,
    text,
    timestamp,
    wrong_type,
)
from vitalstream.wire.errors import RejectedMessage, RejectReason
from vitalstream.wire.messages import SCHEMA_VERSION, Observation
from vitalstream.wire.timefmt import format_ts
from vitalstream.wire.topics import parse_observations_topic
from vitalstream.wire.vitals import VITALS

__all__ = ["decode_observation", "encode_observation"]

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
    obj = load(payload, MAX_COMMAND_BYTES)
    patient = ident(required(obj, "patient"), "patient")
    source = ident(required(obj, "source"), "source")
    if (patient, source) != (topic_patient, topic_source):
        field = "patient" if patient != topic_patient else "source"
        raise RejectedMessage(RejectReason.TOPIC_MISMATCH, field, f"payload {field} differs from the topic's")
    values: dict[str, float | str | bool] = {}
    for key, raw in json_object(required(obj, "values"), "values").items():
        path = f"values.{key}"
        if key in _OBSERVATION_NUMBERS:
            spec = VITALS[_OBSERVATION_NUMBERS[key]]
            measured = number(raw, path)
            if not spec.contains(measured):
                raise RejectedMessage(
                    RejectReason.OUT_OF_RANGE,
                    path,
                    f"{measured:g} {spec.ucum} is outside {spec.low:g}..{spec.high:g}",
                )
            values[key] = measured
        elif key == "on_oxygen":
            if not isinstance(raw, bool):
                raise wrong_type(path, "boolean", raw)
            values[key] = raw
        elif key == "spo2_scale":
            values[key] = integer(raw, path, 1, 2)
        elif key == "consciousness":
            level = text(raw, path, 1)
            if level not in {"A", "C", "V", "P", "U"}:
                raise RejectedMessage(RejectReason.OUT_OF_RANGE, path, f"{short(level)} is not one of A, C, V, P, U")
            values[key] = level
        else:
            known = ", ".join([*_OBSERVATION_NUMBERS, "on_oxygen", "spo2_scale", "consciousness"])
            raise RejectedMessage(RejectReason.UNKNOWN_FIELD, path, f"not an observation (known: {known})")
    by = obj.get("by")
    return Observation(
        patient=patient,
        source=source,
        ts_ms=timestamp(required(obj, "ts"), "ts"),
        values=values,
        by=None if by is None else ident(by, "by"),
    )
