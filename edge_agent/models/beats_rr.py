"""The RR-interval features of the ``beats`` model: each beat's timing relative to the patient's own rhythm.

Pre- and post-RR intervals divided by the local, robust and long running averages of the intervals
*before* the beat (a premature beat must not dilute the average it is compared with), the
variability of the recent rhythm, and the ``rhythm`` model's irregularity features of the last
:data:`RHYTHM_WINDOW_S` seconds (:func:`rhythm_context`), so that "early" counts less in atrial
fibrillation. Pure functions of the R-peak positions; :func:`edge_agent.models.beats.beat_features`
assembles them with the morphology features.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from edge_agent.dsp import Array
from edge_agent.models.rhythm import FEATURES as _RHYTHM_FEATURES
from edge_agent.models.rhythm import rhythm_features

__all__ = [
    "LOCAL_BEATS",
    "LONG_BEATS",
    "RHYTHM_WINDOW_S",
    "ROBUST_BEATS",
    "RR_FEATURES",
    "RR_MAX_S",
    "RR_MIN_S",
    "SHORT_BEATS",
    "rhythm_context",
    "rr_features",
]

LOCAL_BEATS = 10  # local rhythm: previous RR intervals averaged
ROBUST_BEATS = 20  # local rhythm, median: robust to isolated ectopic beats
LONG_BEATS = 300  # the patient's usual rhythm: about five minutes at 60 bpm
RR_MIN_S, RR_MAX_S = 0.15, 4.0  # clip implausible intervals (missed or doubled peaks) before averaging
SHORT_BEATS = (5, 10)  # very local rhythm, median: follows a rate change within a few beats
RHYTHM_WINDOW_S = 30.0  # rhythm context: the `rhythm` model's RR-irregularity features over the last 30 s
# Rhythm features of a window with too few usable N-N intervals: "perfectly regular" plus a flag.
_RHYTHM_FILL = np.array([-3.0, np.log(1e-3), np.log(1e-3), 2.0 / 3.0])

RR_FEATURES = (
    "pre_rr",
    "post_rr",
    "local_rr",
    "long_rr",
    "pre_local",
    "post_local",
    "pre_long",
    "post_long",
    "local_long",
    "pre_post",
    "pre_prev",
    "irregularity",
    "premature_fraction",
    "irregularity_local",
    "prev_pre_local",
    "post_minus_pre_local",
    "pause_local",
)


def _intervals(peaks: NDArray[np.int64], fs: float) -> Array:
    rr = np.diff(peaks.astype(np.float64)) / fs
    return np.clip(rr, RR_MIN_S, RR_MAX_S)


def _nanmean(x: Array) -> Array:
    valid = np.isfinite(x)
    count = valid.sum(axis=1)
    total = np.where(valid, x, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _nanmedian(x: Array) -> Array:
    # np.nanmedian warns on all-NaN rows; those rows are filled by the caller anyway.
    filled = np.sort(np.where(np.isfinite(x), x, np.inf), axis=1)
    count = np.isfinite(x).sum(axis=1)
    rows = np.arange(len(x))
    lo = filled[rows, np.maximum((count - 1) // 2, 0)]
    hi = filled[rows, np.maximum(count // 2, 0)]
    return np.where(count > 0, (lo + hi) / 2, np.nan)


def rr_features(peaks: NDArray[np.int64], fs: float, targets: NDArray[np.int64]) -> dict[str, Array]:
    """The RR features (by name) of the beats at ``peaks[targets]``, including the short-median ratios."""
    rr = _intervals(peaks, fs)  # rr[j] = peaks[j + 1] - peaks[j]: beat t has pre-RR rr[t - 1], post-RR rr[t]
    pad = LONG_BEATS + 1
    ext = np.concatenate((np.full(pad, np.nan), rr, [np.nan]))
    pre = ext[pad + targets - 1]
    post = ext[pad + targets]
    prev_pre = ext[pad + targets - 2]
    # The reference rhythm is the intervals BEFORE the pre-RR: a premature beat must not dilute the
    # average it is compared with.
    end = pad + targets - 1
    recent = ext[end[:, None] + np.arange(-ROBUST_BEATS, 0)[None, :]]
    local_rr = _nanmean(recent[:, -LOCAL_BEATS:])
    robust_rr = _nanmedian(recent)
    history = ext[end[:, None] + np.arange(-LONG_BEATS, 0)[None, :]]
    long_rr = _nanmean(history)
    long_median = _nanmedian(history)
    # Without history the beat itself is the best guess of the rhythm; without a next peak, "on time".
    first_guess = np.where(np.isnan(pre), post, pre)
    first_guess = np.where(np.isnan(first_guess), 1.0, first_guess)
    local_rr = np.where(np.isnan(local_rr), first_guess, local_rr)
    robust_rr = np.where(np.isnan(robust_rr), local_rr, robust_rr)
    long_rr = np.where(np.isnan(long_rr), local_rr, long_rr)
    long_median = np.where(np.isnan(long_median), robust_rr, long_median)
    short = {n: _nanmedian(recent[:, -n:]) for n in SHORT_BEATS}
    short = {n: np.where(np.isnan(m), local_rr, m) for n, m in short.items()}
    pre = np.where(np.isnan(pre), local_rr, pre)
    post = np.where(np.isnan(post), local_rr, post)
    prev_pre = np.where(np.isnan(prev_pre), local_rr, prev_pre)
    # Beat-to-beat variability, median-based: high in AF, barely moved by isolated ectopic beats.
    jumps = _nanmedian(np.abs(np.diff(recent, axis=1)))
    jumps = np.where(np.isnan(jumps), 0.0, jumps) / robust_rr
    mean_jumps = _nanmean(np.abs(np.diff(recent[:, -LOCAL_BEATS:], axis=1)))
    mean_jumps = np.where(np.isnan(mean_jumps), 0.0, mean_jumps) / local_rr
    # Share of the recent intervals clearly shorter than the usual rhythm: runs of ectopy, AF.
    with np.errstate(invalid="ignore"):
        early = np.where(np.isfinite(recent), recent < 0.8 * long_median[:, None], np.nan)
    premature = _nanmean(early)
    premature = np.where(np.isnan(premature), 0.0, premature)
    return {
        "pre_rr": pre,
        "post_rr": post,
        "local_rr": local_rr,
        "long_rr": long_rr,
        "pre_local": pre / local_rr,
        "post_local": post / local_rr,
        "pre_long": pre / long_rr,
        "post_long": post / long_rr,
        "local_long": local_rr / long_rr,
        "pre_post": pre / post,
        "pre_prev": pre / prev_pre,
        "irregularity": jumps,
        "premature_fraction": premature,
        "irregularity_local": mean_jumps,
        "prev_pre_local": prev_pre / local_rr,
        "post_minus_pre_local": (post - pre) / local_rr,
        "pause_local": (pre + post) / (2 * local_rr),
        "pre_median5": pre / short[5],
        "post_median5": post / short[5],
        "pre_median10": pre / short[10],
        "post_median10": post / short[10],
        "median5_long": short[5] / long_rr,
    }


def rhythm_context(peaks: NDArray[np.int64], fs: float, targets: NDArray[np.int64]) -> dict[str, Array]:
    """The `rhythm` model's irregularity features of the :data:`RHYTHM_WINDOW_S` ending at each target's next beat.

    An AF-like window says "premature" means nothing here (AAMI calls AF beats N); the window ends at
    the next beat so that the target's own premature-compensatory pair is recognised as ectopy and
    left out of the irregularity, as the `rhythm` model does.
    """
    times = peaks.astype(np.float64) / fs
    values = np.empty((len(targets), len(_RHYTHM_FEATURES)))
    for i, t in enumerate(targets):
        end = min(int(t) + 1, len(times) - 1)
        start = int(np.searchsorted(times, times[end] - RHYTHM_WINDOW_S))
        values[i] = rhythm_features(times[start : end + 1])
    insufficient = ~np.isfinite(values).all(axis=1)
    values[insufficient] = _RHYTHM_FILL
    out: dict[str, Array] = {f"rhythm_{name}": values[:, j] for j, name in enumerate(_RHYTHM_FEATURES)}
    out["rhythm_insufficient"] = np.asarray(insufficient, dtype=np.float64)
    return out
