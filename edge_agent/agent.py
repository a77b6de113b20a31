"""The edge agent's run loop: take readings from a source when due, number them, spool them, wake delivery.

Every reading goes into the durable spool (with its per-device sequence number, persisted in the
same transaction) before anything is sent; the delivery thread publishes from the spool. Sources
therefore never number readings themselves: whatever ``seq`` a source sets is replaced here.

The agent also counts, per model output and per device, the readings on which an output was withheld
because its model failed (the reading's ``faults``, see :mod:`edge_agent.isolation`); the run summary
reports them, so a model that fails on some patient's signal is visible without reading the logs.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from edge_agent.publisher import DeliveryStats, SpoolDelivery
from edge_agent.spool import PRIORITY, ROUTINE, Spool, SpoolStats
from vitalstream.settings import LimitsSettings
from vitalstream.wire import EdgeEvent, Fault, VitalsReading, encode_event, encode_vitals
from vitalstream.wire.topics import events_topic, vitals_topic

__all__ = ["EdgeAgent", "ReadingSource", "RunSummary", "is_alert_grade"]

log = logging.getLogger(__name__)


class ReadingSource(Protocol):
    """Anything that yields readings as time passes: a simulator, a recording, a real device adapter.

    A new device adapter (say a BLE heart-rate strap) is one class with this one method. Waveform
    sources go through :class:`edge_agent.pipeline.PipelineSource`, which also yields edge events.
    """

    def poll(self, now_ms: int) -> Sequence[VitalsReading | EdgeEvent]:
        """Readings (and events) with a time at or before ``now_ms`` not returned before, in time order."""
        ...


def is_alert_grade(reading: VitalsReading, limits: LimitsSettings) -> bool:
    """Would the processor alarm on this reading? Such readings are kept longest when the spool is full.

    >>> is_alert_grade(VitalsReading("p", "d", 0, 0, {"spo2": 80.0}), LimitsSettings())
    True
    """
    v = reading.vitals
    return (
        ("hr" in v and not limits.hr_low <= v["hr"] <= limits.hr_high)
        or ("spo2" in v and v["spo2"] < limits.spo2_low)
        or ("rr" in v and not limits.rr_low <= v["rr"] <= limits.rr_high)
        or (reading.rhythm is not None and reading.rhythm.label != "N")
        or reading.beats.get("V", 0) >= 3
    )


@dataclass(frozen=True, slots=True)
class RunSummary:
    readings: int
    events: int
    delivery: DeliveryStats
    spool: SpoolStats
    first_seq: dict[str, int]
    last_seq: dict[str, int]
    # Readings with an output withheld because its model failed: by output, and by device then output.
    model_faults: dict[str, int] = field(default_factory=dict)
    device_faults: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def unacknowledged(self) -> int:
        """Readings still in the spool (kept on disk; sent on the next start)."""
        return self.spool.messages


class EdgeAgent:
    """Polls a source at ``rate_hz`` and spools due readings for delivery."""

    def __init__(
        self,
        *,
        source: ReadingSource,
        spool: Spool,
        delivery: SpoolDelivery,
        limits: LimitsSettings | None = None,
        rate_hz: float = 1.0,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._source = source
        self._spool = spool
        self._delivery = delivery
        self._limits = limits or LimitsSettings()
        self._period_s = 1.0 / rate_hz
        self._clock_ms = clock_ms
        self.first_seq: dict[str, int] = {}
        self.last_seq: dict[str, int] = {}
        self.readings = 0
        self.events = 0
        self.model_faults: dict[str, int] = {}
        self.device_faults: dict[str, dict[str, int]] = {}

    def step(self, now_ms: int) -> int:
        """Spool every reading and event due at ``now_ms``; returns how many readings."""
        polled = self._source.poll(now_ms)
        if not polled:
            return 0
        due = [item for item in polled if isinstance(item, VitalsReading)]
        events = [item for item in polled if isinstance(item, EdgeEvent)]
        seqs = self._spool.allocate_seqs([r.device for r in due])
        messages = [(events_topic(e.patient, e.device), encode_event(e), PRIORITY) for e in events]
        self.events += len(events)
        for reading, seq in zip(due, seqs, strict=True):
            stamped = dataclasses.replace(reading, seq=seq)
            priority = PRIORITY if is_alert_grade(stamped, self._limits) else ROUTINE
            messages.append((vitals_topic(stamped.patient, stamped.device), encode_vitals(stamped), priority))
            self.first_seq.setdefault(stamped.device, seq)
            self.last_seq[stamped.device] = seq
            self._count_faults(stamped)
        self._spool.put(messages, now_ms=now_ms)
        self._delivery.notify()
        self.readings += len(due)
        return len(due)

    def _count_faults(self, reading: VitalsReading) -> None:
        failed = [output for output, fault in reading.faults.items() if fault is Fault.MODEL_ERROR]
        if not failed:
            return
        device = self.device_faults.setdefault(reading.device, {})
        for output in failed:
            self.model_faults[output] = self.model_faults.get(output, 0) + 1
            device[output] = device.get(output, 0) + 1

    def run(
        self, *, stop: threading.Event, start_ms: int, duration_s: float | None, flush_s: float = 10.0
    ) -> RunSummary:
        """Spool until ``stop`` is set or ``duration_s`` of event time has been produced, then let delivery drain."""
        end_ms = None if duration_s is None else start_ms + int(duration_s * 1000) - 1
        while not stop.is_set():
            now_ms = self._clock_ms()
            self.step(now_ms if end_ms is None else min(now_ms, end_ms))
            if (end_ms is not None and now_ms >= end_ms) or getattr(self._source, "finished", False):
                break
            stop.wait(self._period_s - (time.time() % self._period_s))
        if not self._delivery.wait_drained(flush_s):
            stats = self._spool.stats()
            log.warning(
                "readings remain in the spool; they are sent on the next start",
                extra={"spooled": stats.messages, "bytes": stats.bytes},
            )
        return RunSummary(
            self.readings,
            self.events,
            self._delivery.stats(),
            self._spool.stats(),
            self.first_seq,
            self.last_seq,
            self.model_faults,
            self.device_faults,
        )
