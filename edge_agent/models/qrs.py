"""QRS detection and heart rate from one ECG lead: a causal, adaptive-threshold detector in plain NumPy.

Pan-Tompkins / Hamilton-Tompkins family, rebuilt for streaming at any sampling rate (durations are
in seconds, converted with ``fs``; checked at 125, 250, 360 and 500 Hz):

1. **Feature.** FIR band-pass (two 30 ms boxcars minus a 100 ms boxcar: about 5-15 Hz), a +-10 ms
   central difference, its absolute value, a 150 ms moving-window integral (MWI). All FIR: known
   group delay, no drifting state.
2. **Candidates.** MWI local maxima, each held 200 ms and replaced by any larger one in that time.
3. **Decision.** Threshold = noise + 0.5 (QRS - noise), QRS and noise being the medians of the last
   8 QRS and noise peaks. Rejected: a candidate within 360 ms of the last beat with under half its
   slope (T wave), and one whose R peak is within 150 ms of the last beat's (the same complex).
   Search-back: after 1.35 x the upper-quartile RR of the last 8 without a beat, the largest
   candidate since (360 ms or more after it) is a beat if it reaches half the threshold.
   Recovery: after 2 s without a beat the QRS level halves, never below a quarter of its long-run
   median.
4. **Flutter guard.** If within the last 2 s the MWI never fell back towards zero (10th percentile
   > 0.3 x 90th), the activity is continuous, as in ventricular flutter, where annotators mark no
   beats: such beats update the state but are not reported.
5. **R peak.** The largest absolute band-passed deflection in the window behind the MWI peak,
   shifted back by the group delay.

**Start and end.** The first 2 s set the initial levels (0.75 x their largest MWI value) and are
then scanned like the rest, so beats there are found too. A virtual beat at the start lets the
T-wave rule reject the T wave of a beat that lies just before the stream. No beat is reported
within 50 ms of either end (its R peak may lie outside). ``flush`` runs the filters on over a
constant extension so that a QRS right before the end is still found.

**Latency.** :class:`StreamingQrsDetector` reports a beat when its candidate is decided: filter
delay and integration (about 0.16 s) plus the 200 ms hold, i.e. 0.35-0.45 s after the R peak
(p50 0.40 s, p99 0.45 s on MIT-BIH with 50 ms chunks), independent of the chunk size. Search-back
beats (0.3 %) wait for the search-back: up to 1.35 upper-quartile RR after the previous beat (at most
4 s). Output is chunk-invariant: any chunking yields exactly the beats of :func:`detect_qrs`.

**Where.** This module is the detector's public face (its manifest identity, :func:`detect_qrs`,
:func:`heart_rate`); the parameters live in :mod:`edge_agent.models.qrs_params` and the streaming
state machine in :mod:`edge_agent.models.qrs_stream`.

>>> import numpy as np
>>> fs = 250.0
>>> t = np.arange(int(20 * fs)) / fs
>>> ecg = sum(np.exp(-(((t - beat) / 0.012) ** 2)) for beat in np.arange(0.5, 20, 0.8))
>>> peaks = detect_qrs(ecg, fs)
>>> len(peaks), round(heart_rate(peaks, fs))
(25, 75)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from edge_agent.models.qrs_params import DEFAULT_PARAMS, QrsParams, params_digest
from edge_agent.models.qrs_stream import Indices, StreamingQrsDetector
from edge_agent.models.registry import ModelIntegrityError, ModelSpec, load_manifest

__all__ = [
    "DEFAULT_PARAMS",
    "NAME",
    "ROLE",
    "VERSION",
    "QrsParams",
    "StreamingQrsDetector",
    "detect_qrs",
    "heart_rate",
    "model_spec",
    "params_digest",
]

NAME = "qrs-adaptive"
VERSION = "1.0.0"
ROLE = "qrs"


def model_spec(params: QrsParams = DEFAULT_PARAMS) -> ModelSpec:
    """The manifest entry of this detector, checked against :data:`NAME`, :data:`VERSION` and the parameters."""
    spec = load_manifest()[ROLE]
    if (spec.name, spec.version) != (NAME, VERSION):
        raise ModelIntegrityError(f"manifest has {spec.ref} for role {ROLE}, code is {NAME}@{VERSION}")
    if spec.sha256 != params_digest(params):
        raise ModelIntegrityError(f"model {spec.ref}: parameters do not match the manifest sha256")
    return spec


def detect_qrs(signal: ArrayLike, fs: float, *, params: QrsParams = DEFAULT_PARAMS) -> Indices:
    """R-peak sample indices in a whole recording or window of one ECG lead (mV).

    Exactly what :class:`StreamingQrsDetector` reports for the same samples followed by ``flush``.

    >>> import numpy as np
    >>> detect_qrs(np.zeros(3600), 360.0).tolist()
    []
    """
    detector = StreamingQrsDetector(fs, params=params)
    head = detector.push(signal)
    return np.concatenate((head, detector.flush()))


def heart_rate(peaks: ArrayLike, fs: float, *, window_beats: int = 8) -> float | None:
    """Heart rate in beats/min: 60 / median of the last RR intervals between 0.2 and 3 s (20-300 /min).

    Uses the RR intervals among the last ``window_beats`` beats; ``None`` when fewer than half of
    them (and fewer than 2) are plausible.

    >>> heart_rate([0, 360, 720, 1080, 1100, 1440], 360.0)
    60.0
    >>> heart_rate([0, 360], 360.0) is None
    True
    """
    beats = np.asarray(peaks, dtype=np.int64)[-(window_beats + 1) :]
    rr = np.diff(beats) / fs
    plausible = rr[(rr >= 0.2) & (rr <= 3.0)]
    if len(plausible) < max(2, len(rr) // 2):
        return None
    return float(60.0 / np.median(plausible))
