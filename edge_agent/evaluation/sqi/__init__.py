"""Held-out evaluation of the ECG signal-quality model, and the labelled windows it is scored on.

Labels are known by construction. A clean MIT-BIH window (no ``~`` noise or unreadable marks, no
ventricular flutter, at least two annotated beats) gets noise from the MIT-BIH Noise Stress Test
records ``bw`` (baseline wander) or ``ma`` (muscle artefact), or both, scaled to a chosen SNR:

* signal ``A``: median QRS peak-to-peak amplitude within +-50 ms of the annotated beats of the window
  (what ``sigamp -a`` measures for ``nst``, which takes a trimmed mean over the record's normal beats);
* noise ``N``: the mean over 1-s blocks of the RMS after removing each block's mean (``sigamp -r``);
* ``SNR = 20 log10(A / (2 sqrt(2) N))`` dB, exactly ``nst``'s ``nsr = 10^(-SNR/20) sqrt(2) / 4``.

Here the gain is set per window, so every window has exactly its nominal SNR (``nst`` sets one gain
per record, so its local SNR drifts with the noise). **Usable** = clean or SNR >= 12 dB;
**not usable** = SNR <= 0 dB; the 6 dB windows are scored and tabulated but left out of the AUROC.

Held out: MIT-BIH DS2 records (de Chazal et al. 2004), the second half (15-30 min) of ``bw`` and
``ma``, and the NSTDB records ``118e*``/``119e*`` (electrode-motion noise, a type never trained on;
records 118 and 119 are also kept out of training). Noisy there: 5:00-7:00, 9:00-11:00, ..., 25:00-27:00
and 29:00-end (``nst`` toggles its gain every 2 min from 5:00; checked against the clean mitdb copies).
Those records carry ``nst``'s per-record SNR; each window's own SNR, measured with the noise recovered
as the difference to the clean mitdb record, is reported too (``measured_snr_db``).

Training (``models/training/train_sqi.py``) uses the same construction on DS1 minus 118/119, the first
half of ``bw``/``ma``, and two generic synthetic noises (:func:`synthetic_noise`).

The parts: labels (:mod:`~edge_agent.evaluation.sqi.labels`), clean windows
(:mod:`~edge_agent.evaluation.sqi.clean`), noisy windows (:mod:`~edge_agent.evaluation.sqi.windows`),
synthetic noise and artefacts (:mod:`~edge_agent.evaluation.sqi.artefacts`), the runs
(:mod:`~edge_agent.evaluation.sqi.experiments`) and their scores and tables
(:mod:`~edge_agent.evaluation.sqi.scoring`).

Run: ``python -m edge_agent.evaluation.sqi --data ../shared/data`` (JSON summary on the last stdout line).

>>> import math
>>> [label_for(snr) for snr in (math.inf, *TEST_SNRS_DB)]  # clean, 24 ... -6 dB
[1, 1, 1, 1, None, 0, 0]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from edge_agent.evaluation.metrics import auroc
from edge_agent.evaluation.nstdb import EM_NOISY_S, EM_RECORDS, nst_noise_rms, nst_qrs_amplitude
from edge_agent.evaluation.runner import run_main
from edge_agent.evaluation.sqi.artefacts import SYNTHETIC_NOISE, synthetic_artefact, synthetic_noise
from edge_agent.evaluation.sqi.clean import clean_starts
from edge_agent.evaluation.sqi.experiments import (
    OTHER_RATES_HZ,
    artefact_run,
    device_rate_run,
    em_run,
    mixed_run,
    write_per_record,
)
from edge_agent.evaluation.sqi.labels import UNUSABLE_MAX_DB, USABLE_MIN_DB, LabelledWindow, label_for
from edge_agent.evaluation.sqi.scoring import score_windows
from edge_agent.evaluation.sqi.windows import (
    EVAL_SEED,
    NOISE_TYPES,
    TEST_CLEAN_PER_RECORD,
    TEST_PER_CONDITION,
    TEST_RECORDS,
    TEST_SNRS_DB,
    TRAIN_RECORDS,
    em_windows,
    held_out_windows,
    mixed_windows,
)
from edge_agent.models.sqi import EcgQuality

__all__ = [
    "EM_NOISY_S",
    "EM_RECORDS",
    "EVAL_SEED",
    "NOISE_TYPES",
    "OTHER_RATES_HZ",
    "SYNTHETIC_NOISE",
    "TEST_CLEAN_PER_RECORD",
    "TEST_PER_CONDITION",
    "TEST_RECORDS",
    "TEST_SNRS_DB",
    "TRAIN_RECORDS",
    "UNUSABLE_MAX_DB",
    "USABLE_MIN_DB",
    "LabelledWindow",
    "auroc",
    "clean_starts",
    "em_windows",
    "evaluate",
    "held_out_windows",
    "label_for",
    "main",
    "mixed_windows",
    "nst_noise_rms",
    "nst_qrs_amplitude",
    "synthetic_artefact",
    "synthetic_noise",
]


def evaluate(data: Path, *, log: TextIO) -> dict[str, Any]:
    """Score the registered ``sqi`` model on the held-out windows; per-condition tables go to ``log``."""
    quality = EcgQuality()
    threshold = quality.threshold
    windows = held_out_windows(data)
    scores = score_windows(quality, windows)
    mixed = mixed_run(scores, windows, threshold, log)
    em = em_run(data, quality, threshold, log)
    rejected = artefact_run(quality, windows, threshold)
    at_rates = device_rate_run(quality, windows, threshold)
    write_per_record(scores, windows, threshold, log)
    overall, em_all = mixed["overall"], em["all"]
    return {
        "model": quality.ref,
        "auroc": overall["auroc"],
        "auroc_em_118e_119e": em_all["auroc"],
        "auroc_em_measured_snr": em["measured"]["auroc"],
        "auroc_by_noise": {**mixed["by_noise"], "em": em_all["auroc"]},
        "auroc_by_snr": mixed["by_snr"],
        "auroc_by_snr_em": em["by_snr"],
        "auroc_at_device_rate_hz": at_rates,
        "auroc_strict_18db_vs_6db": mixed["strict_auroc"],
        "windows": {
            "usable": overall["usable"],
            "unusable": overall["unusable"],
            "excluded_6db": mixed["excluded_6db"],
        },
        "windows_em": {
            "usable": em_all["usable"],
            "unusable": em_all["unusable"],
            "excluded_6db": em["excluded_6db"],
        },
        "threshold": round(threshold, 4),
        "sensitivity": overall["sensitivity"],
        "specificity": overall["specificity"],
        "sensitivity_em": em_all["sensitivity"],
        "specificity_em": em_all["specificity"],
        "artefacts_rejected": rejected,
        "conditions": mixed["conditions"],
        "conditions_em": em["conditions"],
        "definition": "usable = clean or SNR >= 12 dB, not usable = SNR <= 0 dB (nst QRS-amplitude SNR); "
        "sensitivity = usable windows passed, specificity = not-usable windows rejected",
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edge_agent.evaluation.sqi --data DIR``: the summary as one JSON line on stdout."""
    return run_main(evaluate, argv, doc=__doc__)
