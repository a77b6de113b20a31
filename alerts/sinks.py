"""Where points go: InfluxDB over the v1 ``/write`` endpoint or the v2 write API, or SQLite for the demo.

Every sink has ``write(points)`` and raises one of two errors, which decide what the writer does::

    SinkError                      (vitalstream.errors.VitalstreamError)
    ├── SinkUnavailable            retry later: connection refused, timeout, 5xx, 429 (.retry_after_s)
    └── SinkRejected               retrying cannot help: the data or the configuration is wrong (.status)
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from alerts.points import AnyPoint
from vitalstream.errors import VitalstreamError

__all__ = [
    "LineSink",
    "PointSink",
    "SinkError",
    "SinkRejected",
    "SinkUnavailable",
    "SqlitePointStore",
    "parse_retry_after",
]


class SinkError(VitalstreamError):
    """A write did not happen."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SinkUnavailable(SinkError):
    """The store is unreachable, overloaded or asking us to back off; the same write may succeed later."""

    def __init__(self, message: str, *, status: int | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after_s = retry_after_s


class SinkRejected(SinkError):
    """The store refused the write for a reason retrying will not fix (bad data, auth, unknown database)."""


class PointSink(Protocol):
    def write(self, points: Sequence[AnyPoint]) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class LineSink(PointSink, Protocol):
    """A sink that also takes ready line protocol: what the disk spool keeps and replays."""

    def write_lines(self, body: bytes) -> None: ...


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is not used by InfluxDB)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def classify_status(status: int, body: str, *, retry_after: str | None) -> SinkError:
    """Map an HTTP error status from InfluxDB to the error that tells the writer what to do."""
    detail = body.strip()[:200]
    if status == 429 or status >= 500:
        return SinkUnavailable(
            f"InfluxDB answered {status}: {detail}", status=status, retry_after_s=parse_retry_after(retry_after)
        )
    return SinkRejected(f"InfluxDB refused the write ({status}): {detail}", status=status)


class SqlitePointStore:
    """The demo's embedded store: the same points and keys as InfluxDB, in one SQLite file.

    A point's key is (measurement, tags, time); writing it again replaces it, like InfluxDB. The point
    itself is kept as its line-protocol text, which can be replayed into InfluxDB as it is.
    """

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS points (measurement TEXT NOT NULL, series TEXT NOT NULL, "
            "time_ms INTEGER NOT NULL, line TEXT NOT NULL, PRIMARY KEY (measurement, series, time_ms))"
        )

    def write(self, points: Sequence[AnyPoint]) -> None:
        rows = [(p.measurement, ",".join(f"{k}={v}" for k, v in p.tags), p.time_ms, p.line()) for p in points]
        with self._lock:
            try:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise SinkUnavailable(f"SQLite write failed: {exc}") from exc

    def count(self, measurement: str) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT count(*) FROM points WHERE measurement = ?", (measurement,)).fetchone()
        return int(n)

    def close(self) -> None:
        with self._lock:
            self._db.close()
