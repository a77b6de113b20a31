"""Per-device sequence numbers: tell new readings from redeliveries, and count what went missing.

>>> t = SeqTracker()
>>> [str(t.observe(seq, ts_ms=1000 * seq).status) for seq in (0, 1, 3, 1, 2)]
['new', 'new', 'new', 'duplicate', 'late']
>>> t.skipped_total, t.late_total, sorted(t.missing)
(1, 1, [])
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["SeqStatus", "SeqTracker", "SeqVerdict"]

# How many missing sequence numbers a device may have outstanding before the oldest are forgotten
# (a reading that late is then counted as a duplicate and not re-processed; its point is still written).
_MAX_MISSING = 4096


class SeqStatus(StrEnum):
    NEW = "new"
    LATE = "late"  # fills an earlier gap
    DUPLICATE = "duplicate"  # a redelivery: changes nothing
    RESET = "reset"  # the device restarted its counter: accepted, tracking starts over


@dataclass(frozen=True, slots=True)
class SeqVerdict:
    status: SeqStatus
    gap: int = 0  # sequence numbers skipped just before this one


class SeqTracker:
    """State for one device. Small and picklable; the processor checkpoints it with the patient."""

    __slots__ = ("last_seq", "last_ts_ms", "late_total", "missing", "skipped_total")

    def __init__(self) -> None:
        self.last_seq: int | None = None
        self.last_ts_ms = 0
        self.missing: set[int] = set()  # skipped and not yet arrived (bounded)
        self.skipped_total = 0
        self.late_total = 0

    def observe(self, seq: int, *, ts_ms: int) -> SeqVerdict:
        if self.last_seq is None or seq > self.last_seq:
            gap = 0 if self.last_seq is None else seq - self.last_seq - 1
            if self.last_seq is not None and gap:
                self.skipped_total += gap
                self.missing.update(range(max(self.last_seq + 1, seq - _MAX_MISSING), seq))
                if len(self.missing) > _MAX_MISSING:
                    self.missing = set(sorted(self.missing)[-_MAX_MISSING:])
            self.last_seq = seq
            self.last_ts_ms = max(self.last_ts_ms, ts_ms)
            return SeqVerdict(SeqStatus.NEW, gap)
        if seq in self.missing:
            self.missing.discard(seq)
            self.late_total += 1
            return SeqVerdict(SeqStatus.LATE)
        if ts_ms > self.last_ts_ms:
            # An old sequence number with a newer timestamp than anything seen: the device lost its
            # counter (a reinstall, a factory reset). Treating it as a duplicate would drop all its data.
            self.last_seq = seq
            self.last_ts_ms = ts_ms
            self.missing.clear()
            return SeqVerdict(SeqStatus.RESET)
        return SeqVerdict(SeqStatus.DUPLICATE)
