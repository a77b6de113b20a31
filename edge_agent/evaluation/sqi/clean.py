"""The annotated-clean parts of MIT-BIH records: where a "clean" window for the signal-quality labels may start.

A clean window has no ``~`` noise or unreadable marks, no ventricular flutter, and at least two
annotated beats whose +-50 ms QRS span lies inside it (the SNR of the noise added later is measured
against their amplitude).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from edge_agent.dsp import Array
from edge_agent.evaluation.nstdb import nst_qrs_amplitude
from edge_agent.models.sqi import WINDOW_S
from edge_agent.records import aami_class, pick_channel, read_annotations, read_record

__all__ = ["CleanRecord", "clean_starts", "load_clean", "window_amplitude"]


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
class CleanRecord:
    """An MIT-BIH ECG lead with its annotated beats and the windows of it that are clean."""

    name: str
    fs: float
    ecg: Array
    beats: NDArray[np.int64]
    normal: NDArray[np.bool_]
    allowed_starts: NDArray[np.int64]  # first samples of windows wholly inside annotated-clean ECG


def load_clean(path: Path, window: int) -> CleanRecord:
    """The ECG lead of record ``path`` and the first samples of its clean windows of ``window`` samples."""
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
    return CleanRecord(record.name, record.fs, ecg, samples, normal, starts[ok].astype(np.int64))


def clean_starts(path: Path, *, window_s: float = WINDOW_S) -> NDArray[np.int64]:
    """First samples of every window of ``window_s`` in the annotated-clean part of an MIT-BIH record."""
    record = read_record(path)
    return load_clean(path, round(window_s * record.fs)).allowed_starts


def window_amplitude(clean: CleanRecord, start: int, n: int) -> float:
    """``nst``'s QRS amplitude of the window at ``start``: over its normal beats, or all its beats if none is N."""
    lo, hi = np.searchsorted(clean.beats, [start, start + n])
    beats, normal = clean.beats[lo:hi] - start, clean.normal[lo:hi]
    chosen = beats[normal] if normal.any() else beats
    return nst_qrs_amplitude(clean.ecg[start : start + n], chosen, clean.fs)
