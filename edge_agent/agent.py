"""The edge agent's run loop: take readings from a source when they are due and publish them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from edge_agent.publisher import PublisherStats
from vitalstream.wire import VitalsReading

__all__ = ["EdgeAgent", "ReadingPublisher", "ReadingSource", "RunSummary"]

log = logging.getLogger(__name__)


class ReadingSource(Protocol):
    """Anything that yields readings as time passes: a simulator, a recording, a real device adapter."""

    def readings_until(self, now_ms: int) -> list[VitalsReading]:
        """Readings with a timestamp at or before ``now_ms`` not returned before, in time order."""
        ...


class ReadingPublisher(Protocol):
    def publish(self, reading: VitalsReading) -> None: ...

    def flush(self, timeout_s: float) -> bool: ...

    def stats(self) -> PublisherStats: ...


@dataclass(frozen=True, slots=True)
class RunSummary:
    readings: int
    stats: PublisherStats
    last_seq: dict[str, int]
    first_seq: dict[str, int]


class EdgeAgent:
    """Polls a source at ``rate_hz`` and hands due readings to a publisher."""

    def __init__(
        self,
        *,
        source: ReadingSource,
        publisher: ReadingPublisher,
        rate_hz: float = 1.0,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._source = source
        self._publisher = publisher
        self._period_s = 1.0 / rate_hz
        self._clock_ms = clock_ms

    def run(
        self, *, stop: threading.Event, start_ms: int, duration_s: float | None, flush_s: float = 10.0
    ) -> RunSummary:
        """Publish until ``stop`` is set or ``duration_s`` of event time has been produced, then flush."""
        end_ms = None if duration_s is None else start_ms + int(duration_s * 1000) - 1
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        count = 0
        while not stop.is_set():
            now_ms = self._clock_ms()
            due = now_ms if end_ms is None else min(now_ms, end_ms)
            for reading in self._source.readings_until(due):
                self._publisher.publish(reading)
                first.setdefault(reading.device, reading.seq)
                last[reading.device] = reading.seq
                count += 1
            if end_ms is not None and now_ms >= end_ms:
                break
            stop.wait(self._period_s - (time.time() % self._period_s))
        if not self._publisher.flush(flush_s):
            log.warning(
                "not every reading was acknowledged before exit",
                extra={"unacknowledged": self._publisher.stats().unacknowledged},
            )
        return RunSummary(readings=count, stats=self._publisher.stats(), last_seq=last, first_seq=first)
