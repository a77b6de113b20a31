"""Held-out evaluation of the AF detector on MIT-BIH DS2, and the labelled beat windows it is scored on.

**Windows.** Non-overlapping windows of :data:`~edge_agent.models.rhythm.WINDOW_S` (30 s) from the
start of each record. A window is labelled from the reference rhythm annotations (``aux_note``):

* ``AF``    at least :data:`AF_MIN_FRACTION` (90 %) of it lies in ``(AFIB`` episodes and none in ``(AFL``;
* ``N``     none of it lies in ``(AFIB`` or ``(AFL`` (every other rhythm, including bigeminy, trigeminy,
  nodal and SVTA, is "not AF");
* ``AFL``   any of it lies in atrial flutter: scored apart (how often it is called AF), not in the metrics,
  because flutter with a fixed block is regular and no RR-based detector can see it;
* ``mixed`` partly AF (0-90 %): counted and scored apart ("mixed_called_af"), not in the metrics.

**Beats.** The main numbers use the reference beat times and the reference beat labels mapped to
AAMI classes (``N S V F Q``; what the edge gets from the beat classifier), so they measure the rhythm
model alone. ``without_classes`` repeats them with beat times only. ``detected_beats`` replaces the
reference beats by :func:`edge_agent.models.qrs.detect_qrs` on channel 0 at 360 Hz and after resampling
to 250 and 128 Hz; each detected beat takes the class of the reference beat within 150 ms, and a
detection with no reference beat (a false beat) is counted as ``N`` so that it disturbs the rhythm as it
would on the device.

**Ectopy and noise.** ``ectopy_false_positive_rate`` is the share of the N windows called AF on DS2
records with no AF or flutter and at least 10 % ectopic (S, V, F) beats (200, 213, 214, 228, 232, 233).
Noise is scored with detected beats (reference beats are not moved by noise): N windows that the
annotators marked noisy on channel 0 (``~``), DS2 with NSTDB muscle artefact (``ma``) added at 12,
6 and 0 dB, and the NSTDB electrode-motion records ``118e*``/``119e*`` (their clean originals 118 and
119 are DS1 training records, so those rhythms are not held out; the noise is).

Records 201 (DS1, training) and 202 (DS2) are the same patient; ``f1_without_202`` leaves 202 out.

Run: ``python -m edge_agent.evaluation.rhythm --data ../shared/data`` (JSON summary on the last stdout line).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from numpy.typing import NDArray

from edge_agent.dsp import Array, resample
from edge_agent.models.rhythm import FEATURES, WINDOW_S, RhythmClassifier, rhythm_features
from edge_agent.records import MITDB_DS2, aami_class, data_dir, read_annotations, read_record

__all__ = [
    "AF_MIN_FRACTION",
    "DETECTED_RATES_HZ",
    "ECTOPY_MIN_FRACTION",
    "RhythmWindow",
    "detected_beats",
    "duration_s",
    "evaluate",
    "label_window",
    "record_windows",
    "reference_beats",
    "scores",
]

AF_MIN_FRACTION = 0.9
ECTOPY_MIN_FRACTION = 0.10
DETECTED_RATES_HZ = (360.0, 250.0, 128.0)
MATCH_TOLERANCE_S = 0.15
NOISE_SNRS_DB = (12.0, 6.0, 0.0)
CLASSIFIER_ERROR_SHARES = (0.05, 0.1, 0.2, 0.5)
ERROR_SEED = 7
EM_RECORDS = ("118e24", "118e18", "118e12", "118e06", "118e00", "118e_6")
EM_RECORDS_119 = tuple(name.replace("118", "119") for name in EM_RECORDS)
# nst switches the electrode-motion noise on for 2 min every 4 min from 5:00 (see nstdb.txt).
EM_NOISY_S = ((300, 420), (540, 660), (780, 900), (1020, 1140), (1260, 1380), (1500, 1620), (1740, 1806))
_SQRT8 = 2.0 * math.sqrt(2.0)

Rhythms = Sequence[tuple[float, float, str]]


@dataclass(frozen=True, slots=True)
class RhythmWindow:
    """One window of beats with its reference label (``AF``, ``N``, ``AFL`` or ``mixed``)."""

    record: str
    start_s: float
    end_s: float
    label: str
    af_fraction: float
    beat_times_s: Array
    beat_classes: tuple[str, ...]
    noisy: bool = False

    @property
    def ectopic_fraction(self) -> float:
        """Share of the window's beats that are S, V or F."""
        if not self.beat_classes:
            return 0.0
        return sum(c in "SVF" for c in self.beat_classes) / len(self.beat_classes)


def label_window(rhythms: Rhythms, start_s: float, end_s: float) -> tuple[str, float]:
    """The label of ``[start_s, end_s)`` and its AF fraction, from rhythm intervals in seconds.

    >>> label_window([(0.0, 100.0, "N"), (100.0, 200.0, "AFIB")], 95.0, 125.0)
    ('mixed', 0.8333333333333334)
    >>> label_window([(0.0, 100.0, "N"), (100.0, 200.0, "AFIB")], 100.0, 130.0)
    ('AF', 1.0)
    """
    length = end_s - start_s

    def fraction(name: str) -> float:
        return sum(max(0.0, min(e, end_s) - max(s, start_s)) for s, e, r in rhythms if r == name) / length

    af, afl = fraction("AFIB"), fraction("AFL")
    if afl > 0:
        return "AFL", af
    if af >= AF_MIN_FRACTION:
        return "AF", af
    return ("N" if af == 0 else "mixed"), af


def _noisy_intervals(path: Path, fs: float) -> list[tuple[float, float]]:
    """Intervals (s) the annotators marked noisy or unreadable on channel 0 (``~`` subtype bit 0, or -1)."""
    import wfdb  # noqa: PLC0415 -- the data extra; the noise subtype is not in records.Annotations

    ann = wfdb.rdann(str(path), "atr")
    out: list[tuple[float, float]] = []
    start: float | None = None
    for sample, symbol, subtype in zip(ann.sample, ann.symbol, ann.subtype, strict=True):
        if symbol != "~":
            continue
        noisy = int(subtype) < 0 or bool(int(subtype) & 1)
        if noisy and start is None:
            start = sample / fs
        elif not noisy and start is not None:
            out.append((start, sample / fs))
            start = None
    if start is not None:
        out.append((start, math.inf))
    return out


def reference_beats(path: Path) -> tuple[Array, tuple[str, ...], Rhythms, float]:
    """Reference beat times (s), their AAMI classes (``Q`` for unclassed beat labels), rhythms (s) and fs."""
    fs, _ = _header(path)
    annotations = read_annotations(path)
    samples, symbols = annotations.beats()
    classes = tuple(aami_class(s) or "Q" for s in symbols)
    rhythms = [(s / fs, e / fs, r) for s, e, r in annotations.rhythms]
    return samples / fs, classes, rhythms, fs


def _header(path: Path) -> tuple[float, int]:
    """Sampling rate and length of a WFDB record from its header line, without reading the signal."""
    fields = path.with_suffix(".hea").read_text(encoding="utf-8").split()
    return float(fields[2].split("/")[0]), int(fields[3])


def record_windows(
    record: str,
    beat_times_s: Array,
    beat_classes: Sequence[str],
    rhythms: Rhythms,
    record_s: float,
    *,
    window_s: float = WINDOW_S,
    step_s: float | None = None,
    noisy: Sequence[tuple[float, float]] = (),
) -> list[RhythmWindow]:
    """Cut a record's beats into labelled windows (``step_s`` defaults to ``window_s``: no overlap)."""
    step = window_s if step_s is None else step_s
    times = np.asarray(beat_times_s, dtype=np.float64)
    windows = []
    start = 0.0
    while start + window_s <= record_s + 1e-9:
        end = start + window_s
        lo, hi = np.searchsorted(times, [start, end])
        label, af = label_window(rhythms, start, end)
        in_noise = any(s < end and e > start for s, e in noisy)
        windows.append(RhythmWindow(record, start, end, label, af, times[lo:hi], tuple(beat_classes[lo:hi]), in_noise))
        start += step
    return windows


def detected_beats(
    signal: Array, fs: float, reference_s: Array, reference_classes: Sequence[str]
) -> tuple[Array, tuple[str, ...], dict[str, int]]:
    """Beats from ``edge_agent.models.qrs.detect_qrs`` with the class of the matched reference beat.

    A detection with no reference beat within :data:`MATCH_TOLERANCE_S` is a false beat and gets ``N``.
    """
    from edge_agent.models.qrs import detect_qrs  # noqa: PLC0415 -- developed in parallel; optional here

    found = np.sort(np.asarray(detect_qrs(signal, fs), dtype=np.float64)) / fs
    ref = np.asarray(reference_s, dtype=np.float64)
    classes = ["N"] * len(found)
    matched = 0
    if len(ref) and len(found):
        nearest = np.clip(np.searchsorted(ref, found), 1, len(ref) - 1)
        left, right = ref[nearest - 1], ref[nearest]
        pick = np.where(np.abs(found - left) <= np.abs(found - right), nearest - 1, nearest)
        close = np.abs(ref[pick] - found) <= MATCH_TOLERANCE_S
        used: set[int] = set()
        for i in np.flatnonzero(close):
            j = int(pick[i])
            if j not in used:  # one detection per reference beat; a second one is a false beat
                used.add(j)
                classes[i] = reference_classes[j]
        matched = len(used)
    counts = {"reference": len(ref), "detected": len(found), "matched": matched}
    return found, tuple(classes), counts


def scores(predicted_af: NDArray[np.bool_], labels: Sequence[str]) -> dict[str, Any]:
    """Sensitivity, specificity, PPV and F1 (AF positive) over the ``AF`` and ``N`` windows."""
    truth = np.asarray([label == "AF" for label in labels], dtype=bool)
    scored = np.asarray([label in ("AF", "N") for label in labels], dtype=bool)
    p, t = predicted_af[scored], truth[scored]
    tp, fn = int(np.sum(p & t)), int(np.sum(~p & t))
    fp, tn = int(np.sum(p & ~t)), int(np.sum(~p & ~t))

    def ratio(a: int, b: int) -> float | None:
        return round(a / b, 4) if b else None

    return {
        "sensitivity": ratio(tp, tp + fn),
        "specificity": ratio(tn, tn + fp),
        "ppv": ratio(tp, tp + fp),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "tn": tn,
    }


def _predict(model: RhythmClassifier, windows: Sequence[RhythmWindow], *, classes: bool = True) -> NDArray[np.bool_]:
    if not windows:
        return np.zeros(0, dtype=bool)
    rows = [rhythm_features(w.beat_times_s, w.beat_classes if classes else None) for w in windows]
    return np.asarray(model.predict_proba_batch(np.stack(rows)) >= 0.5, dtype=bool)


def _insufficient(windows: Sequence[RhythmWindow], *, classes: bool = True) -> NDArray[np.bool_]:
    return np.asarray(
        [not np.isfinite(rhythm_features(w.beat_times_s, w.beat_classes if classes else None)).all() for w in windows],
        dtype=bool,
    )


def _rate(flags: NDArray[np.bool_]) -> float | None:
    return round(float(flags.mean()), 4) if len(flags) else None


def _mitdb(data: Path, record: int | str) -> Path:
    return data / "mitdb" / str(record)


def _ectopy_records(data: Path) -> tuple[str, ...]:
    chosen = []
    for record in MITDB_DS2:
        _, classes, rhythms, _ = reference_beats(_mitdb(data, record))
        if any(r in ("AFIB", "AFL") for _, _, r in rhythms):
            continue
        if sum(c in "SVF" for c in classes) / len(classes) >= ECTOPY_MIN_FRACTION:
            chosen.append(str(record))
    return tuple(chosen)


def _table(windows: Sequence[RhythmWindow], called: NDArray[np.bool_], short: NDArray[np.bool_], log: TextIO) -> None:
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


def _summary(windows: Sequence[RhythmWindow], called: NDArray[np.bool_]) -> dict[str, Any]:
    labels = [w.label for w in windows]
    out = scores(called, labels)
    afl = np.asarray([w.label == "AFL" for w in windows], dtype=bool)
    mixed = np.asarray([w.label == "mixed" for w in windows], dtype=bool)
    out["afl_called_af"] = _rate(called[afl])
    out["mixed_called_af"] = _rate(called[mixed])
    return out


def _reference_runs(data: Path, log: TextIO, model: RhythmClassifier) -> tuple[dict[str, Any], list[RhythmWindow]]:
    windows: list[RhythmWindow] = []
    by_length: dict[str, list[RhythmWindow]] = {"10": [], "20": []}
    for record in MITDB_DS2:
        path = _mitdb(data, record)
        times, classes, rhythms, fs = reference_beats(path)
        duration = duration_s(path)
        noisy = _noisy_intervals(path, fs)
        windows += record_windows(str(record), times, classes, rhythms, duration, noisy=noisy)
        for length in by_length:
            by_length[length] += record_windows(str(record), times, classes, rhythms, duration, window_s=float(length))
    called = _predict(model, windows)
    short = _insufficient(windows)
    log.write(f"\n== {model.ref}: DS2, reference beats and AAMI classes, {WINDOW_S:.0f}-s windows ==\n")
    _table(windows, called, short, log)
    result = _summary(windows, called)
    labels = [w.label for w in windows]
    result["windows"] = {"AF": labels.count("AF"), "N": labels.count("N")}
    result["excluded_windows"] = {"AFL": labels.count("AFL"), "mixed": labels.count("mixed")}
    result["insufficient_windows"] = {
        "AF": int(sum(s for s, w in zip(short, windows, strict=True) if w.label == "AF")),
        "N": int(sum(s for s, w in zip(short, windows, strict=True) if w.label == "N")),
    }
    keep_202 = [i for i, w in enumerate(windows) if w.record != "202"]
    result["f1_without_202"] = scores(called[keep_202], [labels[i] for i in keep_202])["f1"]

    plain = _predict(model, windows, classes=False)
    log.write("\n== same windows, beat times only (no beat classes) ==\n")
    _table(windows, plain, _insufficient(windows, classes=False), log)
    result["without_classes"] = _summary(windows, plain)

    result["by_window_s"] = {}
    for length, group in by_length.items():
        got = _predict(model, group)
        result["by_window_s"][length] = {
            **scores(got, [w.label for w in group]),
            "windows": {"AF": sum(w.label == "AF" for w in group), "N": sum(w.label == "N" for w in group)},
            "insufficient": int(_insufficient(group).sum()),
        }
    return result, windows


def duration_s(path: Path) -> float:
    """The length of a WFDB record in seconds, from its header."""
    fs, samples = _header(path)
    return samples / fs


def _ectopy(
    windows: Sequence[RhythmWindow], model: RhythmClassifier, records: Sequence[str], log: TextIO
) -> dict[str, Any]:
    chosen = [w for w in windows if w.record in records and w.label == "N"]
    with_classes = _predict(model, chosen)
    without = _predict(model, chosen, classes=False)
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
        "ectopy_false_positive_rate": _rate(with_classes),
        "ectopy_false_positive_rate_without_classes": _rate(without),
        "ectopy_windows": len(chosen),
        "ectopic_window_false_positive_rate": _rate(_predict(model, heavy)),
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


def _classifier_errors(
    windows: Sequence[RhythmWindow], model: RhythmClassifier, records: Sequence[str], log: TextIO
) -> dict[str, Any]:
    """What beat-classifier mistakes cost: AF beats called S (sensitivity) and ectopic beats called N (FP rate)."""
    rng = np.random.default_rng(ERROR_SEED)
    af = [w for w in windows if w.label == "AF"]
    ectopy = [w for w in windows if w.record in records and w.label == "N"]
    out: dict[str, Any] = {"seed": ERROR_SEED}
    log.write("\n== beat-classifier errors simulated on the reference classes ==\n")
    for share in CLASSIFIER_ERROR_SHARES:
        se = _rate(_predict(model, [_relabel(w, "N", "S", share, rng) for w in af]))
        fp = _rate(_predict(model, [_relabel(w, "SVF", "N", share, rng) for w in ectopy]))
        out[f"{share:.0%}"] = {"af_sensitivity_when_af_beats_called_s": se, "ectopy_fp_when_ectopics_called_n": fp}
        log.write(
            f"{share:4.0%}: AF beats called S -> sensitivity {se}; ectopic beats called N -> ectopy FP rate {fp}\n"
        )
    return out


def _channel0(data: Path, record: int | str) -> tuple[Array, float]:
    rec = read_record(_mitdb(data, record))
    return rec.channel(0), rec.fs


class _QualityGate:
    """The ``sqi`` model over the 5-s blocks of a signal: a 30-s window passes when every block is usable."""

    def __init__(self) -> None:
        from edge_agent.models.sqi import WINDOW_S as BLOCK_S  # noqa: PLC0415 -- another role's model, optional
        from edge_agent.models.sqi import EcgQuality, ecg_quality_features  # noqa: PLC0415

        self.block_s = BLOCK_S
        self.quality = EcgQuality()
        self._features = ecg_quality_features

    @property
    def ref(self) -> str:
        return self.quality.ref

    def usable_blocks(self, signal: Array, fs: float) -> NDArray[np.bool_]:
        n = round(self.block_s * fs)
        rows = np.stack([self._features(signal[i : i + n], fs) for i in range(0, len(signal) - n + 1, n)])
        return np.asarray(self.quality.score_batch(rows) >= self.quality.threshold, dtype=bool)

    def passes(self, windows: Sequence[RhythmWindow], blocks: dict[str, NDArray[np.bool_]]) -> NDArray[np.bool_]:
        out = []
        for w in windows:
            usable = blocks[w.record]
            lo, hi = round(w.start_s / self.block_s), round(w.end_s / self.block_s)
            out.append(bool(usable[lo:hi].all()))
        return np.asarray(out, dtype=bool)


def _quality_gate() -> tuple[_QualityGate | None, str]:
    """The sqi gate and how it is used, or None and why not (another role's model, built in parallel)."""
    try:
        gate = _QualityGate()
        gate.usable_blocks(np.sin(np.linspace(0.0, 60.0, round(2 * gate.block_s * 360))), 360.0)
    except Exception as exc:  # noqa: BLE001 -- any failure of the other model only drops the gated scores
        return None, f"not available: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    return gate, f"{gate.ref}: a window counts only if every {gate.block_s:g}-s block scores >= the sqi threshold"


def _gated(windows: Sequence[RhythmWindow], called: NDArray[np.bool_], passed: NDArray[np.bool_]) -> dict[str, Any]:
    # A window the quality gate rejects gets no AF call (the edge would publish "no reading", here counted as N).
    out = _summary(windows, called & passed)
    scored = np.asarray([w.label in ("AF", "N") for w in windows], dtype=bool)
    out["windows_passed"] = _rate(passed[scored])
    return out


def _detected_runs(data: Path, log: TextIO, model: RhythmClassifier, gate: _QualityGate | None) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    cache = {r: _channel0(data, r) for r in MITDB_DS2}
    for rate in DETECTED_RATES_HZ:
        windows: list[RhythmWindow] = []
        blocks: dict[str, NDArray[np.bool_]] = {}
        totals = {"reference": 0, "detected": 0, "matched": 0}
        for record in MITDB_DS2:
            path = _mitdb(data, record)
            times, classes, rhythms, fs = reference_beats(path)
            signal, fs_in = cache[record]
            x = signal if rate == fs_in else resample(signal, fs_in, rate)
            found, found_classes, counts = detected_beats(x, rate, times, classes)
            totals = {k: totals[k] + counts[k] for k in totals}
            windows += record_windows(
                str(record), found, found_classes, rhythms, len(x) / rate, noisy=_noisy_intervals(path, fs)
            )
            if gate is not None and rate == fs_in:
                blocks[str(record)] = gate.usable_blocks(x, rate)
        called = _predict(model, windows)
        log.write(f"\n== detected beats (detect_qrs, channel 0) at {rate:.0f} Hz ==\n")
        _table(windows, called, _insufficient(windows), log)
        noisy_n = np.asarray([w.noisy and w.label == "N" for w in windows], dtype=bool)
        run: dict[str, Any] = {
            **_summary(windows, called),
            "noisy_false_positive_rate": _rate(called[noisy_n]),
            "noisy_windows": int(noisy_n.sum()),
            "beat_sensitivity": round(totals["matched"] / totals["reference"], 4),
            "beat_ppv": round(totals["matched"] / max(totals["detected"], 1), 4),
        }
        if gate is not None and blocks:
            passed = gate.passes(windows, blocks)
            run["sqi_gated"] = _gated(windows, called, passed)
            run["sqi_gated"]["noisy_false_positive_rate"] = _rate((called & passed)[noisy_n])
        runs[f"{rate:.0f}"] = run
    return runs


def _scaled_noise(
    signal: Array, fs: float, beats_s: Array, classes: Sequence[str], *, noise: Array, snr_db: float
) -> Array:
    # nst's convention: A = QRS peak-to-peak amplitude, noise RMS over 1-s blocks, SNR = 20 log10(A / (2 sqrt2 N)).
    half = round(0.05 * fs)
    normal = [round(t * fs) for t, c in zip(beats_s, classes, strict=True) if c == "N"]
    amplitude = float(
        np.median([np.ptp(signal[b - half : b + half + 1]) for b in normal if half <= b < len(signal) - half])
    )
    block = round(fs)
    blocks = noise[: len(noise) // block * block].reshape(-1, block)
    rms = float(np.mean(np.sqrt(np.mean((blocks - blocks.mean(axis=1, keepdims=True)) ** 2, axis=1))))
    gain = amplitude / (_SQRT8 * rms) * 10 ** (-snr_db / 20)
    return np.asarray(signal + gain * (noise - noise.mean()), dtype=np.float64)


def _muscle_noise(data: Path, n: int) -> Array:
    # The second half of ma only (the sqi model trained on the first half), repeated to the record length.
    ma = read_record(data / "nstdb" / "ma").channel(0)
    half = ma[len(ma) // 2 :]
    return np.resize(half, n)


def _noise_runs(data: Path, log: TextIO, model: RhythmClassifier, gate: _QualityGate | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    log.write("\n== DS2 + NSTDB muscle artefact (ma) on channel 0, detected beats at 360 Hz ==\n")
    for snr in NOISE_SNRS_DB:
        windows: list[RhythmWindow] = []
        blocks: dict[str, NDArray[np.bool_]] = {}
        for record in MITDB_DS2:
            path = _mitdb(data, record)
            times, classes, rhythms, _ = reference_beats(path)
            signal, fs = _channel0(data, record)
            noisy = _scaled_noise(signal, fs, times, classes, noise=_muscle_noise(data, len(signal)), snr_db=snr)
            found, found_classes, _ = detected_beats(noisy, fs, times, classes)
            windows += record_windows(str(record), found, found_classes, rhythms, len(noisy) / fs)
            if gate is not None:
                blocks[str(record)] = gate.usable_blocks(noisy, fs)
        called = _predict(model, windows)
        summary = _summary(windows, called)
        line = (
            f"ma {snr:5.1f} dB: sensitivity {summary['sensitivity']} specificity {summary['specificity']}"
            f" f1 {summary['f1']} (FP {summary['fp']} of {summary['fp'] + summary['tn']} N windows)"
        )
        if gate is not None:
            summary["sqi_gated"] = _gated(windows, called, gate.passes(windows, blocks))
            g = summary["sqi_gated"]
            line += (
                f" | sqi-gated: sensitivity {g['sensitivity']} specificity {g['specificity']} f1 {g['f1']}"
                f" (windows passed {g['windows_passed']})"
            )
        out[f"ma_{snr:g}dB"] = summary
        log.write(line + "\n")
    log.write("\n== NSTDB electrode motion (118e*, 119e*; clean originals are DS1), N windows in the noisy parts ==\n")
    for base, names in (("118", EM_RECORDS), ("119", EM_RECORDS_119)):
        for name in names:
            path = data / "nstdb" / name
            if not path.with_suffix(".hea").is_file():
                continue
            times, classes, rhythms, fs = reference_beats(path)
            signal = read_record(path).channel(0)
            found, found_classes, _ = detected_beats(signal, fs, times, classes)
            windows = [
                w
                for w in record_windows(name, found, found_classes, rhythms, len(signal) / fs)
                if any(s <= w.start_s and w.end_s <= e for s, e in EM_NOISY_S) and w.label == "N"
            ]
            called = _predict(model, windows)
            result: dict[str, Any] = {"false_positive_rate": _rate(called), "windows": len(windows)}
            line = f"{name:>7} (base {base}): {int(called.sum())} of {len(windows)} noisy N windows called AF"
            if gate is not None:
                passed = gate.passes(windows, {name: gate.usable_blocks(signal, fs)})
                result["sqi_gated_false_positive_rate"] = _rate(called & passed)
                result["sqi_windows_passed"] = _rate(passed)
                line += f"; with the sqi gate {int((called & passed).sum())} (windows passed {int(passed.sum())})"
            out[f"em_{name}"] = result
            log.write(line + "\n")
    return out


def _qrs_identity() -> str:
    """``name@version`` of the QRS detector and a digest of its source (it changes while it is developed)."""
    import hashlib  # noqa: PLC0415

    from edge_agent.models import qrs  # noqa: PLC0415 -- optional, see evaluate()

    source = Path(qrs.__file__).read_bytes()
    name, version = getattr(qrs, "NAME", "qrs"), getattr(qrs, "VERSION", "?")
    return f"{name}@{version} (qrs.py sha256 {hashlib.sha256(source).hexdigest()[:12]})"


def evaluate(data: Path, *, log: TextIO) -> dict[str, Any]:
    """Score the manifest's ``rhythm`` model on DS2 (see the module docstring); per-record tables go to ``log``."""
    model = RhythmClassifier()
    result: dict[str, Any] = {"model": model.ref, "window_s": WINDOW_S, "step_s": WINDOW_S, "features": list(FEATURES)}
    main, windows = _reference_runs(data, log, model)
    result.update(main)
    ectopy_records = _ectopy_records(data)
    result.update(_ectopy(windows, model, ectopy_records, log))
    result["beat_classifier_errors"] = _classifier_errors(windows, model, ectopy_records, log)
    try:
        import edge_agent.models.qrs  # noqa: F401, PLC0415 -- only to learn whether the detector exists yet
    except ImportError:
        result["detected_beats"] = "pending"
        result["noise"] = "pending (needs edge_agent.models.qrs.detect_qrs)"
    else:
        result["qrs_detector"] = _qrs_identity()
        gate, result["sqi_gate"] = _quality_gate()
        log.write(f"\nsqi gate: {result['sqi_gate']}\n")
        result["detected_beats"] = _detected_runs(data, log, model, gate)
        result["noise"] = _noise_runs(data, log, model, gate)
    result["protocol"] = (
        f"MIT-BIH DS2 (22 records), non-overlapping {WINDOW_S:.0f}-s windows; AF = >= {AF_MIN_FRACTION:.0%} in (AFIB "
        "and no (AFL, N = no (AFIB or (AFL; AFL and mixed windows scored apart; reference beats with reference "
        "labels mapped to AAMI classes unless stated; windows with too few N-N intervals are called N and counted"
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=None, help="PhysioNet data directory (mitdb/, nstdb/)")
    args = parser.parse_args(argv)
    summary = evaluate(data_dir(args.data), log=sys.stderr)
    print(json.dumps(summary))  # noqa: T201 -- the summary is the command's output
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
