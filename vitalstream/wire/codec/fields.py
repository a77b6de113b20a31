"""Field readers shared by every message family, and the size limits of the wire contract.

Each reader takes a raw JSON value and the dotted path of the field it came from, and returns the value
checked and typed, or raises :class:`~vitalstream.wire.errors.RejectedMessage` naming that path. Keeping
them in one place is what makes a rejection read the same whichever message it came from.

>>> integer(7, "seq", 0, MAX_SEQ)
7
>>> text(7, "alerts[0].kind")
Traceback (most recent call last):
...
vitalstream.wire.errors.RejectedMessage: wrong_type at alerts[0].kind: expected string, got number
"""

from __future__ import annotations

import json
import math
from typing import Any, TypeAlias, TypeVar

import orjson

from vitalstream.wire.errors import RejectedMessage, RejectReason
from vitalstream.wire.messages import (
    SCHEMA_VERSION,
    AlertAction,
    AlertState,
    CommandStatus,
    Fault,
    Priority,
    Resolution,
    Transition,
)
from vitalstream.wire.timefmt import parse_ts
from vitalstream.wire.topics import check_id

__all__ = [
    "MAX_ALERT_BYTES",
    "MAX_COMMAND_BYTES",
    "MAX_DEADLETTER_PAYLOAD",
    "MAX_EVENT_BYTES",
    "MAX_SEQ",
    "MAX_TEXT",
    "MAX_VITALS_BYTES",
    "JsonObject",
    "enum",
    "fraction",
    "ident",
    "integer",
    "json_object",
    "load",
    "model_ref",
    "model_refs",
    "number",
    "optional",
    "required",
    "short",
    "text",
    "timestamp",
    "wrong_type",
]

# A full vitals reading with every optional part is under 1 KiB; 8 KiB leaves room for growth
# while stopping a runaway device from pushing megabytes through the 1 Hz path.
MAX_VITALS_BYTES = 8 * 1024
MAX_COMMAND_BYTES = 4 * 1024
MAX_ALERT_BYTES = 256 * 1024
# An event carries up to a few 30 s waveform snippets as base64 int16: about 30 KB per 360 Hz lead.
MAX_EVENT_BYTES = 512 * 1024
# Dead letters keep the original bytes, but not unboundedly: a 10 MB garbage payload keeps its head.
MAX_DEADLETTER_PAYLOAD = 64 * 1024
MAX_SEQ = 2**63 - 1
MAX_TEXT = 2000

JsonObject: TypeAlias = dict[str, Any]
_E = TypeVar("_E", Priority, AlertState, Resolution, Transition, AlertAction, CommandStatus, Fault)


def load(payload: bytes | bytearray, limit: int) -> JsonObject:
    """Parse ``payload`` (at most ``limit`` bytes) as a JSON object of the supported schema version."""
    if len(payload) > limit:
        raise RejectedMessage(RejectReason.TOO_LARGE, None, f"{len(payload)} bytes exceeds the {limit}-byte limit")
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        # orjson refuses NaN/Infinity literals; the stdlib parser accepts them, so a second try tells a
        # non-finite number (reported below with its field) apart from bytes that are not JSON at all.
        try:
            obj = json.loads(payload)
        except (ValueError, RecursionError) as exc:
            raise RejectedMessage(RejectReason.MALFORMED_JSON, None, _json_error_text(exc)) from None
    if not isinstance(obj, dict):
        raise RejectedMessage(RejectReason.NOT_AN_OBJECT, None, f"top level is a JSON {_json_type(obj)}")
    version = obj.get("v")
    # type() check: True == 1 in Python, but a boolean is not a schema version.
    if type(version) is not int or version != SCHEMA_VERSION:
        if version is None:
            raise RejectedMessage(RejectReason.MISSING_FIELD, "v", "required (schema version)")
        raise RejectedMessage(
            RejectReason.UNSUPPORTED_VERSION, "v", f"schema version {short(version)} is not {SCHEMA_VERSION}"
        )
    return obj


def _json_error_text(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at byte {exc.pos}"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 at byte {exc.start}"
    return "not valid JSON"


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def short(value: object) -> str:
    """``repr(value)``, cut to 40 characters: a bad value is quoted in the detail, never at length."""
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _missing(path: str) -> RejectedMessage:
    return RejectedMessage(RejectReason.MISSING_FIELD, path, "required")


def wrong_type(path: str, expected: str, value: object) -> RejectedMessage:
    """The rejection (to raise) of a value at ``path`` that is not the ``expected`` JSON type."""
    return RejectedMessage(RejectReason.WRONG_TYPE, path, f"expected {expected}, got {_json_type(value)}")


def number(value: object, path: str) -> float:
    """A finite JSON number (not a boolean) as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise wrong_type(path, "number", value)
    try:
        result = float(value)
    except OverflowError:  # an integer with hundreds of digits: JSON allows it, no vital is that large
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, path, "integer too large") from None
    if not math.isfinite(result):
        raise RejectedMessage(RejectReason.NOT_FINITE, path, "NaN and infinities are not values")
    return result


def integer(value: object, path: str, lo: int, hi: int) -> int:
    """A JSON integer (not a boolean, not ``1.0``) in ``lo..hi``."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and not math.isfinite(value):
            raise RejectedMessage(RejectReason.NOT_FINITE, path, "NaN and infinities are not values")
        raise wrong_type(path, "integer", value)
    if not lo <= value <= hi:
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, path, f"{short(value)} is outside {lo}..{hi}")
    return value


def fraction(value: object, path: str) -> float:
    """A number in ``0..1`` (a probability or a signal quality)."""
    result = number(value, path)
    if not 0.0 <= result <= 1.0:
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, path, f"{result:g} is outside 0..1")
    return result


def text(value: object, path: str, max_len: int = MAX_TEXT) -> str:
    """A JSON string of at most ``max_len`` characters."""
    if not isinstance(value, str):
        raise wrong_type(path, "string", value)
    if len(value) > max_len:
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, path, f"longer than {max_len} characters")
    return value


def json_object(value: object, path: str) -> JsonObject:
    """A JSON object."""
    if not isinstance(value, dict):
        raise wrong_type(path, "object", value)
    return value


def required(obj: JsonObject, key: str, path: str = "") -> object:
    """``obj[key]``, or a missing-field rejection at ``path + key`` (``path`` is the parent's, with its dot)."""
    try:
        return obj[key]
    except KeyError:
        raise _missing(path + key) from None


def optional(obj: JsonObject, key: str) -> object | None:
    """``obj[key]``, or None when the key is absent (absent and JSON null mean the same)."""
    return obj.get(key)


def timestamp(value: object, path: str) -> int:
    """An RFC 3339 UTC timestamp string as epoch milliseconds."""
    stamp = text(value, path, 64)
    try:
        return parse_ts(stamp)
    except ValueError as exc:
        raise RejectedMessage(RejectReason.BAD_TIMESTAMP, path, f"{short(stamp)} {exc}") from None


def ident(value: object, path: str) -> str:
    """An identifier (patient, device, ward, ...), checked as topics check them."""
    return check_id(text(value, path, 64), field=path)


def enum(kind: type[_E], value: object, path: str) -> _E:
    """The member of the string enum ``kind`` whose value is ``value``."""
    label = text(value, path, 64)
    try:
        return kind(label)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise RejectedMessage(RejectReason.OUT_OF_RANGE, path, f"{short(label)} is not one of {allowed}") from None


def model_ref(value: object, path: str) -> str:
    """A model reference, ``name@version``."""
    ref = text(value, path, 128)
    name, sep, version = ref.partition("@")
    if not (sep and name and version):
        raise RejectedMessage(RejectReason.WRONG_TYPE, path, f"{short(ref)} is not name@version")
    return ref


def model_refs(raw: object) -> dict[str, str]:
    """The ``models`` map of a reading or an event: output name -> ``name@version``; absent is empty."""
    if raw is None:
        return {}
    return {
        text(output, "models", 32): model_ref(ref, f"models.{output}")
        for output, ref in json_object(raw, "models").items()
    }
