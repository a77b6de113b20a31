"""The JSON Schemas of wire contract v1 agree with the codec, which is the source of truth.

Four kinds of evidence: every message the code emits (hand-built, and from a simulated ward run
through the processor core) validates; the schemas and the decoder reject the same bad messages and
accept the same odd-but-valid ones; property tests round-trip generated readings through encoder,
schema and decoder; and the schema files mirror the contract's tables (vitals, channels, enums).
Validation is offline: a ``referencing`` registry holds all six schemas and nothing is fetched.
"""

from __future__ import annotations

import base64
import copy
import json
import string
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

import vitalstream.schemas
from edge_agent.scenarios import parse_scenarios
from edge_agent.simulator import SimulatedWard
from stream_processor.core import ProcessorCore
from vitalstream.schemas import NAMES, load
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream.wire import (
    VITALS,
    Alert,
    AlertAction,
    AlertCommand,
    AlertEvent,
    AlertExplanation,
    AlertState,
    CommandResult,
    CommandStatus,
    DeadLetter,
    PatientAlerts,
    Priority,
    RejectedMessage,
    RejectReason,
    Resolution,
    Rhythm,
    Transition,
    VitalsReading,
    decode_alert_event,
    decode_alert_state,
    decode_command,
    decode_command_result,
    decode_deadletter,
    decode_vitals,
    encode_alert_event,
    encode_alert_state,
    encode_command,
    encode_command_result,
    encode_deadletter,
    encode_vitals,
    topics,
)
from vitalstream.wire.codec import BEAT_CLASSES, MAX_DEADLETTER_PAYLOAD, SQI_CHANNELS
from vitalstream.wire.timefmt import EARLIEST_MS, LATEST_MS, format_ts
from vitalstream.wire.topics import check_id, command_topic, vitals_topic

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


# ---------------------------------------------------------------- every message the code emits validates


FULL_READING = VitalsReading(
    "p-3f2a",
    "d-01",
    seq=42,
    ts_ms=T0 + 123,
    vitals={"hr": 72.0, "spo2": 97.0, "rr": 15.0, "temp": 36.8, "sbp": 121.0, "dbp": 79.0},
    sqi={"ecg": 0.97, "ppg": 0.93, "resp": 0.8, "spo2": 0.9, "temp": 1.0, "bp": 0.75, "acc": 0.0},
    rhythm=Rhythm("AF", 0.87),
    beats={"N": 70, "S": 1, "V": 2, "F": 0, "Q": 1000},
    models={"hr": "hr-cnn@1.4.2", "rhythm": "af-detector@2025.10", "beats": "aami-beats@0.9", "sqi": "sqi-gbm@3"},
)
OPEN_ALERT = Alert(
    alert_id="a-d7088553509bedbe84a5",
    patient="p-3f2a",
    ward="icu",
    device="d-01",
    kind="spo2_low",
    priority=Priority.HIGH,
    state=AlertState.ACTIVE,
    onset_ms=T0,
    raised_ms=T0 + 10_000,
    updated_ms=T0 + 10_000,
    explanation=AlertExplanation(
        rule="hard_limit:spo2_low",
        summary="SpO2 82 % below the hard limit of 85 % for 10 s",
        vital="spo2",
        value=82.0,
        limit=85.0,
        unit="%",
        baseline={"spo2": 96.5},
        sqi={"ppg": 0.93},
        models={"sqi": "sqi-gbm@3"},
    ),
)
CLOSED_ALERT = Alert(
    alert_id="a-0f3c0a1b2c3d4e5f6a7b",
    patient="p-3f2a",
    ward="icu",
    device="d-01",
    kind="rr_high",
    priority=Priority.MEDIUM,
    state=AlertState.RESOLVED,
    onset_ms=T0,
    raised_ms=T0 + 15_000,
    updated_ms=T0 + 60_000,
    explanation=AlertExplanation(rule="hard_limit:rr_high", summary="Respiratory rate 34 /min above 30 /min"),
    retrospective=True,
    escalated=True,
    acknowledged_by="nurse-7",
    resolved_ms=T0 + 60_000,
    resolution=Resolution.FALSE_ALARM,
)
BIG_BINARY = b"\xff\x00" * MAX_DEADLETTER_PAYLOAD  # not UTF-8, and twice the head a dead letter keeps

EMITTED = [
    pytest.param("vitals", encode_vitals(FULL_READING), id="vitals-full"),
    pytest.param("vitals", encode_vitals(VitalsReading("p-1", "d-1", 0, EARLIEST_MS, {})), id="vitals-minimal"),
    pytest.param("vitals", encode_vitals(VitalsReading("p-1", "d-1", 2**63 - 1, LATEST_MS - 1, {})), id="vitals-max"),
    pytest.param(
        "alert_state",
        encode_alert_state(PatientAlerts("icu", "p-3f2a", T0 + 60_000, (OPEN_ALERT, CLOSED_ALERT))),
        id="alert_state-two-alerts",
    ),
    pytest.param("alert_state", encode_alert_state(PatientAlerts("icu", "p-3f2a", T0, ())), id="alert_state-empty"),
    pytest.param(
        "alert_event", encode_alert_event(AlertEvent(1, Transition.RAISED, T0, OPEN_ALERT)), id="event-raised"
    ),
    *(
        pytest.param(
            "alert_event",
            encode_alert_event(AlertEvent(number, transition, T0 + 60_000, CLOSED_ALERT, by="nurse-7")),
            id=f"event-{transition}-by",
        )
        for number, transition in enumerate(Transition, start=2)
    ),
    *(
        pytest.param(
            "command",
            encode_command(AlertCommand("c-1", action, OPEN_ALERT.alert_id, "p-3f2a", "nurse-7", T0, note)),
            id=f"command-{action}-{'note' if note else 'plain'}",
        )
        for action in AlertAction
        for note in (None, "Probe was off the finger; repositioned.")
    ),
    *(
        pytest.param(
            "command_result",
            encode_command_result(
                CommandResult(
                    "c-1",
                    AlertAction.ACKNOWLEDGE,
                    OPEN_ALERT.alert_id,
                    "p-3f2a",
                    status,
                    T0,
                    reason=reason,
                    detail=detail,
                )
            ),
            id=f"command-result-{status}",
        )
        for status, reason, detail in (
            (CommandStatus.APPLIED, None, None),
            (CommandStatus.DUPLICATE, None, None),
            (CommandStatus.REFUSED, "transition_not_allowed", "the alert is already resolved (cleared)"),
        )
    ),
    pytest.param(
        "deadletter",
        encode_deadletter(
            DeadLetter(VITALS_TOPIC, "out_of_range", "vitals.spo2", "104 % is outside 0..100", T0, 5, b"hello")
        ),
        id="deadletter-with-field",
    ),
    pytest.param(
        "deadletter",
        encode_deadletter(DeadLetter("x/y", "too_large", None, "too big", T0, len(BIG_BINARY), BIG_BINARY)),
        id="deadletter-truncated-binary",
    ),
    pytest.param(
        "deadletter",
        encode_deadletter(DeadLetter("vitals", "bad_topic", None, "expected ...", T0, 0, b"")),
        id="deadletter-empty-payload",
    ),
]


@pytest.mark.parametrize(("name", "payload"), EMITTED)
def test_encoded_message_is_schema_valid_and_decodes(name: str, payload: bytes) -> None:
    assert_valid(name, payload)
    decode_emitted(name, payload)


def test_simulated_ward_through_the_processor_emits_only_valid_messages() -> None:
    ward = SimulatedWard(parse_scenarios("tachycardia@2+30,desaturation@3", patients=3), seed=7, start_ms=T0)
    core = ProcessorCore(limits=LimitsSettings(), alerting=AlertingSettings(), ward_of=lambda _patient: "icu")
    readings = ward.readings_until(T0 + 60_000)
    events: list[AlertEvent] = []
    snapshots: list[PatientAlerts] = []
    for reading in readings:
        payload = encode_vitals(reading)
        assert_valid("vitals", payload)
        assert decode_vitals(vitals_topic(reading.patient, reading.device), payload) == reading
        outcome = core.on_reading(reading, now_ms=reading.ts_ms)
        events += outcome.events
        if outcome.snapshot is not None:
            snapshots.append(outcome.snapshot)
    # Something must have happened, or this test would pass on an empty run.
    assert len(readings) == 3 * 61
    raised = {event.alert.kind for event in events if event.transition is Transition.RAISED}
    assert raised == {"hr_high", "spo2_low"}
    assert snapshots

    # A clinician takes the alert that is still open, then resolves it.
    (alert,) = core.open_alerts()
    commands = [
        AlertCommand(
            "c-ack-1", AlertAction.ACKNOWLEDGE, alert.alert_id, alert.patient, "nurse-7", T0 + 61_000, "on it"
        ),
        AlertCommand("c-res-1", AlertAction.RESOLVE, alert.alert_id, alert.patient, "nurse-7", T0 + 90_000),
    ]
    for command in commands:
        payload = encode_command(command)
        assert_valid("command", payload)
        assert decode_command(command_topic("icu", command.patient), payload) == command
        outcome = core.on_command(command)
        events += outcome.events
        assert outcome.snapshot is not None
        snapshots.append(outcome.snapshot)
    assert [event.transition for event in events[-2:]] == [Transition.ACKNOWLEDGED, Transition.RESOLVED]
    assert events[-1].alert.acknowledged_by == "nurse-7"
    assert events[-1].alert.resolution is Resolution.RESOLVED

    for event in events:
        payload = encode_alert_event(event)
        assert_valid("alert_event", payload)
        assert decode_alert_event(payload) == event
    for snapshot in snapshots:
        payload = encode_alert_state(snapshot)
        assert_valid("alert_state", payload)
        assert decode_alert_state(payload) == snapshot


# ---------------------------------------------------------------- schemas and decoder agree on rejections


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
DROP = object()


def changed(name: str, path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    """A copy of ``VALID[name]`` with the field at ``path`` set to ``value`` (or removed, for ``DROP``)."""
    message = copy.deepcopy(VALID[name])
    *parents, last = path
    target: Any = message
    for key in parents:
        target = target[key]
    if value is DROP:
        del target[last]
    else:
        target[last] = value
    return message


@pytest.mark.parametrize("name", sorted(VALID))
def test_the_base_messages_of_the_tables_are_valid(name: str) -> None:
    payload = json.dumps(VALID[name]).encode()
    assert_valid(name, payload)
    DECODERS[name](payload)


def path_of(dotted: str) -> tuple[str | int, ...]:
    """``"alerts.0.resolved"`` -> ``("alerts", 0, "resolved")``; ``""`` is the message itself."""
    return tuple(int(part) if part.isdigit() else part for part in dotted.split(".")) if dotted else ()


def reject(
    case: str,
    name: str,
    path: str,
    value: object,
    reason: RejectReason,
    keyword: str,
    *,
    field: str | None = None,
    at: str | None = None,
) -> Any:
    """One row: set ``path`` to ``value``. The decoder must answer ``reason`` at ``field`` and the schema fail
    ``keyword`` at ``at`` (both default to ``path``)."""
    expected_schema_error = (path_of(path if at is None else at), keyword)
    decoder_field = path if field is None else field
    return pytest.param(name, path_of(path), value, reason, decoder_field, expected_schema_error, id=case)


R = RejectReason
V, C, E, S, D = "vitals", "command", "alert_event", "alert_state", "deadletter"
REJECTED = [
    reject("missing-ts", V, "ts", DROP, R.MISSING_FIELD, "required", at=""),
    reject("missing-v", V, "v", DROP, R.MISSING_FIELD, "required", at=""),
    reject("missing-vitals", V, "vitals", DROP, R.MISSING_FIELD, "required", at=""),
    reject("seq-string", V, "seq", "7", R.WRONG_TYPE, "type"),
    reject("seq-negative", V, "seq", -1, R.OUT_OF_RANGE, "minimum"),
    reject("seq-2**63", V, "seq", 2**63, R.OUT_OF_RANGE, "maximum"),
    reject("spo2-101", V, "vitals.spo2", 101, R.OUT_OF_RANGE, "maximum"),
    reject("temp-9.9", V, "vitals.temp", 9.9, R.OUT_OF_RANGE, "minimum"),
    reject("hr-string", V, "vitals.hr", "72", R.WRONG_TYPE, "type"),
    reject("hr-boolean", V, "vitals.hr", True, R.WRONG_TYPE, "type"),
    reject("hr-huge-integer", V, "vitals.hr", 10**400, R.OUT_OF_RANGE, "maximum"),
    reject("vitals-array", V, "vitals", [72], R.WRONG_TYPE, "type"),
    reject("unknown-vital", V, "vitals.glucose", 5.5, R.UNKNOWN_FIELD, "additionalProperties", at="vitals"),
    reject("unknown-sqi-channel", V, "sqi.eeg", 0.9, R.UNKNOWN_FIELD, "additionalProperties", at="sqi"),
    reject("sqi-1.2", V, "sqi.ecg", 1.2, R.OUT_OF_RANGE, "maximum"),
    reject("id-space", V, "patient", "p 1", R.BAD_ID, "pattern"),
    reject("id-slash", V, "patient", "p/1", R.BAD_ID, "pattern"),
    reject("id-plus", V, "patient", "p+1", R.BAD_ID, "pattern"),
    reject("id-leading-dash", V, "device", "-d1", R.BAD_ID, "pattern"),
    reject("id-non-ascii", V, "device", "d\u00e9-1", R.BAD_ID, "pattern"),
    reject("id-empty", V, "device", "", R.BAD_ID, "pattern"),
    reject("id-65-chars", V, "device", "d" * 65, R.OUT_OF_RANGE, "maxLength"),
    reject("ts-offset", V, "ts", "2026-11-21T11:00:00+01:00", R.BAD_TIMESTAMP, "pattern"),
    reject("ts-space", V, "ts", "2026-11-21 10:00:00Z", R.BAD_TIMESTAMP, "pattern"),
    reject("ts-lowercase-z", V, "ts", "2026-11-21T10:00:00z", R.BAD_TIMESTAMP, "pattern"),
    reject("ts-1999", V, "ts", "1999-12-31T23:59:59Z", R.BAD_TIMESTAMP, "pattern"),
    reject("ts-2100", V, "ts", "2100-01-01T00:00:00Z", R.BAD_TIMESTAMP, "pattern"),
    reject("ts-hour-24", V, "ts", "2026-11-21T24:00:00Z", R.BAD_TIMESTAMP, "pattern"),
    reject("ts-epoch-number", V, "ts", T0, R.WRONG_TYPE, "type"),
    reject("v-2", V, "v", 2, R.UNSUPPORTED_VERSION, "const"),
    reject("v-true", V, "v", True, R.UNSUPPORTED_VERSION, "const"),
    reject("beats-X", V, "beats.X", 1, R.UNKNOWN_FIELD, "additionalProperties", at="beats"),
    reject("beats-1001", V, "beats.V", 1001, R.OUT_OF_RANGE, "maximum"),
    reject("beats-fraction", V, "beats.N", 2.5, R.WRONG_TYPE, "type"),
    reject("rhythm-no-p", V, "rhythm.p", DROP, R.MISSING_FIELD, "required", at="rhythm"),
    reject("rhythm-label-17", V, "rhythm.label", "x" * 17, R.OUT_OF_RANGE, "maxLength"),
    reject("model-no-at", V, "models.hr", "hr-cnn", R.WRONG_TYPE, "pattern"),
    reject("model-no-name", V, "models.hr", "@1.4", R.WRONG_TYPE, "pattern"),
    reject("model-no-version", V, "models.hr", "hr-cnn@", R.WRONG_TYPE, "pattern"),
    reject("model-key-33", V, "models." + "m" * 33, "a@1", R.OUT_OF_RANGE, "maxLength", field="models", at="models"),
    reject("cmd-action", C, "action", "snooze", R.OUT_OF_RANGE, "enum"),
    reject("cmd-by", C, "by", "nurse 7", R.BAD_ID, "pattern"),
    reject("cmd-no-alert-id", C, "alert_id", DROP, R.MISSING_FIELD, "required", at=""),
    reject("cmd-note-501", C, "note", "n" * 501, R.OUT_OF_RANGE, "maxLength"),
    reject("ev-no-0", E, "event_no", 0, R.OUT_OF_RANGE, "minimum"),
    reject("ev-transition", E, "transition", "snoozed", R.OUT_OF_RANGE, "enum"),
    reject("ev-alert-priority", E, "alert.priority", "urgent", R.OUT_OF_RANGE, "enum"),
    reject("ev-alert-no-explanation", E, "alert.explanation", DROP, R.MISSING_FIELD, "required", at="alert"),
    reject("ev-alert-retrospective", E, "alert.retrospective", "no", R.WRONG_TYPE, "type"),
    reject("ev-alert-model", E, "alert.explanation.models.sqi", "sqi-gbm", R.WRONG_TYPE, "pattern"),
    reject("state-alerts-object", S, "alerts", {}, R.WRONG_TYPE, "type"),
    reject("state-ward", S, "ward", "ICU 1", R.BAD_ID, "pattern"),
    reject("state-resolved", S, "alerts.0.resolved", "noon", R.BAD_TIMESTAMP, "anyOf", field="alerts[0].resolved"),
    reject("state-alert-state", S, "alerts.0.state", "open", R.OUT_OF_RANGE, "enum", field="alerts[0].state"),
    reject("dl-base64", D, "payload_b64", "not base64!", R.WRONG_TYPE, "pattern"),
    reject("dl-size", D, "size", -1, R.OUT_OF_RANGE, "minimum"),
    reject("dl-no-detail", D, "detail", DROP, R.MISSING_FIELD, "required", at=""),
]


@pytest.mark.parametrize(("name", "path", "value", "reason", "field", "schema_error"), REJECTED)
def test_schema_and_decoder_reject_the_same_message(
    name: str,
    path: tuple[str | int, ...],
    value: object,
    reason: RejectReason,
    field: str,
    schema_error: tuple[tuple[str | int, ...], str],
) -> None:
    payload = json.dumps(changed(name, path, value)).encode()
    with pytest.raises(RejectedMessage) as rejected:
        DECODERS[name](payload)
    assert (rejected.value.reason, rejected.value.field) == (reason, field)
    assert schema_error in schema_errors(name, json.loads(payload))

    # The rejection travels on as a dead letter, built as the processor builds it; that must be valid too.
    letter = DeadLetter(VITALS_TOPIC, reason.value, field, rejected.value.detail, T0, len(payload), payload)
    assert_valid("deadletter", encode_deadletter(letter))
    assert decode_deadletter(encode_deadletter(letter)).payload == payload


ACCEPTED = [
    pytest.param("vitals", "sqi", None, id="sqi-null"),
    pytest.param("vitals", "rhythm", None, id="rhythm-null"),
    pytest.param("vitals", "beats", None, id="beats-null"),
    pytest.param("vitals", "models", None, id="models-null"),
    pytest.param("vitals", "vitals", {}, id="no-vitals"),
    pytest.param("vitals", "firmware", "2.1.0", id="unknown-top-level-field"),
    pytest.param("vitals", "rhythm.model", "af@1", id="unknown-rhythm-key"),
    pytest.param("vitals", "vitals", {"hr": 0, "spo2": 100, "rr": 120, "temp": 10}, id="range-edges"),
    pytest.param("vitals", "beats", {"N": 0, "S": 1000}, id="beats-edges"),
    pytest.param("vitals", "sqi", {"ecg": 0, "acc": 1}, id="sqi-edges"),
    pytest.param("vitals", "seq", 2**63 - 1, id="seq-max"),
    pytest.param("vitals", "ts", "2026-11-21T10:00:00+00:00", id="ts-plus-zero"),
    pytest.param("vitals", "ts", "2026-11-21T10:00:00Z", id="ts-no-fraction"),
    pytest.param("vitals", "ts", "2026-11-21T10:00:00.123456789Z", id="ts-nanoseconds"),
    pytest.param("vitals", "ts", "2000-01-01T00:00:00Z", id="ts-earliest"),
    pytest.param("vitals", "ts", "2099-12-31T23:59:59.999Z", id="ts-latest"),
    pytest.param("vitals", "models.hr", "hr-cnn@1.4@rc1", id="model-version-with-at"),
    pytest.param("vitals", "device", "D_0.a-" + "x" * 58, id="id-64-chars"),
    pytest.param("command", "note", None, id="cmd-note-null"),
    pytest.param("command", "note", DROP, id="cmd-no-note"),
    pytest.param("alert_event", "by", None, id="ev-by-null"),
    pytest.param("alert_event", "alert.retrospective", DROP, id="ev-alert-no-retrospective"),
    pytest.param("alert_event", "alert.acknowledged_by", None, id="ev-alert-ack-null"),
    pytest.param("alert_event", "alert.resolution", None, id="ev-alert-resolution-null"),
    pytest.param("alert_event", "alert.resolved", "2026-11-21T10:02:00Z", id="ev-alert-resolved"),
    pytest.param("alert_event", "alert.explanation.vital", None, id="ev-explanation-vital-null"),
    pytest.param("alert_event", "alert.explanation.why", "x", id="ev-explanation-unknown-key"),
    pytest.param("alert_state", "alerts", [], id="state-no-alerts"),
    pytest.param("deadletter", "field", None, id="dl-field-null"),
    pytest.param("deadletter", "truncated", DROP, id="dl-no-truncated"),
    pytest.param("deadletter", "payload_b64", "", id="dl-empty-payload"),
]


@pytest.mark.parametrize(("name", "path", "value"), ACCEPTED)
def test_schema_and_decoder_accept_the_same_unusual_message(name: str, path: str, value: object) -> None:
    payload = json.dumps(changed(name, path_of(path), value)).encode()
    assert_valid(name, payload)
    decode_emitted(name, payload)


BEYOND_JSON_SCHEMA = [
    pytest.param('"seq":1,"ts":"%s","vitals":{"hr":NaN}', R.NOT_FINITE, id="nan"),
    pytest.param('"seq":1,"ts":"%s","vitals":{"sbp":80,"dbp":80}', R.INCONSISTENT, id="dbp-equals-sbp"),
    pytest.param('"seq":1.0,"ts":"%s","vitals":{}', R.WRONG_TYPE, id="seq-1.0"),
    pytest.param('"seq":1,"ts":"2026-02-30T10:00:00Z","vitals":{}', R.BAD_TIMESTAMP, id="february-30"),
]


@pytest.mark.parametrize(("rest", "reason"), BEYOND_JSON_SCHEMA)
def test_rules_json_schema_cannot_express_are_left_to_the_decoder(rest: str, reason: RejectReason) -> None:
    """These rules are in the schemas' descriptions only; if a schema ever catches one, move it to REJECTED."""
    payload = ('{"v":1,"patient":"p-1","device":"d-1",' + rest.replace("%s", TS) + "}").encode()
    assert_valid("vitals", payload)
    with pytest.raises(RejectedMessage) as rejected:
        DECODERS["vitals"](payload)
    assert rejected.value.reason is reason


def test_payload_must_match_its_topic_which_no_schema_sees() -> None:
    payload = json.dumps({**VALID["vitals"], "patient": "p-2"}).encode()
    assert_valid("vitals", payload)
    with pytest.raises(RejectedMessage) as rejected:
        decode_vitals(VITALS_TOPIC, payload)
    assert rejected.value.reason is RejectReason.TOPIC_MISMATCH


@pytest.mark.parametrize(
    ("topic", "vitals"),
    [
        pytest.param(VITALS_TOPIC, {"x" * 300: 1}, id="long-unknown-vital-key"),
        pytest.param("vitals/v1/" + "p" * 2000 + "/d-1", {}, id="long-topic"),
    ],
)
def test_dead_letter_of_a_hostile_message_stays_within_the_contract(topic: str, vitals: dict[str, Any]) -> None:
    payload = json.dumps({**VALID["vitals"], "vitals": vitals}).encode()
    with pytest.raises(RejectedMessage) as rejected:
        decode_vitals(topic, payload)
    exc = rejected.value
    letter = DeadLetter(topic, exc.reason.value, exc.field, exc.detail, T0, len(payload), payload)
    encoded = encode_deadletter(letter)
    assert not schema_errors("deadletter", json.loads(encoded))
    assert decode_deadletter(encoded).reason == exc.reason.value


# ---------------------------------------------------------------- property tests

ALNUM = string.ascii_letters + string.digits
identifiers = st.builds(str.__add__, st.sampled_from(ALNUM), st.text(alphabet=ALNUM + "_.-", max_size=63))
model_refs = st.builds(
    lambda name, version: f"{name}@{version}",
    st.text(st.characters(codec="utf-8", exclude_characters="@"), min_size=1, max_size=63),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=64),
)


def vital_value(key: str, *, below: float | None = None) -> st.SearchStrategy[float]:
    spec = VITALS[key]
    if below is None:
        return st.floats(spec.low, spec.high)
    return st.floats(spec.low, min(spec.high, below), exclude_max=below <= spec.high)


@st.composite
def vitals_maps(draw: st.DrawFn) -> dict[str, float]:
    vitals = {key: draw(vital_value(key)) for key in VITALS if key != "dbp" and draw(st.booleans())}
    if draw(st.booleans()):
        # The decoder insists on dbp < sbp when both are present.
        vitals["dbp"] = draw(vital_value("dbp", below=vitals.get("sbp")))
    return vitals


readings = st.builds(
    VitalsReading,
    patient=identifiers,
    device=identifiers,
    seq=st.integers(0, 2**63 - 1),
    ts_ms=st.integers(EARLIEST_MS, LATEST_MS - 1),
    vitals=vitals_maps(),
    sqi=st.dictionaries(st.sampled_from(sorted(SQI_CHANNELS)), st.floats(0.0, 1.0)),
    rhythm=st.none() | st.builds(Rhythm, label=st.text(max_size=16), p=st.floats(0.0, 1.0)),
    beats=st.dictionaries(st.sampled_from(sorted(BEAT_CLASSES)), st.integers(0, 1000)),
    models=st.dictionaries(st.text(max_size=32), model_refs, max_size=4),
)
# Derandomized and without an example database: the same examples on every run, nothing written to disk.
deterministic = settings(max_examples=200, derandomize=True, database=None, deadline=None)


@deterministic
@given(readings)
def test_generated_readings_are_schema_valid_and_round_trip(reading: VitalsReading) -> None:
    payload = encode_vitals(reading)
    assert not schema_errors("vitals", json.loads(payload))
    assert decode_vitals(vitals_topic(reading.patient, reading.device), payload) == reading


@deterministic
@given(st.text(max_size=70) | st.text(alphabet=ALNUM + "_.-/+# \u00e9", max_size=70))
def test_schema_identifier_pattern_agrees_with_check_id(text: str) -> None:
    # ECMA-262's $ matches only at the very end, but Python's re (which jsonschema uses) also matches
    # before a final newline; such strings are outside what this Python validator can judge faithfully.
    assume(not text.endswith("\n"))
    try:
        check_id(text, field="patient")
    except RejectedMessage:
        decoder_accepts = False
    else:
        decoder_accepts = True
    errors = schema_errors("vitals", {**VALID["vitals"], "patient": text})
    schema_accepts = not any(path == ("patient",) for path, _ in errors)
    assert schema_accepts == decoder_accepts


@deterministic
@given(st.integers(0, EARLIEST_MS - 1) | st.integers(LATEST_MS, 253_402_300_799_999))
def test_timestamps_outside_2000_to_2099_are_rejected_by_both(ms: int) -> None:
    message = {**VALID["vitals"], "ts": format_ts(ms)}
    assert (("ts",), "pattern") in schema_errors("vitals", message)
    with pytest.raises(RejectedMessage) as rejected:
        DECODERS["vitals"](json.dumps(message).encode())
    assert rejected.value.reason is RejectReason.BAD_TIMESTAMP


# ---------------------------------------------------------------- the schema files themselves


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_draft_2020_12_with_its_urn(name: str) -> None:
    schema = SCHEMAS[name]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == URN + name
    assert schema["title"].strip()
    assert len(schema["description"]) > 100


def _strings_under(node: object, key: str | None = None) -> list[tuple[str | None, str]]:
    if isinstance(node, dict):
        return [pair for k, v in node.items() for pair in _strings_under(v, k)]
    if isinstance(node, list):
        return [pair for item in node for pair in _strings_under(item, key)]
    return [(key, node)] if isinstance(node, str) else []


@pytest.mark.parametrize("name", NAMES)
def test_schema_names_no_web_host_and_refers_only_by_urn(name: str) -> None:
    for key, text in _strings_under(SCHEMAS[name]):
        if key == "$ref":
            assert text.startswith(("#/$defs/", URN)), text
        if key != "$schema":  # the draft 2020-12 dialect's own identifier, which validators know built in
            assert "://" not in text, (key, text)
            assert "www." not in text, (key, text)


def test_alert_schemas_refer_to_the_alert_schema_instead_of_copying_it() -> None:
    alert_ref = {"$ref": URN + "alert"}
    assert SCHEMAS["alert_state"]["properties"]["alerts"]["items"] == alert_ref
    assert SCHEMAS["alert_event"]["properties"]["alert"]["$ref"] == URN + "alert"
    for name in ("alert_state", "alert_event"):
        assert "explanation" not in json.dumps(SCHEMAS[name])


def test_shared_definitions_are_identical_in_every_schema() -> None:
    for definition in ("identifier", "timestamp", "modelRef"):
        copies = [s["$defs"][definition] for s in SCHEMAS.values() if definition in s.get("$defs", {})]
        assert len(copies) >= 2
        assert all(copy_ == copies[0] for copy_ in copies), definition
    assert SCHEMAS["vitals"]["$defs"]["identifier"]["pattern"] == f"^{topics._ID.pattern}$"


def test_top_level_objects_are_open_but_vitals_sqi_and_beats_are_closed() -> None:
    for name in ("vitals", "alert", "alert_state", "alert_event", "command", "deadletter"):
        assert SCHEMAS[name].get("additionalProperties", True) is True, name
    properties = SCHEMAS["vitals"]["properties"]
    for closed in ("vitals", "sqi", "beats"):
        assert properties[closed]["additionalProperties"] is False, closed
    assert set(properties["sqi"]["properties"]) == SQI_CHANNELS
    assert set(properties["beats"]["properties"]) == BEAT_CLASSES


@pytest.mark.parametrize("key", sorted(VITALS))
def test_vital_entry_mirrors_the_vitals_table(key: str) -> None:
    spec = VITALS[key]
    entry = SCHEMAS["vitals"]["properties"]["vitals"]["properties"][key]
    assert (entry["type"], float(entry["minimum"]), float(entry["maximum"])) == ("number", spec.low, spec.high)
    assert (entry["x-loinc"], entry["x-ucum"], entry["title"]) == (spec.loinc, spec.ucum, spec.name)
    assert f"LOINC {spec.loinc}" in entry["description"]
    assert f"UCUM {spec.ucum}" in entry["description"]
    assert set(SCHEMAS["vitals"]["properties"]["vitals"]["properties"]) == set(VITALS)


def test_enums_mirror_the_message_types() -> None:
    alert = SCHEMAS["alert"]["properties"]
    assert alert["priority"]["enum"] == [member.value for member in Priority]
    assert alert["state"]["enum"] == [member.value for member in AlertState]
    assert alert["resolution"]["enum"] == [*(member.value for member in Resolution), None]
    assert SCHEMAS["alert_event"]["properties"]["transition"]["enum"] == [member.value for member in Transition]
    assert SCHEMAS["command"]["properties"]["action"]["enum"] == [member.value for member in AlertAction]
    deadletter_reasons = SCHEMAS["deadletter"]["properties"]["reason"]["description"]
    assert all(reason.value in deadletter_reasons for reason in RejectReason)


def test_load_knows_exactly_the_shipped_files() -> None:
    shipped = {
        entry.name.removesuffix(".schema.json")
        for entry in resources.files(vitalstream.schemas).iterdir()
        if entry.name.endswith(".schema.json")
    }
    assert shipped == set(NAMES)
    assert load("vitals") is not load("vitals")  # callers may mutate their copy
    with pytest.raises(ValueError, match="unknown schema"):
        load("../pyproject")


def test_all_is_sorted_and_complete() -> None:
    module = vitalstream.schemas
    defined_here = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and (name.isupper() or getattr(value, "__module__", None) == module.__name__)
    }
    assert module.__all__ == sorted(module.__all__)
    assert set(module.__all__) == defined_here == {"NAMES", "load"}
