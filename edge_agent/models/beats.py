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

**Where.** The RR and rhythm-context features are computed in :mod:`edge_agent.models.beats_rr`, the
morphology features in :mod:`edge_agent.models.beats_morphology`; this module assembles them
(:func:`beat_features`) and runs the ONNX model (:class:`BeatClassifier`).

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

from edge_agent.dsp import Array
from edge_agent.models.beats_morphology import (
    FILTER_S,
    FS_MODEL,
    LOWPASS_HZ,
    MORPHOLOGY_FEATURES,
    TEMPLATE_BEATS,
    WINDOW_POST_S,
    WINDOW_PRE_S,
    beat_windows,
    morphology_features,
    running_templates,
)
from edge_agent.models.beats_rr import (
    LOCAL_BEATS,
    LONG_BEATS,
    RHYTHM_WINDOW_S,
    ROBUST_BEATS,
    RR_FEATURES,
    RR_MAX_S,
    RR_MIN_S,
    SHORT_BEATS,
    rhythm_context,
    rr_features,
)
from edge_agent.models.registry import ModelSpec, load_manifest, open_session
from edge_agent.models.rhythm import FEATURES as _RHYTHM_FEATURES

__all__ = [
    "CLASSES",
    "CONTEXT_FEATURES",
    "FEATURE_NAMES",
    "FILTER_S",
    "FS_MODEL",
    "GATED_FEATURES",
    "LOCAL_BEATS",
    "LOG_FEATURES",
    "LONG_BEATS",
    "LOWPASS_HZ",
    "MORPHOLOGY_FEATURES",
    "NAME",
    "RHYTHM_WINDOW_S",
    "ROBUST_BEATS",
    "RR_FEATURES",
    "RR_MAX_S",
    "RR_MIN_S",
    "SHORT_BEATS",
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
    rr = rr_features(peaks, fs, targets)
    # Only beats that can enter a template or are targets need a window.
    first = max(int(targets.min()) - TEMPLATE_BEATS - 1, 0)
    span = np.arange(first, int(targets.max()) + 1)
    windows, inside = beat_windows(signal, fs, peaks[span])
    local_targets = targets - first
    templates, consistency = running_templates(windows, inside, local_targets)
    morphology = morphology_features(windows[local_targets], templates, consistency)
    values = {**rr, **morphology, **rhythm_context(peaks, fs, targets)}
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
