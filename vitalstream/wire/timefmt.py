"""RFC 3339 UTC timestamps <-> integer epoch milliseconds, without float rounding.

>>> format_ts(parse_ts("2026-11-21T10:00:00.123Z"))
'2026-11-21T10:00:00.123Z'
>>> parse_ts("2026-11-21T10:00:00+00:00") - parse_ts("2026-11-21T09:59:59Z")
1000
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = ["EARLIEST_MS", "LATEST_MS", "format_ts", "parse_ts"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# RFC 3339 date-time in UTC. datetime.fromisoformat alone also takes ISO 8601 forms that are not
# RFC 3339 (week dates, basic format, "10Z"), which other consumers of the same bytes would refuse.
_RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|\+00:00)")
_MS = timedelta(milliseconds=1)
# A device clock before 2000 was never set; after 2100 it is corrupt. Either way the time is unusable.
EARLIEST_MS = 946_684_800_000
LATEST_MS = 4_102_444_800_000


def parse_ts(text: str) -> int:
    """Parse an RFC 3339 timestamp in UTC (``Z`` or ``+00:00``) into epoch milliseconds.

    Raises ``ValueError`` with a readable message for anything else, including local times.
    """
    if not _RFC3339_UTC.fullmatch(text):
        raise ValueError("must be RFC 3339 in UTC, e.g. 2026-11-21T10:00:00.000Z")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("is not a valid RFC 3339 timestamp") from None
    since = when - _EPOCH  # timedelta arithmetic is exact, unlike float seconds
    ms = (since.days * 86_400 + since.seconds) * 1000 + since.microseconds // 1000
    if not EARLIEST_MS <= ms < LATEST_MS:
        raise ValueError("lies outside 2000..2100 (device clock not set?)")
    return ms


def format_ts(ms: int) -> str:
    """Format epoch milliseconds as RFC 3339 UTC with millisecond precision and a ``Z`` suffix."""
    return (_EPOCH + ms * _MS).isoformat(timespec="milliseconds").replace("+00:00", "Z")
