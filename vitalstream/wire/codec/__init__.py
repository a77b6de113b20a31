"""Bytes <-> messages. Decoding validates everything and names the field and the fault.

Decoding is the boundary: what comes out is a frozen, fully checked object, and anything else is a
:class:`~vitalstream.wire.errors.RejectedMessage` with a reason code. The codec is pure (no I/O,
no clock), so the same bytes always give the same answer.

Forward compatibility: unknown *top-level* fields are ignored, so a v1 reader accepts a v1 message
from a newer writer. Unknown keys inside ``vitals`` are rejected instead: their unit is unknown to
this reader, and a vital silently dropped is worse than a message sent to the dead-letter topic.

One module per message family (:mod:`.vitals`, :mod:`.alerts`, :mod:`.commands`, :mod:`.deadletters`,
:mod:`.events`, :mod:`.observations`), all reading fields through :mod:`.fields`, so that a rejection
reads the same whichever message it came from. Import from here, not from the family modules.

>>> from vitalstream.wire.messages import VitalsReading
>>> reading = VitalsReading("p-1", "d-1", seq=7, ts_ms=1_790_000_000_000, vitals={"hr": 72.0})
>>> decode_vitals("vitals/v1/p-1/d-1", encode_vitals(reading)) == reading
True
>>> decode_vitals("vitals/v1/p-1/d-1", b'{"v": 1, "patient": "p-1", "device": "d-1", "seq": 1}')
Traceback (most recent call last):
...
vitalstream.wire.errors.RejectedMessage: missing_field at ts: required
"""

from __future__ import annotations

from vitalstream.wire.codec.alerts import (
    decode_alert_event,
    decode_alert_state,
    encode_alert_event,
    encode_alert_state,
    explanation_json,
)
from vitalstream.wire.codec.commands import decode_command, decode_command_result, encode_command, encode_command_result
from vitalstream.wire.codec.deadletters import decode_deadletter, encode_deadletter
from vitalstream.wire.codec.events import decode_event, encode_event
from vitalstream.wire.codec.fields import (
    MAX_ALERT_BYTES,
    MAX_COMMAND_BYTES,
    MAX_DEADLETTER_PAYLOAD,
    MAX_EVENT_BYTES,
    MAX_VITALS_BYTES,
    JsonObject,
)
from vitalstream.wire.codec.observations import decode_observation, encode_observation
from vitalstream.wire.codec.vitals import (
    BEAT_CLASSES,
    MAX_BEATS,
    OUTPUT_NAME,
    RUN_CLASSES,
    SQI_CHANNELS,
    decode_vitals,
    encode_vitals,
)

__all__ = [
    "BEAT_CLASSES",
    "MAX_ALERT_BYTES",
    "MAX_BEATS",
    "MAX_COMMAND_BYTES",
    "MAX_DEADLETTER_PAYLOAD",
    "MAX_EVENT_BYTES",
    "MAX_VITALS_BYTES",
    "OUTPUT_NAME",
    "RUN_CLASSES",
    "SQI_CHANNELS",
    "JsonObject",
    "decode_alert_event",
    "decode_alert_state",
    "decode_command",
    "decode_command_result",
    "decode_deadletter",
    "decode_event",
    "decode_observation",
    "decode_vitals",
    "encode_alert_event",
    "encode_alert_state",
    "encode_command",
    "encode_command_result",
    "encode_deadletter",
    "encode_event",
    "encode_observation",
    "encode_vitals",
    "explanation_json",
]
