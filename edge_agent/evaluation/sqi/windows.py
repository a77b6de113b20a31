"""Labelled ECG windows for the signal-quality model: clean MIT-BIH windows with NSTDB noise at a chosen SNR.

A clean window (:mod:`~edge_agent.evaluation.sqi.clean`) gets noise from the MIT-BIH Noise Stress
Test records ``bw`` (baseline wander) or ``ma`` (muscle artefact), or both, scaled to a chosen SNR
with ``nst``'s definition (:mod:`edge_agent.evaluation.nstdb`), the gain set per window so that every
window has exactly its nominal SNR. The labels follow from the SNR
(:mod:`~edge_agent.evaluation.sqi.labels`). Training (``models/training/train_sqi.py``) and the
held-out evaluation build their windows here, from disjoint records and noise halves.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from edge_agent.dsp import Array
from edge_agent.evaluation.nstdb import EM_NOISY_S, EM_RECORDS, PEAK_TO_PEAK_PER_RMS, nst_noise_rms
from edge_agent.evaluation.sqi.artefacts import SYNTHETIC_NOISE, synthetic_noise
from edge_agent.evaluation.sqi.clean import load_clean, window_amplitude
from edge_agent.evaluation.sqi.labels import LabelledWindow, label_for
from edge_agent.models.sqi import WINDOW_S
from edge_agent.records import MITDB_DS1, MITDB_DS2, read_record

__all__ = [
    "EVAL_SEED",
    "NOISE_TYPES",
    "TEST_CLEAN_PER_RECORD",
    "TEST_PER_CONDITION",
    "TEST_RECORDS",
    "TEST_SNRS_DB",
    "TRAIN_RECORDS",
    "em_windows",
    "held_out_windows",
    "mixed_windows",
]

TEST_SNRS_DB = (24.0, 18.0, 12.0, 6.0, 0.0, -6.0)
NOISE_TYPES = ("bw", "ma", "bw+ma")
# 118 and 119 carry the electrode-motion test records, so they stay out of training altogether.
TRAIN_RECORDS = tuple(r for r in MITDB_DS1 if r not in (118, 119))
TEST_RECORDS = MITDB_DS2
EVAL_SEED = 7
TEST_PER_CONDITION = 20
TEST_CLEAN_PER_RECORD = 60


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
        clean = load_clean(data / "mitdb" / str(number), round(WINDOW_S * 360.0))
        n = round(WINDOW_S * clean.fs)
        for kind, nominal in conditions:
            starts = rng.choice(clean.allowed_starts, size=per_condition, replace=False)
            for start in np.sort(starts):
                x = clean.ecg[start : start + n]
                snr = nominal + (rng.uniform(-snr_jitter_db, snr_jitter_db) if math.isfinite(nominal) else 0.0)
                if kind != "clean":
                    segment = _noise_segment(noise, kind, n, span, rng)
                    amplitude = window_amplitude(clean, int(start), n)
                    x = x + segment * amplitude / (PEAK_TO_PEAK_PER_RMS * 10.0 ** (snr / 20.0))
                yield LabelledWindow(
                    np.asarray(x), clean.fs, str(number), kind, snr, label_for(snr), math.nan, int(start)
                )


def em_windows(data: Path) -> Iterator[LabelledWindow]:
    """Non-overlapping windows of ``118e*``/``119e*``: the noisy segments of each, plus the clean parts once.

    ``snr_db`` is the record's nominal SNR; ``measured_snr_db`` is this window's, from the noise
    recovered as the difference to the clean mitdb record and the QRS amplitude of the clean window.
    """
    for base in ("118", "119"):
        clean = load_clean(data / "mitdb" / base, round(WINDOW_S * 360.0))
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
                        amplitude = window_amplitude(clean, start, n)
                        measured = 20.0 * math.log10(amplitude / (PEAK_TO_PEAK_PER_RMS * rms + 1e-12) + 1e-12)
                        yield LabelledWindow(window, clean.fs, name, "em", nominal, label_for(nominal), measured, start)
        # The clean parts are the same samples in all six records (plus an offset): take them once.
        quiet = [(0, noisy[0][0])] + [(noisy[i][1], noisy[i + 1][0]) for i in range(len(noisy) - 1)]
        for begin, end in quiet:
            for start in range(begin, end - n + 1, n):
                if start in allowed:
                    yield LabelledWindow(
                        clean.ecg[start : start + n], clean.fs, base, "clean", math.inf, 1, start=start
                    )


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
