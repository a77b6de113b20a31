"""Edge events on the wire: round trip, rejections, and the JSON Schema."""

from __future__ import annotations

import array
import json

import jsonschema
import pytest

from vitalstream.schemas import load
from vitalstream.wire import EdgeEvent, RejectedMessage, RejectReason, Waveform, decode_event, encode_event

T0 = 1_790_000_000_000
TOPIC = "events/v1/p-1/d-1"


def event(**changes: object) -> EdgeEvent:
    wave = Waveform("ecg", "MLII", 360.0, T0 - 10_000, 0.005, "mV", array.array("h", range(-50, 50)).tobytes())
    base: dict[str, object] = {
        "event_id": "e-0123456789abcdef",
        "patient": "p-1",
        "device": "d-1",
        "kind": "af_onset",
        "ts_ms": T0,
        "detail": {"p_af": 0.93},
        "models": {"rhythm": "rhythm-af@1.0.0"},
        "waveforms": (wave,),
    }
    base.update(changes)
    return EdgeEvent(**base)  # type: ignore[arg-type]


def test_round_trip_keeps_the_samples() -> None:
    original = event()
    decoded = decode_event(TOPIC, encode_event(original))
    assert decoded == original
    assert array.array("h", decoded.waveforms[0].data).tolist() == list(range(-50, 50))


def test_emitted_events_validate_against_the_schema() -> None:
    schema = load("event")
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for candidate in (event(), event(waveforms=(), detail={}, models={}), event(kind="signal_loss")):
        validator.validate(json.loads(encode_event(candidate)))


def _mutated(**fields: object) -> bytes:
    obj = json.loads(encode_event(event()))
    for key, value in fields.items():
        if key.startswith("wave_"):
            obj["waveforms"][0][key.removeprefix("wave_")] = value
        else:
            obj[key] = value
    return json.dumps(obj).encode()


@pytest.mark.parametrize(
    ("payload", "reason", "field"),
    [
        (_mutated(kind="AF onset"), RejectReason.OUT_OF_RANGE, "kind"),
        (_mutated(patient="p-2"), RejectReason.TOPIC_MISMATCH, "patient"),
        (_mutated(wave_encoding="float32"), RejectReason.OUT_OF_RANGE, "waveforms[0].encoding"),
        (_mutated(wave_data="AAEC"), RejectReason.OUT_OF_RANGE, "waveforms[0].data"),  # 3 bytes: not int16s
        (_mutated(wave_data="not base64!"), RejectReason.WRONG_TYPE, "waveforms[0].data"),
        (_mutated(wave_scale=0), RejectReason.OUT_OF_RANGE, "waveforms[0].scale"),
        (_mutated(wave_fs=0.5), RejectReason.OUT_OF_RANGE, "waveforms[0].fs"),
        (_mutated(wave_kind="eeg"), RejectReason.OUT_OF_RANGE, "waveforms[0].kind"),
    ],
)
def test_bad_events_are_rejected_with_reason_and_field(payload: bytes, reason: RejectReason, field: str) -> None:
    with pytest.raises(RejectedMessage) as caught:
        decode_event(TOPIC, payload)
    assert (caught.value.reason, caught.value.field) == (reason, field)
    # The schema rejects the same messages, except what only the decoder can see (the topic, decoded bytes).
    if reason is not RejectReason.TOPIC_MISMATCH and field != "waveforms[0].data":
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.Draft202012Validator(load("event")).validate(json.loads(payload))


def test_more_than_two_minutes_of_samples_is_refused() -> None:
    wave = Waveform("ecg", "II", 10.0, T0, 0.005, "mV", b"\x00\x00" * 1201)
    with pytest.raises(RejectedMessage) as caught:
        decode_event(TOPIC, encode_event(event(waveforms=(wave,))))
    assert caught.value.field == "waveforms[0].data"
