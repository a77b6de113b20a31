"""The runs of the signal-quality evaluation: held-out noise mixtures, electrode motion, artefacts, device rates.

Each run scores its windows with the registered model and returns its part of the summary, writing
its table to ``log``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from numpy.typing import NDArray

from edge_agent.evaluation.sqi.artefacts import synthetic_artefact
from edge_agent.evaluation.sqi.labels import LabelledWindow, label_for
from edge_agent.evaluation.sqi.scoring import binary_scores, condition_table, score_windows, snr_key
from edge_agent.evaluation.sqi.windows import EVAL_SEED, NOISE_TYPES, TEST_SNRS_DB, em_windows
from edge_agent.models.sqi import EcgQuality

__all__ = ["OTHER_RATES_HZ", "artefact_run", "device_rate_run", "em_run", "mixed_run", "write_per_record"]

OTHER_RATES_HZ = (128.0, 250.0, 500.0)
EM_SNRS_DB = (24.0, 18.0, 12.0, 0.0, -6.0)


def mixed_run(
    scores: NDArray[np.float64], windows: Sequence[LabelledWindow], threshold: float, log: TextIO
) -> dict[str, Any]:
    """The held-out DS2 mixtures: overall, by noise type, by SNR, under a stricter label, and per condition."""
    everything = np.ones(len(windows), dtype=bool)
    overall = binary_scores(scores, windows, everything, threshold)
    by_noise = {
        kind: binary_scores(scores, windows, np.asarray([w.noise in ("clean", kind) for w in windows]), threshold)[
            "auroc"
        ]
        for kind in NOISE_TYPES
    }
    # Per SNR: the windows at that SNR against every window of the opposite class.
    by_snr: dict[str, float | int] = {}
    for snr in (math.inf, *TEST_SNRS_DB):
        label = 1 if math.isinf(snr) else label_for(snr)
        if label is None:
            continue
        keep = np.asarray([(w.snr_db == snr) or (w.label == 1 - label) for w in windows])
        by_snr[snr_key(snr)] = binary_scores(scores, windows, keep, threshold)["auroc"]
    # A stricter reading of "usable" (clean or >= 18 dB against <= 6 dB), for deployments that want one.
    strict = [dataclasses.replace(w, label=1 if w.snr_db >= 18.0 else 0 if w.snr_db <= 6.0 else None) for w in windows]
    strict_auroc = binary_scores(scores, strict, everything, threshold)["auroc"]
    conditions = condition_table(scores, windows, threshold, log, "DS2 + second half of bw/ma (held out)")
    return {
        "overall": overall,
        "by_noise": by_noise,
        "by_snr": by_snr,
        "strict_auroc": strict_auroc,
        "conditions": conditions,
        "excluded_6db": sum(w.label is None for w in windows),
    }


def em_run(data: Path, quality: EcgQuality, threshold: float, log: TextIO) -> dict[str, Any]:
    """The electrode-motion records: by nominal and by measured SNR, by SNR, and per condition."""
    em = list(em_windows(data))
    em_scores = score_windows(quality, em)
    em_all = binary_scores(em_scores, em, np.ones(len(em), dtype=bool), threshold)
    measured = [dataclasses.replace(w, label=label_for(w.measured_snr_db)) if w.noise == "em" else w for w in em]
    em_measured = binary_scores(em_scores, measured, np.ones(len(em), dtype=bool), threshold)
    em_by_snr: dict[str, float | int] = {}
    for snr in EM_SNRS_DB:
        label = label_for(snr)
        keep = np.asarray([(w.noise == "em" and w.snr_db == snr) or (w.label == 1 - (label or 0)) for w in em])
        em_by_snr[snr_key(snr)] = binary_scores(em_scores, em, keep, threshold)["auroc"]
    em_conditions = condition_table(em_scores, em, threshold, log, "118e*/119e* electrode motion (held out)")
    return {
        "all": em_all,
        "measured": em_measured,
        "by_snr": em_by_snr,
        "conditions": em_conditions,
        "excluded_6db": sum(w.label is None for w in em),
    }


def artefact_run(quality: EcgQuality, windows: Sequence[LabelledWindow], threshold: float) -> dict[str, float]:
    """Share of 200 synthetic lead-off and saturated windows (made from clean test windows) rejected, by kind."""
    rng = np.random.default_rng(EVAL_SEED + 2)
    clean_test = [w for w in windows if w.noise == "clean"]
    artefacts = [synthetic_artefact(clean_test[int(i)], rng) for i in rng.choice(len(clean_test), 200, replace=False)]
    artefact_scores = score_windows(quality, artefacts)
    return {
        kind: round(
            float(np.mean([s < threshold for s, w in zip(artefact_scores, artefacts, strict=True) if w.noise == kind])),
            4,
        )
        for kind in ("flat", "saturated")
    }


def device_rate_run(quality: EcgQuality, windows: Sequence[LabelledWindow], threshold: float) -> dict[str, float | int]:
    """The AUROC of the held-out windows resampled to each of :data:`OTHER_RATES_HZ`."""
    everything = np.ones(len(windows), dtype=bool)
    return {
        f"{rate:g}": binary_scores(score_windows(quality, windows, rate), windows, everything, threshold)["auroc"]
        for rate in OTHER_RATES_HZ
    }


def write_per_record(
    scores: NDArray[np.float64], windows: Sequence[LabelledWindow], threshold: float, log: TextIO
) -> None:
    """Per DS2 record: labelled windows, AUROC and accuracy over all conditions."""
    log.write("\nper record (DS2, all conditions)\nrecord     n  auroc    acc\n")
    for name in sorted({w.record for w in windows}):
        keep = np.asarray([w.record == name for w in windows])
        row = binary_scores(scores, windows, keep, threshold)
        correct = (row["sensitivity"] * row["usable"] + row["specificity"] * row["unusable"]) / (
            row["usable"] + row["unusable"]
        )
        log.write(f"{name:6s} {row['usable'] + row['unusable']:5d} {row['auroc']:6.4f} {correct:6.4f}\n")
