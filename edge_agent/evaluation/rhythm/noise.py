"""The noise runs of the AF evaluation: DS2 with NSTDB muscle artefact, and the electrode-motion records.

Noise is scored with detected beats, since reference beats do not move with noise. Muscle artefact
(``ma``) is added to channel 0 of every DS2 record at :data:`NOISE_SNRS_DB` with ``nst``'s SNR
(:mod:`edge_agent.evaluation.nstdb`); the electrode-motion records ``118e*``/``119e*`` are scored in
their noisy parts only (their clean originals 118 and 119 are DS1 training records, so those rhythms
are not held out; the noise is).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from numpy.typing import NDArray

from edge_agent.dsp import Array
from edge_agent.evaluation.nstdb import EM_NOISY_S, EM_RECORDS, PEAK_TO_PEAK_PER_RMS, nst_noise_rms, nst_qrs_amplitude
from edge_agent.evaluation.rhythm.gate import QualityGate
from edge_agent.evaluation.rhythm.scoring import gated_summary, predict, rate, summary
from edge_agent.evaluation.rhythm.windows import (
    RhythmWindow,
    channel0,
    detected_beats,
    mitdb_path,
    record_windows,
    reference_beats,
)
from edge_agent.models.rhythm import RhythmClassifier
from edge_agent.records import MITDB_DS2, read_record

__all__ = ["EM_RECORDS_119", "NOISE_SNRS_DB", "noise_runs", "scaled_noise"]

NOISE_SNRS_DB = (12.0, 6.0, 0.0)
EM_RECORDS_119 = tuple(name.replace("118", "119") for name in EM_RECORDS)


def scaled_noise(
    signal: Array, fs: float, beats_s: Array, classes: Sequence[str], *, noise: Array, snr_db: float
) -> Array:
    """``signal`` plus ``noise`` scaled to ``snr_db`` against the QRS amplitude of its normal beats (``nst``'s SNR)."""
    normal = np.asarray([round(t * fs) for t, c in zip(beats_s, classes, strict=True) if c == "N"], dtype=np.int64)
    amplitude = nst_qrs_amplitude(signal, normal, fs)
    rms = nst_noise_rms(noise, fs)
    gain = amplitude / (PEAK_TO_PEAK_PER_RMS * rms) * 10 ** (-snr_db / 20)
    return np.asarray(signal + gain * (noise - noise.mean()), dtype=np.float64)


def _muscle_noise(data: Path, n: int) -> Array:
    # The second half of ma only (the sqi model trained on the first half), repeated to the record length.
    ma = read_record(data / "nstdb" / "ma").channel(0)
    half = ma[len(ma) // 2 :]
    return np.resize(half, n)


def _muscle_runs(data: Path, log: TextIO, model: RhythmClassifier, gate: QualityGate | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    log.write("\n== DS2 + NSTDB muscle artefact (ma) on channel 0, detected beats at 360 Hz ==\n")
    for snr in NOISE_SNRS_DB:
        windows: list[RhythmWindow] = []
        blocks: dict[str, NDArray[np.bool_]] = {}
        for record in MITDB_DS2:
            times, classes, rhythms, _ = reference_beats(mitdb_path(data, record))
            signal, fs = channel0(data, record)
            noisy = scaled_noise(signal, fs, times, classes, noise=_muscle_noise(data, len(signal)), snr_db=snr)
            found, found_classes, _ = detected_beats(noisy, fs, times, classes)
            windows += record_windows(str(record), found, found_classes, rhythms, len(noisy) / fs)
            if gate is not None:
                blocks[str(record)] = gate.usable_blocks(noisy, fs)
        called = predict(model, windows)
        result = summary(windows, called)
        line = (
            f"ma {snr:5.1f} dB: sensitivity {result['sensitivity']} specificity {result['specificity']}"
            f" f1 {result['f1']} (FP {result['fp']} of {result['fp'] + result['tn']} N windows)"
        )
        if gate is not None:
            result["sqi_gated"] = gated_summary(windows, called, gate.passes(windows, blocks))
            g = result["sqi_gated"]
            line += (
                f" | sqi-gated: sensitivity {g['sensitivity']} specificity {g['specificity']} f1 {g['f1']}"
                f" (windows passed {g['windows_passed']})"
            )
        out[f"ma_{snr:g}dB"] = result
        log.write(line + "\n")
    return out


def _electrode_motion_runs(
    data: Path, log: TextIO, model: RhythmClassifier, gate: QualityGate | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
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
            called = predict(model, windows)
            result: dict[str, Any] = {"false_positive_rate": rate(called), "windows": len(windows)}
            line = f"{name:>7} (base {base}): {int(called.sum())} of {len(windows)} noisy N windows called AF"
            if gate is not None:
                passed = gate.passes(windows, {name: gate.usable_blocks(signal, fs)})
                result["sqi_gated_false_positive_rate"] = rate(called & passed)
                result["sqi_windows_passed"] = rate(passed)
                line += f"; with the sqi gate {int((called & passed).sum())} (windows passed {int(passed.sum())})"
            out[f"em_{name}"] = result
            log.write(line + "\n")
    return out


def noise_runs(data: Path, log: TextIO, model: RhythmClassifier, gate: QualityGate | None) -> dict[str, Any]:
    """Muscle artefact at each SNR (``ma_<snr>dB``), then each electrode-motion record (``em_<record>``)."""
    return {**_muscle_runs(data, log, model, gate), **_electrode_motion_runs(data, log, model, gate)}
