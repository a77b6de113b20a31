"""Train the ECG signal-quality model (role ``sqi``) and write it to ``models/onnx`` with its manifest entry.

::

    cd /work/main && .venv/bin/python -m models.training.train_sqi --data /work/shared/data

Training windows (all from :mod:`edge_agent.evaluation.sqi`, so the labels match the evaluation's):
MIT-BIH DS1 records except 118/119 (20 records), MLII, clean 5-s windows plus noise from the FIRST half
of ``bw`` / ``ma`` (or both), or generic synthetic noise (``band``, ``motion``), at SNRs drawn from
12..31.5 dB (usable) and -10..0 dB (not usable; nothing in between), and a few synthetic lead-off
(flat) and saturated windows (not usable). Each window gets a random gain (x0.4..2.5), polarity and
device rate (125..500 Hz) before :func:`ecg_quality_features`, so the model cannot lean on MIT-BIH's
amplitude, lead orientation or 360 Hz.

Model choice and threshold use the training records only: 5-fold cross-validation grouped by record,
plus a noise-transfer check (fit without ``bw`` and ``bw+ma``, score the held-out records' ``bw`` and
clean windows; the same for ``ma``) as a proxy for noise types never seen (electrode motion). The
operating threshold maximises Youden's J on the out-of-fold scores of the chosen model. Then the model
is refitted on all training windows, exported to ONNX, registered, and scored by the held-out
evaluation, whose JSON is the last stdout line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import ClassifierMixin, clone
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from edge_agent.dsp import resample
from edge_agent.evaluation import sqi as evaluation
from edge_agent.evaluation.metrics import auroc, binary_counts, f1_of_rates, nearest_reference, percentile, ratio
from edge_agent.models import sqi
from edge_agent.models.registry import load_manifest
from edge_agent.records import data_dir, read_annotations
from models.training.manifest_tool import ONNX_DIR, write_entry

COMMAND = ".venv/bin/python -m models.training.train_sqi --data /work/shared/data"
SEED = 20240611
ONNX_FILE = f"{sqi.NAME}-{sqi.VERSION}.onnx"
# Nominal SNR centres, each spread +-1.5 dB (usable) or +-1 dB (not usable): 12..31.5 and -10..0 dB.
USABLE_CENTRES_DB = (13.5, 16.5, 19.5, 22.5, 25.5, 28.5, 30.0)
UNUSABLE_CENTRES_DB = (-1.0, -3.0, -5.0, -7.0, -9.0)
PER_CONDITION = 12
CLEAN_PER_RECORD = 90
DEVICE_RATES_HZ = (360.0, 125.0, 250.0, 500.0)
# Device gain spread: MIT-BIH MLII QRS amplitudes (about 0.5-3 mV) times this cover real leads; a window
# much larger than any ECG (>10 mV) stays a sign of artefact, as it should.
GAIN_RANGE = (0.4, 2.5)


def _candidates() -> dict[str, ClassifierMixin]:
    return {
        "logistic": make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000)),
        "mlp": make_pipeline(
            StandardScaler(),
            MLPClassifier(hidden_layer_sizes=(32, 16), alpha=1e-3, max_iter=600, random_state=SEED),
        ),
        # The classic GradientBoostingClassifier: skl2onnx 1.20 cannot export HistGradientBoosting under
        # scikit-learn 1.9 (its missing-value flags arrive as numpy booleans).
        "gbt": GradientBoostingClassifier(
            n_estimators=250, learning_rate=0.05, max_depth=3, subsample=0.8, random_state=SEED
        ),
    }


def training_windows(data: Path, *, seed: int = SEED) -> Iterator[evaluation.LabelledWindow]:
    """Labelled training windows (first half of the noise records only), before augmentation."""
    kinds = (*evaluation.NOISE_TYPES, *evaluation.SYNTHETIC_NOISE)
    noisy = [(kind, c) for kind in kinds for c in (*USABLE_CENTRES_DB, *UNUSABLE_CENTRES_DB)]
    for window in evaluation.mixed_windows(
        data,
        evaluation.TRAIN_RECORDS,
        conditions=[("clean", math.inf)],
        per_condition=CLEAN_PER_RECORD,
        noise_part="train",
        seed=seed,
    ):
        yield window
    for window in evaluation.mixed_windows(
        data,
        evaluation.TRAIN_RECORDS,
        conditions=noisy,
        per_condition=PER_CONDITION,
        noise_part="train",
        seed=seed + 1,
        snr_jitter_db=1.5,
    ):
        if window.label is not None:
            yield window


def augmented_features(
    windows: Sequence[evaluation.LabelledWindow], *, seed: int = SEED
) -> tuple[NDArray[np.float32], NDArray[np.int64], list[evaluation.LabelledWindow]]:
    """Features after a random gain, polarity and device rate, plus synthetic artefacts (3 % extra).

    Artefacts are made from clean windows after the move to the device rate: a rail clips the
    device's own samples.
    """
    rng = np.random.default_rng(seed)
    clean = [i for i, w in enumerate(windows) if w.noise == "clean"]
    artefact_sources = rng.choice(clean, size=len(windows) // 33, replace=False)
    rows, labels, kept = [], [], []
    for index, make_artefact in [
        *((i, False) for i in range(len(windows))),
        *((int(i), True) for i in artefact_sources),
    ]:
        window = windows[index]
        polarity = 1.0 if rng.random() < 0.5 else -1.0
        gain = math.exp(rng.uniform(math.log(GAIN_RANGE[0]), math.log(GAIN_RANGE[1]))) * polarity
        rate = float(rng.choice(DEVICE_RATES_HZ))
        window = dataclasses.replace(window, signal=resample(window.signal * gain, window.fs, rate), fs=rate)
        if make_artefact:
            window = evaluation.synthetic_artefact(window, rng)
        rows.append(sqi.ecg_quality_features(window.signal, window.fs))
        labels.append(-1 if window.label is None else int(window.label))
        kept.append(window)
    return np.asarray(rows, dtype=np.float32), np.asarray(labels, dtype=np.int64), kept


def cross_validate(
    x: NDArray[np.float32], y: NDArray[np.int64], meta: Sequence[evaluation.LabelledWindow], log: Callable[[str], None]
) -> tuple[str, dict[str, Any], NDArray[np.float64]]:
    """Grouped 5-fold CV on the training records; returns the chosen model, the CV table, its OOF scores."""
    groups = np.asarray([w.record for w in meta])
    noise = np.asarray([w.noise for w in meta])
    folds = list(GroupKFold(n_splits=5).split(x, y, groups))
    table: dict[str, Any] = {}
    oof_by_model: dict[str, NDArray[np.float64]] = {}
    for name, prototype in _candidates().items():
        oof = np.zeros(len(y))
        transfer = []
        for train, test in folds:
            model = clone(prototype).fit(x[train], y[train])
            oof[test] = model.predict_proba(x[test])[:, 1]
            # Unseen-noise proxy: fit without one noise type, score the held-out records' windows of that type.
            for held_out in ("bw", "ma"):
                fit = train[(noise[train] != held_out) & (noise[train] != "bw+ma")]
                score = test[np.isin(noise[test], ("clean", held_out))]
                model = clone(prototype).fit(x[fit], y[fit])
                transfer.append(auroc(model.predict_proba(x[score])[:, 1], y[score]))
        oof_by_model[name] = oof
        table[name] = {"cv_auroc": round(auroc(oof, y), 5), "noise_transfer_auroc": round(float(np.mean(transfer)), 5)}
        row = table[name]
        log(f"cv {name:9s} auroc {row['cv_auroc']:.4f}  noise-transfer auroc {row['noise_transfer_auroc']:.4f}")
    # The electrode-motion test is a noise type never seen, so unseen-noise transfer weighs as much as CV.
    chosen = max(table, key=lambda k: (table[k]["cv_auroc"] + table[k]["noise_transfer_auroc"]) / 2)
    return chosen, table, oof_by_model[chosen]


def youden_threshold(y: NDArray[np.int64], p: NDArray[np.float64]) -> tuple[float, float, float]:
    """The score threshold maximising sensitivity + specificity - 1 (usable = score >= threshold)."""
    candidates = np.unique(np.round(p, 4))
    labelled = y >= 0
    best = (0.5, 0.0, 0.0, -1.0)
    for t in candidates:
        counts = binary_counts(p[labelled] >= t, y[labelled] == 1)
        sens, spec = counts.sensitivity, counts.specificity
        if sens + spec - 1.0 > best[3]:
            best = (float(t), sens, spec, sens + spec - 1.0)
    return best[0], best[1], best[2]


def export_onnx(model: ClassifierMixin, n_features: int, path: Path) -> None:
    from skl2onnx import convert_sklearn  # noqa: PLC0415 -- training-only dependency
    from skl2onnx.common.data_types import FloatTensorType  # noqa: PLC0415

    onx = convert_sklearn(
        model,
        name=sqi.NAME,
        initial_types=[("features", FloatTensorType([None, n_features]))],
        options={id(model): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    onx.doc_string = (
        f"{sqi.NAME}@{sqi.VERSION}: P(usable) of a {sqi.WINDOW_S:g}-s ECG window from {n_features} features"
    )
    path.write_bytes(onx.SerializeToString())


def detection_by_condition(data: Path, *, per_condition: int = 6) -> dict[str, dict[str, float]]:
    """Why 12 dB and 0 dB: QRS detection by an independent detector (wfdb ``gqrs``) at each noise and SNR.

    Training records and the training half of the noise only. Beats within 0.5 s of a window edge
    are ignored; a detection within 150 ms of an annotated beat is a true positive.
    """
    from wfdb import processing  # noqa: PLC0415 -- training-only dependency

    conditions = [("clean", math.inf)] + [(k, s) for k in evaluation.NOISE_TYPES for s in evaluation.TEST_SNRS_DB]
    beats = {r: read_annotations(data / "mitdb" / str(r)).beats()[0] for r in evaluation.TRAIN_RECORDS}
    counts: dict[str, list[int]] = {}
    for window in evaluation.mixed_windows(
        data,
        evaluation.TRAIN_RECORDS,
        conditions=conditions,
        per_condition=per_condition,
        noise_part="train",
        seed=SEED + 2,
    ):
        n, edge = len(window.signal), round(0.5 * window.fs)
        ref = beats[int(window.record)] - window.start
        ref = ref[(ref >= edge) & (ref < n - edge)]
        found = np.asarray(processing.gqrs_detect(sig=window.signal, fs=window.fs), dtype=np.int64)
        found = found[(found >= edge) & (found < n - edge)]
        tolerance = round(0.15 * window.fs)
        # Not one-to-one: a reference beat is found if any detection is near it, and vice versa.
        hits = int(np.sum(nearest_reference(found, ref, tolerance) >= 0))
        matched = int(np.sum(nearest_reference(ref, found, tolerance) >= 0))
        key = f"{window.noise}@{'clean' if math.isinf(window.snr_db) else f'{window.snr_db:g}'}"
        total = counts.setdefault(key, [0, 0, 0, 0])
        total[0] += hits
        total[1] += len(ref)
        total[2] += matched
        total[3] += len(found)
    table = {}
    for key, (hits, n_ref, matched, n_found) in counts.items():
        se, ppv = ratio(hits, n_ref, undefined=0.0), ratio(matched, n_found, undefined=0.0)
        table[key] = {"sensitivity": round(se, 4), "ppv": round(ppv, 4), "f1": round(f1_of_rates(se, ppv), 4)}
    return table


def latency_ms(data: Path, *, windows: int = 300) -> dict[str, float]:
    """p50/p99 of one ONNX call (1 thread), and of features + call, on real 5-s MLII windows at 360 Hz."""
    quality = sqi.EcgQuality()
    picked = list(
        evaluation.mixed_windows(
            data, (100,), conditions=[("clean", math.inf)], per_condition=windows, noise_part="test", seed=1
        )
    )
    onnx_times, total_times = [], []
    for window in picked:
        began = time.perf_counter()
        row = sqi.ecg_quality_features(window.signal, window.fs)
        middle = time.perf_counter()
        quality.score_batch(row[None, :])
        ended = time.perf_counter()
        onnx_times.append(ended - middle)
        total_times.append(ended - began)
    return {
        "onnx_p50_ms": round(percentile(onnx_times, 50) * 1e3, 3),
        "onnx_p99_ms": round(percentile(onnx_times, 99) * 1e3, 3),
        "features_plus_onnx_p50_ms": round(percentile(total_times, 50) * 1e3, 3),
        "features_plus_onnx_p99_ms": round(percentile(total_times, 99) * 1e3, 3),
    }


def manifest_entry(
    *, chosen: str, cv: dict[str, Any], threshold: tuple[float, float, float], n_windows: dict[str, int], wall_s: float
) -> dict[str, Any]:
    return {
        "name": sqi.NAME,
        "version": sqi.VERSION,
        "kind": "onnx",
        "file": ONNX_FILE,
        "inputs": {
            "signal": "one ECG lead in mV (trained on MLII; any polarity)",
            "fs_hz": f"any device rate >= 100 Hz; ecg_quality_features resamples to {sqi.FS_HZ:g} Hz internally",
            "window": {"seconds": sqi.WINDOW_S, "min_seconds": 2.0, "hop_seconds": 1.0},
            "shape": f"[n, {len(sqi.FEATURE_NAMES)}] float32 rows of ecg_quality_features(window, fs)",
            "dtype": "float32",
            "feature_names": list(sqi.FEATURE_NAMES),
            "preprocessing": "none by the caller: ecg_quality_features removes the median, resamples, filters "
            "(0.7-40 Hz, 5-15 Hz) and computes the features; EcgQuality.score(window, fs) does it all",
            "api": "edge_agent.models.sqi.EcgQuality().score(window, fs) -> P(usable); .threshold; "
            "score_batch(features)",
        },
        "outputs": {
            "onnx": "label int64 [n] (1 = usable at p >= 0.5) and probabilities float32 [n, 2] (column 1 = P(usable))",
            "classes": {"0": "not usable", "1": "usable"},
            "threshold": threshold[0],
            "meaning": "usable = a beat detector and a clinician can trust this window's beats: labelled by "
            "construction as clean or SNR >= 12 dB; not usable = SNR <= 0 dB (nst QRS-amplitude SNR)",
        },
        "training": {
            "data": "MIT-BIH Arrhythmia DB (mitdb 1.0.0) and MIT-BIH Noise Stress Test DB (nstdb 1.0.0), PhysioNet",
            "records": [str(r) for r in evaluation.TRAIN_RECORDS],
            "noise": "bw and ma (nstdb), both channels, samples 0..324999 only (first half); generic synthetic "
            "noise 'band' and 'motion' (edge_agent.evaluation.sqi.synthetic_noise); 3 % synthetic lead-off "
            "and saturated windows",
            "augmentation": f"gain x{GAIN_RANGE[0]}..{GAIN_RANGE[1]} (log-uniform), random polarity, device rate "
            f"from {list(DEVICE_RATES_HZ)} Hz",
            "windows": n_windows,
            "model_selection": {"candidates_cv": cv, "chosen": chosen},
            "threshold_selection": "Youden J on out-of-fold scores of 5-fold record-grouped CV on the training "
            f"records: threshold {threshold[0]}, CV sensitivity {threshold[1]:.4f}, specificity {threshold[2]:.4f}",
            "command": COMMAND,
            "seed": SEED,
            "wall_time_s": round(wall_s, 1),
            "machine": f"{platform.machine()} {platform.system()}, 2 shared cores, single process",
        },
        "metrics": {},
        "card": "cards/sqi.md",
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the ECG signal-quality model (role sqi).")
    parser.add_argument("--data", type=Path, default=None, help="PhysioNet data directory (mitdb/, nstdb/)")
    args = parser.parse_args(argv)
    data = data_dir(args.data)
    began = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - began:6.1f}s] {message}", file=sys.stderr, flush=True)  # noqa: T201 -- progress

    windows = list(training_windows(data))
    x, y, meta = augmented_features(windows)
    counts = {"usable": int((y == 1).sum()), "unusable": int((y == 0).sum())}
    log(f"{len(y)} training windows ({counts['usable']} usable, {counts['unusable']} not usable)")
    chosen, cv, oof = cross_validate(x, y, meta, log)
    threshold = youden_threshold(y, oof)
    log(
        f"chosen {chosen}; threshold {threshold[0]} (CV sensitivity {threshold[1]:.4f}, specificity {threshold[2]:.4f})"
    )
    model = clone(_candidates()[chosen]).fit(x, y)
    export_onnx(model, x.shape[1], ONNX_DIR / ONNX_FILE)
    wall = time.perf_counter() - began
    entry = manifest_entry(chosen=chosen, cv=cv, threshold=threshold, n_windows=counts, wall_s=wall)
    write_entry("sqi", entry)
    log(f"wrote {ONNX_FILE}; training wall time {wall:.1f} s; evaluating on held-out data")
    # Parity check: the ONNX graph must give the scikit-learn probabilities for the training rows.
    onnx_p = sqi.EcgQuality(load_manifest()["sqi"]).score_batch(x)
    gap = float(np.max(np.abs(onnx_p - model.predict_proba(x)[:, 1])))
    log(f"max |onnx - sklearn| probability on the training rows: {gap:.2e}")
    detection = detection_by_condition(data)
    log("gqrs QRS detection on training windows (label justification): " + json.dumps(detection))
    entry["training"]["label_justification"] = {
        "detector": "wfdb 4.3.1 processing.gqrs_detect on each 5-s window, beats >= 0.5 s from the edges, "
        "150 ms tolerance, training records and training half of the noise",
        "by_condition": detection,
    }
    metrics = evaluation.evaluate(data, log=sys.stderr)
    metrics["latency"] = latency_ms(data)
    metrics["protocol"] = (
        "held out: MIT-BIH DS2 (22 records, MLII) with bw/ma noise from samples 325000..649999 (second half), "
        f"{evaluation.TEST_PER_CONDITION} windows per record x noise x SNR, {evaluation.TEST_CLEAN_PER_RECORD} "
        "clean per record; plus 118e*/119e* (electrode motion, never trained on; 118/119 not in training) "
        "in non-overlapping 5-s windows of the noisy segments and the clean parts once; seed "
        f"{evaluation.EVAL_SEED}"
    )
    entry["metrics"] = metrics
    write_entry("sqi", entry)
    print(json.dumps(metrics, allow_nan=False))  # noqa: T201 -- the held-out metrics are this command's output
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
