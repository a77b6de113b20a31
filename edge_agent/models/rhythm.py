"""Atrial fibrillation (AF) from beat times: RR-irregularity features and a logistic-regression ONNX model.

The input is one window of beat times in seconds (any ECG or PPG beat detector, any sampling rate:
only the times matter) and, optionally, the AAMI class of each beat from the beat classifier. Only
N-N intervals are used: an interval that starts or ends at a beat of another class (S, V, F, Q) is
dropped, and so are, even when no classes are given, a premature-then-compensatory pair (an ectopic
beat), two short intervals that add up to one (a false detection), an interval of about twice the
median (a missed beat) and any interval under half the median with its neighbours (noise spikes), so
that ectopic beats and detector errors do not read as irregularity. Four features, normalised by
the window's own rate, describe what is left:

``cosen``         coefficient of sample entropy (Lake & Moorman 2011): SampEn(m=1, r=30 ms) + ln(2r / mean NN)
``log_nrmssd``    ln(RMSSD / mean NN) over successive differences of adjacent N-N intervals
``log_mpd``       ln of the smallest median |NN[i] - NN[i-k]| / median NN over lags k = 1, 2, 3
                  (low for any short repeating pattern, e.g. residual bigeminy or trigeminy)
``tpr``           turning-point ratio (about 2/3 for a random sequence)

Windows with fewer than :data:`MIN_INTERVALS` usable N-N intervals (or :data:`MIN_PAIRS` adjacent
pairs) have no features (a NaN vector): :meth:`RhythmClassifier.predict` then answers ``"N"`` with
``{"AF": 0.0, "N": 1.0, "insufficient": 1.0}`` instead of guessing.

The model is stateless: each call sees one window (:data:`WINDOW_S` = 30 s, the operating point; the
caller slides it as it likes), so a rhythm change shows up at most one window length late.

>>> rng = np.random.default_rng(0)
>>> sinus = np.cumsum(np.full(40, 0.8) + rng.normal(0, 0.01, 40))
>>> af = np.cumsum(rng.uniform(0.4, 1.1, 40))
>>> bool(rhythm_features(af)[1] > rhythm_features(sinus)[1])  # log_nrmssd
True
>>> bool(np.isnan(rhythm_features(sinus[:5])).all())
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edge_agent.models.registry import ModelSpec, load_manifest, open_session

__all__ = [
    "FEATURES",
    "LABELS",
    "MIN_INTERVALS",
    "MIN_PAIRS",
    "NAME",
    "VERSION",
    "WINDOW_S",
    "RhythmClassifier",
    "nn_mask",
    "rhythm_features",
]

LABELS = ("N", "AF")
NAME = "rhythm-af-rr"
VERSION = "1.0.0"
WINDOW_S = 30.0
FEATURES = ("cosen", "log_nrmssd", "log_mpd", "tpr")
MIN_INTERVALS = 8
MIN_PAIRS = 5

# Physiological RR range (250 bpm .. 20 bpm): anything outside is a missed or a false beat detection.
RR_MIN_S = 0.24
RR_MAX_S = 3.0
# Beat-pattern rules, relative to the window's median N-N interval, that drop intervals which are not
# rhythm whether or not beat classes are given: an ectopic beat (premature, then a compensatory pause),
# a false detection (two short intervals that add up to one), a missed beat (about twice the median)
# and any interval under half the median (with its neighbours: a spike in noise).
PREMATURE = 0.80
COMPENSATORY = 1.15
SPLIT_TOLERANCE = 0.20
MISSED_TOLERANCE = 0.25
TINY = 0.50
SAMPEN_R_S = 0.030  # Lake & Moorman's fixed tolerance (30 ms) for COSEn
_FLOOR = 1e-3  # keeps the logarithms finite for perfectly regular (synthetic) sequences


def nn_mask(
    beat_times_s: NDArray[np.float64], beat_classes: Sequence[str] | None = None
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """RR intervals of a window and the mask of those kept as N-N intervals (``ValueError`` if classes mismatch).

    >>> rr, keep = nn_mask(np.array([0.0, 1.0, 2.0, 2.5, 4.0, 5.0]), ["N", "N", "N", "V", "N", "N"])
    >>> keep.tolist()
    [True, True, False, False, True]
    """
    t = np.asarray(beat_times_s, dtype=np.float64)
    rr = np.diff(t) if len(t) > 1 else np.zeros(0)
    keep = (rr >= RR_MIN_S) & (rr <= RR_MAX_S)
    if beat_classes is not None:
        if len(beat_classes) != len(t):
            raise ValueError(f"{len(beat_classes)} beat classes for {len(t)} beat times")
        normal = np.fromiter((c == "N" for c in beat_classes), dtype=bool, count=len(t))
        keep &= normal[1:] & normal[:-1]
    if keep.sum() >= 3:
        median = float(np.median(rr[keep]))
        short, long_ = rr < PREMATURE * median, rr > COMPENSATORY * median
        premature = short[:-1] & long_[1:]
        split = short[:-1] & short[1:] & (np.abs(rr[:-1] + rr[1:] - median) <= SPLIT_TOLERANCE * median)
        tiny = rr < TINY * median
        drop = np.abs(rr - 2.0 * median) <= MISSED_TOLERANCE * median
        drop |= tiny
        drop[:-1] |= premature | split | tiny[1:]
        drop[1:] |= premature | split | tiny[:-1]
        keep &= ~drop
    return rr, keep


def _runs(keep: NDArray[np.bool_], length: int) -> NDArray[np.bool_]:
    """``out[i]`` is true when ``keep[i : i + length]`` are all true (contiguous kept intervals)."""
    if len(keep) < length:
        return np.zeros(0, dtype=bool)
    counts = np.concatenate(([0], np.cumsum(keep.astype(np.int64))))
    return np.asarray(counts[length:] - counts[:-length] == length, dtype=bool)


def _cosen(rr: NDArray[np.float64], pairs: NDArray[np.bool_], mean_nn: float) -> float:
    # Templates of length 1 that have a kept successor; +1 on both counts keeps SampEn defined for short windows.
    x = rr[:-1][pairs]
    y = rr[1:][pairs]
    close_x = np.abs(x[:, None] - x[None, :]) <= SAMPEN_R_S
    close_y = np.abs(y[:, None] - y[None, :]) <= SAMPEN_R_S
    upper = np.triu(np.ones_like(close_x), k=1)
    b = float(np.sum(close_x & upper))
    a = float(np.sum(close_x & close_y & upper))
    sampen = -np.log((a + 1.0) / (b + 1.0))
    return float(sampen + np.log(2 * SAMPEN_R_S / mean_nn))


def rhythm_features(
    beat_times_s: NDArray[np.float64], beat_classes: Sequence[str] | None = None
) -> NDArray[np.float32]:
    """The :data:`FEATURES` of one window (sorted beat times in s, optional AAMI classes); NaNs if too few beats.

    >>> rhythm_features(np.arange(0.0, 30.0, 0.75)).shape
    (4,)
    """
    rr, keep = nn_mask(beat_times_s, beat_classes)
    pairs = _runs(keep, 2)
    if keep.sum() < MIN_INTERVALS or pairs.sum() < MIN_PAIRS:
        return np.full(len(FEATURES), np.nan, dtype=np.float32)
    nn = rr[keep]
    mean_nn = float(nn.mean())
    median_nn = float(np.median(nn))
    diffs = (rr[1:] - rr[:-1])[pairs]
    nrmssd = float(np.sqrt(np.mean(diffs**2))) / mean_nn
    lagged = []
    for lag in (1, 2, 3):
        valid = _runs(keep, lag + 1)
        if valid.sum() >= 3:
            lagged.append(float(np.median(np.abs(rr[lag:] - rr[:-lag])[valid])) / median_nn)
    mpd = min(lagged)  # never empty: lag 1 has at least MIN_PAIRS valid pairs
    triples = _runs(keep, 3)
    if triples.any():
        a, b, c = rr[:-2][triples], rr[1:-1][triples], rr[2:][triples]
        tpr = float(np.mean((b - a) * (b - c) > 0))
    else:
        tpr = 2.0 / 3.0
    values = (
        _cosen(rr, pairs, mean_nn),
        np.log(max(nrmssd, _FLOOR)),
        np.log(max(mpd, _FLOOR)),
        tpr,
    )
    return np.asarray(values, dtype=np.float32)


class RhythmClassifier:
    """AF versus not-AF for one window of beats, with the manifest's ``rhythm`` model (sha256-checked).

    The ONNX model's intercept already includes the operating point chosen by cross-validation,
    so ``AF`` means ``p >= 0.5``.

    >>> clf = RhythmClassifier()                                          # doctest: +SKIP
    >>> clf.predict(beat_times_s)                                         # doctest: +SKIP
    ('AF', {'AF': 0.97, 'N': 0.03})
    """

    def __init__(self, spec: ModelSpec | None = None) -> None:
        self.spec = spec if spec is not None else load_manifest()["rhythm"]
        self._session: Any = open_session(self.spec)
        self._input = self._session.get_inputs()[0].name

    @property
    def ref(self) -> str:
        return self.spec.ref

    def predict_proba_batch(self, features: NDArray[np.float32]) -> NDArray[np.float64]:
        """P(AF) for many windows' feature rows (shape ``(n, 4)``); rows with NaNs (too few beats) get 0."""
        rows = np.asarray(features, dtype=np.float32).reshape(-1, len(FEATURES))
        usable = np.isfinite(rows).all(axis=1)
        p = np.zeros(len(rows), dtype=np.float64)
        if usable.any():
            (proba,) = self._session.run(["probabilities"], {self._input: np.ascontiguousarray(rows[usable])})
            p[usable] = np.asarray(proba, dtype=np.float64)[:, 1]
        return p

    def predict_batch(self, features: NDArray[np.float32]) -> list[str]:
        """``"AF"`` or ``"N"`` for many windows' feature rows."""
        return [LABELS[int(p >= 0.5)] for p in self.predict_proba_batch(features)]

    def predict(
        self, beat_times_s: NDArray[np.float64], beat_classes: Sequence[str] | None = None
    ) -> tuple[str, dict[str, float]]:
        """``("AF" | "N", {"AF": p, "N": 1 - p})`` for one window; adds ``"insufficient": 1.0`` when too few beats."""
        features = rhythm_features(beat_times_s, beat_classes)
        if not np.isfinite(features).all():
            return "N", {"AF": 0.0, "N": 1.0, "insufficient": 1.0}
        p = float(self.predict_proba_batch(features[None, :])[0])
        return LABELS[int(p >= 0.5)], {"AF": p, "N": 1.0 - p}
