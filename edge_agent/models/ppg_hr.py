"""Pulse rate from a photoplethysmogram (PPG) window: classical DSP, numpy only, with a signal-quality index.

One call looks at the last :data:`WINDOW_S` seconds of PPG (any rate from 16 Hz up) and returns the pulse
rate in beats per minute, or ``None`` when the window does not support a trustworthy estimate, together
with a quality in [0, 1] that the edge publishes as ``sqi.ppg``. Two independent estimates must agree:

* **spectral**: the fundamental of the pulse wave, the highest peak of the power spectrum in the plausible
  band, or the peak at half its frequency when that holds at least half its power (so a strong dicrotic
  second harmonic does not double the rate);
* **time domain**: systolic peaks found by Elgendi's two-moving-average detector (Elgendi et al. 2013,
  PLoS One 8(10):e76585: band 0.5-8 Hz, W1 = 111 ms, W2 = 667 ms, offset 0.02 of the mean energy).
  The rate is 60 over the mean inter-beat interval (IBI), after dropping IBIs more than 30 % away from
  their median (one missed or doubled detection must not move the rate).

The window is first made upright (an inverted raw sensor PPG is flipped: the systolic upstroke is the
fast edge, so the slope of an upright pulse wave has positive skewness). The reported rate is the
time-domain one (what a monitor counts); the spectral one only votes. The quality is the product of

* morphology: ``clip((r - 0.5) / 0.5, 0, 1)`` with ``r`` the mean correlation of each beat with the
  window's average beat (Orphanidou et al. 2015, IEEE JBHI 19(3):832-838, accept ``r >= 0.86``);
* agreement: ``clip(1 - |rate - spectral| / (0.2 * rate), 0, 1)``, 0.5 at 10 % disagreement;

and Orphanidou's feasibility rules (longest IBI < 3 s, longest/shortest IBI < 2.2) and the plausible
range 30-220 /min gate it to zero. The estimate is withheld below :data:`MIN_QUALITY`.

Every parameter was set a priori, from the cited papers or physiological reasoning (each is commented
where it is defined); none was fitted to data.

>>> import numpy as np
>>> fs = 64.0
>>> t = np.arange(0, WINDOW_S, 1 / fs)
>>> beat = 1.2  # Hz, 72 /min
>>> ppg = np.sin(2 * np.pi * beat * t) + 0.4 * np.sin(4 * np.pi * beat * t - 1.0)
>>> rate, quality = ppg_heart_rate(ppg, fs)
>>> round(rate), quality > 0.9
(72, True)
>>> ppg_heart_rate(np.zeros(512), fs)
(None, 0.0)
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from types import MappingProxyType
from typing import Final

import numpy as np

from edge_agent.dsp import Array, moving_average, resample

__all__ = [
    "MIN_QUALITY",
    "MIN_WINDOW_S",
    "NAME",
    "PARAMETERS",
    "VERSION",
    "WINDOW_S",
    "PpgHeartRate",
    "parameters_sha256",
    "ppg_heart_rate",
]

NAME: Final = "ppg-hr-dsp"
VERSION: Final = "1.1.1"
# 8 s is the window of the IEEE Signal Processing Cup 2015 and most PPG rate trackers: at least four
# beats at 30 /min, and short enough to follow a changing rate.
WINDOW_S: Final = 8.0
# Shorter windows (the first seconds of a stream) still hold two or more beats at any plausible rate.
MIN_WINDOW_S: Final = 4.0
MIN_QUALITY: Final = 0.3

_FS: Final = 50.0  # internal rate: the pulse wave has no useful content above 8 Hz
_HR_MIN, _HR_MAX = 30.0, 220.0  # /min, plausible pulse rates
_BAND = (0.5, 8.0)  # Hz, Elgendi et al. 2013
_W1, _W2, _BETA = 0.111, 0.667, 0.02  # s, s, -- Elgendi et al. 2013
_MAX_IBI_S, _MAX_IBI_RATIO = 3.0, 2.2  # Orphanidou et al. 2015 feasibility rules
_IBI_TOLERANCE = 0.3  # IBIs further than this from the median are detection errors or ectopy
_AGREEMENT = 0.2  # relative spectral/time-domain disagreement at which quality reaches zero
_NFFT = 4096  # 0.73 /min bins at 50 Hz before interpolation
_SUBHARMONIC_POWER = 0.5  # a peak at half the frequency with this share of the power is the fundamental
_HALF_SEARCH_HZ = 0.1  # where that half-frequency peak is looked for
_MAX_NONFINITE = 0.1  # fraction of missing samples (dropouts) that is still bridged by interpolation
_SMOOTHING = 5  # streaming: median over this many updates (seconds)
_JUMP = 0.1  # streaming: relative distance from the recent median that halves the quality

PARAMETERS: Final = MappingProxyType(
    {
        "window_s": WINDOW_S,
        "min_window_s": MIN_WINDOW_S,
        "min_quality": MIN_QUALITY,
        "internal_fs_hz": _FS,
        "hr_min_per_min": _HR_MIN,
        "hr_max_per_min": _HR_MAX,
        "band_hz": list(_BAND),
        "elgendi_w1_s": _W1,
        "elgendi_w2_s": _W2,
        "elgendi_beta": _BETA,
        "max_ibi_s": _MAX_IBI_S,
        "max_ibi_ratio": _MAX_IBI_RATIO,
        "ibi_tolerance": _IBI_TOLERANCE,
        "agreement": _AGREEMENT,
        "nfft": _NFFT,
        "subharmonic_power": _SUBHARMONIC_POWER,
        "half_search_hz": _HALF_SEARCH_HZ,
        "polarity": "upright when the slope has positive skewness",
        "smoothing_updates": _SMOOTHING,
        "jump": _JUMP,
    }
)


def parameters_sha256() -> str:
    """Fingerprint of :data:`PARAMETERS`; the manifest stores it so a silent retune fails the registry check."""
    return hashlib.sha256(json.dumps(dict(PARAMETERS), sort_keys=True).encode()).hexdigest()


def ppg_heart_rate(window: Array, fs: float) -> tuple[float | None, float]:
    """Pulse rate (/min, or ``None`` when unsure) and quality in [0, 1] from the last ``WINDOW_S`` s of ``window``.

    Causal: only the samples given are used, and a longer window is cut to its last ``WINDOW_S`` seconds.

    >>> rate, quality = ppg_heart_rate(np.sin(2 * np.pi * 1.5 * np.arange(1000) / 125.0), 125.0)  # 90 /min
    >>> round(rate), quality > 0.9
    (90, True)
    """
    if not fs >= 16.0:  # also refuses NaN
        raise ValueError(f"fs {fs} Hz is too low for a PPG pulse rate (need >= 16 Hz)")
    y = _conditioned(np.asarray(window, dtype=np.float64)[-round(WINDOW_S * fs) :], fs)
    spectral = None if y is None else _spectral_rate(y, _FS)
    pulse = None if y is None else _pulse_train(_systolic_peaks(y, _FS))
    if y is None or spectral is None or pulse is None:
        return None, 0.0
    rate, beats, period = pulse
    agreement = max(0.0, 1.0 - abs(rate - spectral) / (_AGREEMENT * rate))
    morphology = max(0.0, min(1.0, (_template_correlation(y, beats, round(period * _FS)) - 0.5) / 0.5))
    quality = round(agreement * morphology, 3)
    return (round(rate, 1) if quality >= MIN_QUALITY else None), quality


class PpgHeartRate:
    """Streaming pulse rate: call :meth:`update` once per second with the latest window.

    The published rate is the median of the estimates of the last five updates (a single bad window
    cannot move it; a real change shows within three seconds). An abstention is passed on as ``None``:
    a stale value is never repeated. The quality drops by half when the current window disagrees with
    the recent median by more than 10 %.

    >>> fs = 125.0
    >>> t = np.arange(0, 30, 1 / fs)
    >>> ppg = np.sin(2 * np.pi * 1.0 * t)  # 60 /min
    >>> tracker = PpgHeartRate(fs)
    >>> [tracker.update(ppg[: int(s * fs)])[0] for s in range(2, 12, 3)]
    [None, 60.0, 60.0, 60.0]
    """

    def __init__(self, fs: float, *, smoothing: int = _SMOOTHING) -> None:
        if smoothing < 1:
            raise ValueError(f"smoothing {smoothing} must be at least 1")
        self.fs = float(fs)
        self._recent: deque[float | None] = deque(maxlen=smoothing)

    def update(self, window: Array) -> tuple[float | None, float]:
        """The rate and quality after one more second; ``window`` ends at the newest sample."""
        rate, quality = ppg_heart_rate(window, self.fs)
        self._recent.append(rate)
        if rate is None:
            return None, quality
        smoothed = float(np.median([r for r in self._recent if r is not None]))
        if abs(rate - smoothed) > _JUMP * smoothed:
            quality = round(quality / 2, 3)
        return round(smoothed, 1), quality

    def reset(self) -> None:
        """Forget the history (a new sensor placement or patient)."""
        self._recent.clear()


def _conditioned(x: Array, fs: float) -> Array | None:
    """The window at the internal rate, band-passed; ``None`` when too short, flat or mostly missing."""
    if len(x) < MIN_WINDOW_S * fs:
        return None
    bad = ~np.isfinite(x)
    if bad.mean() > _MAX_NONFINITE:
        return None
    if bad.any():  # bridge short dropouts linearly
        index = np.arange(len(x))
        x = np.interp(index, index[~bad], x[~bad])
    if np.ptp(x) <= 1e-9 * max(1.0, float(np.max(np.abs(x)))):
        return None
    y = _bandpass(resample(x, fs, _FS), _FS, *_BAND)
    # The systolic upstroke is faster than the diastolic decay, so the slope of an upright pulse wave is
    # skewed to the positive side. Raw sensor PPG is often inverted (more blood, less light): flip it.
    slope = np.diff(y)
    return -y if float(np.mean((slope - slope.mean()) ** 3)) < 0 else y


def _pulse_train(beats: Array) -> tuple[float, Array, float] | None:
    """(rate /min, beats, median IBI s) from systolic peaks, or ``None`` when they are no plausible pulse train."""
    if len(beats) < 3:
        return None
    ibi = np.diff(beats) / _FS
    if ibi.max() >= _MAX_IBI_S or ibi.max() / ibi.min() >= _MAX_IBI_RATIO:
        return None  # Orphanidou's feasibility rules
    centre = float(np.median(ibi))
    kept = ibi[np.abs(ibi / centre - 1.0) <= _IBI_TOLERANCE]
    if 2 * len(kept) < len(ibi):
        return None  # most intervals disagree with their median: no rhythm to report
    rate = 60.0 / float(np.mean(kept))
    if not _HR_MIN <= rate <= _HR_MAX:
        return None
    return rate, beats, centre


def _bandpass(x: Array, fs: float, low: float, high: float) -> Array:
    """Zero-phase band-pass inside the window: FFT mask with raised-cosine edges, mirror-padded ends."""
    n = len(x)
    x = x - np.polyval(np.polyfit(np.arange(n), x, 1), np.arange(n))
    pad = n // 2
    padded = np.pad(x, pad, mode="reflect")
    f = np.fft.rfftfreq(len(padded), 1 / fs)
    # 0.2 Hz below the low edge and 2 Hz above the high edge: no ringing from a brick wall
    rise = np.clip((f - (low - 0.2)) / 0.2, 0.0, 1.0)
    fall = np.clip(((high + 2.0) - f) / 2.0, 0.0, 1.0)
    mask = np.sin(np.pi / 2 * rise) ** 2 * np.sin(np.pi / 2 * fall) ** 2
    return np.fft.irfft(np.fft.rfft(padded) * mask, len(padded))[pad : pad + n]


def _spectral_rate(y: Array, fs: float) -> float | None:
    """Fundamental frequency (/min): the highest spectral peak, or half of it when that is a peak too.

    A pulse wave's second harmonic rarely carries more than half of the fundamental's power, so a
    peak at half the frequency with at least half the power is taken as the true fundamental.
    """
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y)), _NFFT)) ** 2
    df = fs / _NFFT
    lo, hi = round(_HR_MIN / 60 / df), round(_HR_MAX / 60 / df)
    i = lo + int(np.argmax(spectrum[lo : hi + 1]))
    if spectrum[i] <= 0:
        return None
    reach = round(_HALF_SEARCH_HZ / df)
    first = max(0, i // 2 - reach)
    below = first + int(np.argmax(spectrum[first : i // 2 + reach + 1]))
    if below >= lo and spectrum[below] >= _SUBHARMONIC_POWER * spectrum[i]:
        i = below
    return float((i + _vertex_offset(spectrum[i - 1], spectrum[i], spectrum[i + 1])) * df * 60.0)


def _vertex_offset(a: float, b: float, c: float) -> float:
    """Where the parabola through three samples peaks, relative to the middle one: within +-0.5 sample.

    Only a local maximum (``b`` at least as high as both neighbours) is refined. The largest sample of a
    block that ends on a rising or starts on a falling slope is no local maximum: its parabola's vertex
    can lie anywhere (hundreds of samples away, even beyond the window, when the three samples are
    nearly collinear), so such a sample keeps its own position.

    >>> round(_vertex_offset(0.0, 1.0, 0.5), 3), _vertex_offset(0.0, 1.0, 1.0)  # a flat top of two samples: halfway
    (0.167, 0.5)
    >>> _vertex_offset(0.68, 0.597, 0.514)  # a falling slope, almost straight: not refined
    0.0
    """
    denominator = a - 2 * b + c
    if b < a or b < c or not denominator < 0:
        return 0.0
    return float(0.5 * (a - c) / denominator)


def _systolic_peaks(y: Array, fs: float) -> Array:
    """Systolic peak positions (fractional samples), Elgendi et al. 2013 two-moving-average detector."""
    energy = np.square(np.clip(y, 0.0, None))
    w1 = max(3, round(_W1 * fs))
    ma_peak = moving_average(energy, w1)
    ma_beat = moving_average(energy, round(_W2 * fs))
    inside = (ma_peak > ma_beat + _BETA * float(np.mean(energy))).astype(np.int8)
    edges = np.diff(np.concatenate(([0], inside, [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    peaks: list[float] = []
    for start, end in zip(starts, ends, strict=True):
        if end - start < w1:
            continue
        i = start + int(np.argmax(y[start:end]))
        if i == 0 or i == len(y) - 1:
            continue  # the peak is cut by the window edge (at the end: the upstroke is still going)
        position = i + _vertex_offset(y[i - 1], y[i], y[i + 1])
        # refractory period of the fastest plausible rhythm: keep the taller of two close peaks
        if peaks and position - peaks[-1] < 60.0 / _HR_MAX * fs:
            if y[i] > y[round(peaks[-1])]:
                peaks[-1] = position
            continue
        peaks.append(position)
    return np.asarray(peaks, dtype=np.float64)


def _template_correlation(y: Array, beats: Array, length: int) -> float:
    """Mean correlation of each complete beat (one median IBI centred on its peak) with their average."""
    half = length // 2
    centres = np.round(beats).astype(np.int64)
    centres = centres[(centres - half >= 0) & (centres + half < len(y))]
    if len(centres) < 2 or half < 2:
        return 0.0
    segments = np.stack([y[c - half : c + half + 1] for c in centres])
    template = segments.mean(axis=0)
    centred = segments - segments.mean(axis=1, keepdims=True)
    t = template - template.mean()
    norms = np.linalg.norm(centred, axis=1) * np.linalg.norm(t)
    if np.any(norms == 0):
        return 0.0
    return float(np.mean(centred @ t / norms))
