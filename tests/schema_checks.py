"""What the ``test_schema_*`` modules share: a validator per v1 JSON Schema, the decoder of each message,
and the valid base messages (``VALID``) that the rejection tables and property tests vary.

The codec is the source of truth; the schemas describe it for integrators, and these modules check
that the two agree. Validation is offline: a ``referencing`` registry holds all the schemas and
nothing is fetched.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from vitalstream.schemas import NAMES, load
from vitalstream.wire import (
    decode_alert_event,
    decode_alert_state,
    decode_command,
    decode_command_result,
    decode_deadletter,
    decode_vitals,
)
from vitalstream.wire.topics import command_topic, vitals_topic

URN = "urn:vitalstream:schema:v1:"
SCHEMAS: dict[str, dict[str, Any]] = {name: load(name) for name in NAMES}
REGISTRY: Registry[Any] = Registry().with_resources(
    (schema["$id"], DRAFT202012.create_resource(schema)) for schema in SCHEMAS.values()
)
VALIDATORS = {name: Draft202012Validator(schema, registry=REGISTRY) for name, schema in SCHEMAS.items()}

T0 = 1_790_000_000_000
TS = "2026-11-21T10:00:00.000Z"
VITALS_TOPIC = "vitals/v1/p-1/d-1"
COMMAND_TOPIC = "commands/v1/icu/p-1"
DECODERS: dict[str, Callable[[bytes], object]] = {
    "vitals": lambda payload: decode_vitals(VITALS_TOPIC, payload),
    "alert_state": decode_alert_state,
    "alert_event": decode_alert_event,
    "command": lambda payload: decode_command(COMMAND_TOPIC, payload),
    "command_result": decode_command_result,
    "deadletter": decode_deadletter,
}


def schema_errors(name: str, instance: object) -> set[tuple[tuple[str | int, ...], str]]:
    """Every schema violation as (path in the message, failing keyword)."""
    return {(tuple(error.absolute_path), str(error.validator)) for error in VALIDATORS[name].iter_errors(instance)}


def assert_valid(name: str, payload: bytes) -> None:
    errors = sorted(VALIDATORS[name].iter_errors(json.loads(payload)), key=lambda e: list(map(str, e.absolute_path)))
    assert not errors, [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def decode_emitted(name: str, payload: bytes) -> object:
    """Decode an emitted message; topics are derived from the payload, as its publisher would have chosen them."""
    obj = json.loads(payload)
    if name == "vitals":
        return decode_vitals(vitals_topic(obj["patient"], obj["device"]), payload)
    if name == "command":
        return decode_command(command_topic("icu", obj["patient"]), payload)
    return DECODERS[name](payload)


ALERT: dict[str, Any] = {
    "alert_id": "a-d7088553509bedbe84a5",
    "patient": "p-1",
    "ward": "icu",
    "device": "d-1",
    "kind": "spo2_low",
    "priority": "high",
    "state": "acknowledged",
    "onset": TS,
    "raised": "2026-11-21T10:00:10.000Z",
    "updated": "2026-11-21T10:01:00.000Z",
    "retrospective": False,
    "escalated": False,
    "acknowledged_by": "nurse-7",
    "explanation": {
        "rule": "hard_limit:spo2_low",
        "summary": "SpO2 82 % below the hard limit of 85 % for 10 s",
        "vital": "spo2",
        "value": 82,
        "limit": 85,
        "unit": "%",
        "sqi": {"ppg": 0.93},
        "models": {"sqi": "sqi-gbm@3"},
    },
}
VALID: dict[str, dict[str, Any]] = {
    "vitals": {
        "v": 1,
        "patient": "p-1",
        "device": "d-1",
        "seq": 7,
        "ts": TS,
        "vitals": {"hr": 72, "spo2": 97, "rr": 15, "temp": 36.8, "sbp": 120, "dbp": 80},
        "sqi": {"ecg": 0.95, "ppg": 0.9},
        "rhythm": {"label": "N", "p": 0.93},
        "beats": {"N": 71, "V": 1},
        "models": {"hr": "hr-cnn@1.4.2", "rhythm": "af-detector@2025.10"},
        "faults": {"sqi": "model_error"},
    },
    "alert_state": {"v": 1, "ward": "icu", "patient": "p-1", "updated": TS, "alerts": [ALERT]},
    "alert_event": {"v": 1, "event_no": 12, "transition": "acknowledged", "ts": TS, "alert": ALERT, "by": "nurse-7"},
    "command": {
        "v": 1,
        "command_id": "c-0001",
        "action": "acknowledge",
        "alert_id": "a-d7088553509bedbe84a5",
        "patient": "p-1",
        "by": "nurse-7",
        "ts": TS,
        "note": "on my way",
    },
    "deadletter": {
        "v": 1,
        "topic": VITALS_TOPIC,
        "reason": "out_of_range",
        "field": "vitals.spo2",
        "detail": "104 % is outside 0..100",
        "received": TS,
        "size": 5,
        "truncated": False,
        "payload_b64": base64.b64encode(b"hello").decode(),
    },
}
