"""A local disk spool for batches the store could not take: kept in order, drained in order.

When InfluxDB is unreachable, the writer puts each batch here (its line protocol, one row per batch)
and then reports the batch durable, so the processor keeps acknowledging MQTT messages and the broker
does not have to hold hours of backlog. When the store answers again, batches leave the spool oldest
first, each deleted only after the store took it.

Exactly once in the store, at least once on the wire: a crash between "written" and "deleted" writes
that batch again on the next start, and because every point is keyed by measurement, tags and device
timestamp, the second write overwrites the first with the same values.

SQLite in WAL mode with ``synchronous=FULL``: a row that ``append`` returned for survives a power cut.
The spool is bounded by ``max_bytes``; when full, :meth:`has_room` is false and the writer stops taking
new batches off its queue (it retries in place), which stops acks and pushes back on the broker,
instead of dropping anything.

>>> import tempfile, pathlib
>>> spool = DiskSpool(pathlib.Path(tempfile.mkdtemp()) / "spool.sqlite")
>>> spool.append(b"vitals,patient=p-1 hr=72 1790000000000", points=1)
>>> spool.append(b"vitals,patient=p-1 hr=73 1790000001000", points=1)
>>> (spool.batches, spool.points)
(2, 2)
>>> batch_id, body = spool.oldest()
>>> body
b'vitals,patient=p-1 hr=72 1790000000000'
>>> spool.delete(batch_id)
>>> spool.batches
1
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

__all__ = ["DiskSpool"]


class DiskSpool:
    """Batches of line protocol in an append-only SQLite table; one writer thread uses it."""

    def __init__(self, path: Path, *, max_bytes: int = 512 * 1024 * 1024) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._max_bytes = max_bytes
        self._lock = threading.Lock()  # the writer thread writes; metrics read the counters
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS batches (id INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB NOT NULL, "
            "points INTEGER NOT NULL)"
        )
        row = self._db.execute("SELECT count(*), coalesce(sum(points), 0), coalesce(sum(length(body)), 0) FROM batches")
        self.batches, self.points, self.bytes = (int(v) for v in row.fetchone())

    def has_room(self) -> bool:
        return self.bytes < self._max_bytes

    def append(self, body: bytes, *, points: int) -> None:
        with self._lock:
            self._db.execute("INSERT INTO batches (body, points) VALUES (?, ?)", (body, points))
            self.batches += 1
            self.points += points
            self.bytes += len(body)

    def oldest(self) -> tuple[int, bytes] | None:
        row = self._db.execute("SELECT id, body FROM batches ORDER BY id LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def delete(self, batch_id: int) -> None:
        with self._lock:
            row = self._db.execute("SELECT points, length(body) FROM batches WHERE id = ?", (batch_id,)).fetchone()
            if row is None:
                return
            self._db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
            self.batches -= 1
            self.points -= int(row[0])
            self.bytes -= int(row[1])

    def close(self) -> None:
        with self._lock:
            self._db.close()
