"""Scoring the AF detector on labelled windows: its calls, the AF-vs-N metrics, and the per-record tables.

Only ``AF`` and ``N`` windows enter the metrics; flutter (``AFL``) and ``mixed`` windows are scored
apart as the share called AF. A window with too few N-N intervals for the features is called N (as
on the device) and counted as "insufficient".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np
from numpy.typing import NDArray

from edge_agent.evaluation.metrics import binary_counts, rounded
from edge_agent.evaluation.rhythm.windows import RhythmWindow
from edge_agent.models.rhythm import RhythmClassifier, rhythm_features

__all__ = ["gated_summary", "insufficient", "predict", "rate", "scores", "summary", "write_table"]


def scores(predicted_af: NDArray[np.bool_], labels: Sequence[str]) -> dict[str, Any]:
    """Sensitivity, specificity, PPV and F1 (AF positive) over the ``AF`` and ``N`` windows."""
    truth = np.asarray([label == "AF" for label in labels], dtype=bool)
    scored = np.asarray([label in ("AF", "N") for label in labels], dtype=bool)
    counts = binary_counts(predicted_af[scored], truth[scored])
    return {
        "sensitivity": rounded(counts.sensitivity, 4),
        "specificity": rounded(counts.specificity, 4),
        "ppv": rounded(counts.ppv, 4),
        "f1": rounded(counts.f1, 4),
        "tp": counts.tp,
        "fn": counts.fn,
        "fp": counts.fp,
        "tn": counts.tn,
    }


def predict(model: RhythmClassifier, windows: Sequence[RhythmWindow], *, classes: bool = True) -> NDArray[np.bool_]:
    """Which windows the model calls AF (with the beat classes, or from beat times only)."""
    if not windows:
        return np.zeros(0, dtype=bool)
    rows = [rhythm_features(w.beat_times_s, w.beat_classes if classes else None) for w in windows]
    return np.asarray(model.predict_proba_batch(np.stack(rows)) >= 0.5, dtype=bool)


def insufficient(windows: Sequence[RhythmWindow], *, classes: bool = True) -> NDArray[np.bool_]:
    """Which windows have too few usable N-N intervals for the features."""
    return np.asarray(
        [not np.isfinite(rhythm_features(w.beat_times_s, w.beat_classes if classes else None)).all() for w in windows],
        dtype=bool,
    )


def rate(flags: NDArray[np.bool_]) -> float | None:
    """The share of ``flags`` set, rounded; ``None`` for no windows."""
    return round(float(flags.mean()), 4) if len(flags) else None


def summary(windows: Sequence[RhythmWindow], called: NDArray[np.bool_]) -> dict[str, Any]:
    """:func:`scores`, and the shares of the flutter and mixed windows called AF."""
    labels = [w.label for w in windows]
    out = scores(called, labels)
    afl = np.asarray([w.label == "AFL" for w in windows], dtype=bool)
    mixed = np.asarray([w.label == "mixed" for w in windows], dtype=bool)
    out["afl_called_af"] = rate(called[afl])
    out["mixed_called_af"] = rate(called[mixed])
    return out


def gated_summary(
    windows: Sequence[RhythmWindow], called: NDArray[np.bool_], passed: NDArray[np.bool_]
) -> dict[str, Any]:
    """:func:`summary` when only the windows the quality gate ``passed`` may be called AF."""
    # A window the quality gate rejects gets no AF call (the edge would publish "no reading", here counted as N).
    out = summary(windows, called & passed)
    scored = np.asarray([w.label in ("AF", "N") for w in windows], dtype=bool)
    out["windows_passed"] = rate(passed[scored])
    return out


def write_table(
    windows: Sequence[RhythmWindow], called: NDArray[np.bool_], short: NDArray[np.bool_], log: TextIO
) -> None:
    """Per record: AF windows found and missed, N windows called AF, insufficient, AFL and mixed calls, ectopy."""
    log.write("record  AF  TP  FN |   N  FP | insuff | AFL->AF | mixed->AF | ectopic%\n")
    for record in dict.fromkeys(w.record for w in windows):
        idx = [i for i, w in enumerate(windows) if w.record == record]
        lab = [windows[i].label for i in idx]
        c = called[idx]
        n_af = lab.count("AF")
        tp = sum(bool(c[k]) for k, x in enumerate(lab) if x == "AF")
        fp = sum(bool(c[k]) for k, x in enumerate(lab) if x == "N")
        afl = [bool(c[k]) for k, x in enumerate(lab) if x == "AFL"]
        mixed = [bool(c[k]) for k, x in enumerate(lab) if x == "mixed"]
        beats = sum(len(windows[i].beat_classes) for i in idx)
        ectopic = sum(windows[i].ectopic_fraction * len(windows[i].beat_classes) for i in idx) / max(beats, 1)
        log.write(
            f"{record:>6} {n_af:3d} {tp:3d} {n_af - tp:3d} | {lab.count('N'):3d} {fp:3d} | {int(short[idx].sum()):6d} |"
            f" {sum(afl):3d}/{len(afl):<3d} | {sum(mixed):4d}/{len(mixed):<4d} | {100 * ectopic:7.1f}\n"
        )
