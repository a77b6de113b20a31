"""ECG signal quality: is a 5-s ECG window usable (its beats can be trusted) or not.

Hand-made quality features (numpy only) feed a small scikit-learn classifier exported to ONNX
(1.0.0: logistic regression on standardised features, chosen by record-grouped cross-validation).
The same :func:`ecg_quality_features` runs in training, evaluation and on the device.
Any device rate from about 100 Hz up works: the window is resampled to :data:`FS_HZ` first.
Stateless and window-based: the score describes the last ``WINDOW_S`` seconds, so a 1 Hz reading
from a sliding window lags the signal by up to 5 s; the features take about 1-2 ms per window.

Features (``FEATURE_NAMES``): spectral power fractions (baseline < 1 Hz, QRS band 5-15 Hz,
15-40 Hz, > 40 Hz), the classic pSQI / basSQI ratios, kurtosis and skewness, flat-line and
saturation fractions, agreement of two simple beat detectors (bSQI), RR regularity, beat-template
correlation, and a template-based estimate of the QRS-amplitude SNR that mirrors how the labels
were made (see the model card, ``models/onnx/cards/sqi.md``).

>>> import numpy as np
>>> fs = 250.0
>>> t = np.arange(0, WINDOW_S, 1 / fs)
>>> beats = sum(np.exp(-(((t - c) / 0.012) ** 2)) for c in np.arange(0.4, WINDOW_S, 0.8))
>>> ecg_quality_features(beats, fs).shape == (len(FEATURE_NAMES),)
True
>>> quality = EcgQuality()                                            # doctest: +SKIP
>>> quality.score(beats, fs) > quality.threshold                      # doctest: +SKIP
True
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from edge_agent.dsp import Array, bandpass_fir, fir_filter, highpass_fir, lowpass_fir, resample
from edge_agent.models.registry import ModelSpec, load_manifest, open_session

__all__ = ["FEATURE_NAMES", "FS_HZ", "NAME", "VERSION", "WINDOW_S", "EcgQuality", "ecg_quality_features"]

NAME = "sqi-ecg"
VERSION = "1.0.0"
WINDOW_S = 5.0  # seconds per window: enough for 3-15 beats, short enough for a 1 Hz sliding reading
FS_HZ = 125.0  # every window is resampled to this rate (the lowest device rate we support)

FEATURE_NAMES = (
    "log_rms_mv",
    "log_ptp_mv",
    "frac_below_1hz",
    "frac_1_5hz",
    "frac_5_15hz",
    "frac_15_40hz",
    "frac_above_40hz",
    "psqi",
    "bassqi",
    "qrs_over_low_band_db",
    "spectral_entropy",
    "kurtosis",
    "abs_skewness",
    "flat_fraction",
    "saturation_fraction",
    "bsqi",
    "beats_per_min",
    "beat_count_mismatch",
    "rr_cv",
    "rr_max_over_min",
    "template_corr_mean",
    "template_corr_min",
    "template_snr_db",
    "interbeat_snr_db",
    "template_sharpness_per_s",
    "template_width_s",
    "baseline_excursion_db",
    "qrs_energy_fraction",
    "hf_turns_per_s",
)

_EPS = 1e-12
# Filters at the fixed internal rate, designed once. 63 taps (0.5 s) is the shortest that keeps the
# 5-15 Hz band from leaking into the baseline band; the 0.7 Hz high-pass needs about 1.5 s.
_QRS_BAND = bandpass_fir(FS_HZ, 5.0, 15.0, taps=63)
_LOW_40 = lowpass_fir(FS_HZ, 40.0, taps=31)
_HIGH_07 = highpass_fir(FS_HZ, 0.7, taps=187)
_HIGH_15 = highpass_fir(FS_HZ, 15.0, taps=31)
_REFRACTORY = round(0.25 * FS_HZ)  # no two QRS complexes closer than 250 ms (240 bpm)
_MATCH = round(0.15 * FS_HZ)  # two detectors agree when their beats are within 150 ms
_PRE, _POST = round(0.25 * FS_HZ), round(0.40 * FS_HZ)  # beat template span around the R peak
_QRS_HALF = round(0.05 * FS_HZ)  # +-50 ms: the span nst/sigamp use for the QRS peak-to-peak amplitude


def _pick_peaks(envelope: Array, fraction: float) -> NDArray[np.int64]:
    """Refractory-separated maxima of ``envelope`` above ``fraction`` of a typical beat's height.

    The typical height is the 80th percentile of all refractory-separated maxima (in 5 s those are
    the beats plus a few T waves and noise bumps), not the window's maximum: one ectopic beat five
    times taller than the others must not hide them.
    """
    inner = envelope[1:-1]
    candidates = np.flatnonzero((inner > envelope[:-2]) & (inner >= envelope[2:])) + 1
    order = candidates[np.argsort(-envelope[candidates], kind="stable")]
    # Greedy non-maximum suppression, highest first: a kept peak silences its refractory neighbourhood.
    silenced = np.zeros(len(envelope), dtype=bool)
    kept: list[int] = []
    for index in order.tolist():
        if not silenced[index]:
            kept.append(index)
            silenced[max(index - _REFRACTORY, 0) : index + _REFRACTORY + 1] = True
    if not kept:
        return np.zeros(0, dtype=np.int64)
    peaks = np.asarray(sorted(kept), dtype=np.int64)
    heights = envelope[peaks]
    return peaks[heights > fraction * float(np.percentile(heights, 80))]


def _energy_detector(qrs_band: Array) -> NDArray[np.int64]:
    """Pan-Tompkins style: RMS slope of the 5-15 Hz signal over 120 ms, adaptive threshold."""
    energy = np.gradient(qrs_band) ** 2
    width = round(0.12 * FS_HZ)
    integrated = np.convolve(np.pad(energy, (width // 2, width - 1 - width // 2), mode="edge"), np.ones(width) / width)
    return _pick_peaks(np.sqrt(integrated[width - 1 : width - 1 + len(energy)]), 0.3)


def _slope_detector(ecg: Array) -> NDArray[np.int64]:
    """A different principle for bSQI: absolute slope of the 0.7-40 Hz signal, no integration."""
    return _pick_peaks(np.abs(np.gradient(ecg)), 0.4)


def _agreement(a: NDArray[np.int64], b: NDArray[np.int64]) -> float:
    """bSQI (Li, Mark & Clifford 2008): beats found by both detectors over beats found by either."""
    if len(a) == 0 and len(b) == 0:
        return 0.0
    matched = sum(1 for index in a if len(b) and int(np.min(np.abs(b - index))) <= _MATCH)
    return matched / max(len(a) + len(b) - matched, 1)


def _band_fractions(x: Array) -> tuple[float, ...]:
    spectrum = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / FS_HZ)
    total = float(spectrum.sum()) + _EPS

    def band(low: float, high: float) -> float:
        return float(spectrum[(freqs >= low) & (freqs < high)].sum())

    below_1, b1_5, b5_15, b15_40 = band(0.0, 1.0), band(1.0, 5.0), band(5.0, 15.0), band(15.0, 40.0)
    above_40 = band(40.0, FS_HZ)
    p = spectrum / total
    entropy = float(-np.sum(p * np.log(p + _EPS)) / math.log(len(p)))
    psqi = b5_15 / (b5_15 + b15_40 + _EPS)
    bassqi = (b1_5 + b5_15 + b15_40) / (below_1 + b1_5 + b5_15 + b15_40 + _EPS)
    # Motion artefact lives in 1-5 Hz with the P and T waves; the QRS band is what a detector needs.
    qrs_over_low = 10.0 * math.log10((b5_15 + _EPS) / (b1_5 + _EPS))
    fractions = (below_1 / total, b1_5 / total, b5_15 / total, b15_40 / total, above_40 / total)
    return (*fractions, psqi, bassqi, qrs_over_low, entropy)


def _moments(x: Array) -> tuple[float, float]:
    centred = x - x.mean()
    variance = float(np.mean(centred**2)) + _EPS
    skew = float(np.mean(centred**3)) / variance**1.5
    kurt = float(np.mean(centred**4)) / variance**2
    return kurt, abs(skew)


def _flat_fraction(x: Array) -> float:
    """Share of 0.5-s blocks that move less than 20 uV: a lead that is off or shorted."""
    block = round(0.5 * FS_HZ)
    blocks = x[: len(x) // block * block].reshape(-1, block)
    return float(np.mean(np.ptp(blocks, axis=1) < 0.02)) if len(blocks) else 1.0


def _saturation_fraction(raw: Array) -> float:
    """Share of the device's own samples pinned at the window's maximum or minimum value.

    Measured before resampling: an amplifier or ADC at its rail repeats one value exactly, which
    the anti-alias filter would smear; clean R peaks touch the extreme for a sample or two.
    """
    if float(np.ptp(raw)) < _EPS:
        return 1.0
    return max(float(np.mean(raw >= raw.max() - 1e-9)), float(np.mean(raw <= raw.min() + 1e-9)))


def _rr_features(beats: NDArray[np.int64], n: int) -> tuple[float, float, float]:
    rate = 60.0 * len(beats) / (n / FS_HZ)
    if len(beats) < 3:
        return rate, 1.0, 10.0
    rr = np.diff(beats).astype(np.float64)
    return rate, float(rr.std() / rr.mean()), float(min(rr.max() / rr.min(), 10.0))


class _Template(NamedTuple):
    corr_mean: float = 0.0
    corr_min: float = 0.0
    snr_db: float = -20.0
    interbeat_snr_db: float = -20.0
    amplitude: float = 0.0
    sharpness: float = 0.0  # steepest slope over peak-to-peak, 1/s: a QRS is steep, a motion bump is not
    width_s: float = 0.5  # time the template spends above half its largest deflection


def _template_features(ecg: Array, signal: Array, beats: NDArray[np.int64]) -> _Template:
    """Correlation with the median beat, and QRS peak-to-peak over residual noise (nst's SNR, estimated)."""
    inside = beats[(beats >= _PRE) & (beats < len(ecg) - _POST)]
    if len(inside) < 2:
        return _Template()
    # Re-centre on the largest deflection within +-50 ms: the detectors' peaks sit on the steepest slope.
    offsets = np.arange(-_QRS_HALF, _QRS_HALF + 1)
    centred = np.asarray([b + offsets[np.argmax(np.abs(ecg[b + offsets]))] for b in inside], dtype=np.int64)
    centred = centred[(centred >= _PRE) & (centred < len(ecg) - _POST)]
    if len(centred) < 2:
        return _Template()
    span = np.arange(-_PRE, _POST)
    segments = ecg[centred[:, None] + span[None, :]]
    template = np.median(segments, axis=0)
    t_c = template - template.mean()
    s_c = segments - segments.mean(axis=1, keepdims=True)
    corr = (s_c @ t_c) / (np.sqrt(np.sum(s_c**2, axis=1) * np.sum(t_c**2)) + _EPS)
    qrs = template[_PRE - _QRS_HALF : _PRE + _QRS_HALF + 1]
    amplitude = float(np.ptp(qrs)) + _EPS
    residual = float(np.sqrt(np.mean((segments - template) ** 2))) + _EPS
    template_snr = 20.0 * math.log10(amplitude / (2.0 * math.sqrt(2.0) * residual))
    # The noise nst measures: RMS of 1-s blocks with their mean removed, here outside the QRS complexes.
    mask = np.ones(len(signal), dtype=bool)
    for b in centred:
        mask[max(b - 2 * _QRS_HALF, 0) : b + 2 * _QRS_HALF + 1] = False
    block = round(FS_HZ)
    rms = []
    for start in range(0, len(signal) - block + 1, block):
        keep = mask[start : start + block]
        if keep.sum() > block // 4:
            part = signal[start : start + block][keep]
            rms.append(float(np.sqrt(np.mean((part - part.mean()) ** 2))))
    noise = float(np.mean(rms)) if rms else residual
    interbeat_snr = 20.0 * math.log10(amplitude / (2.0 * math.sqrt(2.0) * noise + _EPS))
    sharpness = float(np.max(np.abs(np.diff(template)))) * FS_HZ / amplitude
    peak = float(np.max(np.abs(qrs)))
    width = float(np.sum(np.abs(template) > 0.5 * peak)) / FS_HZ
    return _Template(float(corr.mean()), float(corr.min()), template_snr, interbeat_snr, amplitude, sharpness, width)


def ecg_quality_features(window: ArrayLike, fs: float) -> NDArray[np.float32]:
    """The quality features of one ECG window in mV (any rate; ``WINDOW_S`` seconds is what the model saw).

    Raises ``ValueError`` for a window shorter than 2 s, not one-dimensional, or holding NaN/inf.

    >>> import numpy as np
    >>> flat = ecg_quality_features(np.zeros(1800), 360.0)
    >>> float(flat[FEATURE_NAMES.index("flat_fraction")])
    1.0
    """
    raw = np.asarray(window, dtype=np.float64)
    if raw.ndim != 1 or fs <= 0:
        raise ValueError(f"expected one channel and a positive rate, got shape {raw.shape} at {fs} Hz")
    if not np.all(np.isfinite(raw)):
        raise ValueError("the window holds NaN or infinite samples")
    x = resample(raw, fs, FS_HZ) if fs != FS_HZ else raw
    if len(x) < round(2 * FS_HZ):
        raise ValueError(f"window of {len(x) / FS_HZ:.2f} s is too short (at least 2 s, {WINDOW_S:g} s preferred)")
    x = x - float(np.median(x))
    ecg = fir_filter(fir_filter(x, _HIGH_07), _LOW_40)
    qrs_band = fir_filter(x, _QRS_BAND)
    energy_beats = _energy_detector(qrs_band)
    slope_beats = _slope_detector(ecg)
    rate, rr_cv, rr_ratio = _rr_features(energy_beats, len(x))
    template = _template_features(ecg, x, energy_beats)
    baseline = x - ecg
    # Baseline swing relative to the QRS amplitude (the whole 0.7-40 Hz swing when no template forms).
    reference = template.amplitude if template.amplitude > 0 else float(np.ptp(ecg))
    excursion = 20.0 * math.log10((float(np.ptp(baseline)) + 1e-3) / (reference + 1e-3))
    qrs_energy = qrs_band**2
    near = np.zeros(len(x), dtype=bool)
    for b in energy_beats:
        near[max(b - _QRS_HALF * 2, 0) : b + _QRS_HALF * 2 + 1] = True
    qrs_fraction = float(qrs_energy[near].sum() / (qrs_energy.sum() + _EPS))
    high = fir_filter(x, _HIGH_15)
    turns = float(np.sum(np.diff(np.sign(np.diff(high))) != 0)) / (len(x) / FS_HZ)
    kurt, skew = _moments(ecg)
    features = (
        math.log10(float(np.sqrt(np.mean(ecg**2))) + 1e-4),
        math.log10(float(np.ptp(ecg)) + 1e-4),
        *_band_fractions(x),
        kurt,
        skew,
        _flat_fraction(x),
        _saturation_fraction(raw),
        _agreement(energy_beats, slope_beats),
        rate,
        abs(len(energy_beats) - len(slope_beats)) / max(len(energy_beats), len(slope_beats), 1),
        rr_cv,
        rr_ratio,
        template.corr_mean,
        template.corr_min,
        template.snr_db,
        template.interbeat_snr_db,
        template.sharpness,
        template.width_s,
        excursion,
        qrs_fraction,
        turns,
    )
    return np.asarray(features, dtype=np.float32)


class EcgQuality:
    """The probability that an ECG window is usable, from the ONNX model in the manifest.

    ``threshold`` is the operating point chosen on the training records (see the model card):
    ``score(window, fs) >= threshold`` means "trust the beats in this window".
    """

    def __init__(self, spec: ModelSpec | None = None) -> None:
        self._spec = spec if spec is not None else load_manifest()["sqi"]
        self._session: Any = open_session(self._spec)
        self._input = self._session.get_inputs()[0].name
        self.threshold = float(self._spec.outputs.get("threshold", 0.5))

    @property
    def ref(self) -> str:
        """``name@version`` of the loaded model."""
        return self._spec.ref

    def score_batch(self, features: ArrayLike) -> NDArray[np.float32]:
        """P(usable) for rows of :func:`ecg_quality_features` (shape ``(n, len(FEATURE_NAMES))``)."""
        rows = np.asarray(features, dtype=np.float32).reshape(-1, len(FEATURE_NAMES))
        probabilities = self._session.run(None, {self._input: rows})[1]
        return np.asarray(probabilities[:, 1], dtype=np.float32)

    def score(self, window: ArrayLike, fs: float) -> float:
        """P(usable) of one window in mV; 0.0 when it holds NaN or infinity (a gap cannot be trusted)."""
        x = np.asarray(window, dtype=np.float64)
        if not np.all(np.isfinite(x)):
            return 0.0
        return float(self.score_batch(ecg_quality_features(x, fs)[None, :])[0])
