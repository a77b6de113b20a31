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

Run: ``python -m edge_agent.evaluation.sqi --data ../shared/data`` (JSON summary on the last stdout line).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from numpy.typing import NDArray

from edge_agent.dsp import Array, resample
from edge_agent.models.sqi import WINDOW_S, EcgQuality, ecg_quality_features
from edge_agent.records import (
    MITDB_DS1,
    MITDB_DS2,
    aami_class,
    data_dir,
    pick_channel,
    read_annotations,
    read_record,
)

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

USABLE_MIN_DB = 12.0
UNUSABLE_MAX_DB = 0.0
TEST_SNRS_DB = (24.0, 18.0, 12.0, 6.0, 0.0, -6.0)
NOISE_TYPES = ("bw", "ma", "bw+ma")
SYNTHETIC_NOISE = ("band", "motion")
# 118 and 119 carry the electrode-motion test records, so they stay out of training altogether.
TRAIN_RECORDS = tuple(r for r in MITDB_DS1 if r not in (118, 119))
TEST_RECORDS = MITDB_DS2
EM_NOISY_S = ((300, 420), (540, 660), (780, 900), (1020, 1140), (1260, 1380), (1500, 1620), (1740, 1806))
EM_RECORDS = ("118e24", "118e18", "118e12", "118e06", "118e00", "118e_6")
_SQRT8 = 2.0 * math.sqrt(2.0)


@dataclasses.dataclass(frozen=True, slots=True)
class LabelledWindow:
    """One ECG window with how it was made: ``label`` 1 usable, 0 not usable, None in between."""

    signal: Array
    fs: float
    record: str
    noise: str  # "clean", "bw", "ma", "bw+ma", "em" or a synthetic artefact
    snr_db: float  # nominal; math.inf for clean windows
    label: int | None
    measured_snr_db: float = math.nan  # em windows: the SNR of this window (nst's gain is per record)
    start: int = 0  # first sample in the source record


def label_for(snr_db: float) -> int | None:
    """The usable / not-usable label of a window at ``snr_db`` (``inf`` = no noise added)."""
    if snr_db >= USABLE_MIN_DB:
        return 1
    if snr_db <= UNUSABLE_MAX_DB:
        return 0
    return None


def nst_qrs_amplitude(x: Array, beats: NDArray[np.int64], fs: float) -> float:
    """Median QRS peak-to-peak amplitude within +-50 ms of each beat (``sigamp -a``, median not trimmed mean)."""
    half = round(0.05 * fs)
    amplitudes = [np.ptp(x[b - half : b + half + 1]) for b in beats if half <= b < len(x) - half]
    return float(np.median(amplitudes)) if amplitudes else 0.0


def nst_noise_rms(noise: Array, fs: float) -> float:
    """Mean over whole 1-s blocks of the RMS about each block's mean (``sigamp -r``)."""
    block = round(fs)
    blocks = noise[: len(noise) // block * block].reshape(-1, block)
    return float(np.mean(np.sqrt(np.mean((blocks - blocks.mean(axis=1, keepdims=True)) ** 2, axis=1))))


def _excluded(path: Path, n: int) -> NDArray[np.bool_]:
    """Samples the annotators marked noisy or unreadable (``~`` with a non-zero subtype), or in flutter."""
    import wfdb  # noqa: PLC0415 -- the data extra; the annotation subtype is not in records.Annotations

    bad = np.zeros(n, dtype=bool)
    ann = wfdb.rdann(str(path), "atr")
    start: int | None = None
    for sample, symbol, subtype in zip(ann.sample, ann.symbol, ann.subtype, strict=True):
        if symbol != "~":
            continue
        if subtype != 0 and start is None:
            start = int(sample)
        elif subtype == 0 and start is not None:
            bad[start : int(sample)] = True
            start = None
    if start is not None:
        bad[start:] = True
    for begin, end, rhythm in read_annotations(path).rhythms:
        if rhythm.startswith("VFL"):
            bad[begin:end] = True
    flutter = [int(s) for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym in "[]"]
    for begin, end in zip(flutter[::2], flutter[1::2], strict=False):
        bad[begin:end] = True
    return bad


@dataclasses.dataclass(frozen=True, slots=True)
class _CleanRecord:
    name: str
    fs: float
    ecg: Array
    beats: NDArray[np.int64]
    normal: NDArray[np.bool_]
    allowed_starts: NDArray[np.int64]  # first samples of windows wholly inside annotated-clean ECG


def _load_clean(path: Path, window: int) -> _CleanRecord:
    record = read_record(path)
    ecg = record.channel(pick_channel(record, "ecg"))
    samples, symbols = read_annotations(path).beats()
    bad = _excluded(path, len(ecg))
    # A window may start at s when no sample in [s, s + window) is excluded.
    bad_before = np.concatenate([[0], np.cumsum(bad)])
    starts = np.arange(0, len(ecg) - window)
    ok = (bad_before[starts + window] - bad_before[starts]) == 0
    # At least two annotated beats whose +-50 ms QRS span lies inside the window (the SNR needs them).
    margin = round(0.05 * record.fs) + 1
    inside = np.searchsorted(samples, starts + window - margin) - np.searchsorted(samples, starts + margin)
    ok &= inside >= 2
    normal = np.asarray([aami_class(s) == "N" for s in symbols], dtype=bool)
    return _CleanRecord(record.name, record.fs, ecg, samples, normal, starts[ok].astype(np.int64))


def clean_starts(path: Path, *, window_s: float = WINDOW_S) -> NDArray[np.int64]:
    """First samples of every window of ``window_s`` in the annotated-clean part of an MIT-BIH record."""
    record = read_record(path)
    return _load_clean(path, round(window_s * record.fs)).allowed_starts


def _window_amplitude(clean: _CleanRecord, start: int, n: int) -> float:
    lo, hi = np.searchsorted(clean.beats, [start, start + n])
    beats, normal = clean.beats[lo:hi] - start, clean.normal[lo:hi]
    chosen = beats[normal] if normal.any() else beats
    return nst_qrs_amplitude(clean.ecg[start : start + n], chosen, clean.fs)


def _noise_segment(
    noise: dict[str, Array], kind: str, n: int, span: tuple[int, int], rng: np.random.Generator
) -> Array:
    """``n`` samples of ``kind`` noise from a random channel and offset within ``span``, at unit nst RMS."""
    parts = []
    for name in kind.split("+"):
        if name in SYNTHETIC_NOISE:
            segment = synthetic_noise(name, n, 360.0, rng)
            parts.append(segment / max(nst_noise_rms(segment, 360.0), 1e-9))
            continue
        channels = noise[name]
        channel = int(rng.integers(channels.shape[1]))
        offset = int(rng.integers(span[0], span[1] - n))
        segment = channels[offset : offset + n, channel]
        parts.append(segment / max(nst_noise_rms(segment, 360.0), 1e-9))
    # Equal parts of each, then the sum itself back to unit RMS (two noises add up to more than one).
    mixture = np.asarray(np.sum(parts, axis=0), dtype=np.float64)
    return mixture / max(nst_noise_rms(mixture, 360.0), 1e-9)


def synthetic_noise(kind: str, n: int, fs: float, rng: np.random.Generator) -> Array:
    """Generic noise no recording provides, for training only: ``band`` or ``motion``.

    ``band``: Gaussian noise in a random band (low edge 0.3-8 Hz, high edge 2-8x higher, up to 60 Hz).
    ``motion``: bumps, biphasic bumps and smoothed steps (20-150 ms wide, heavy-tailed amplitudes), at
    random (0.3-3 per second) or at a rhythm of their own (36-150 per minute, jittered): beat-like
    artefacts in general terms, not a model of any recording.

    >>> import numpy as np
    >>> synthetic_noise("band", 1800, 360.0, np.random.default_rng(0)).shape
    (1800,)
    """
    t = np.arange(n) / fs
    if kind == "band":
        low = math.exp(rng.uniform(math.log(0.3), math.log(8.0)))
        high = min(low * rng.uniform(2.0, 8.0), 60.0)
        freqs = np.fft.rfftfreq(n, 1.0 / fs)
        # Smooth (raised-cosine in log frequency) band edges, so the noise has no ringing artefacts.
        shape = np.clip((np.log(freqs + 1e-9) - math.log(low / 1.5)) / math.log(1.5), 0.0, 1.0)
        shape *= np.clip((math.log(high * 1.5) - np.log(freqs + 1e-9)) / math.log(1.5), 0.0, 1.0)
        spectrum = (rng.normal(size=len(freqs)) + 1j * rng.normal(size=len(freqs))) * np.sin(shape * np.pi / 2) ** 2
        return np.asarray(np.fft.irfft(spectrum, n), dtype=np.float64)
    if kind == "motion":
        # Electrode motion mimics beats (Moody, Muldrow & Mark 1984): bumps a QRS detector takes for
        # complexes, arriving at random or at their own rhythm, plus the odd baseline step.
        x = np.zeros(n)
        if rng.random() < 0.5:
            rate = rng.uniform(0.3, 3.0)
            times = np.cumsum(rng.exponential(1.0 / rate, size=int(rate * n / fs * 3) + 2))
        else:
            period = 1.0 / rng.uniform(0.6, 2.5)
            times = np.cumsum(period * (1.0 + rng.uniform(-0.3, 0.3) * rng.standard_normal(int(n / fs / period) + 3)))
        times = times[times < n / fs + 0.5] - rng.uniform(0.0, 0.5)
        for centre in times:
            width = math.exp(rng.uniform(math.log(0.02), math.log(0.15)))
            z = (t - centre) / width
            shape = rng.choice(3, p=[0.45, 0.4, 0.15])
            amplitude = rng.standard_t(4)
            x += amplitude * (np.exp(-(z**2)) if shape == 0 else -z * np.exp(0.5 - z**2) if shape == 1 else np.tanh(z))
        return x
    raise ValueError(f"unknown synthetic noise {kind!r} (expected one of {SYNTHETIC_NOISE})")


def _read_noise(data: Path) -> dict[str, Array]:
    return {name: read_record(data / "nstdb" / name).signals for name in ("bw", "ma")}


def mixed_windows(
    data: Path,
    records: Sequence[int],
    *,
    conditions: Sequence[tuple[str, float]],
    per_condition: int,
    noise_part: str,
    seed: int,
    snr_jitter_db: float = 0.0,
) -> Iterator[LabelledWindow]:
    """Windows of clean ``records`` with noise added at each ``(noise, snr_db)`` of ``conditions``.

    ``noise_part`` is "train" (first half of ``bw``/``ma``) or "test" (second half): the halves never
    share a sample. ``("clean", inf)`` adds nothing. ``snr_jitter_db`` spreads the SNR uniformly
    around each nominal value (training only). Deterministic for a given ``seed``.
    """
    noise = _read_noise(data)
    length = len(noise["bw"])
    span = (0, length // 2) if noise_part == "train" else (length // 2, length)
    rng = np.random.default_rng(seed)
    for number in records:
        clean = _load_clean(data / "mitdb" / str(number), round(WINDOW_S * 360.0))
        n = round(WINDOW_S * clean.fs)
        for kind, nominal in conditions:
            starts = rng.choice(clean.allowed_starts, size=per_condition, replace=False)
            for start in np.sort(starts):
                x = clean.ecg[start : start + n]
                snr = nominal + (rng.uniform(-snr_jitter_db, snr_jitter_db) if math.isfinite(nominal) else 0.0)
                if kind != "clean":
                    segment = _noise_segment(noise, kind, n, span, rng)
                    amplitude = _window_amplitude(clean, int(start), n)
                    x = x + segment * amplitude / (_SQRT8 * 10.0 ** (snr / 20.0))
                yield LabelledWindow(
                    np.asarray(x), clean.fs, str(number), kind, snr, label_for(snr), math.nan, int(start)
                )


def em_windows(data: Path) -> Iterator[LabelledWindow]:
    """Non-overlapping windows of ``118e*``/``119e*``: the noisy segments of each, plus the clean parts once.

    ``snr_db`` is the record's nominal SNR; ``measured_snr_db`` is this window's, from the noise
    recovered as the difference to the clean mitdb record and the QRS amplitude of the clean window.
    """
    for base in ("118", "119"):
        clean = _load_clean(data / "mitdb" / base, round(WINDOW_S * 360.0))
        n = round(WINDOW_S * clean.fs)
        allowed = set(clean.allowed_starts.tolist())
        noisy = [(round(a * clean.fs), round(b * clean.fs)) for a, b in EM_NOISY_S]
        for name in (r.replace("118", base) for r in EM_RECORDS):
            ecg = read_record(data / "nstdb" / name).channel(0)
            nominal = -6.0 if name.endswith("_6") else float(name[-2:])
            for begin, end in noisy:
                for start in range(begin, min(end, len(ecg)) - n + 1, n):
                    if start in allowed:
                        window = ecg[start : start + n]
                        rms = nst_noise_rms(window - clean.ecg[start : start + n], clean.fs)
                        amplitude = _window_amplitude(clean, start, n)
                        measured = 20.0 * math.log10(amplitude / (_SQRT8 * rms + 1e-12) + 1e-12)
                        yield LabelledWindow(window, clean.fs, name, "em", nominal, label_for(nominal), measured, start)
        # The clean parts are the same samples in all six records (plus an offset): take them once.
        quiet = [(0, noisy[0][0])] + [(noisy[i][1], noisy[i + 1][0]) for i in range(len(noisy) - 1)]
        for begin, end in quiet:
            for start in range(begin, end - n + 1, n):
                if start in allowed:
                    yield LabelledWindow(
                        clean.ecg[start : start + n], clean.fs, base, "clean", math.inf, 1, start=start
                    )


def synthetic_artefact(clean: LabelledWindow, rng: np.random.Generator) -> LabelledWindow:
    """A not-usable artefact the noise records lack: lead-off (flat + mains hum) or amplifier saturation."""
    n = len(clean.signal)
    if rng.random() < 0.5:
        t = np.arange(n) / clean.fs
        hum = rng.uniform(0.0, 0.2) * np.sin(2 * np.pi * rng.choice([50.0, 60.0]) * t + rng.uniform(0, 6.3))
        x = rng.uniform(-1.0, 1.0) + rng.normal(0.0, rng.uniform(0.001, 0.01), n) + hum
        return LabelledWindow(x, clean.fs, clean.record, "flat", -math.inf, 0, start=clean.start)
    # Saturation: the amplifier rails at a level below the R peaks, so the QRS complexes are cut off.
    rail = float(np.percentile(clean.signal, rng.uniform(20.0, 60.0)))
    return LabelledWindow(
        np.minimum(clean.signal, rail), clean.fs, clean.record, "saturated", -math.inf, 0, start=clean.start
    )


def auroc(scores: NDArray[np.floating[Any]], labels: NDArray[np.integer[Any]]) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half); NaN when one class is missing.

    >>> import numpy as np
    >>> auroc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    0.75
    """
    positive, negative = scores[labels == 1], scores[labels == 0]
    if len(positive) == 0 or len(negative) == 0:
        return math.nan
    order = np.argsort(np.concatenate([positive, negative]), kind="stable")
    values = np.concatenate([positive, negative])[order]
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    # Average ranks over ties.
    _, first, counts = np.unique(values, return_index=True, return_counts=True)
    for start, count in zip(first, counts, strict=True):
        if count > 1:
            ranks[order[start : start + count]] = start + (count + 1) / 2
    u = ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2
    return float(u / (len(positive) * len(negative)))


EVAL_SEED = 7
TEST_PER_CONDITION = 20
TEST_CLEAN_PER_RECORD = 60
OTHER_RATES_HZ = (128.0, 250.0, 500.0)


def held_out_windows(data: Path) -> list[LabelledWindow]:
    """The held-out mixed windows: DS2 records, second half of ``bw``/``ma``, every test SNR (seeded)."""
    noisy = [(kind, snr) for kind in NOISE_TYPES for snr in TEST_SNRS_DB]
    clean = mixed_windows(
        data,
        TEST_RECORDS,
        conditions=[("clean", math.inf)],
        per_condition=TEST_CLEAN_PER_RECORD,
        noise_part="test",
        seed=EVAL_SEED,
    )
    mixed = mixed_windows(
        data, TEST_RECORDS, conditions=noisy, per_condition=TEST_PER_CONDITION, noise_part="test", seed=EVAL_SEED + 1
    )
    return [*clean, *mixed]


def _snr_key(snr: float) -> str:
    return "clean" if math.isinf(snr) else f"{snr:g}"


def _binary(
    scores: NDArray[np.float64], windows: Sequence[LabelledWindow], keep: NDArray[np.bool_], threshold: float
) -> dict[str, float | int]:
    labels = np.asarray([-1 if w.label is None else w.label for w in windows])
    mask = keep & (labels >= 0)
    s, y = scores[mask], labels[mask]
    return {
        "auroc": round(auroc(s, y), 4),
        "sensitivity": round(float(np.mean(s[y == 1] >= threshold)), 4) if (y == 1).any() else math.nan,
        "specificity": round(float(np.mean(s[y == 0] < threshold)), 4) if (y == 0).any() else math.nan,
        "usable": int((y == 1).sum()),
        "unusable": int((y == 0).sum()),
    }


def _score(quality: EcgQuality, windows: Sequence[LabelledWindow], rate: float | None = None) -> NDArray[np.float64]:
    rows = []
    for w in windows:
        x, fs = (w.signal, w.fs) if rate is None else (resample(w.signal, w.fs, rate), rate)
        rows.append(ecg_quality_features(x, fs))
    return np.asarray(quality.score_batch(np.asarray(rows)), dtype=np.float64)


def _condition_table(
    scores: NDArray[np.float64], windows: Sequence[LabelledWindow], threshold: float, log: TextIO, title: str
) -> dict[str, dict[str, float | int | None]]:
    """Per (noise, SNR): windows, mean score, fraction scored usable, accuracy against the label."""
    print(
        f"\n{title}\n{'noise':8s} {'snr_db':>7s} {'n':>5s} {'label':>6s} {'mean':>6s} {'usable%':>8s} {'acc':>6s}",
        file=log,
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
        table[f"{noise}@{_snr_key(snr)}"] = row
        shown = "-" if label is None else str(label)
        accuracy = "-" if row["accuracy"] is None else f"{row['accuracy']:.3f}"
        print(
            f"{noise:8s} {_snr_key(snr):>7s} {len(idx):5d} {shown:>6s} {row['mean_score']:6.3f} "
            f"{100 * usable:7.1f}% {accuracy:>6s}",
            file=log,
        )
    return table


def evaluate(data: Path, *, log: TextIO) -> dict[str, Any]:
    """Score the registered ``sqi`` model on the held-out windows; per-condition tables go to ``log``."""
    quality = EcgQuality()
    threshold = quality.threshold
    windows = held_out_windows(data)
    scores = _score(quality, windows)
    everything = np.ones(len(windows), dtype=bool)
    overall = _binary(scores, windows, everything, threshold)
    by_noise = {
        kind: _binary(scores, windows, np.asarray([w.noise in ("clean", kind) for w in windows]), threshold)["auroc"]
        for kind in NOISE_TYPES
    }
    # Per SNR: the windows at that SNR against every window of the opposite class.
    by_snr: dict[str, float] = {}
    for snr in (math.inf, *TEST_SNRS_DB):
        label = 1 if math.isinf(snr) else label_for(snr)
        if label is None:
            continue
        keep = np.asarray([(w.snr_db == snr) or (w.label == 1 - label) for w in windows])
        by_snr[_snr_key(snr)] = _binary(scores, windows, keep, threshold)["auroc"]
    # A stricter reading of "usable" (clean or >= 18 dB against <= 6 dB), for deployments that want one.
    strict = [dataclasses.replace(w, label=1 if w.snr_db >= 18.0 else 0 if w.snr_db <= 6.0 else None) for w in windows]
    strict_auroc = _binary(scores, strict, everything, threshold)["auroc"]
    conditions = _condition_table(scores, windows, threshold, log, "DS2 + second half of bw/ma (held out)")

    em = list(em_windows(data))
    em_scores = _score(quality, em)
    em_all = _binary(em_scores, em, np.ones(len(em), dtype=bool), threshold)
    measured = [dataclasses.replace(w, label=label_for(w.measured_snr_db)) if w.noise == "em" else w for w in em]
    em_measured = _binary(em_scores, measured, np.ones(len(em), dtype=bool), threshold)
    em_by_snr: dict[str, float] = {}
    for snr in (24.0, 18.0, 12.0, 0.0, -6.0):
        label = label_for(snr)
        keep = np.asarray([(w.noise == "em" and w.snr_db == snr) or (w.label == 1 - (label or 0)) for w in em])
        em_by_snr[_snr_key(snr)] = _binary(em_scores, em, keep, threshold)["auroc"]
    em_conditions = _condition_table(em_scores, em, threshold, log, "118e*/119e* electrode motion (held out)")

    rng = np.random.default_rng(EVAL_SEED + 2)
    clean_test = [w for w in windows if w.noise == "clean"]
    artefacts = [synthetic_artefact(clean_test[int(i)], rng) for i in rng.choice(len(clean_test), 200, replace=False)]
    artefact_scores = _score(quality, artefacts)
    rejected = {
        kind: round(
            float(np.mean([s < threshold for s, w in zip(artefact_scores, artefacts, strict=True) if w.noise == kind])),
            4,
        )
        for kind in ("flat", "saturated")
    }
    at_rates = {
        f"{rate:g}": _binary(_score(quality, windows, rate), windows, everything, threshold)["auroc"]
        for rate in OTHER_RATES_HZ
    }

    print("\nper record (DS2, all conditions)\nrecord     n  auroc    acc", file=log)
    for name in sorted({w.record for w in windows}):
        keep = np.asarray([w.record == name for w in windows])
        row = _binary(scores, windows, keep, threshold)
        correct = (row["sensitivity"] * row["usable"] + row["specificity"] * row["unusable"]) / (
            row["usable"] + row["unusable"]
        )
        print(f"{name:6s} {row['usable'] + row['unusable']:5d} {row['auroc']:6.4f} {correct:6.4f}", file=log)
    return {
        "model": quality.ref,
        "auroc": overall["auroc"],
        "auroc_em_118e_119e": em_all["auroc"],
        "auroc_em_measured_snr": em_measured["auroc"],
        "auroc_by_noise": {**by_noise, "em": em_all["auroc"]},
        "auroc_by_snr": by_snr,
        "auroc_by_snr_em": em_by_snr,
        "auroc_at_device_rate_hz": at_rates,
        "auroc_strict_18db_vs_6db": strict_auroc,
        "windows": {
            "usable": overall["usable"],
            "unusable": overall["unusable"],
            "excluded_6db": sum(w.label is None for w in windows),
        },
        "windows_em": {
            "usable": em_all["usable"],
            "unusable": em_all["unusable"],
            "excluded_6db": sum(w.label is None for w in em),
        },
        "threshold": round(threshold, 4),
        "sensitivity": overall["sensitivity"],
        "specificity": overall["specificity"],
        "sensitivity_em": em_all["sensitivity"],
        "specificity_em": em_all["specificity"],
        "artefacts_rejected": rejected,
        "conditions": conditions,
        "conditions_em": em_conditions,
        "definition": "usable = clean or SNR >= 12 dB, not usable = SNR <= 0 dB (nst QRS-amplitude SNR); "
        "sensitivity = usable windows passed, specificity = not-usable windows rejected",
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=None, help="PhysioNet data directory (mitdb/, nstdb/)")
    args = parser.parse_args(argv)
    summary = evaluate(data_dir(args.data), log=sys.stderr)
    print(json.dumps(summary, allow_nan=False))  # noqa: T201 -- the summary is the command's output
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
