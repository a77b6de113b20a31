"""The JSON Schemas and the decoders reject the same bad messages and accept the same odd-but-valid ones.

What JSON Schema cannot express (non-finite numbers, diastolic below systolic, calendar dates, the
topic) is left to the decoder, and every rejection still makes a dead letter within the contract.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.schema_checks import (
    DECODERS,
    REGISTRY,
    SCHEMAS,
    T0,
    TS,
    VALID,
    VITALS_TOPIC,
    assert_valid,
    decode_emitted,
    schema_errors,
)
from vitalstream.wire import (
    DeadLetter,
    RejectedMessage,
    RejectReason,
    decode_deadletter,
    decode_vitals,
    encode_deadletter,
)

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
    reject("faults-array", V, "faults", ["sqi"], R.WRONG_TYPE, "type"),
    reject("faults-code", V, "faults.sqi", "crashed", R.OUT_OF_RANGE, "enum"),
    reject("faults-code-number", V, "faults.sqi", 1, R.WRONG_TYPE, "enum"),
    reject("faults-key-upper", V, "faults.SQI", "model_error", R.WRONG_TYPE, "pattern", field="faults", at="faults"),
    reject("faults-key-digit", V, "faults.2nd", "model_error", R.WRONG_TYPE, "pattern", field="faults", at="faults"),
    reject(
        "faults-key-33", V, "faults." + "m" * 33, "input_gap", R.OUT_OF_RANGE, "maxLength", field="faults", at="faults"
    ),
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
    pytest.param("vitals", "faults", None, id="faults-null"),
    pytest.param("vitals", "faults", {}, id="faults-empty"),
    pytest.param("vitals", "faults", {"ppg_hr": "model_error", "rhythm": "input_gap"}, id="faults-both-codes"),
    pytest.param("vitals", "faults." + "m" * 32, "model_error", id="faults-key-32"),
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


def test_the_schema_from_before_faults_accepts_readings_that_carry_them() -> None:
    """``faults`` was added within v1: an integrator validating with the older schema still accepts the reading."""
    older = copy.deepcopy(SCHEMAS["vitals"])
    del older["properties"]["faults"]
    message = changed("vitals", ("faults",), {"ppg_hr": "model_error", "rhythm": "input_gap"})
    assert not list(Draft202012Validator(older, registry=REGISTRY).iter_errors(message))
    assert schema_errors("vitals", changed("vitals", ("faults",), {"ppg_hr": "withheld"}))  # the current one checks
