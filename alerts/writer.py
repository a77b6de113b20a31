"""The write queue in front of a sink: batches by size and time, retries with back-off, reports durability.

We own the queue instead of using ``influxdb-client``'s batching mode, whose flush and close do not
reliably flush and which cannot tell us *when* a point became durable. Here every submitted entry
carries an opaque token; once its points are stored, the token is passed to ``on_durable``, in
submission order. The processor acknowledges an MQTT message only then, so a crash at any moment
leaves every unstored reading unacknowledged at the broker, which redelivers it.

Commit order, written where it happens (``_run``): write the batch to the sink, *then* report its
tokens durable. Never the other way round.

Policy per error (see ``alerts.sinks``):
- ``SinkUnavailable``: retry the same batch with exponential back-off and jitter (0.2 s .. 30 s), or
  after the server's ``Retry-After`` when it sends one (HTTP 429/503 is back-pressure, not failure).
  Meanwhile the queue grows and acks stop, which throttles the broker's delivery to us.
- ``SinkRejected``: retrying cannot help. The batch's line protocol is appended to ``reject_file``
  so nothing is lost, the failure is logged and counted, and the tokens are released.

With a :class:`~alerts.spool.DiskSpool` (the processor gives one to InfluxDB sinks), an unavailable
store does not stall the pipeline: the batch goes to the local disk spool, its tokens are released
(durable on disk is durable), and so does every later batch while the spool is not empty, which keeps
them in order. The same thread drains the spool oldest first, with the same back-off and
``Retry-After``, between batches. A full spool stops spooling: batches are then retried in place as
without a spool, and the acks stop, which pushes back on the broker; nothing is ever dropped.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from alerts.points import AnyPoint
from alerts.sinks import LineSink, PointSink, SinkRejected, SinkUnavailable
from alerts.spool import DiskSpool

__all__ = ["BatchingWriter", "WriterStats"]

log = logging.getLogger(__name__)


class WriterStats:
    __slots__ = ("batches", "drained_points", "points", "rejected_points", "retries", "spooled_points")

    def __init__(self) -> None:
        self.batches = 0
        self.points = 0
        self.retries = 0
        self.rejected_points = 0
        self.spooled_points = 0
        self.drained_points = 0


def _body(points: Sequence[AnyPoint]) -> bytes:
    return "\n".join(point.line() for point in points).encode()


class BatchingWriter:
    """A single background thread that drains submitted points into ``sink`` in batches."""

    def __init__(
        self,
        sink: PointSink,
        *,
        batch_size: int = 5000,
        flush_interval_s: float = 0.5,
        on_durable: Callable[[list[object]], None] | None = None,
        reject_file: Path | None = None,
        max_backoff_s: float = 30.0,
        rng: random.Random | None = None,
        spool: DiskSpool | None = None,
    ) -> None:
        if spool is not None and not isinstance(sink, LineSink):
            raise TypeError("a disk spool needs a sink that writes line protocol (write_lines)")
        self._sink = sink
        # A line-protocol sink (InfluxDB) gets each entry rendered once, at submit; other sinks get the points.
        self._line_sink = sink if isinstance(sink, LineSink) else None
        self._spool = spool
        self._drain_at = 0.0  # monotonic time of the next attempt to drain the spool
        self._drain_backoff = 0.2
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._on_durable = on_durable or (lambda _tokens: None)
        self._reject_file = reject_file
        self._max_backoff = max_backoff_s
        self._rng = rng or random.Random()
        self._queue: deque[tuple[Sequence[AnyPoint], str, object, float]] = deque()
        self._queued_points = 0
        self._in_flight = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._stop_event = threading.Event()  # interrupts a retry back-off at shutdown
        self._flush_requested = False
        self._thread = threading.Thread(target=self._run, name="point-writer", daemon=True)
        self.stats = WriterStats()
        self.healthy = True

    @property
    def depth(self) -> int:
        """Points queued or being written."""
        return self._queued_points + self._in_flight

    @property
    def spooled(self) -> int:
        """Points waiting in the disk spool for the store to come back."""
        return self._spool.points if self._spool is not None else 0

    def start(self) -> None:
        self._thread.start()

    def submit(self, points: Sequence[AnyPoint], token: object = None) -> None:
        """Queue ``points``; ``token`` is reported to ``on_durable`` once they are stored (or set aside)."""
        # Rendered here, on the caller's thread: the writer thread then only does I/O, so the next batch is
        # rendered while the store works on this one instead of after it (``vitalstream bench influx``: from
        # 0.55 to 0.7 of a raw POST loop with InfluxDB on the same 2 cores, from 0.6 to 0.8 with InfluxDB on a
        # core of its own). Retries, the spool and the reject file reuse the same text.
        text = "\n".join([point.line() for point in points]) if self._line_sink is not None else ""
        with self._cond:
            self._queue.append((points, text, token, time.monotonic()))
            self._queued_points += len(points)
            if self._queued_points >= self._batch_size:
                self._cond.notify()

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Write everything queued now; ``False`` if the sink did not take it within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            self._flush_requested = True
            self._cond.notify()
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Flush, then stop the thread. Returns whether everything was written."""
        flushed = self.flush(timeout_s)
        with self._cond:
            self._stopping = True
            self._stop_event.set()
            self._cond.notify()
        self._thread.join(timeout=5.0)
        return flushed

    def _take_batch(self) -> tuple[list[AnyPoint], list[object], list[str]] | None:
        with self._cond:
            while True:
                if self._queue:
                    age = time.monotonic() - self._queue[0][3]
                    if self._queued_points >= self._batch_size or age >= self._interval or self._flush_requested:
                        break
                    self._cond.wait(self._interval - age)
                    continue
                self._flush_requested = False
                if self._stopping:
                    return None
                if self._drain_due():
                    return [], [], []  # nothing new: time to move spooled batches to the store
                self._cond.wait(self._interval)
            points: list[AnyPoint] = []
            tokens: list[object] = []
            texts: list[str] = []
            while self._queue and (not points or len(points) + len(self._queue[0][0]) <= self._batch_size):
                entry_points, text, token, _ = self._queue.popleft()
                points.extend(entry_points)
                tokens.append(token)
                if text:
                    texts.append(text)
            self._queued_points -= len(points)
            self._in_flight = len(points)
            return points, tokens, texts

    def _run(self) -> None:
        while (batch := self._take_batch()) is not None:
            points, tokens, texts = batch
            body = "\n".join(texts).encode() if self._line_sink is not None else None
            if points and not self._store(points, body):
                # Shutting down while the store is down: these tokens are never reported durable, so
                # their MQTT messages stay unacknowledged and the broker redelivers them next run.
                return
            # Commit order: the batch is stored, spooled or set aside above; only now report it durable.
            if tokens:
                self._on_durable(tokens)
            with self._cond:
                self._in_flight = 0
                self._cond.notify_all()
            self._drain_spool()

    def _store(self, points: list[AnyPoint], body: bytes | None) -> bool:
        spool = self._spool
        if spool is not None and spool.batches and spool.has_room():
            self._to_spool(points, body)  # older batches wait in the spool: this one queues behind them
            return True
        return self._write_with_retry(points, body)

    def _to_spool(self, points: list[AnyPoint], body: bytes | None) -> None:
        assert self._spool is not None
        self._spool.append(body if body is not None else _body(points), points=len(points))
        self.stats.spooled_points += len(points)

    def _drain_due(self) -> bool:
        return self._spool is not None and self._spool.batches > 0 and time.monotonic() >= self._drain_at

    def _drain_spool(self, max_batches: int = 20) -> None:
        """Move up to ``max_batches`` spooled batches to the store, oldest first (then new input gets a turn)."""
        spool = self._spool
        if spool is None or not self._drain_due():
            return
        assert isinstance(self._sink, LineSink)
        for _ in range(max_batches):
            oldest = spool.oldest()
            if oldest is None or self._stop_event.is_set():
                break
            batch_id, body = oldest
            try:
                self._sink.write_lines(body)
            except SinkUnavailable as exc:
                self.healthy = False
                self.stats.retries += 1
                self._drain_at = time.monotonic() + self._delay(exc, self._drain_backoff)
                self._drain_backoff = min(self._max_backoff, self._drain_backoff * 2)
                return
            except SinkRejected as exc:
                self._set_aside_lines(body.decode(), exc)
            else:
                self.stats.drained_points += body.count(b"\n") + 1
            spool.delete(batch_id)
            self.healthy = True
            self._drain_backoff = 0.2
        if not spool.batches:
            log.info("disk spool drained into the store", extra={"points": self.stats.drained_points})

    def _delay(self, exc: SinkUnavailable, backoff: float) -> float:
        return exc.retry_after_s if exc.retry_after_s is not None else backoff * self._rng.uniform(0.5, 1.0)

    def _write_with_retry(self, points: list[AnyPoint], body: bytes | None) -> bool:
        """Store ``points`` (or spool or set them aside); ``False`` only if stopped while the store was down.

        ``body`` is their line protocol, rendered at submit, when the sink takes line protocol.
        """
        backoff = 0.2
        while True:
            try:
                if self._line_sink is not None and body is not None:
                    self._line_sink.write_lines(body)
                else:
                    self._sink.write(points)
            except SinkUnavailable as exc:
                self.healthy = False
                self.stats.retries += 1
                delay = self._delay(exc, backoff)
                if self._spool is not None and self._spool.has_room():
                    log.warning(
                        "store unavailable, spooling to disk",
                        extra={"error": str(exc), "retry_in_s": round(delay, 2), "points": len(points)},
                    )
                    self._to_spool(points, body)
                    self._drain_at = time.monotonic() + delay
                    self._drain_backoff = min(self._max_backoff, backoff * 2)
                    return True
                log.warning(
                    "store unavailable, will retry",
                    extra={"error": str(exc), "retry_in_s": round(delay, 2), "points": len(points)},
                )
                if self._stop_event.wait(delay):
                    return False
                backoff = min(self._max_backoff, backoff * 2)
                continue
            except SinkRejected as exc:
                self._set_aside(points, body, exc)
                return True
            self.healthy = True
            self.stats.batches += 1
            self.stats.points += len(points)
            return True

    def _set_aside(self, points: list[AnyPoint], body: bytes | None, exc: SinkRejected) -> None:
        lines = body.decode() if body is not None else "\n".join(point.line() for point in points)
        self._set_aside_lines(lines, exc)

    def _set_aside_lines(self, lines: str, exc: SinkRejected) -> None:
        count = lines.count("\n") + 1
        self.stats.rejected_points += count
        log.error(
            "store rejected a batch; kept in the reject file",
            extra={"error": str(exc), "points": count, "file": str(self._reject_file)},
        )
        if self._reject_file is not None:
            self._reject_file.parent.mkdir(parents=True, exist_ok=True)
            with self._reject_file.open("a", encoding="utf-8") as out:
                out.write(lines + "\n")
