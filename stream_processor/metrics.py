"""Prometheus text exposition for the processor, without a client library: a few counters, gauges and
one latency histogram are all an operator needs, and the format is small and stable.

>>> h = Histogram((0.001, 0.01))
>>> for seconds in (0.0005, 0.002, 0.5):
...     h.observe(seconds)
>>> print("\\n".join(h.render("work_seconds", "Time per message.")))
# HELP work_seconds Time per message.
# TYPE work_seconds histogram
work_seconds_bucket{le="0.001"} 1
work_seconds_bucket{le="0.01"} 2
work_seconds_bucket{le="+Inf"} 3
work_seconds_sum 0.5025
work_seconds_count 3
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping

__all__ = ["LATENCY_BUCKETS_S", "Histogram", "counter", "gauge", "label_set", "processor_metrics"]

# Decode + rules take tens of microseconds; a store hiccup or a GIL stall shows in the upper buckets.
LATENCY_BUCKETS_S = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5)


class Histogram:
    """Cumulative buckets, as Prometheus expects; observed from one thread, read from another (a torn read
    only mixes two consecutive observations, which is harmless for a scrape)."""

    __slots__ = ("_bounds", "_counts", "count", "sum")

    def __init__(self, bounds: Iterable[float] = LATENCY_BUCKETS_S) -> None:
        self._bounds = tuple(bounds)
        self._counts = [0] * (len(self._bounds) + 1)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self._counts[bisect.bisect_left(self._bounds, value)] += 1
        self.count += 1
        self.sum += value

    def render(self, name: str, help_text: str) -> list[str]:
        lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        cumulative = 0
        for bound, count in zip((*self._bounds, float("inf")), self._counts, strict=True):
            cumulative += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f'{name}_bucket{{le="{le}"}} {cumulative}')
        lines += [f"{name}_sum {round(self.sum, 6)}", f"{name}_count {self.count}"]
        return lines


def label_set(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(kind: str, name: str, help_text: str, samples: Iterable[tuple[Mapping[str, str], float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{label_set(labels)} {value:g}" for labels, value in samples]
    return lines


def counter(name: str, help_text: str, samples: Iterable[tuple[Mapping[str, str], float]]) -> list[str]:
    return _family("counter", name, help_text, samples)


def gauge(name: str, help_text: str, samples: Iterable[tuple[Mapping[str, str], float]]) -> list[str]:
    return _family("gauge", name, help_text, samples)


def _by_prefix(counts: Mapping[str, int], prefix: str, label: str) -> list[tuple[Mapping[str, str], float]]:
    return [({label: k.removeprefix(prefix)}, v) for k, v in sorted(counts.items()) if k.startswith(prefix)]


def processor_metrics(
    counts: Mapping[str, int],
    alert_counts: Mapping[tuple[str, str, str], int],
    gauges: Mapping[str, tuple[str, float]],
    latency: Histogram,
) -> str:
    """The processor's counters (see ``ProcessorService.counts``), gauges and latency as one scrape."""
    commands: list[tuple[Mapping[str, str], float]] = [
        ({"status": "applied"}, counts.get("commands", 0)),
        ({"status": "duplicate"}, counts.get("commands_duplicate", 0)),
    ]
    commands += [
        ({"status": "refused", "reason": k.removeprefix("commands_refused_")}, v)
        for k, v in sorted(counts.items())
        if k.startswith("commands_refused_")
    ]
    alerts = [
        ({"kind": kind, "priority": priority, "transition": transition}, n)
        for (kind, priority, transition), n in sorted(alert_counts.items())
    ]
    sequence = [(labels, v) for labels, v in _by_prefix(counts, "readings_", "status")]
    lines = [
        *counter("vitalstream_readings_total", "Vitals readings received and decoded.",
                 [({}, counts.get("readings", 0))]),
        *counter("vitalstream_readings_by_sequence_total", "Readings that were duplicates or late.", sequence),
        *counter("vitalstream_seq_gap_readings_total", "Readings missing from per-device sequences.",
                 [({}, counts.get("seq_skipped", 0))]),
        *counter("vitalstream_rejected_total", "Messages rejected and dead-lettered, by reason.",
                 _by_prefix(counts, "rejected_", "reason")),
        *counter("vitalstream_processing_failed_total",
                 "Messages whose handling failed (a bug; see the log), dead-lettered as processing_failed.",
                 [({}, counts.get("processing_failed", 0))]),
        *counter("vitalstream_alert_transitions_total", "Alert lifecycle transitions.", alerts),
        *counter("vitalstream_commands_total", "Clinician commands, by outcome.", commands),
    ]  # fmt: skip
    for name, (help_text, value) in gauges.items():
        lines += gauge(f"vitalstream_{name}", help_text, [({}, value)])
    lines += latency.render("vitalstream_processing_seconds", "Time to handle one MQTT message.")
    return "\n".join(lines) + "\n"
