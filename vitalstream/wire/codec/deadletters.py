"""Dead letters: what the processor publishes for a message it rejected, so the message is not lost.

A dead letter is built from a message that broke the contract, possibly on purpose, so everything in it
that came from that message is bounded on the way out and the letter itself stays within the contract.
"""

from __future__ import annotations

import base64

import orjson

from vitalstream.wire.codec.fields import (
    MAX_DEADLETTER_PAYLOAD,
    MAX_SEQ,
    MAX_TEXT,
    JsonObject,
    integer,
    load,
    optional,
    required,
    text,
    timestamp,
    wrong_type,
)
from vitalstream.wire.messages import SCHEMA_VERSION, DeadLetter
from vitalstream.wire.timefmt import format_ts

__all__ = ["decode_deadletter", "encode_deadletter"]


def encode_deadletter(letter: DeadLetter) -> bytes:
    """The original bytes travel base64-encoded (they may not be UTF-8) and cut to a bounded head."""
    kept = letter.payload[:MAX_DEADLETTER_PAYLOAD]
    # Topic, field and detail come from a hostile message too: bound them like the payload.
    obj: JsonObject = {
        "v": SCHEMA_VERSION,
        "topic": letter.topic[:1024],
        "reason": letter.reason,
        "detail": letter.detail[:MAX_TEXT],
        "received": format_ts(letter.received_ms),
        "size": letter.size,
        "truncated": len(kept) < letter.size,
        "payload_b64": base64.b64encode(kept).decode("ascii"),
    }
    if letter.field is not None:
        obj["field"] = letter.field[:256]
    return orjson.dumps(obj)


def decode_deadletter(payload: bytes | bytearray) -> DeadLetter:
    obj = load(payload, 2 * MAX_DEADLETTER_PAYLOAD)
    field = optional(obj, "field")
    raw_b64 = text(required(obj, "payload_b64"), "payload_b64", 2 * MAX_DEADLETTER_PAYLOAD)
    try:
        original = base64.b64decode(raw_b64, validate=True)
    except ValueError:
        raise wrong_type("payload_b64", "base64", raw_b64) from None
    return DeadLetter(
        topic=text(required(obj, "topic"), "topic", 1024),
        reason=text(required(obj, "reason"), "reason", 64),
        field=None if field is None else text(field, "field", 256),
        detail=text(required(obj, "detail"), "detail"),
        received_ms=timestamp(required(obj, "received"), "received"),
        size=integer(required(obj, "size"), "size", 0, MAX_SEQ),
        payload=original,
    )
