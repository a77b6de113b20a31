"""Small signal-processing toolkit in plain NumPy (the edge installs numpy and onnxruntime, not SciPy).

Linear-phase FIR filters designed by the windowed-sinc method, zero-phase filtering for whole
recordings, and resampling between device rates. Everything here is pure and deterministic.

>>> import numpy as np
>>> fs = 360.0
>>> t = np.arange(0, 2, 1 / fs)
>>> x = np.sin(2 * np.pi * 10 * t) + np.sin(2 * np.pi * 60 * t)
>>> y = fir_filter(x, bandpass_fir(fs, 5.0, 15.0, taps=181))
>>> bool(abs(np.std(y[200:-200]) - np.std(np.sin(2 * np.pi * 10 * t))) < 0.05)
True
>>> resample(np.ones(360), 360.0, 250.0).shape
(250,)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Array",
    "bandpass_fir",
    "fir_filter",
    "held_finite",
    "highpass_fir",
    "int16_counts",
    "lowpass_fir",
    "moving_average",
    "resample",
]

Array = NDArray[np.float64]


def _odd(taps: int) -> int:
    return taps if taps % 2 else taps + 1


def lowpass_fir(fs: float, cutoff_hz: float, *, taps: int = 101) -> Array:
    """Windowed-sinc (Hamming) low-pass, unit gain at DC; ``taps`` is made odd (type I, linear phase)."""
    n = _odd(taps)
    m = np.arange(n) - (n - 1) / 2
    h = np.sinc(2 * cutoff_hz / fs * m) * np.hamming(n)
    return np.asarray(h / h.sum(), dtype=np.float64)


def highpass_fir(fs: float, cutoff_hz: float, *, taps: int = 101) -> Array:
    """Spectral inversion of the low-pass: unit gain at Nyquist, zero at DC."""
    h = -lowpass_fir(fs, cutoff_hz, taps=taps)
    h[len(h) // 2] += 1.0
    return h


def bandpass_fir(fs: float, low_hz: float, high_hz: float, *, taps: int = 101) -> Array:
    """Difference of two low-passes; unit gain at the band centre (approximately)."""
    h = lowpass_fir(fs, high_hz, taps=taps) - lowpass_fir(fs, low_hz, taps=taps)
    centre = (low_hz + high_hz) / 2
    gain = abs(np.sum(h * np.exp(-2j * np.pi * centre / fs * np.arange(len(h)))))
    return np.asarray(h / gain, dtype=np.float64)


def fir_filter(x: Array, h: Array) -> Array:
    """Zero-phase filtering with a linear-phase FIR: convolve and drop the group delay (edges padded by reflection)."""
    half = len(h) // 2
    if len(x) == 0:
        return np.asarray(x, dtype=np.float64)
    pad = min(half, len(x) - 1)
    padded = np.pad(np.asarray(x, dtype=np.float64), (pad, pad), mode="reflect") if pad > 0 else np.asarray(x, float)
    y = np.convolve(padded, h, mode="same")
    return y[pad : pad + len(x)] if pad > 0 else y


def held_finite(x: Array) -> Array:
    """``x`` with each NaN or infinite sample replaced by the last finite one before it (a copy if any was).

    Dropouts and overflows in a recording become a flat stretch, as the streaming QRS detector bridges
    them: no step, so no false beat, and no NaN spreading through a filter. Samples before the first
    finite one take its value; a window with no finite sample at all becomes zeros.

    >>> held_finite(np.array([np.nan, 1.0, np.inf, 3.0, np.nan])).tolist()
    [1.0, 1.0, 1.0, 3.0, 3.0]
    """
    x = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(x)
    if finite.all():
        return x
    if not finite.any():
        return np.zeros(len(x))
    index = np.where(finite, np.arange(len(x)), -1)
    np.maximum.accumulate(index, out=index)
    index[index < 0] = int(np.argmax(finite))
    return np.asarray(x[index], dtype=np.float64)


def int16_counts(x: Array, scale: float) -> NDArray[np.int16]:
    """``x / scale`` as int16 counts for a waveform snippet: rounded, saturated at +-32767, NaN as -32768.

    -32768 is WFDB's "no sample" value for 16-bit formats, so a dropout stays a dropout for whoever
    reads the snippet instead of turning into a plausible-looking flat line; infinities saturate.

    >>> int16_counts(np.array([0.0051, -1e9, np.nan, np.inf]), 0.005).tolist()
    [1, -32767, -32768, 32767]
    """
    counts = np.round(np.asarray(x, dtype=np.float64) / scale)
    missing = np.isnan(counts)
    counts = np.clip(np.where(missing, 0.0, counts), -32767, 32767)
    return np.where(missing, -32768, counts).astype("<i2")


def moving_average(x: Array, n: int) -> Array:
    """Centred moving average over ``n`` samples (same length as ``x``)."""
    if n <= 1:
        return np.asarray(x, dtype=np.float64)
    kernel = np.full(n, 1.0 / n)
    return np.convolve(np.asarray(x, dtype=np.float64), kernel, mode="same")


def resample(x: Array, fs_in: float, fs_out: float) -> Array:
    """Resample to ``fs_out``: anti-alias low-pass when going down, then linear interpolation.

    Good enough for ECG and PPG, whose diagnostic content sits far below the new Nyquist frequency
    for any device rate from 100 Hz up.
    """
    x = np.asarray(x, dtype=np.float64)
    if fs_in == fs_out or len(x) == 0:
        return x.copy()
    if fs_out < fs_in:
        x = fir_filter(x, lowpass_fir(fs_in, 0.45 * fs_out, taps=int(fs_in / fs_out * 20) | 1))
    n_out = round(len(x) * fs_out / fs_in)
    t_out = np.arange(n_out) * (fs_in / fs_out)
    return np.asarray(np.interp(t_out, np.arange(len(x)), x), dtype=np.float64)
