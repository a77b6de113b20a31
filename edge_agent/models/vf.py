"""Ventricular fibrillation / flutter detection on one ECG lead: a small spectral detector (DSP, numpy only).

VF and ventricular flutter replace the QRS-T sequence with a fast, nearly sinusoidal oscillation
(about 3-8 Hz) that never rests on an isoelectric line. On a 4 s window resampled to 125 Hz and
band-passed 1-30 Hz, three numbers separate it from organised rhythms, in the spirit of the
classical spectral and time-domain VF detectors (Barro et al. 1989; Kuo & Dillman 1978):

- ``concentration``: power within 1 Hz of the dominant 2.5-9 Hz peak over the 1-30 Hz power (an
  oscillation concentrates, QRS complexes spread power over harmonics);
- ``high_fraction``: 12-30 Hz power over 1-30 Hz power (sharp QRS complexes have it, VF lacks it);
- ``quiet_fraction``: share of samples below 10 % of the window's peak amplitude (the isoelectric
  line between beats; VF has almost none).

The thresholds were set from the physiology above and checked on MIT-BIH record 207 (the database's
ventricular-flutter episodes) and the other records as negatives; see ``evaluate_vf`` in the
pipeline tests for the numbers. This is a safety net behind the processor's "no beats" logic, not a
validated arrhythmia classifier: the MIT-BIH database holds only a few minutes of flutter.

>>> import numpy as np
>>> t = np.arange(0, 4, 1 / 250)
>>> is_vf(0.6 * np.sin(2 * np.pi * 4.5 * t), 250.0)[0]
True
"""

from __future__ import annotations

import numpy as np

from edge_agent.dsp import Array, bandpass_fir, fir_filter, held_finite, resample

__all__ = ["MIN_WINDOW_S", "NAME", "VERSION", "WINDOW_S", "is_vf", "vf_features"]

NAME = "vf-spectral"
VERSION = "1.0.0"
WINDOW_S = 4.0
MIN_WINDOW_S = 1.0  # a sustained oscillation needs a few cycles: four at the slowest VF (3-4 Hz)
_FS = 125.0
_BAND = bandpass_fir(_FS, 1.0, 30.0, taps=63)
_MIN_CONCENTRATION = 0.45
_MAX_HIGH_FRACTION = 0.12
_MAX_QUIET_FRACTION = 0.35
_MIN_PEAK_TO_PEAK_MV = 0.2


def vf_features(window: Array, fs: float) -> dict[str, float]:
    """The three spectral/time-domain features of one window (see the module docstring).

    Missing or overflowed samples hold the last finite value (a flat stretch has no oscillation);
    a window under :data:`MIN_WINDOW_S` is refused with a ``ValueError``.
    """
    if not len(window) >= MIN_WINDOW_S * fs:  # also refuses a NaN rate
        raise ValueError(f"a VF window needs at least {MIN_WINDOW_S:g} s, got {len(window)} samples at {fs} Hz")
    x = fir_filter(resample(held_finite(window), fs, _FS), _BAND)
    x = x - np.mean(x)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / _FS)
    band = (freqs >= 1.0) & (freqs <= 30.0)
    total = float(np.sum(spectrum[band])) + 1e-12
    search = (freqs >= 2.5) & (freqs <= 9.0)
    peak = float(freqs[search][np.argmax(spectrum[search])])
    near = (freqs >= peak - 1.0) & (freqs <= peak + 1.0)
    amplitude = float(np.max(np.abs(x))) + 1e-12
    return {
        "concentration": float(np.sum(spectrum[near])) / total,
        "high_fraction": float(np.sum(spectrum[(freqs >= 12.0) & (freqs <= 30.0)])) / total,
        "quiet_fraction": float(np.mean(np.abs(x) < 0.1 * amplitude)),
        "peak_to_peak_mv": float(np.max(x) - np.min(x)),
        "dominant_hz": peak,
    }


def is_vf(window: Array, fs: float) -> tuple[bool, dict[str, float]]:
    """Whether ``window`` (about 4 s of ECG in mV) looks like ventricular fibrillation or flutter."""
    f = vf_features(window, fs)
    vf = (
        f["concentration"] >= _MIN_CONCENTRATION
        and f["high_fraction"] <= _MAX_HIGH_FRACTION
        and f["quiet_fraction"] <= _MAX_QUIET_FRACTION
        and f["peak_to_peak_mv"] >= _MIN_PEAK_TO_PEAK_MV
    )
    return vf, f
