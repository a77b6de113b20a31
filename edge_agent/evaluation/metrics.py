"""The scores every evaluation and training script reports, defined once: ratios, AUROC, percentiles, beat matching.

Each evaluation used to carry its own copy of these, and the copies disagreed on small things (what an
undefined ratio is, how ties rank). Here each is written once, in plain NumPy, with no I/O, so that a
"sensitivity" or an "AUROC" means the same in every model card.

An undefined ratio (nothing to divide by) is ``undefined``, NaN unless the caller says otherwise: the
QRS scoring follows ``bxb`` (1.0), the beat confusion tables report 0.0, and JSON summaries turn NaN
into ``None`` with :func:`rounded` (JSON has no NaN).

>>> counts = binary_counts(np.array([True, True, False, False]), np.array([True, False, True, False]))
>>> counts
BinaryCounts(tp=1, fp=1, fn=1, tn=1)
>>> counts.sensitivity, counts.ppv, counts.f1
(0.5, 0.5, 0.5)
>>> rounded(sensitivity(0, 0), 4) is None
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "BinaryCounts",
    "auroc",
    "binary_counts",
    "f1",
    "f1_of_rates",
    "match_beats",
    "nearest_reference",
    "percentile",
    "ppv",
    "ratio",
    "rounded",
    "sensitivity",
    "specificity",
]


def ratio(numerator: float, denominator: float, *, undefined: float = math.nan) -> float:
    """``numerator / denominator``, or ``undefined`` when the denominator is 0.

    >>> ratio(3, 4), ratio(1, 0), ratio(1, 0, undefined=1.0)
    (0.75, nan, 1.0)
    """
    return numerator / denominator if denominator else undefined


def sensitivity(tp: int, fn: int, *, undefined: float = math.nan) -> float:
    """Share of the positives found: ``tp / (tp + fn)`` (recall, true-positive rate).

    >>> sensitivity(9, 1)
    0.9
    """
    return ratio(tp, tp + fn, undefined=undefined)


def specificity(tn: int, fp: int, *, undefined: float = math.nan) -> float:
    """Share of the negatives left alone: ``tn / (tn + fp)``.

    >>> specificity(3, 1)
    0.75
    """
    return ratio(tn, tn + fp, undefined=undefined)


def ppv(tp: int, fp: int, *, undefined: float = math.nan) -> float:
    """Positive predictivity: ``tp / (tp + fp)`` (precision, ``+P`` in EC57).

    >>> ppv(1, 3)
    0.25
    """
    return ratio(tp, tp + fp, undefined=undefined)


def f1(tp: int, fp: int, fn: int, *, undefined: float = math.nan) -> float:
    """F1 from counts: ``2 tp / (2 tp + fp + fn)``, the harmonic mean of sensitivity and PPV.

    >>> f1(2, 1, 1)
    0.6666666666666666
    """
    return ratio(2 * tp, 2 * tp + fp + fn, undefined=undefined)


def f1_of_rates(sensitivity: float, ppv: float) -> float:
    """The harmonic mean of a sensitivity and a PPV measured on different counts (0 when both are 0).

    For a sensitivity and a PPV of the same matching, :func:`f1` on the counts is the same number.

    >>> f1_of_rates(0.5, 1.0), f1_of_rates(0.0, 0.0)
    (0.6666666666666666, 0.0)
    """
    total = sensitivity + ppv
    return 2 * sensitivity * ppv / total if total > 0 else 0.0


@dataclass(frozen=True, slots=True)
class BinaryCounts:
    """The four cells of a binary confusion table, with the ratios of :mod:`edge_agent.evaluation.metrics`."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def sensitivity(self) -> float:
        return sensitivity(self.tp, self.fn)

    @property
    def specificity(self) -> float:
        return specificity(self.tn, self.fp)

    @property
    def ppv(self) -> float:
        return ppv(self.tp, self.fp)

    @property
    def f1(self) -> float:
        return f1(self.tp, self.fp, self.fn)


def binary_counts(predicted: ArrayLike, truth: ArrayLike) -> BinaryCounts:
    """Count ``predicted`` against ``truth`` (booleans, positive = ``True``, same length).

    >>> binary_counts([True, False, False], [True, True, False])
    BinaryCounts(tp=1, fp=0, fn=1, tn=1)
    """
    p = np.asarray(predicted, dtype=bool)
    t = np.asarray(truth, dtype=bool)
    if p.shape != t.shape:
        raise ValueError(f"predicted has shape {p.shape}, truth {t.shape}")
    return BinaryCounts(tp=int(np.sum(p & t)), fp=int(np.sum(p & ~t)), fn=int(np.sum(~p & t)), tn=int(np.sum(~p & ~t)))


def rounded(value: float, digits: int) -> float | None:
    """``round(value, digits)``, or ``None`` for NaN: how an undefined score goes into a JSON summary.

    >>> rounded(2 / 3, 4), rounded(math.nan, 4)
    (0.6667, None)
    """
    return None if math.isnan(value) else round(value, digits)


def auroc(scores: ArrayLike, labels: ArrayLike) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half); NaN when one class is missing.

    ``labels`` are 1 (positive) and 0 (negative); any other label is ignored.

    >>> auroc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    0.75
    >>> auroc([0.5, 0.5], [0, 1])
    0.5
    """
    s, y = np.asarray(scores), np.asarray(labels)
    positive, negative = s[y == 1], s[y == 0]
    if len(positive) == 0 or len(negative) == 0:
        return math.nan
    order = np.argsort(np.concatenate([positive, negative]), kind="stable")
    values = np.concatenate([positive, negative])[order]
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    # Average ranks over ties.
    _, first, counts = np.unique(values, return_index=True, return_counts=True)
    for start, count in zip(first, counts, strict=True):
        if count > 1:
            ranks[order[start : start + count]] = start + (count + 1) / 2
    u = ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2
    return float(u / (len(positive) * len(negative)))


def percentile(values: ArrayLike, q: float) -> float:
    """The ``q``-th percentile (0-100, linear interpolation, as :func:`numpy.percentile`).

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    """
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def match_beats(reference: ArrayLike, detected: ArrayLike, tolerance_samples: int) -> tuple[int, int, int]:
    """``(tp, fn, fp)``: one-to-one matching of detected to reference beats within ``tolerance_samples``.

    The pairing rule is the one of the WFDB ``bxb`` comparator (ANSI/AAMI EC57): walk both sorted
    lists; the earlier annotation pairs with the other list's current one if it lies within the
    window and no closer partner is next in line.

    >>> match_beats([100, 400, 700], [105, 420, 900], 54)
    (2, 1, 1)
    """
    ref = np.sort(np.asarray(reference, dtype=np.int64)).tolist()
    det = np.sort(np.asarray(detected, dtype=np.int64)).tolist()
    far = 1 << 62
    i = j = tp = 0
    while i < len(ref) and j < len(det):
        r, d = ref[i], det[j]
        r_next = ref[i + 1] if i + 1 < len(ref) else far
        d_next = det[j + 1] if j + 1 < len(det) else far
        if d < r:
            paired = r - d <= tolerance_samples and (r - d < abs(r - d_next) or abs(r_next - d_next) < abs(r - d_next))
        else:
            paired = d - r <= tolerance_samples and (d - r < abs(d - r_next) or abs(d_next - r_next) < abs(d - r_next))
        if paired:
            tp += 1
            i += 1
            j += 1
        elif d < r:
            j += 1
        else:
            i += 1
    return tp, len(ref) - tp, len(det) - tp


def nearest_reference(
    reference: ArrayLike, detected: ArrayLike, tolerance: float, *, claim_once: bool = False
) -> NDArray[np.int64]:
    """For each detected time, the index in ``reference`` of the nearest reference time within ``tolerance``, or -1.

    Unlike :func:`match_beats` this carries a reference's attributes (its label) over to a detection.
    Equidistant references go to the earlier one. With ``claim_once`` a reference already taken by an
    earlier detection leaves the later ones unmatched (-1): a second detection of one beat is a false
    beat. Times and ``tolerance`` in any one unit (seconds or samples).

    >>> nearest_reference([1.0, 2.0, 3.0], [0.98, 2.2, 2.05, 5.0], 0.1).tolist()
    [0, -1, 1, -1]
    >>> nearest_reference([1.0, 2.0], [1.02, 0.99], 0.1, claim_once=True).tolist()
    [0, -1]
    """
    ref = np.asarray(reference, dtype=np.float64)
    found = np.asarray(detected, dtype=np.float64)
    out = np.full(len(found), -1, dtype=np.int64)
    if len(ref) == 0 or len(found) == 0:
        return out
    order = np.argsort(ref, kind="stable")
    ranked = ref[order]
    if len(ranked) == 1:
        pick = np.zeros(len(found), dtype=np.int64)
    else:
        after = np.clip(np.searchsorted(ranked, found), 1, len(ranked) - 1)
        left, right = ranked[after - 1], ranked[after]
        pick = np.where(np.abs(found - left) <= np.abs(found - right), after - 1, after)
    close = np.abs(ranked[pick] - found) <= tolerance
    if not claim_once:
        out[close] = order[pick[close]]
        return out
    claimed: set[int] = set()
    for i in np.flatnonzero(close).tolist():
        j = int(order[pick[i]])
        if j not in claimed:
            claimed.add(j)
            out[i] = j
    return out
