"""The challenge's real-time score: ``100 * (TP + TN) / (TP + TN + FP + 5 * FN)``, with TPR and TNR.

A *positive* is a true alarm. We keep an alarm (decision true) or suppress it (decision false): a true
alarm kept is a TP, suppressed an FN (a missed event, five times as costly as a false alarm kept, an FP).

>>> c = Counts(tp=8, fn=2, fp=3, tn=7)  # 100 * 15 / (15 + 3 + 5 * 2)
>>> c.score, c.tpr, c.tnr
(53.57, 0.8, 0.7)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Counts", "tally"]


@dataclass
class Counts:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0

    def add(self, *, truth: bool, decision: bool) -> None:
        if truth:
            if decision:
                self.tp += 1
            else:
                self.fn += 1
        elif decision:
            self.fp += 1
        else:
            self.tn += 1

    @property
    def n(self) -> int:
        return self.tp + self.fn + self.fp + self.tn

    @property
    def score(self) -> float | None:
        denominator = self.tp + self.tn + self.fp + 5 * self.fn
        return round(100 * (self.tp + self.tn) / denominator, 2) if denominator else None

    @property
    def tpr(self) -> float | None:
        return round(self.tp / (self.tp + self.fn), 4) if self.tp + self.fn else None

    @property
    def tnr(self) -> float | None:
        return round(self.tn / (self.tn + self.fp), 4) if self.tn + self.fp else None

    def as_json(self) -> dict[str, object]:
        return {
            "tp": self.tp, "fn": self.fn, "fp": self.fp, "tn": self.tn,
            "score": self.score, "tpr": self.tpr, "tnr": self.tnr,
        }  # fmt: skip


def tally(outcomes: Iterable[tuple[str, bool, bool]], types: Iterable[str]) -> tuple[Counts, dict[str, Counts]]:
    """Overall and per-type counts of ``(alarm type, truth, decision)``; every type in ``types`` gets a row."""
    overall = Counts()
    by_type = {kind: Counts() for kind in types}
    for kind, truth, decision in outcomes:
        overall.add(truth=truth, decision=decision)
        by_type.setdefault(kind, Counts()).add(truth=truth, decision=decision)
    return overall, by_type
