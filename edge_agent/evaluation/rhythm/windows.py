"""Labelled beat windows from MIT-BIH records: what the AF detector is trained and scored on.

The labels come from the reference rhythm annotations (see :func:`label_window`); the beats are the
reference beats with their AAMI classes (:func:`reference_beats`) or the QRS detector's beats with the
class of the matched reference beat (:func:`detected_beats`). Training
(``models/training/train_rhythm.py``) cuts its windows with the same functions, so its labels match
the evaluation's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_agent.dsp import Array
from edge_agent.evaluation.metrics import nearest_reference
from edge_agent.models.qrs import detect_qrs
from edge_agent.models.rhythm import WINDOW_S
from edge_agent.records import aami_class, read_annotations, read_record

__all__ = [
    "AF_MIN_FRACTION",
    "MATCH_TOLERANCE_S",
    "RhythmWindow",
    "Rhythms",
    "channel0",
    "detected_beats",
    "duration_s",
    "label_window",
    "mitdb_path",
    "noisy_intervals",
    "record_windows",
    "reference_beats",
]

AF_MIN_FRACTION = 0.9
MATCH_TOLERANCE_S = 0.15

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


def mitdb_path(data: Path, record: int | str) -> Path:
    """The WFDB path (without suffix) of an MIT-BIH record under the data directory."""
    return data / "mitdb" / str(record)


def channel0(data: Path, record: int | str) -> tuple[Array, float]:
    """Channel 0 of an MIT-BIH record (mV) and its sampling rate."""
    rec = read_record(mitdb_path(data, record))
    return rec.channel(0), rec.fs


def noisy_intervals(path: Path, fs: float) -> list[tuple[float, float]]:
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


def duration_s(path: Path) -> float:
    """The length of a WFDB record in seconds, from its header."""
    fs, samples = _header(path)
    return samples / fs


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

    A detection with no reference beat within :data:`MATCH_TOLERANCE_S` is a false beat and gets ``N``,
    and so is a second detection of one reference beat.
    """
    found = np.sort(np.asarray(detect_qrs(signal, fs), dtype=np.float64)) / fs
    ref = np.asarray(reference_s, dtype=np.float64)
    match = nearest_reference(ref, found, MATCH_TOLERANCE_S, claim_once=True)
    classes = tuple(reference_classes[j] if j >= 0 else "N" for j in match.tolist())
    counts = {"reference": len(ref), "detected": len(found), "matched": int(np.sum(match >= 0))}
    return found, classes, counts
