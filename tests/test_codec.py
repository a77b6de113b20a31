"""The wire codec: round trips, and a precise reason for every way a message can be wrong."""

from __future__ import annotations

import json
import operator

import jsonschema
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vitalstream.schemas import load
from vitalstream.wire import (
    Alert,
    AlertAction,
    AlertCommand,
    AlertEvent,
    AlertExplanation,
    AlertState,
    DeadLetter,
    Fault,
    Observation,
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
    decode_deadletter,
    decode_observation,
    decode_vitals,
    encode_alert_event,
    encode_alert_state,
    encode_command,
    encode_deadletter,
    encode_observation,
    encode_vitals,
    format_ts,
    parse_ts,
)
from vitalstream.wire.codec import BEAT_CLASSES, MAX_DEADLETTER_PAYLOAD, MAX_VITALS_BYTES, SQI_CHANNELS
from vitalstream.wire.timefmt import EARLIEST_MS, LATEST_MS

T0 = 1_790_000_000_000
TOPIC = "vitals/v1/p-1/d-1"


def reading(**changes: object) -> VitalsReading:
    base: dict[str, object] = {
        "patient": "p-1",
        "device": "d-1",
        "seq": 41,
        "ts_ms": T0,
        "vitals": {"hr": 72.0, "spo2": 97.0, "rr": 15.0, "temp": 36.8, "sbp": 120.0, "dbp": 80.0},
        "sqi": {"ecg": 0.97, "ppg": 0.9},
        "rhythm": Rhythm("N", 0.98),
        "beats": {"N": 1, "V": 0},
        "models": {"hr": "qrs@1.0.0", "rhythm": "af-rr@1.2.0"},
    }
    base.update(changes)
    return VitalsReading(**base)  # type: ignore[arg-type]


def payload(**changes: object) -> bytes:
    obj = json.loads(encode_vitals(reading()))
    for key, value in changes.items():
        if value is _DELETE:
            del obj[key]
        else:
            obj[key] = value
    return json.dumps(obj).encode()


_DELETE = object()


def rejected(topic: str, data: bytes) -> RejectedMessage:
    with pytest.raises(RejectedMessage) as caught:
        decode_vitals(topic, data)
    return caught.value


def test_vitals_round_trip_keeps_every_field() -> None:
    original = reading()
    assert decode_vitals(TOPIC, encode_vitals(original)) == original


def test_minimal_reading_round_trips_and_omits_empty_parts() -> None:
    minimal = VitalsReading("p-1", "d-1", 0, T0, {"hr": 0.0})
    data = encode_vitals(minimal)
    assert set(json.loads(data)) == {"v", "patient", "device", "seq", "ts", "vitals"}
    assert decode_vitals(TOPIC, data) == minimal


def test_unknown_top_level_fields_are_ignored_for_forward_compatibility() -> None:
    assert decode_vitals(TOPIC, payload(firmware="2.1")) == reading()


@pytest.mark.parametrize(
    ("data", "reason", "field"),
    [
        (b"{not json", RejectReason.MALFORMED_JSON, None),
        (b"\xff\xfe", RejectReason.MALFORMED_JSON, None),
        (b"[1, 2]", RejectReason.NOT_AN_OBJECT, None),
        (payload(v=2), RejectReason.UNSUPPORTED_VERSION, "v"),
        (payload(v=_DELETE), RejectReason.MISSING_FIELD, "v"),
        (payload(ts=_DELETE), RejectReason.MISSING_FIELD, "ts"),
        (payload(vitals=_DELETE), RejectReason.MISSING_FIELD, "vitals"),
        (payload(seq="41"), RejectReason.WRONG_TYPE, "seq"),
        (payload(seq=True), RejectReason.WRONG_TYPE, "seq"),
        (payload(seq=1.5), RejectReason.WRONG_TYPE, "seq"),
        (payload(seq=-1), RejectReason.OUT_OF_RANGE, "seq"),
        (payload(vitals=[72]), RejectReason.WRONG_TYPE, "vitals"),
        (payload(vitals={"hr": "72"}), RejectReason.WRONG_TYPE, "vitals.hr"),
        (payload(vitals={"hr": None}), RejectReason.WRONG_TYPE, "vitals.hr"),
        (payload(vitals={"spo2": 101}), RejectReason.OUT_OF_RANGE, "vitals.spo2"),
        (payload(vitals={"hr": -1}), RejectReason.OUT_OF_RANGE, "vitals.hr"),
        (payload(vitals={"temp": 52.0}), RejectReason.OUT_OF_RANGE, "vitals.temp"),
        (payload(vitals={"glucose": 5.5}), RejectReason.UNKNOWN_FIELD, "vitals.glucose"),
        (payload(vitals={"sbp": 80, "dbp": 90}), RejectReason.INCONSISTENT, "vitals.dbp"),
        (payload(sqi={"ecg": 1.2}), RejectReason.OUT_OF_RANGE, "sqi.ecg"),
        (payload(sqi={"eeg": 0.9}), RejectReason.UNKNOWN_FIELD, "sqi.eeg"),
        (payload(rhythm={"label": "AF"}), RejectReason.MISSING_FIELD, "rhythm.p"),
        (payload(beats={"X": 1}), RejectReason.UNKNOWN_FIELD, "beats.X"),
        (payload(beats={"V": 2.0}), RejectReason.WRONG_TYPE, "beats.V"),
        (payload(models={"hr": "qrs"}), RejectReason.WRONG_TYPE, "models.hr"),
        (payload(faults=["ppg_hr"]), RejectReason.WRONG_TYPE, "faults"),
        (payload(faults={"ppg_hr": "broken"}), RejectReason.OUT_OF_RANGE, "faults.ppg_hr"),
        (payload(faults={"ppg_hr": True}), RejectReason.WRONG_TYPE, "faults.ppg_hr"),
        (payload(faults={"PPG HR": "model_error"}), RejectReason.WRONG_TYPE, "faults"),
        (payload(faults={"": "model_error"}), RejectReason.WRONG_TYPE, "faults"),
        (payload(faults={"m" * 33: "model_error"}), RejectReason.OUT_OF_RANGE, "faults"),
        (payload(ts="2026-11-21T10:00:00"), RejectReason.BAD_TIMESTAMP, "ts"),
        (payload(ts="2026-11-21T10:00:00+01:00"), RejectReason.BAD_TIMESTAMP, "ts"),
        (payload(ts="1970-01-01T00:00:01Z"), RejectReason.BAD_TIMESTAMP, "ts"),
        (payload(ts="yesterday"), RejectReason.BAD_TIMESTAMP, "ts"),
        (payload(ts=1790000000), RejectReason.WRONG_TYPE, "ts"),
        (payload(patient="p-2"), RejectReason.TOPIC_MISMATCH, "patient"),
        (payload(device="d-2"), RejectReason.TOPIC_MISMATCH, "device"),
        (payload(patient="Jane Doe"), RejectReason.BAD_ID, "patient"),
    ],
)
def test_bad_vitals_are_rejected_with_reason_and_field(data: bytes, reason: RejectReason, field: str | None) -> None:
    error = rejected(TOPIC, data)
    assert error.reason is reason
    assert error.field == field
    assert error.detail


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_non_finite_numbers_are_named(literal: bytes) -> None:
    data = encode_vitals(reading()).replace(b'"hr":72.0', b'"hr":' + literal)
    error = rejected(TOPIC, data)
    assert (error.reason, error.field) == (RejectReason.NOT_FINITE, "vitals.hr")


def test_oversized_payload_is_rejected_before_parsing() -> None:
    data = b'{"pad": "' + b"x" * MAX_VITALS_BYTES + b'"}'
    assert rejected(TOPIC, data).reason is RejectReason.TOO_LARGE


@pytest.mark.parametrize("topic", ["vitals/v1/p-1", "vitals/v2/p-1/d-1", "events/v1/p-1/d-1", "vitals/v1/p 1/d-1"])
def test_bad_topics_are_rejected(topic: str) -> None:
    assert rejected(topic, encode_vitals(reading())).reason in {RejectReason.BAD_TOPIC, RejectReason.BAD_ID}


def assert_decoded_intact(data: bytes, decoded: VitalsReading) -> None:
    """An accepted reading says what was sent (read here without the codec) and survives a second round trip."""
    sent = json.loads(data)
    rhythm = sent.get("rhythm")
    assert decoded == VitalsReading(
        sent["patient"],
        sent["device"],
        sent["seq"],
        parse_ts(sent["ts"]),
        vitals=sent["vitals"],
        sqi=sent.get("sqi") or {},
        rhythm=None if rhythm is None else Rhythm(rhythm["label"], rhythm["p"]),
        beats=sent.get("beats") or {},
        models=sent.get("models") or {},
        runs=sent.get("runs") or {},
        faults=sent.get("faults") or {},
    )
    # == takes 72 for 72.0; the contract promises floats.
    assert all(type(value) is float for value in [*decoded.vitals.values(), *decoded.sqi.values()])
    assert decode_vitals(TOPIC, encode_vitals(decoded)) == decoded


VALID_PAYLOAD = encode_vitals(reading())
DIGITS = [index for index, byte in enumerate(VALID_PAYLOAD) if chr(byte).isdigit()]


def overwrite(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    """``data`` with the byte at each index replaced."""
    changed = bytearray(data)
    for index, byte in edits:
        changed[index] = byte
    return bytes(changed)


# Random bytes are never a valid reading, so the valid payload with a few digits changed (in the
# sequence number, timestamp, values, counts, model versions, identifiers) is mixed in: most of those
# are still accepted, and without them the accepting branch below would never run.
@given(
    st.binary(max_size=300)
    | st.builds(
        overwrite,
        st.just(VALID_PAYLOAD),
        st.lists(st.tuples(st.sampled_from(DIGITS), st.sampled_from(b"0123456789")), max_size=3),
    )
)
def test_arbitrary_bytes_never_crash_the_decoder(data: bytes) -> None:
    try:
        decoded = decode_vitals(TOPIC, data)
    except RejectedMessage as error:
        reason = error.reason
        assert isinstance(reason, RejectReason)
    else:
        assert_decoded_intact(data, decoded)


FIELDS = ["v", "seq", "ts", "patient", "device", "vitals", "sqi", "beats", "faults"]
json_values = st.one_of(
    st.none(),
    st.integers(),
    st.floats(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.floats(), max_size=2),
)
# Each field with values the decoder accepts, integers where it takes floats and nulls where it takes absence.
acceptable_fields = st.fixed_dictionaries(
    {
        "v": st.just(1),
        "patient": st.just("p-1"),
        "device": st.just("d-1"),
        "seq": st.integers(0, 2**63 - 1),
        "ts": st.integers(EARLIEST_MS, LATEST_MS - 1).map(format_ts),
        "vitals": st.dictionaries(st.sampled_from(["hr", "spo2", "rr"]), st.integers(40, 100) | st.floats(40, 100)),
    },
    optional={
        "sqi": st.none() | st.dictionaries(st.sampled_from(sorted(SQI_CHANNELS)), st.floats(0, 1) | st.integers(0, 1)),
        "beats": st.none() | st.dictionaries(st.sampled_from(sorted(BEAT_CLASSES)), st.integers(0, 1000)),
        "faults": st.none() | st.dictionaries(st.sampled_from(["hr", "ppg_hr", "sqi"]), st.sampled_from(list(Fault))),
    },
)


# As above: arbitrary objects alone are never accepted, so acceptable ones with at most one arbitrary
# field are mixed in.
@given(
    st.dictionaries(st.sampled_from(FIELDS), json_values)
    | st.builds(operator.or_, acceptable_fields, st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=1))
)
def test_arbitrary_objects_are_accepted_or_rejected_never_crash(obj: dict[str, object]) -> None:
    data = json.dumps(obj).encode()
    try:
        decoded = decode_vitals(TOPIC, data)
    except RejectedMessage as error:
        reason = error.reason
        assert isinstance(reason, RejectReason)
    else:
        assert_decoded_intact(data, decoded)


def _alert(**changes: object) -> Alert:
    base: dict[str, object] = {
        "alert_id": "a-0123456789abcdef0123",
        "patient": "p-1",
        "ward": "icu-2",
        "device": "d-1",
        "kind": "hr_high",
        "priority": Priority.HIGH,
        "state": AlertState.ACTIVE,
        "onset_ms": T0,
        "raised_ms": T0 + 6000,
        "updated_ms": T0 + 6000,
        "explanation": AlertExplanation(
            rule="hard_limit:hr_high",
            summary="Heart rate 165 /min above the hard limit of 150 /min for 6 s",
            vital="hr",
            value=165.0,
            limit=150.0,
            unit="/min",
            baseline={"mean": 74.0, "sd": 4.0},
            sqi={"ecg": 0.95},
            models={"hr": "qrs@1.0.0"},
        ),
    }
    base.update(changes)
    return Alert(**base)  # type: ignore[arg-type]


def test_alert_state_and_events_round_trip() -> None:
    resolved = _alert(
        state=AlertState.RESOLVED, resolution=Resolution.FALSE_ALARM, resolved_ms=T0 + 9000, acknowledged_by="n-7"
    )
    snapshot = PatientAlerts("icu-2", "p-1", T0 + 9000, (_alert(), resolved))
    assert decode_alert_state(encode_alert_state(snapshot)) == snapshot
    event = AlertEvent(3, Transition.FALSE_ALARM, T0 + 9000, resolved, by="n-7")
    assert decode_alert_event(encode_alert_event(event)) == event


def test_command_round_trip_and_topic_check() -> None:
    command = AlertCommand("c-1", AlertAction.ACKNOWLEDGE, "a-0123456789abcdef0123", "p-1", "n-7", T0, note="seen")
    data = encode_command(command)
    assert decode_command("commands/v1/icu-2/p-1", data) == command
    with pytest.raises(RejectedMessage) as caught:
        decode_command("commands/v1/icu-2/p-2", data)
    assert caught.value.reason is RejectReason.TOPIC_MISMATCH
    bad = orjson.loads(data) | {"action": "silence"}
    with pytest.raises(RejectedMessage) as caught:
        decode_command("commands/v1/icu-2/p-1", orjson.dumps(bad))
    assert (caught.value.reason, caught.value.field) == (RejectReason.OUT_OF_RANGE, "action")


def test_dead_letter_keeps_the_original_bytes_and_bounds_them() -> None:
    original = b"\x00\xffnot json at all"
    letter = DeadLetter(TOPIC, "malformed_json", None, "Expecting value at byte 0", T0, len(original), original)
    assert decode_deadletter(encode_deadletter(letter)) == letter
    huge = b"x" * (MAX_DEADLETTER_PAYLOAD + 10)
    kept = decode_deadletter(encode_deadletter(DeadLetter(TOPIC, "too_large", None, "big", T0, len(huge), huge)))
    assert kept.size == len(huge)
    assert kept.payload == huge[:MAX_DEADLETTER_PAYLOAD]
    assert orjson.loads(encode_deadletter(DeadLetter(TOPIC, "too_large", None, "big", T0, len(huge), huge)))[
        "truncated"
    ]


def test_observation_round_trip_range_checks_and_schema() -> None:
    topic = "observations/v1/p-1/station-3"
    obs = Observation(
        "p-1",
        "station-3",
        T0,
        {"consciousness": "V", "on_oxygen": True, "systolic_bp": 95.0, "spo2_scale": 2},
        by="nurse-7",
    )
    data = encode_observation(obs)
    assert decode_observation(topic, data) == obs
    jsonschema.Draft202012Validator(load("observation")).validate(json.loads(data))
    for bad, field in (
        ({"consciousness": "X"}, "values.consciousness"),
        ({"systolic_bp": 400}, "values.systolic_bp"),
        ({"mood": 3}, "values.mood"),
        ({"on_oxygen": "yes"}, "values.on_oxygen"),
    ):
        with pytest.raises(RejectedMessage) as caught:
            decode_observation(topic, encode_observation(Observation("p-1", "station-3", T0, bad)))
        assert caught.value.field == field
    with pytest.raises(RejectedMessage) as caught:
        decode_observation("observations/v1/p-2/station-3", data)
    assert caught.value.reason is RejectReason.TOPIC_MISMATCH


def test_runs_and_pulse_rate_round_trip() -> None:
    original = reading(vitals={"hr": 150.0, "pr": 148.0}, runs={"V": 6})
    assert decode_vitals(TOPIC, encode_vitals(original)) == original
    assert rejected(TOPIC, payload(runs={"N": 3})).reason is RejectReason.UNKNOWN_FIELD


def test_withheld_outputs_round_trip_and_are_omitted_when_none() -> None:
    original = reading(faults={"ppg_hr": Fault.MODEL_ERROR, "rhythm": Fault.INPUT_GAP})
    data = encode_vitals(original)
    assert json.loads(data)["faults"] == {"ppg_hr": "model_error", "rhythm": "input_gap"}
    assert decode_vitals(TOPIC, data) == original
    assert "faults" not in json.loads(encode_vitals(reading()))
    assert decode_vitals(TOPIC, payload(faults=None)) == reading()
    assert decode_vitals(TOPIC, payload(faults={})) == reading()
