"""What the nurse station decodes off the broker: the processor's command results, and every message of
its ward's topics (another ward's, or one whose topic names another patient, is rejected)."""

from __future__ import annotations

import orjson
import pytest

from alerts.station.feed import Rejected, Snapshot, decode_message, ward_topics
from tests.station_alerts import WARD, event, make_alert, snapshot
from vitalstream.wire import (
    AlertAction,
    AlertEvent,
    CommandResult,
    CommandStatus,
    RejectedMessage,
    Transition,
    decode_command_result,
    encode_alert_event,
    encode_alert_state,
    parse_ts,
)

# ---------------------------------------------------------------- command results


def _result_payload(**overrides: object) -> bytes:
    obj: dict[str, object] = {
        "v": 1,
        "command_id": "c-1",
        "alert_id": "a-1",
        "patient": "p-1",
        "action": "acknowledge",
        "status": "refused",
        "reason": "transition_not_allowed",
        "detail": "the alert is already acknowledged",
        "ts": "2026-11-21T10:00:00Z",
        "future_field": [1, 2],
    }
    obj.update(overrides)
    return orjson.dumps({k: v for k, v in obj.items() if v is not ...})


def test_command_results_parse_with_null_reason_and_unknown_fields() -> None:
    result = decode_command_result(_result_payload(status="applied", reason=None, detail=None))
    applied_at = parse_ts("2026-11-21T10:00:00Z")
    assert result == CommandResult("c-1", AlertAction.ACKNOWLEDGE, "a-1", "p-1", CommandStatus.APPLIED, applied_at)
    refused = decode_command_result(_result_payload())
    assert (refused.reason, refused.detail) == ("transition_not_allowed", "the alert is already acknowledged")


@pytest.mark.parametrize(
    ("payload", "reason", "field"),
    [
        (b"not json", "malformed_json", None),
        (b"[1]", "not_an_object", None),
        (_result_payload(v=2), "unsupported_version", "v"),
        (_result_payload(v=True), "unsupported_version", "v"),
        (_result_payload(command_id=...), "missing_field", "command_id"),
        (_result_payload(command_id="bad id"), "bad_id", "command_id"),
        (_result_payload(status="maybe"), "out_of_range", "status"),
        (_result_payload(action="delete"), "out_of_range", "action"),
        (_result_payload(reason=7), "wrong_type", "reason"),
        (b"{" + b" " * 5000 + b"}", "too_large", None),
    ],
)
def test_bad_command_results_are_rejected_with_a_reason(payload: bytes, reason: str, field: str | None) -> None:
    with pytest.raises(RejectedMessage) as info:
        decode_command_result(payload)
    assert (info.value.reason.value, info.value.field) == (reason, field)


# ---------------------------------------------------------------- decoding at the boundary


def test_messages_of_another_ward_or_with_a_mismatched_patient_are_rejected() -> None:
    alert = make_alert(1)
    state = encode_alert_state(snapshot("p-1", (alert,), 1))
    assert isinstance(decode_message(f"alerts/v1/{WARD}/p-1", state, WARD), Snapshot)
    assert decode_message(f"alerts/v1/{WARD}/p-1", b"", WARD) == Snapshot("p-1", None)
    assert decode_message(f"alerts/v1/{WARD}/p-2", state, WARD) == Rejected("alerts", "topic_mismatch")
    assert decode_message("alerts/v1/ward-9/p-1", state, WARD) == Rejected("alerts", "bad_topic")
    raised = encode_alert_event(event(1, Transition.RAISED, alert))
    assert isinstance(decode_message(f"alert-events/v1/{WARD}/p-1", raised, WARD), AlertEvent)
    assert decode_message(f"alert-events/v1/{WARD}/p-7", raised, WARD) == Rejected("alert-events", "topic_mismatch")
    result = _result_payload()
    assert isinstance(decode_message(f"command-results/v1/{WARD}/p-1", result, WARD), CommandResult)
    assert decode_message(f"command-results/v1/{WARD}/p-2", result, WARD) == Rejected(
        "command-results", "topic_mismatch"
    )
    assert decode_message("vitals/v1/p-1/d-1", b"{}", WARD) == Rejected("vitals", "missing_field")
    assert ward_topics(WARD) == [
        "alerts/v1/ward-1/+",
        "alert-events/v1/ward-1/+",
        "vitals/v1/+/+",
        "command-results/v1/ward-1/+",
    ]
