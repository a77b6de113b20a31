"""Held-out evaluation of the AF detector on MIT-BIH DS2, and the labelled beat windows it is scored on.

**Windows** (:mod:`~edge_agent.evaluation.rhythm.windows`). Non-overlapping windows of
:data:`~edge_agent.models.rhythm.WINDOW_S` (30 s) from the start of each record. A window is labelled
from the reference rhythm annotations (``aux_note``):

* ``AF``    at least :data:`AF_MIN_FRACTION` (90 %) of it lies in ``(AFIB`` episodes and none in ``(AFL``;
* ``N``     none of it lies in ``(AFIB`` or ``(AFL`` (every other rhythm, including bigeminy, trigeminy,
  nodal and SVTA, is "not AF");
* ``AFL``   any of it lies in atrial flutter: scored apart (how often it is called AF), not in the metrics,
  because flutter with a fixed block is regular and no RR-based detector can see it;
* ``mixed`` partly AF (0-90 %): counted and scored apart ("mixed_called_af"), not in the metrics.

**Beats** (:mod:`~edge_agent.evaluation.rhythm.experiments`). The main numbers use the reference beat
times and the reference beat labels mapped to AAMI classes (``N S V F Q``; what the edge gets from the
beat classifier), so they measure the rhythm model alone. ``without_classes`` repeats them with beat
times only. ``detected_beats`` replaces the reference beats by :func:`edge_agent.models.qrs.detect_qrs`
on channel 0 at 360 Hz and after resampling to 250 and 128 Hz; each detected beat takes the class of
the reference beat within 150 ms, and a detection with no reference beat (a false beat) is counted as
``N`` so that it disturbs the rhythm as it would on the device.

**Ectopy and noise** (:mod:`~edge_agent.evaluation.rhythm.noise`). ``ectopy_false_positive_rate`` is the
share of the N windows called AF on DS2 records with no AF or flutter and at least 10 % ectopic (S, V,
F) beats (200, 213, 214, 228, 232, 233). Noise is scored with detected beats (reference beats are not
moved by noise): N windows that the annotators marked noisy on channel 0 (``~``), DS2 with NSTDB muscle
artefact (``ma``) added at 12, 6 and 0 dB, and the NSTDB electrode-motion records ``118e*``/``119e*``
(their clean originals 118 and 119 are DS1 training records, so those rhythms are not held out; the
noise is). The ``sqi_gated`` scores put the ``sqi`` model in front
(:mod:`~edge_agent.evaluation.rhythm.gate`).

Records 201 (DS1, training) and 202 (DS2) are the same patient; ``f1_without_202`` leaves 202 out.
Metrics and tables: :mod:`~edge_agent.evaluation.rhythm.scoring`.

Run: ``python -m edge_agent.evaluation.rhythm --data ../shared/data`` (JSON summary on the last stdout line).

A window 20 % of which is in AF is neither AF nor N, and is scored apart:

>>> rhythms = [(0.0, 100.0, "N"), (100.0, 200.0, "AFIB")]
>>> label_window(rhythms, 94.0, 124.0), label_window(rhythms, 100.0, 130.0)[0], label_window(rhythms, 0.0, 30.0)[0]
(('mixed', 0.8), 'AF', 'N')
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from edge_agent.evaluation.rhythm.experiments import (
    DETECTED_RATES_HZ,
    ECTOPY_MIN_FRACTION,
    classifier_error_run,
    detected_runs,
    ectopy_records,
    ectopy_run,
    reference_runs,
)
from edge_agent.evaluation.rhythm.gate import quality_gate
from edge_agent.evaluation.rhythm.noise import noise_runs
from edge_agent.evaluation.rhythm.scoring import scores
from edge_agent.evaluation.rhythm.windows import (
    AF_MIN_FRACTION,
    RhythmWindow,
    detected_beats,
    duration_s,
    label_window,
    record_windows,
    reference_beats,
)
from edge_agent.evaluation.runner import run_main
from edge_agent.models import qrs, qrs_params, qrs_stream
from edge_agent.models.rhythm import FEATURES, WINDOW_S, RhythmClassifier

__all__ = [
    "AF_MIN_FRACTION",
    "DETECTED_RATES_HZ",
    "ECTOPY_MIN_FRACTION",
    "RhythmWindow",
    "detected_beats",
    "duration_s",
    "evaluate",
    "label_window",
    "main",
    "record_windows",
    "reference_beats",
    "scores",
]

# The modules whose source is the QRS detector (its parameters, the streaming detector, detect_qrs).
_QRS_SOURCES: tuple[ModuleType, ...] = (qrs, qrs_params, qrs_stream)


def _qrs_identity() -> str:
    """``name@version`` of the QRS detector and a digest of its source (it changes while it is developed)."""
    digest = hashlib.sha256()
    files = []
    for module in _QRS_SOURCES:
        assert module.__file__ is not None
        source = Path(module.__file__)
        digest.update(source.read_bytes())
        files.append(source.name)
    return f"{qrs.NAME}@{qrs.VERSION} ({'+'.join(files)} sha256 {digest.hexdigest()[:12]})"


def evaluate(data: Path, *, log: TextIO) -> dict[str, Any]:
    """Score the manifest's ``rhythm`` model on DS2 (see the module docstring); per-record tables go to ``log``."""
    model = RhythmClassifier()
    result: dict[str, Any] = {"model": model.ref, "window_s": WINDOW_S, "step_s": WINDOW_S, "features": list(FEATURES)}
    main_runs, windows = reference_runs(data, log, model)
    result.update(main_runs)
    ectopic = ectopy_records(data)
    result.update(ectopy_run(windows, model, ectopic, log))
    result["beat_classifier_errors"] = classifier_error_run(windows, model, ectopic, log)
    result["qrs_detector"] = _qrs_identity()
    gate, result["sqi_gate"] = quality_gate()
    log.write(f"\nsqi gate: {result['sqi_gate']}\n")
    result["detected_beats"] = detected_runs(data, log, model, gate)
    result["noise"] = noise_runs(data, log, model, gate)
    result["protocol"] = (
        f"MIT-BIH DS2 (22 records), non-overlapping {WINDOW_S:.0f}-s windows; AF = >= {AF_MIN_FRACTION:.0%} in (AFIB "
        "and no (AFL, N = no (AFIB or (AFL; AFL and mixed windows scored apart; reference beats with reference "
        "labels mapped to AAMI classes unless stated; windows with too few N-N intervals are called N and counted"
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edge_agent.evaluation.rhythm --data DIR``: the summary as one JSON line on stdout."""
    return run_main(evaluate, argv, doc=__doc__)
