"""Scoring the signal-quality model on labelled windows: its scores, AUROC and rates, and the condition tables.

Sensitivity is the share of usable windows passed (score >= threshold), specificity the share of
not-usable windows rejected; windows without a label (6 dB) are left out of both and of the AUROC.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TextIO

import numpy as np
from numpy.typing import NDArray

from edge_agent.dsp import resample
from edge_agent.evaluation.metrics import auroc, binary_counts
from edge_agent.evaluation.sqi.labels import LabelledWindow
from edge_agent.models.sqi import EcgQuality, ecg_quality_features

__all__ = ["binary_scores", "condition_table", "score_windows", "snr_key"]


def snr_key(snr: float) -> str:
    """How an SNR is written in the summary's keys: ``clean`` or the number of dB."""
    return "clean" if math.isinf(snr) else f"{snr:g}"


def binary_scores(
    scores: NDArray[np.float64], windows: Sequence[LabelledWindow], keep: NDArray[np.bool_], threshold: float
) -> dict[str, float | int]:
    """AUROC, sensitivity and specificity at ``threshold`` over the labelled windows in ``keep`` (NaN if undefined)."""
    labels = np.asarray([-1 if w.label is None else w.label for w in windows])
    mask = keep & (labels >= 0)
    s, y = scores[mask], labels[mask]
    counts = binary_counts(s >= threshold, y == 1)
    return {
        "auroc": round(auroc(s, y), 4),
        "sensitivity": round(counts.sensitivity, 4),
        "specificity": round(counts.specificity, 4),
        "usable": int((y == 1).sum()),
        "unusable": int((y == 0).sum()),
    }


def score_windows(
    quality: EcgQuality, windows: Sequence[LabelledWindow], rate: float | None = None
) -> NDArray[np.float64]:
    """The model's P(usable) of each window, at its own rate or resampled to ``rate`` first."""
    rows = []
    for w in windows:
        x, fs = (w.signal, w.fs) if rate is None else (resample(w.signal, w.fs, rate), rate)
        rows.append(ecg_quality_features(x, fs))
    return np.asarray(quality.score_batch(np.asarray(rows)), dtype=np.float64)


def condition_table(
    scores: NDArray[np.float64], windows: Sequence[LabelledWindow], threshold: float, log: TextIO, title: str
) -> dict[str, dict[str, float | int | None]]:
    """Per (noise, SNR): windows, mean score, fraction scored usable, accuracy against the label."""
    log.write(
        f"\n{title}\n{'noise':8s} {'snr_db':>7s} {'n':>5s} {'label':>6s} {'mean':>6s} {'usable%':>8s} {'acc':>6s}\n"
    )
    table: dict[str, dict[str, float | int | None]] = {}
    keys = sorted({(w.noise, w.snr_db) for w in windows}, key=lambda k: (k[0] != "clean", k[0], -k[1]))
    for noise, snr in keys:
        idx = np.asarray([i for i, w in enumerate(windows) if w.noise == noise and w.snr_db == snr])
        label = windows[idx[0]].label
        usable = float(np.mean(scores[idx] >= threshold))
        row: dict[str, float | int | None] = {"n": len(idx), "mean_score": round(float(scores[idx].mean()), 4)}
        row["fraction_usable"] = round(usable, 4)
        # JSON has no NaN: the excluded 6 dB windows have no accuracy, only a fraction scored usable.
        row["accuracy"] = None if label is None else round(usable if label == 1 else 1.0 - usable, 4)
        table[f"{noise}@{snr_key(snr)}"] = row
        shown = "-" if label is None else str(label)
        accuracy = "-" if row["accuracy"] is None else f"{row['accuracy']:.3f}"
        log.write(
            f"{noise:8s} {snr_key(snr):>7s} {len(idx):5d} {shown:>6s} {row['mean_score']:6.3f} "
            f"{100 * usable:7.1f}% {accuracy:>6s}\n"
        )
    return table
