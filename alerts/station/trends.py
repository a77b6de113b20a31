"""The last few minutes of each patient's vitals, small enough to keep for a whole hospital's traffic.

A nurse station subscribes to every patient's vitals (it cannot know in advance who will alarm),
but only needs a sparkline of the vital behind an alert. So readings are folded into fixed time
buckets of device time (the last value in a bucket wins), one row of numbers per bucket, and only
a bounded number of patients outside the ward is remembered (least recently heard from goes first).

Pure: time is the readings' own ``ts_ms``; nothing here reads a clock.

>>> book = TrendBook(window_ms=10_000, step_ms=2_000)
>>> for second in range(12):
...     book.add("p-1", second * 1000, {"hr": 70.0 + second})
>>> book.series("p-1", "hr")
[(2000, 73.0), (4000, 75.0), (6000, 77.0), (8000, 79.0), (10000, 81.0)]
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Mapping

__all__ = ["TREND_VITALS", "TrendBook"]

# One column per vital the wire contract carries; a bucket is a fixed-length tuple (NaN = not measured),
# which takes a fraction of the memory of a dict per bucket.
TREND_VITALS: tuple[str, ...] = ("hr", "pr", "spo2", "rr", "temp", "sbp", "dbp")
_COLUMN = {vital: index for index, vital in enumerate(TREND_VITALS)}
_EMPTY = tuple(math.nan for _ in TREND_VITALS)


class TrendBook:
    """Bucketed recent vitals per patient. ``keep`` marks patients that are never evicted (the ward's)."""

    def __init__(self, *, window_ms: int = 600_000, step_ms: int = 2_000, max_other_patients: int = 500) -> None:
        if step_ms <= 0 or window_ms < step_ms:
            raise ValueError("need 0 < step_ms <= window_ms")
        self._window_ms = window_ms
        self._step_ms = step_ms
        self._max_other = max_other_patients
        self._buckets: dict[str, deque[tuple[int, tuple[float, ...]]]] = {}
        # Patients not known to be in the ward, least recently updated first.
        self._others: OrderedDict[str, None] = OrderedDict()
        self._kept: set[str] = set()

    def __len__(self) -> int:
        return len(self._buckets)

    def keep(self, patient: str) -> None:
        """``patient`` belongs to the ward: never evict its trend."""
        self._kept.add(patient)
        self._others.pop(patient, None)

    def add(self, patient: str, ts_ms: int, vitals: Mapping[str, float]) -> None:
        bucket_ms = ts_ms - ts_ms % self._step_ms
        rows = self._buckets.get(patient)
        if rows is None:
            rows = self._buckets[patient] = deque()
        if patient not in self._kept:
            self._others[patient] = None
            self._others.move_to_end(patient)
            while len(self._others) > self._max_other:
                evicted, _ = self._others.popitem(last=False)
                del self._buckets[evicted]
        if rows and bucket_ms < rows[-1][0]:
            # A late reading (redelivery, backlog) older than the newest bucket: a sparkline of the recent
            # past does not need it, and inserting in the middle would cost more than it is worth.
            return
        if rows and rows[-1][0] == bucket_ms:
            values = list(rows[-1][1])
            rows.pop()
        else:
            values = list(_EMPTY)
        for vital, value in vitals.items():
            column = _COLUMN.get(vital)
            if column is not None:
                values[column] = value
        rows.append((bucket_ms, tuple(values)))
        horizon = bucket_ms - self._window_ms
        while rows and rows[0][0] <= horizon:
            rows.popleft()

    def series(self, patient: str, vital: str) -> list[tuple[int, float]]:
        """``(bucket start ms, value)`` of ``vital`` over the window, oldest first; empty if unknown."""
        column = _COLUMN.get(vital)
        rows = self._buckets.get(patient)
        if column is None or rows is None:
            return []
        return [(ts, values[column]) for ts, values in rows if not math.isnan(values[column])]

    def latest_ms(self, patient: str) -> int | None:
        rows = self._buckets.get(patient)
        return rows[-1][0] if rows else None
