"""The edge's durable outbox: every message is written here before it is published, and deleted
only after the broker's PUBACK. A crash, a reboot or a week without network loses nothing that fits.

SQLite in WAL mode with ``synchronous=FULL``: a committed message survives a power cut, not only a
killed process; at one commit per second the fsync costs nothing that matters. The producer (the
agent loop) and the delivery thread each use their own connection; WAL lets them work concurrently.

Bounds (``max_bytes``, ``max_age_s``): when full, the oldest *routine* readings go first; events and
alert-grade readings (priority 1) are dropped only when nothing routine is left. Every drop is
counted by reason and priority, persistently, and reported in the agent's status.

Sequence numbers live here too, incremented in the same transaction that stores the reading, so a
restarted agent continues each device's sequence instead of reusing numbers.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "spool.sqlite")
>>> spool = Spool(path)
>>> spool.put([("t/a", b"1", ROUTINE), ("t/b", b"22", PRIORITY)], now_ms=1000)
>>> [(row.topic, row.payload) for row in spool.peek(after_id=0, limit=10)]
[('t/a', b'1'), ('t/b', b'22')]
>>> spool.delete([1]); spool.stats().messages
1
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PRIORITY", "ROUTINE", "Spool", "SpoolRow", "SpoolStats"]

ROUTINE = 0
PRIORITY = 1  # events and alert-grade readings: kept when routine readings must go

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    priority INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_routine ON outbox (priority, id);
CREATE TABLE IF NOT EXISTS seqs (device TEXT PRIMARY KEY, next_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class SpoolRow:
    id: int
    topic: str
    payload: bytes
    priority: int
    created_ms: int


@dataclass(frozen=True, slots=True)
class SpoolStats:
    messages: int
    bytes: int
    oldest_ms: int | None
    dropped: dict[str, int]


class Spool:
    """One SQLite file. Methods are thread-safe; each thread gets its own connection."""

    def __init__(self, path: str | Path, *, max_bytes: int = 64 * 1024 * 1024, max_age_s: float = 72 * 3600) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.max_age_ms = int(max_age_s * 1000)
        self._local = threading.local()
        self._lock = threading.Lock()  # serialises writers across threads (SQLite would, but with busy waits)
        db = self._db()
        db.executescript(_SCHEMA)
        (self._bytes,) = db.execute("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM outbox").fetchone()
        self._seq_cache: dict[str, int] = dict(db.execute("SELECT device, next_seq FROM seqs").fetchall())

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            self._local.db = db
        return db

    # ------------------------------------------------------------------ producer side

    def allocate_seqs(self, devices: Sequence[str]) -> list[int]:
        """Next sequence number for each device in ``devices`` (in order; a device may repeat).

        Reserved in memory; :meth:`put` persists the counters in the same transaction as the messages,
        so a number is never reused after a crash (a crash in between loses unreserved numbers only).
        """
        seqs = []
        for device in devices:
            seq = self._seq_cache.get(device, 0)
            seqs.append(seq)
            self._seq_cache[device] = seq + 1
        return seqs

    def put(self, messages: Iterable[tuple[str, bytes, int]], *, now_ms: int) -> None:
        """Store ``(topic, payload, priority)`` messages durably (one transaction), then enforce the bounds."""
        rows = [(topic, payload, priority, now_ms) for topic, payload, priority in messages]
        added = sum(len(payload) for _, payload, _, _ in rows)
        with self._lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT INTO outbox (topic, payload, priority, created_ms) VALUES (?, ?, ?, ?)", rows)
                db.executemany(
                    "INSERT INTO seqs (device, next_seq) VALUES (?, ?) "
                    "ON CONFLICT(device) DO UPDATE SET next_seq = excluded.next_seq",
                    list(self._seq_cache.items()),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._bytes += added
            self._enforce_bounds(db, now_ms)

    def _count(self, db: sqlite3.Connection, name: str, n: int) -> None:
        if n:
            db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (name, n),
            )

    def _enforce_bounds(self, db: sqlite3.Connection, now_ms: int) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            # Age: routine readings older than the horizon have lost their value; events are kept.
            cutoff = now_ms - self.max_age_ms
            expired = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox WHERE priority = ? AND created_ms < ?",
                (ROUTINE, cutoff),
            ).fetchone()
            if expired[0]:
                db.execute("DELETE FROM outbox WHERE priority = ? AND created_ms < ?", (ROUTINE, cutoff))
                self._bytes -= expired[1]
                self._count(db, "dropped_routine_age", expired[0])
            # Size: oldest routine first, then (only if nothing routine is left) the oldest events.
            for priority, reason in ((ROUTINE, "dropped_routine_full"), (PRIORITY, "dropped_priority_full")):
                while self._bytes > self.max_bytes:
                    victims = db.execute(
                        "SELECT id, LENGTH(payload) FROM outbox WHERE priority = ? ORDER BY id LIMIT 256", (priority,)
                    ).fetchall()
                    if not victims:
                        break
                    excess = self._bytes - self.max_bytes
                    chosen, freed = [], 0
                    for row_id, size in victims:
                        chosen.append((row_id,))
                        freed += size
                        if freed >= excess:
                            break
                    db.executemany("DELETE FROM outbox WHERE id = ?", chosen)
                    self._bytes -= freed
                    self._count(db, reason, len(chosen))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------ delivery side

    def peek(self, *, after_id: int, limit: int) -> list[SpoolRow]:
        """The oldest messages with ``id > after_id``, in order."""
        rows = (
            self._db()
            .execute(
                "SELECT id, topic, payload, priority, created_ms FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            )
            .fetchall()
        )
        return [SpoolRow(r[0], r[1], bytes(r[2]), r[3], r[4]) for r in rows]

    def delete(self, ids: Sequence[int]) -> None:
        """Forget delivered messages (after PUBACK)."""
        if not ids:
            return
        with self._lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                placeholders = ",".join("?" * len(ids))
                (freed,) = db.execute(
                    f"SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM outbox WHERE id IN ({placeholders})",  # noqa: S608 -- placeholders only
                    list(ids),
                ).fetchone()
                db.execute(f"DELETE FROM outbox WHERE id IN ({placeholders})", list(ids))  # noqa: S608
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._bytes -= freed

    def stats(self) -> SpoolStats:
        db = self._db()
        count, oldest = db.execute("SELECT COUNT(*), MIN(created_ms) FROM outbox").fetchone()
        dropped = dict(db.execute("SELECT name, value FROM counters").fetchall())
        return SpoolStats(messages=count, bytes=self._bytes, oldest_ms=oldest, dropped=dropped)

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
