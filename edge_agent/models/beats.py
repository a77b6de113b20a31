"""AAMI beat classes (N, S, V, F, Q) from RR intervals and beat morphology, one ONNX model.

The features are patient-relative: RR intervals are divided by the patient's own local and long
running averages, and the beat window is compared with the patient's running beat template (the
sample-wise median of the previous beats). A premature supraventricular beat is early relative to
*that patient's* rhythm; a ventricular beat differs from *that patient's* usual QRS. Since 1.1.0
the rhythm around the beat enters too: the `rhythm` model's RR-irregularity features
(:func:`edge_agent.models.rhythm.rhythm_features`) of the last :data:`RHYTHM_WINDOW_S` seconds, so
that "early" counts less in atrial fibrillation, and RR ratios to the median of the last 5 and 10
intervals. Only the unlabelled signal and R-peak positions are used, so the same function runs on
the device; no AF probability or other input is needed from the caller.

History each target needs (the edge keeps exactly this):

* peaks: the previous :data:`LONG_BEATS` R peaks (for the long RR average; fewer only shift the
  average; at least :data:`RHYTHM_WINDOW_S` of them for the rhythm context) and **one following**
  peak (post-RR, and the end of the rhythm window). Without a following peak, post-RR is taken as
  the local average RR (the beat then looks "on time" afterwards, which costs S sensitivity).
* raw signal: from the window start of the :data:`TEMPLATE_BEATS`-th previous beat
  (:data:`WINDOW_PRE_S` plus the filter margin before it) to :data:`WINDOW_POST_S` plus the filter
  margin after the target (:func:`signal_history_s` gives the seconds for a heart rate).

Everything else is a pure function of those inputs: no state, no clock, any sampling rate (the
beat windows are resampled to :data:`FS_MODEL`).

>>> import numpy as np
>>> fs = 250.0
>>> peaks = np.arange(40, dtype=np.int64) * 200 + 100          # 75 bpm
>>> t = np.arange(int(peaks[-1] + fs)) / fs
>>> ecg = sum(np.exp(-(((t - p / fs) / 0.012) ** 2)) for p in peaks)
>>> features = beat_features(ecg, fs, peaks, np.array([35, 36]))
>>> features.shape == (2, len(FEATURE_NAMES))
True
>>> round(float(features[0, FEATURE_NAMES.index("pre_local")]), 3)  # log(pre-RR / local RR)
0.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from edge_agent.dsp import Array, lowpass_fir
from edge_agent.models.registry import ModelSpec, load_manifest, open_session
from edge_agent.models.rhythm import FEATURES as _RHYTHM_FEATURES
from edge_agent.models.rhythm import rhythm_features

__all__ = [
    "CLASSES",
    "FEATURE_NAMES",
    "FS_MODEL",
    "LOCAL_BEATS",
    "LONG_BEATS",
    "NAME",
    "RHYTHM_WINDOW_S",
    "TEMPLATE_BEATS",
    "VERSION",
    "WINDOW_POST_S",
    "WINDOW_PRE_S",
    "BeatClassifier",
    "beat_features",
    "beat_windows",
    "signal_history_s",
]

NAME = "beats-aami"
VERSION = "1.1.0"
CLASSES = ("N", "S", "V", "F", "Q")

FS_MODEL = 180.0  # beat windows are resampled to this rate, whatever the device rate
WINDOW_PRE_S = 0.25  # P wave and PR segment
WINDOW_POST_S = 0.45  # QRS and T wave
LOWPASS_HZ = 35.0  # mains and muscle noise out, QRS shape kept
FILTER_S = 0.15  # FIR length: the margin the raw signal needs beyond each window is half of it
LOCAL_BEATS = 10  # local rhythm: previous RR intervals averaged
ROBUST_BEATS = 20  # local rhythm, median: robust to isolated ectopic beats
LONG_BEATS = 300  # the patient's usual rhythm: about five minutes at 60 bpm
TEMPLATE_BEATS = 24  # previous beats whose median is the patient's running template
RR_MIN_S, RR_MAX_S = 0.15, 4.0  # clip implausible intervals (missed or doubled peaks) before averaging
SHORT_BEATS = (5, 10)  # very local rhythm, median: follows a rate change within a few beats
RHYTHM_WINDOW_S = 30.0  # rhythm context: the `rhythm` model's RR-irregularity features over the last 30 s
# Rhythm features of a window with too few usable N-N intervals: "perfectly regular" plus a flag.
_RHYTHM_FILL = np.array([-3.0, np.log(1e-3), np.log(1e-3), 2.0 / 3.0])

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

RR_FEATURES = (
    "pre_rr",
    "post_rr",
    "local_rr",
    "long_rr",
    "pre_local",
    "post_local",
    "pre_long",
    "post_long",
    "local_long",
    "pre_post",
    "pre_prev",
    "irregularity",
    "premature_fraction",
    "irregularity_local",
    "prev_pre_local",
    "post_minus_pre_local",
    "pause_local",
)
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
GATED_FEATURES = (
    "gated_pre_local",
    "gated_pre_long",
    "gated_post_local",
    "gated_pre_prev",
    "gated_corr_p",
    "p_gated_pre_local",
)
# Added in 1.1.0, appended so that the 1.0.0 columns keep their positions.
CONTEXT_FEATURES = (
    *(f"rhythm_{name}" for name in _RHYTHM_FEATURES),
    "rhythm_insufficient",
    "pre_median5",
    "post_median5",
    "pre_median10",
    "post_median10",
    "median5_long",
)
FEATURE_NAMES = RR_FEATURES + MORPHOLOGY_FEATURES + GATED_FEATURES + CONTEXT_FEATURES
# Ratios and positive magnitudes enter as logarithms: symmetric around "as usual" (0), and linear
# models see a premature beat (ratio 0.7) and a pause (ratio 1.4) as equally far from normal.
_SIGNED_RR = {"post_minus_pre_local", "irregularity", "irregularity_local", "premature_fraction"}
LOG_FEATURES = (
    *(name for name in RR_FEATURES if name not in _SIGNED_RR),
    "pre_median5",
    "post_median5",
    "pre_median10",
    "post_median10",
    "median5_long",
    "qrs_amplitude",
    "qrs_energy",
    "qrs_width_s",
    "qrs_width_ratio",
    "template_width_s",
    "slope_ratio",
    "p_energy",
    "template_p_amplitude",
)


def signal_history_s(heart_rate_bpm: float) -> float:
    """Seconds of raw signal before a target beat that its features use, at a steady heart rate.

    >>> round(signal_history_s(60.0), 2)
    24.32
    """
    return TEMPLATE_BEATS * 60.0 / heart_rate_bpm + WINDOW_PRE_S + FILTER_S / 2


def _intervals(peaks: NDArray[np.int64], fs: float) -> Array:
    rr = np.diff(peaks.astype(np.float64)) / fs
    return np.clip(rr, RR_MIN_S, RR_MAX_S)


def _nanmean(x: Array) -> Array:
    valid = np.isfinite(x)
    count = valid.sum(axis=1)
    total = np.where(valid, x, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _nanmedian(x: Array) -> Array:
    # np.nanmedian warns on all-NaN rows; those rows are filled by the caller anyway.
    filled = np.sort(np.where(np.isfinite(x), x, np.inf), axis=1)
    count = np.isfinite(x).sum(axis=1)
    rows = np.arange(len(x))
    lo = filled[rows, np.maximum((count - 1) // 2, 0)]
    hi = filled[rows, np.maximum(count // 2, 0)]
    return np.where(count > 0, (lo + hi) / 2, np.nan)


def _rr_features(peaks: NDArray[np.int64], fs: float, targets: NDArray[np.int64]) -> dict[str, Array]:
    rr = _intervals(peaks, fs)  # rr[j] = peaks[j + 1] - peaks[j]: beat t has pre-RR rr[t - 1], post-RR rr[t]
    pad = LONG_BEATS + 1
    ext = np.concatenate((np.full(pad, np.nan), rr, [np.nan]))
    pre = ext[pad + targets - 1]
    post = ext[pad + targets]
    prev_pre = ext[pad + targets - 2]
    # The reference rhythm is the intervals BEFORE the pre-RR: a premature beat must not dilute the
    # average it is compared with.
    end = pad + targets - 1
    recent = ext[end[:, None] + np.arange(-ROBUST_BEATS, 0)[None, :]]
    local_rr = _nanmean(recent[:, -LOCAL_BEATS:])
    robust_rr = _nanmedian(recent)
    history = ext[end[:, None] + np.arange(-LONG_BEATS, 0)[None, :]]
    long_rr = _nanmean(history)
    long_median = _nanmedian(history)
    # Without history the beat itself is the best guess of the rhythm; without a next peak, "on time".
    first_guess = np.where(np.isnan(pre), post, pre)
    first_guess = np.where(np.isnan(first_guess), 1.0, first_guess)
    local_rr = np.where(np.isnan(local_rr), first_guess, local_rr)
    robust_rr = np.where(np.isnan(robust_rr), local_rr, robust_rr)
    long_rr = np.where(np.isnan(long_rr), local_rr, long_rr)
    long_median = np.where(np.isnan(long_median), robust_rr, long_median)
    short = {n: _nanmedian(recent[:, -n:]) for n in SHORT_BEATS}
    short = {n: np.where(np.isnan(m), local_rr, m) for n, m in short.items()}
    pre = np.where(np.isnan(pre), local_rr, pre)
    post = np.where(np.isnan(post), local_rr, post)
    prev_pre = np.where(np.isnan(prev_pre), local_rr, prev_pre)
    # Beat-to-beat variability, median-based: high in AF, barely moved by isolated ectopic beats.
    jumps = _nanmedian(np.abs(np.diff(recent, axis=1)))
    jumps = np.where(np.isnan(jumps), 0.0, jumps) / robust_rr
    mean_jumps = _nanmean(np.abs(np.diff(recent[:, -LOCAL_BEATS:], axis=1)))
    mean_jumps = np.where(np.isnan(mean_jumps), 0.0, mean_jumps) / local_rr
    # Share of the recent intervals clearly shorter than the usual rhythm: runs of ectopy, AF.
    with np.errstate(invalid="ignore"):
        early = np.where(np.isfinite(recent), recent < 0.8 * long_median[:, None], np.nan)
    premature = _nanmean(early)
    premature = np.where(np.isnan(premature), 0.0, premature)
    return {
        "pre_rr": pre,
        "post_rr": post,
        "local_rr": local_rr,
        "long_rr": long_rr,
        "pre_local": pre / local_rr,
        "post_local": post / local_rr,
        "pre_long": pre / long_rr,
        "post_long": post / long_rr,
        "local_long": local_rr / long_rr,
        "pre_post": pre / post,
        "pre_prev": pre / prev_pre,
        "irregularity": jumps,
        "premature_fraction": premature,
        "irregularity_local": mean_jumps,
        "prev_pre_local": prev_pre / local_rr,
        "post_minus_pre_local": (post - pre) / local_rr,
        "pause_local": (pre + post) / (2 * local_rr),
        "pre_median5": pre / short[5],
        "post_median5": post / short[5],
        "pre_median10": pre / short[10],
        "post_median10": post / short[10],
        "median5_long": short[5] / long_rr,
    }


def _rhythm_context(peaks: NDArray[np.int64], fs: float, targets: NDArray[np.int64]) -> dict[str, Array]:
    """The `rhythm` model's irregularity features of the :data:`RHYTHM_WINDOW_S` ending at each target's next beat.

    An AF-like window says "premature" means nothing here (AAMI calls AF beats N); the window ends at
    the next beat so that the target's own premature-compensatory pair is recognised as ectopy and
    left out of the irregularity, as the `rhythm` model does.
    """
    times = peaks.astype(np.float64) / fs
    values = np.empty((len(targets), len(_RHYTHM_FEATURES)))
    for i, t in enumerate(targets):
        end = min(int(t) + 1, len(times) - 1)
        start = int(np.searchsorted(times, times[end] - RHYTHM_WINDOW_S))
        values[i] = rhythm_features(times[start : end + 1])
    insufficient = ~np.isfinite(values).all(axis=1)
    values[insufficient] = _RHYTHM_FILL
    out: dict[str, Array] = {f"rhythm_{name}": values[:, j] for j, name in enumerate(_RHYTHM_FEATURES)}
    out["rhythm_insufficient"] = np.asarray(insufficient, dtype=np.float64)
    return out


def beat_windows(signal: Array, fs: float, peaks: NDArray[np.int64]) -> tuple[Array, NDArray[np.bool_]]:
    """Low-passed beat windows at :data:`FS_MODEL` around each peak, and whether each lies inside ``signal``.

    Windows reaching past the buffer are filled with its edge values (and flagged ``False``).

    >>> import numpy as np
    >>> w, ok = beat_windows(np.zeros(1000), 360.0, np.array([-50, 500, 990]))
    >>> w.shape[0], ok.tolist()
    (3, [False, True, False])
    """
    x = np.asarray(signal, dtype=np.float64)
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


def _templates(windows: Array, inside: NDArray[np.bool_], targets: NDArray[np.int64]) -> tuple[Array, Array]:
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


def _morphology_features(windows: Array, templates: Array, consistency: Array) -> dict[str, Array]:
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


def beat_features(
    signal: Array, fs: float, peaks: NDArray[np.int64], targets: NDArray[np.int64]
) -> NDArray[np.float32]:
    """Features (``len(targets)`` x ``len(FEATURE_NAMES)``) of the beats at ``peaks[targets]``.

    ``peaks`` are all known R peaks (sorted sample indices into ``signal``; history before the
    buffer may be negative), ``targets`` positions in ``peaks``. Causal except the next peak.
    """
    peaks = np.asarray(peaks, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    if len(targets) == 0:
        return np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
    if targets.min() < 0 or targets.max() >= len(peaks):
        raise ValueError(f"targets must index peaks (0..{len(peaks) - 1})")
    rr = _rr_features(peaks, fs, targets)
    # Only beats that can enter a template or are targets need a window.
    first = max(int(targets.min()) - TEMPLATE_BEATS - 1, 0)
    span = np.arange(first, int(targets.max()) + 1)
    windows, inside = beat_windows(signal, fs, peaks[span])
    local_targets = targets - first
    templates, consistency = _templates(windows, inside, local_targets)
    morphology = _morphology_features(windows[local_targets], templates, consistency)
    values = {**rr, **morphology, **_rhythm_context(peaks, fs, targets)}
    for name in LOG_FEATURES:
        values[name] = np.log(np.maximum(values[name], 1e-3))
    # Prematurity counts only where the rhythm around it is regular and P waves repeat: in atrial
    # fibrillation every other beat is "premature" and none of them is an S beat (AAMI labels them N).
    regular = np.exp(-values["irregularity"] / 0.1)
    p_waves = np.clip(values["p_consistency"], 0.0, 1.0)
    values["gated_pre_local"] = values["pre_local"] * regular
    values["gated_pre_long"] = values["pre_long"] * regular
    values["gated_post_local"] = values["post_local"] * regular
    values["gated_pre_prev"] = values["pre_prev"] * regular
    values["gated_corr_p"] = values["corr_p"] * regular
    values["p_gated_pre_local"] = values["pre_local"] * p_waves
    features = np.column_stack([values[name] for name in FEATURE_NAMES])
    return np.nan_to_num(features, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


class BeatClassifier:
    """The ``beats`` ONNX model: AAMI class probabilities for each beat.

    >>> classifier = BeatClassifier()  # doctest: +SKIP
    >>> labels, proba = classifier.classify(ecg, 360.0, peaks, np.arange(1, len(peaks) - 1))  # doctest: +SKIP
    """

    def __init__(self, spec: ModelSpec | None = None) -> None:
        self.spec = spec if spec is not None else load_manifest()["beats"]
        self._session: Any = open_session(self.spec)
        self._input = self._session.get_inputs()[0].name
        # The model's own columns of FEATURE_NAMES: a 1.0.0 model reads only the first 51.
        names = self.spec.inputs.get("feature_names", list(FEATURE_NAMES))
        unknown = sorted(set(names) - set(FEATURE_NAMES))
        if unknown:
            raise ValueError(f"model {self.spec.ref} needs features this runtime does not compute: {unknown}")
        self._columns = np.array([FEATURE_NAMES.index(name) for name in names], dtype=np.int64)

    @property
    def ref(self) -> str:
        return self.spec.ref

    def predict_proba(self, features: NDArray[np.float32]) -> NDArray[np.float32]:
        """Class probabilities, shape ``(n, 5)`` in the order of :data:`CLASSES`."""
        x = np.ascontiguousarray(features, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != len(FEATURE_NAMES):
            raise ValueError(f"features must have shape (n, {len(FEATURE_NAMES)}), got {x.shape}")
        if len(x) == 0:
            return np.zeros((0, len(CLASSES)), dtype=np.float32)
        (proba,) = self._session.run(["probabilities"], {self._input: np.ascontiguousarray(x[:, self._columns])})
        return np.asarray(proba, dtype=np.float32)

    def classify(
        self, signal: Array, fs: float, peaks: NDArray[np.int64], targets: NDArray[np.int64]
    ) -> tuple[list[str], NDArray[np.float32]]:
        """Labels and probabilities of the beats at ``peaks[targets]`` (see :func:`beat_features`)."""
        proba = self.predict_proba(beat_features(signal, fs, peaks, targets))
        return [CLASSES[i] for i in proba.argmax(axis=1)], proba
