"""Train the AF detector (role ``rhythm``) and write it to ``models/onnx`` with its manifest entry.

::

    cd /work/main && .venv/bin/python -m models.training.train_rhythm --data /work/shared/data

Training windows come from :mod:`edge_agent.evaluation.rhythm`, so the labels match the evaluation's:
MIT-BIH DS1 (22 records; AF only in 201 and 203), 30-s windows every 10 s, reference beat times and
reference labels mapped to AAMI classes; ``AF`` = at least 90 % in ``(AFIB``, ``N`` = no ``(AFIB`` and no
``(AFL``; flutter and mixed windows are left out.

**Augmentation.** DS1 has only two AF patients, and both have a wide ventricular response. Cross-
validating on them alone puts the boundary right under *their* irregularity (every threshold from
0.1 to 0.9 keeps all their windows), which says nothing about AF with a narrower response (rate
control, a slower AV node). Each AF window is therefore also used with its RR intervals pulled
toward the window mean by a factor of 0.8 and 0.6 (``rr' = mean + a (rr - mean)``; beat classes
unchanged), a physiological prior on the spread of AF's ventricular response, not a fit to any
held-out record. Non-AF windows are used as they are.

**Model and threshold.** Standardised features and a class-balanced logistic regression (4 weights
and an intercept). The threshold maximises F1 on the out-of-fold probabilities of leave-one-record-out
cross-validation over the DS1 records (augmented AF windows included; the lowest threshold among
ties). The intercept is then shifted by ``-logit(threshold)``, so the exported model's own label and
``p >= 0.5`` both implement that operating point. Nothing is random (no seed is needed; the fit is
deterministic), so the same command writes the same ONNX bytes.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from edge_agent.evaluation import rhythm as evaluation
from edge_agent.evaluation.metrics import binary_counts, f1, percentile
from edge_agent.models import rhythm
from edge_agent.models.registry import load_manifest
from edge_agent.records import MITDB_DS1, data_dir
from models.training.manifest_tool import ONNX_DIR, write_entry

COMMAND = ".venv/bin/python -m models.training.train_rhythm --data /work/shared/data"
ONNX_FILE = f"{rhythm.NAME}-{rhythm.VERSION}.onnx"
TRAIN_STEP_S = 10.0
CONTRACTIONS = (0.8, 0.6)
C = 1.0
THRESHOLDS = np.round(np.arange(0.02, 0.99, 0.02), 2)


def contract(beat_times_s: NDArray[np.float64], factor: float) -> NDArray[np.float64]:
    """Beat times whose RR intervals are pulled toward their mean by ``factor`` (1 = unchanged)."""
    rr = np.diff(beat_times_s)
    if len(rr) == 0:
        return np.asarray(beat_times_s, dtype=np.float64).copy()
    mean = rr.mean()
    return np.concatenate(([beat_times_s[0]], beat_times_s[0] + np.cumsum(mean + factor * (rr - mean))))


def training_rows(
    data: Path,
) -> tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.str_], NDArray[np.bool_], dict[str, int]]:
    """Feature rows, labels (1 = AF), record of each row, augmented-row mask and window counts (DS1)."""
    rows, labels, groups, augmented = [], [], [], []
    counts = {"AF": 0, "N": 0, "AF_augmented": 0, "AFL_excluded": 0, "mixed_excluded": 0, "insufficient": 0}
    for record in MITDB_DS1:
        path = data / "mitdb" / str(record)
        times, classes, rhythms, _ = evaluation.reference_beats(path)
        windows = evaluation.record_windows(
            str(record), times, classes, rhythms, evaluation.duration_s(path), step_s=TRAIN_STEP_S
        )
        for window in windows:
            if window.label not in ("AF", "N"):
                counts[f"{window.label}_excluded"] += 1
                continue
            counts[window.label] += 1
            factors = (1.0, *CONTRACTIONS) if window.label == "AF" else (1.0,)
            for factor in factors:
                beats = window.beat_times_s if factor == 1.0 else contract(window.beat_times_s, factor)
                features = rhythm.rhythm_features(beats, window.beat_classes)
                if not np.isfinite(features).all():
                    counts["insufficient"] += 1
                    continue
                counts["AF_augmented"] += int(factor != 1.0)
                rows.append(features)
                labels.append(int(window.label == "AF"))
                groups.append(str(record))
                augmented.append(factor != 1.0)
    x = np.asarray(rows, dtype=np.float32)
    return x, np.asarray(labels), np.asarray(groups), np.asarray(augmented, dtype=bool), counts


def new_model() -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, class_weight="balanced", max_iter=1000))


def cross_validate(x: NDArray[np.float32], y: NDArray[np.int64], groups: NDArray[np.str_]) -> NDArray[np.float64]:
    """Leave-one-record-out probabilities over the training records."""
    oof = np.zeros(len(y))
    for record in np.unique(groups):
        held = groups == record
        oof[held] = new_model().fit(x[~held], y[~held]).predict_proba(x[held])[:, 1]
    return oof


def _f1(y: NDArray[np.int64], called: NDArray[np.bool_]) -> float:
    """F1 of the AF calls; 0 when there is nothing to find and nothing is called (as scikit-learn's f1_score)."""
    counts = binary_counts(called, y == 1)
    return f1(counts.tp, counts.fp, counts.fn, undefined=0.0)


def choose_threshold(y: NDArray[np.int64], oof: NDArray[np.float64]) -> tuple[float, dict[str, float]]:
    """The (lowest) threshold with the best out-of-fold F1, and the CV curve."""
    curve = {f"{t:.2f}": _f1(y, oof >= t) for t in THRESHOLDS}
    best = max(curve.values())
    return float(min(float(t) for t, f in curve.items() if f == best)), curve


def export_onnx(model: Pipeline, path: Path) -> None:
    from skl2onnx import convert_sklearn  # noqa: PLC0415 -- training-only dependency
    from skl2onnx.common.data_types import FloatTensorType  # noqa: PLC0415

    onx = convert_sklearn(
        model,
        name=rhythm.NAME,
        initial_types=[("features", FloatTensorType([None, len(rhythm.FEATURES)]))],
        options={id(model[-1]): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    onx.doc_string = (
        f"{rhythm.NAME}@{rhythm.VERSION}: P(AF) of a {rhythm.WINDOW_S:g}-s beat window from "
        f"{', '.join(rhythm.FEATURES)} (edge_agent.models.rhythm.rhythm_features); AF at p >= 0.5"
    )
    path.write_bytes(onx.SerializeToString())


def latency_ms(data: Path, *, windows: int = 300) -> dict[str, float]:
    """p50/p99 per 30-s window of the ONNX call alone and of features + call (1 thread), on DS2 record 210."""
    model = rhythm.RhythmClassifier()
    path = data / "mitdb" / "210"
    times, classes, rhythms, _ = evaluation.reference_beats(path)
    picked = evaluation.record_windows(
        "210", times, classes, rhythms, evaluation.duration_s(path), step_s=evaluation.duration_s(path) / windows
    )[:windows]
    onnx_times, total_times = [], []
    for window in picked:
        began = time.perf_counter()
        row = rhythm.rhythm_features(window.beat_times_s, window.beat_classes)
        middle = time.perf_counter()
        model.predict_proba_batch(row[None, :])
        ended = time.perf_counter()
        onnx_times.append(ended - middle)
        total_times.append(ended - began)
    return {
        "onnx_p50_ms": round(percentile(onnx_times, 50) * 1e3, 3),
        "onnx_p99_ms": round(percentile(onnx_times, 99) * 1e3, 3),
        "features_plus_onnx_p50_ms": round(percentile(total_times, 50) * 1e3, 3),
        "features_plus_onnx_p99_ms": round(percentile(total_times, 99) * 1e3, 3),
        "windows": len(picked),
    }


def manifest_entry(
    *, threshold: float, cv: dict[str, Any], counts: dict[str, int], model: Pipeline, wall_s: float
) -> dict[str, Any]:
    scaler, regression = model[0], model[-1]
    return {
        "name": rhythm.NAME,
        "version": rhythm.VERSION,
        "kind": "onnx",
        "file": ONNX_FILE,
        "inputs": {
            "signal": "beat times in seconds within one window (any ECG or PPG beat detector), sorted; optional "
            "AAMI class per beat (N, S, V, F, Q) from the beat classifier",
            "fs_hz": "any: only beat times are used (checked with detect_qrs at 360, 250 and 128 Hz)",
            "window": {
                "seconds": rhythm.WINDOW_S,
                "hop_seconds": "any (evaluated without overlap)",
                "min_beats": f"{rhythm.MIN_INTERVALS} N-N intervals and {rhythm.MIN_PAIRS} adjacent pairs, "
                "else the answer is N with an 'insufficient' flag",
            },
            "shape": f"[n, {len(rhythm.FEATURES)}] float32 rows of rhythm_features(beat_times_s, beat_classes)",
            "dtype": "float32",
            "feature_names": list(rhythm.FEATURES),
            "preprocessing": "none by the caller: rhythm_features keeps N-N intervals (drops intervals touching a "
            f"non-N beat, RR outside {rhythm.RR_MIN_S}-{rhythm.RR_MAX_S} s, and premature/compensatory pairs) and "
            "computes COSEn, ln nRMSSD, ln minimum pattern deviation, turning-point ratio",
            "api": "edge_agent.models.rhythm.RhythmClassifier().predict(beat_times_s, beat_classes=None) -> "
            "('AF' | 'N', {'AF': p, 'N': 1 - p}); predict_proba_batch(features); predict_batch(features)",
        },
        "outputs": {
            "onnx": "label int64 [n] (1 = AF at p >= 0.5) and probabilities float32 [n, 2] (column 1 = P(AF))",
            "classes": {"0": "N (not AF: sinus and every other non-AF rhythm)", "1": "AF (atrial fibrillation)"},
            "threshold": 0.5,
            "cv_threshold": threshold,
            "meaning": "AF = the window is (almost) entirely atrial fibrillation by the MIT-BIH rhythm annotations; "
            "the intercept is shifted by -logit(cv_threshold) so 0.5 is the cross-validated operating point",
        },
        "training": {
            "data": "MIT-BIH Arrhythmia DB (mitdb 1.0.0), PhysioNet; reference beats and AAMI-mapped labels",
            "records": [str(r) for r in MITDB_DS1],
            "windows": counts,
            "window_step_s": TRAIN_STEP_S,
            "augmentation": f"AF windows also with RR intervals contracted toward the window mean by {CONTRACTIONS}",
            "model": f"StandardScaler + LogisticRegression(C={C}, class_weight=balanced)",
            "coefficients": dict(zip(rhythm.FEATURES, np.round(regression.coef_[0], 4).tolist(), strict=True)),
            "feature_mean": np.round(scaler.mean_, 4).tolist(),
            "feature_scale": np.round(scaler.scale_, 4).tolist(),
            "threshold_selection": "lowest threshold with the best F1 on leave-one-record-out out-of-fold "
            f"probabilities over DS1 (augmented AF included): {threshold}",
            "cv": cv,
            "command": COMMAND,
            "seed": None,
            "deterministic": "no random component; same command, same ONNX bytes",
            "wall_time_s": round(wall_s, 1),
            "machine": f"{platform.machine()} {platform.system()}, 2 shared cores, single process",
        },
        "metrics": {},
        "card": "cards/rhythm.md",
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the AF detector (role rhythm).")
    parser.add_argument("--data", type=Path, default=None, help="PhysioNet data directory (mitdb/, nstdb/)")
    args = parser.parse_args(argv)
    data = data_dir(args.data)
    began = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - began:6.1f}s] {message}", file=sys.stderr, flush=True)  # noqa: T201 -- progress

    x, y, groups, augmented, counts = training_rows(data)
    log(f"{len(y)} training rows ({int(y.sum())} AF incl. augmented, {int((y == 0).sum())} N); windows {counts}")
    oof = cross_validate(x, y, groups)
    threshold, curve = choose_threshold(y, oof)
    real = ~augmented
    cv = {
        "scheme": "leave-one-record-out over DS1",
        "f1": round(_f1(y, oof >= threshold), 4),
        "f1_unaugmented": round(_f1(y[real], oof[real] >= threshold), 4),
        "sensitivity": round(binary_counts(oof >= threshold, y == 1).sensitivity, 4),
        "sensitivity_unaugmented": round(binary_counts(oof[real] >= threshold, y[real] == 1).sensitivity, 4),
        "false_positive_windows": int(np.sum(oof[y == 0] >= threshold)),
        "n_windows": int((y == 0).sum()),
        "f1_by_threshold": {k: round(v, 4) for k, v in curve.items()},
    }
    log(f"CV threshold {threshold} (F1 {cv['f1']}, sensitivity {cv['sensitivity']}, FP {cv['false_positive_windows']})")
    model = new_model().fit(x, y)
    model[-1].intercept_ = model[-1].intercept_ - math.log(threshold / (1.0 - threshold))
    export_onnx(model, ONNX_DIR / ONNX_FILE)
    wall = time.perf_counter() - began
    entry = manifest_entry(threshold=threshold, cv=cv, counts=counts, model=model, wall_s=wall)
    write_entry("rhythm", entry)
    log(f"wrote {ONNX_FILE}; training wall time {wall:.1f} s; evaluating on held-out DS2")
    # Parity check: the ONNX graph must give the scikit-learn probabilities for the training rows.
    onnx_p = rhythm.RhythmClassifier(load_manifest()["rhythm"]).predict_proba_batch(x)
    gap = float(np.max(np.abs(onnx_p - model.predict_proba(x)[:, 1])))
    log(f"max |onnx - sklearn| probability on the training rows: {gap:.2e}")
    metrics = evaluation.evaluate(data, log=sys.stderr)
    metrics["latency"] = latency_ms(data)
    entry["metrics"] = metrics
    write_entry("rhythm", entry)
    log(f"done in {time.perf_counter() - began:.1f} s")
    print(json.dumps(metrics))  # noqa: T201 -- the held-out metrics are this command's output
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
