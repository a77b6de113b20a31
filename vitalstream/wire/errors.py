"""Why a message was rejected: one reason code per kind of fault, with the field and a readable detail."""

from __future__ import annotations

from enum import StrEnum

from vitalstream.errors import VitalstreamError

__all__ = ["RejectReason", "RejectedMessage"]


class RejectReason(StrEnum):
    """Reason codes. They are counted per code and travel in dead letters, so they never change meaning."""

    TOO_LARGE = "too_large"
    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    UNSUPPORTED_VERSION = "unsupported_version"
    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    WRONG_TYPE = "wrong_type"
    NOT_FINITE = "not_finite"
    OUT_OF_RANGE = "out_of_range"
    INCONSISTENT = "inconsistent"
    BAD_TIMESTAMP = "bad_timestamp"
    BAD_ID = "bad_id"
    BAD_TOPIC = "bad_topic"
    TOPIC_MISMATCH = "topic_mismatch"
    # Not the decoder's: the processor failed on a message it had accepted (a bug). It is logged with the
    # traceback there, and the message is dead-lettered with this code instead of stopping the stream.
    PROCESSING_FAILED = "processing_failed"


class RejectedMessage(VitalstreamError):
    """A message broke the wire contract.

    >>> err = RejectedMessage(RejectReason.OUT_OF_RANGE, "vitals.spo2", "104 is outside 0..100 %")
    >>> str(err)
    'out_of_range at vitals.spo2: 104 is outside 0..100 %'
    """

    def __init__(self, reason: RejectReason, field: str | None, detail: str) -> None:
        where = f" at {field}" if field else ""
        super().__init__(f"{reason}{where}: {detail}")
        self.reason = reason
        self.field = field
        self.detail = detail
