"""The morphology features of the ``beats`` model: each beat's shape against the patient's running template.

Beat windows (:data:`WINDOW_PRE_S` before to :data:`WINDOW_POST_S` after the R peak, low-passed and
resampled to :data:`FS_MODEL`) are compared with the sample-wise median of the previous
:data:`TEMPLATE_BEATS` complete beats: correlations of the QRS, P and T regions, QRS width, energy and
slope ratios, P-wave consistency, and a coarse QRS shape. A ventricular beat differs from *that
patient's* usual QRS. Pure functions of the signal and the R-peak positions;
:func:`edge_agent.models.beats.beat_features` assembles them with the RR features.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from edge_agent.dsp import Array, held_finite, lowpass_fir

__all__ = [
    "FILTER_S",
    "FS_MODEL",
    "LOWPASS_HZ",
    "MORPHOLOGY_FEATURES",
    "TEMPLATE_BEATS",
    "WINDOW_POST_S",
    "WINDOW_PRE_S",
    "beat_windows",
    "morphology_features",
    "running_templates",
]

FS_MODEL = 180.0  # beat windows are resampled to this rate, whatever the device rate
WINDOW_PRE_S = 0.25  # P wave and PR segment
WINDOW_POST_S = 0.45  # QRS and T wave
LOWPASS_HZ = 35.0  # mains and muscle noise out, QRS shape kept
FILTER_S = 0.15  # FIR length: the margin the raw signal needs beyond each window is half of it
TEMPLATE_BEATS = 24  # previous beats whose median is the patient's running template

_N_PRE = round(WINDOW_PRE_S * FS_MODEL)
_N_POST = round(WINDOW_POST_S * FS_MODEL)
_OFFSETS = np.arange(-_N_PRE, _N_POST + 1)  # window samples at FS_MODEL, 0 = R peak


def _mask(start_s: float, end_s: float) -> NDArray[np.bool_]:
    t = _OFFSETS / FS_MODEL
    return (t >= start_s) & (t < end_s)


_QRS = _mask(-0.10, 0.12)
_P = _mask(-WINDOW_PRE_S, -0.07)
_T = _mask(0.12, WINDOW_POST_S + 1e-9)
_LAG = 4  # template alignment search, +-22 ms: detector jitter and annotation placement differ per beat
_SHAPE_STEP = 6  # coarse QRS shape samples every 33 ms
_SHAPE = np.flatnonzero(_mask(-0.10, 0.20))[::_SHAPE_STEP]

MORPHOLOGY_FEATURES = (
    "corr_qrs",
    "corr_window",
    "corr_p",
    "corr_t",
    "qrs_amplitude",
    "qrs_energy",
    "qrs_width_s",
    "qrs_width_ratio",
    "template_width_s",
    "diff_qrs",
    "diff_window",
    "slope_ratio",
    "p_energy",
    "t_mean",
    "template_t_mean",
    "beat_max",
    "beat_min",
    "template_p_amplitude",
    "p_consistency",
    *(f"shape_{i}" for i in range(len(_SHAPE))),
)


def beat_windows(signal: Array, fs: float, peaks: NDArray[np.int64]) -> tuple[Array, NDArray[np.bool_]]:
    """Low-passed beat windows at :data:`FS_MODEL` around each peak, and whether each lies inside ``signal``.

    Windows reaching past the buffer are filled with its edge values (and flagged ``False``). Missing or
    overflowed samples (NaN, infinities) hold the last finite value before them, as in the QRS detector.

    >>> import numpy as np
    >>> w, ok = beat_windows(np.zeros(1000), 360.0, np.array([-50, 500, 990]))
    >>> w.shape[0], ok.tolist()
    (3, [False, True, False])
    """
    x = held_finite(signal)
    taps = int(FILTER_S * fs) | 1
    h = lowpass_fir(fs, min(LOWPASS_HZ, 0.4 * fs), taps=taps)
    y = np.convolve(x, h, mode="same") if len(x) >= taps else x
    positions = peaks[:, None].astype(np.float64) + _OFFSETS[None, :] * (fs / FS_MODEL)
    margin = taps // 2
    inside = (positions[:, 0] >= margin) & (positions[:, -1] <= len(x) - 1 - margin)
    if len(x) == 0:
        return np.zeros(positions.shape), inside
    p = np.clip(positions, 0, len(x) - 1)
    lo = np.floor(p).astype(np.int64)
    hi = np.minimum(lo + 1, len(x) - 1)
    frac = p - lo
    return y[lo] * (1 - frac) + y[hi] * frac, inside


def _width(beats: Array) -> Array:
    """QRS duration: span where the slope exceeds a fifth of its maximum (seconds)."""
    qrs = beats[:, _QRS]
    slope = np.abs(np.diff(qrs, axis=1))
    above = slope > 0.2 * slope.max(axis=1, keepdims=True) + 1e-12
    first = above.argmax(axis=1)
    last = above.shape[1] - 1 - above[:, ::-1].argmax(axis=1)
    return np.asarray((last - first + 1) / FS_MODEL, dtype=np.float64)


def _corr(a: Array, b: Array) -> Array:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1)) + 1e-12
    return np.asarray((a * b).sum(axis=1) / den, dtype=np.float64)


def running_templates(windows: Array, inside: NDArray[np.bool_], targets: NDArray[np.int64]) -> tuple[Array, Array]:
    """Median of the windows of the previous :data:`TEMPLATE_BEATS` complete beats (the beat itself if none).

    Also how consistent their P waves are (mean correlation of each P region with the median's):
    high in sinus rhythm, low in atrial fibrillation, where f-waves do not repeat beat to beat.
    """
    usable = np.flatnonzero(inside)
    out = np.empty((len(targets), windows.shape[1]))
    consistency = np.zeros(len(targets))
    # position in `usable` of the first complete beat at or after each target
    stop = np.searchsorted(usable, targets)
    for i, (s, t) in enumerate(zip(stop, targets, strict=True)):
        chosen = usable[max(s - TEMPLATE_BEATS, 0) : s]
        if len(chosen) == 0:
            out[i] = windows[t]
            continue
        out[i] = np.median(windows[chosen], axis=0)
        if len(chosen) >= 3:
            p = windows[chosen][:, _P]
            consistency[i] = float(np.mean(_corr(p, np.broadcast_to(out[i, _P], p.shape))))
    return out, consistency


def morphology_features(windows: Array, templates: Array, consistency: Array) -> dict[str, Array]:
    """The morphology features (by name) of beat ``windows`` against their ``templates``."""
    # Baseline: the median of each window sits on the isoelectric line for almost any beat.
    beats = windows - np.median(windows, axis=1, keepdims=True)
    tmpl = templates - np.median(templates, axis=1, keepdims=True)
    # Patient-relative amplitude: everything in units of the template's QRS peak-to-peak.
    scale = np.ptp(tmpl[:, _QRS], axis=1, keepdims=True) + 1e-3
    beats, tmpl = beats / scale, tmpl / scale
    q = np.flatnonzero(_QRS)
    lags = [_corr(beats[:, q + lag], tmpl[:, q]) for lag in range(-_LAG, _LAG + 1)]
    corr_qrs = np.max(lags, axis=0)
    lag = np.argmax(lags, axis=0) - _LAG
    aligned = beats[
        np.arange(len(beats))[:, None],
        np.clip(np.arange(beats.shape[1])[None, :] + lag[:, None], 0, beats.shape[1] - 1),
    ]
    width, t_width = _width(beats), _width(tmpl)
    slope = np.abs(np.diff(beats[:, _QRS], axis=1)).max(axis=1)
    t_slope = np.abs(np.diff(tmpl[:, _QRS], axis=1)).max(axis=1) + 1e-6
    diff = aligned - tmpl
    own = beats / (np.ptp(beats[:, _QRS], axis=1, keepdims=True) + 1e-6)
    values = {
        "corr_qrs": corr_qrs,
        "corr_window": _corr(aligned, tmpl),
        "corr_p": _corr(aligned[:, _P], tmpl[:, _P]),
        "corr_t": _corr(aligned[:, _T], tmpl[:, _T]),
        "qrs_amplitude": np.ptp(beats[:, _QRS], axis=1),
        "qrs_energy": (beats[:, _QRS] ** 2).sum(axis=1) / ((tmpl[:, _QRS] ** 2).sum(axis=1) + 1e-6),
        "qrs_width_s": width,
        "qrs_width_ratio": width / t_width,
        "template_width_s": t_width,
        "diff_qrs": np.sqrt((diff[:, _QRS] ** 2).mean(axis=1)),
        "diff_window": np.sqrt((diff**2).mean(axis=1)),
        "slope_ratio": slope / t_slope,
        "p_energy": (aligned[:, _P] ** 2).mean(axis=1) / ((tmpl[:, _P] ** 2).mean(axis=1) + 1e-3),
        "t_mean": beats[:, _T].mean(axis=1),
        "template_t_mean": tmpl[:, _T].mean(axis=1),
        "beat_max": beats[:, _QRS].max(axis=1),
        "beat_min": beats[:, _QRS].min(axis=1),
        "template_p_amplitude": np.ptp(tmpl[:, _P], axis=1),
        "p_consistency": consistency,
    }
    values.update({f"shape_{i}": own[:, j] for i, j in enumerate(_SHAPE)})
    return values
