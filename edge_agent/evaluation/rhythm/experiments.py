"""The runs of the AF evaluation on clean DS2: reference beats, ectopy, beat-classifier errors, detected beats.

Each run builds its windows (:mod:`~edge_agent.evaluation.rhythm.windows`), has the model call them
and returns its part of the summary, writing its per-record table to ``log``. The noise runs are in
:mod:`~edge_agent.evaluation.rhythm.noise`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from numpy.typing import NDArray

from edge_agent.dsp import resample
from edge_agent.evaluation.metrics import ratio
from edge_agent.evaluation.rhythm.gate import QualityGate
from edge_agent.evaluation.rhythm.scoring import (
    gated_summary,
    insufficient,
    predict,
    rate,
    scores,
    summary,
    write_table,
)
from edge_agent.evaluation.rhythm.windows import (
    RhythmWindow,
    channel0,
    detected_beats,
    duration_s,
    mitdb_path,
    noisy_intervals,
    record_windows,
    reference_beats,
)
from edge_agent.models.rhythm import WINDOW_S, RhythmClassifier
from edge_agent.records import MITDB_DS2

__all__ = [
    "CLASSIFIER_ERROR_SHARES",
    "DETECTED_RATES_HZ",
    "ECTOPY_MIN_FRACTION",
    "ERROR_SEED",
    "classifier_error_run",
    "detected_runs",
    "ectopy_records",
    "ectopy_run",
    "reference_runs",
]

ECTOPY_MIN_FRACTION = 0.10
DETECTED_RATES_HZ = (360.0, 250.0, 128.0)
CLASSIFIER_ERROR_SHARES = (0.05, 0.1, 0.2, 0.5)
ERROR_SEED = 7


def reference_runs(data: Path, log: TextIO, model: RhythmClassifier) -> tuple[dict[str, Any], list[RhythmWindow]]:
    """The headline numbers (reference beats and classes), without classes, and by window length; the windows."""
    windows: list[RhythmWindow] = []
    by_length: dict[str, list[RhythmWindow]] = {"10": [], "20": []}
    for record in MITDB_DS2:
        path = mitdb_path(data, record)
        times, classes, rhythms, fs = reference_beats(path)
        duration = duration_s(path)
        noisy = noisy_intervals(path, fs)
        windows += record_windows(str(record), times, classes, rhythms, duration, noisy=noisy)
        for length in by_length:
            by_length[length] += record_windows(str(record), times, classes, rhythms, duration, window_s=float(length))
    called = predict(model, windows)
    short = insufficient(windows)
    log.write(f"\n== {model.ref}: DS2, reference beats and AAMI classes, {WINDOW_S:.0f}-s windows ==\n")
    write_table(windows, called, short, log)
    result = summary(windows, called)
    labels = [w.label for w in windows]
    result["windows"] = {"AF": labels.count("AF"), "N": labels.count("N")}
    result["excluded_windows"] = {"AFL": labels.count("AFL"), "mixed": labels.count("mixed")}
    result["insufficient_windows"] = {
        "AF": int(sum(s for s, w in zip(short, windows, strict=True) if w.label == "AF")),
        "N": int(sum(s for s, w in zip(short, windows, strict=True) if w.label == "N")),
    }
    keep_202 = [i for i, w in enumerate(windows) if w.record != "202"]
    result["f1_without_202"] = scores(called[keep_202], [labels[i] for i in keep_202])["f1"]

    plain = predict(model, windows, classes=False)
    log.write("\n== same windows, beat times only (no beat classes) ==\n")
    write_table(windows, plain, insufficient(windows, classes=False), log)
    result["without_classes"] = summary(windows, plain)

    result["by_window_s"] = {}
    for length, group in by_length.items():
        got = predict(model, group)
        result["by_window_s"][length] = {
            **scores(got, [w.label for w in group]),
            "windows": {"AF": sum(w.label == "AF" for w in group), "N": sum(w.label == "N" for w in group)},
            "insufficient": int(insufficient(group).sum()),
        }
    return result, windows


def ectopy_records(data: Path) -> tuple[str, ...]:
    """DS2 records with no AF or flutter and at least :data:`ECTOPY_MIN_FRACTION` ectopic (S, V, F) beats."""
    chosen = []
    for record in MITDB_DS2:
        _, classes, rhythms, _ = reference_beats(mitdb_path(data, record))
        if any(r in ("AFIB", "AFL") for _, _, r in rhythms):
            continue
        if sum(c in "SVF" for c in classes) / len(classes) >= ECTOPY_MIN_FRACTION:
            chosen.append(str(record))
    return tuple(chosen)


def ectopy_run(
    windows: Sequence[RhythmWindow], model: RhythmClassifier, records: Sequence[str], log: TextIO
) -> dict[str, Any]:
    """How often ectopy is taken for AF: N windows of the ectopy-heavy records, and every ectopic N window."""
    chosen = [w for w in windows if w.record in records and w.label == "N"]
    with_classes = predict(model, chosen)
    without = predict(model, chosen, classes=False)
    heavy = [w for w in windows if w.label == "N" and w.ectopic_fraction >= ECTOPY_MIN_FRACTION]
    log.write(f"\n== ectopy-heavy non-AF records {', '.join(records)}: N windows called AF ==\n")
    for record in records:
        idx = [i for i, w in enumerate(chosen) if w.record == record]
        log.write(
            f"{record:>6} windows {len(idx):3d}  with classes {int(with_classes[idx].sum()):3d}"
            f"  beat times only {int(without[idx].sum()):3d}\n"
        )
    return {
        "ectopy_records": list(records),
        "ectopy_false_positive_rate": rate(with_classes),
        "ectopy_false_positive_rate_without_classes": rate(without),
        "ectopy_windows": len(chosen),
        "ectopic_window_false_positive_rate": rate(predict(model, heavy)),
        "ectopic_windows": len(heavy),
    }


def _relabel(window: RhythmWindow, source: str, target: str, share: float, rng: np.random.Generator) -> RhythmWindow:
    classes = list(window.beat_classes)
    for i, c in enumerate(classes):
        if c in source and rng.random() < share:
            classes[i] = target
    return RhythmWindow(
        window.record,
        window.start_s,
        window.end_s,
        window.label,
        window.af_fraction,
        window.beat_times_s,
        tuple(classes),
    )


def classifier_error_run(
    windows: Sequence[RhythmWindow], model: RhythmClassifier, records: Sequence[str], log: TextIO
) -> dict[str, Any]:
    """What beat-classifier mistakes cost: AF beats called S (sensitivity) and ectopic beats called N (FP rate)."""
    rng = np.random.default_rng(ERROR_SEED)
    af = [w for w in windows if w.label == "AF"]
    ectopy = [w for w in windows if w.record in records and w.label == "N"]
    out: dict[str, Any] = {"seed": ERROR_SEED}
    log.write("\n== beat-classifier errors simulated on the reference classes ==\n")
    for share in CLASSIFIER_ERROR_SHARES:
        se = rate(predict(model, [_relabel(w, "N", "S", share, rng) for w in af]))
        fp = rate(predict(model, [_relabel(w, "SVF", "N", share, rng) for w in ectopy]))
        out[f"{share:.0%}"] = {"af_sensitivity_when_af_beats_called_s": se, "ectopy_fp_when_ectopics_called_n": fp}
        log.write(
            f"{share:4.0%}: AF beats called S -> sensitivity {se}; ectopic beats called N -> ectopy FP rate {fp}\n"
        )
    return out


def detected_runs(data: Path, log: TextIO, model: RhythmClassifier, gate: QualityGate | None) -> dict[str, Any]:
    """The detector's beats on channel 0 at 360 Hz and resampled to the device rates, with and without the gate."""
    runs: dict[str, Any] = {}
    cache = {r: channel0(data, r) for r in MITDB_DS2}
    for device_rate in DETECTED_RATES_HZ:
        windows: list[RhythmWindow] = []
        blocks: dict[str, NDArray[np.bool_]] = {}
        totals = {"reference": 0, "detected": 0, "matched": 0}
        for record in MITDB_DS2:
            path = mitdb_path(data, record)
            times, classes, rhythms, fs = reference_beats(path)
            signal, fs_in = cache[record]
            x = signal if device_rate == fs_in else resample(signal, fs_in, device_rate)
            found, found_classes, counts = detected_beats(x, device_rate, times, classes)
            totals = {k: totals[k] + counts[k] for k in totals}
            windows += record_windows(
                str(record), found, found_classes, rhythms, len(x) / device_rate, noisy=noisy_intervals(path, fs)
            )
            if gate is not None and device_rate == fs_in:
                blocks[str(record)] = gate.usable_blocks(x, device_rate)
        called = predict(model, windows)
        log.write(f"\n== detected beats (detect_qrs, channel 0) at {device_rate:.0f} Hz ==\n")
        write_table(windows, called, insufficient(windows), log)
        noisy_n = np.asarray([w.noisy and w.label == "N" for w in windows], dtype=bool)
        run: dict[str, Any] = {
            **summary(windows, called),
            "noisy_false_positive_rate": rate(called[noisy_n]),
            "noisy_windows": int(noisy_n.sum()),
            "beat_sensitivity": round(ratio(totals["matched"], totals["reference"]), 4),
            "beat_ppv": round(ratio(totals["matched"], totals["detected"], undefined=0.0), 4),
        }
        if gate is not None and blocks:
            passed = gate.passes(windows, blocks)
            run["sqi_gated"] = gated_summary(windows, called, passed)
            run["sqi_gated"]["noisy_false_positive_rate"] = rate((called & passed)[noisy_n])
        runs[f"{device_rate:.0f}"] = run
    return runs
