"""The tunables of the QRS detector and their digest: what the manifest pins for this DSP model.

The detector has no trained weights; its "weights" are these parameters, so the manifest keeps the
sha256 of their canonical JSON (:func:`params_digest`) and :func:`edge_agent.models.qrs.model_spec`
refuses a runtime whose parameters differ.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

__all__ = ["DEFAULT_PARAMS", "QrsParams", "params_digest"]


@dataclass(frozen=True, slots=True)
class QrsParams:
    """Every tunable of the detector (durations in seconds, so one set serves 125-500 Hz devices)."""

    lowpass_box_s: float = 0.030  # two cascaded boxcars: low-pass, first zero at 33 Hz
    highpass_box_s: float = 0.100  # signal minus its boxcar mean: high-pass, about 5 Hz
    derivative_s: float = 0.010  # half-width of the central difference
    integration_s: float = 0.150  # moving-window integral: about one QRS width
    blank_s: float = 0.200  # a candidate is held this long; a larger peak in that time replaces it
    warmup_s: float = 2.0  # signal used to set the initial levels
    threshold: float = 0.50  # fraction of the way from the noise level to the QRS level
    qrs_rank: float = 0.50  # quantile of the recent QRS peaks used as the QRS level
    buffer_beats: int = 8  # QRS peaks, noise peaks and RR intervals remembered
    searchback_rr: float = 1.35  # search back after this many (reference) RR intervals without a beat
    searchback_rank: float = 0.75  # quantile of the recent RR intervals the search-back delay refers to
    searchback_fraction: float = 0.5  # ... accepting a candidate above this fraction of the threshold
    refractory_s: float = 0.360  # search-back ignores candidates closer than this to the last beat
    twave_s: float = 0.360  # a candidate this close to the last beat ...
    twave_slope: float = 0.5  # ... with less than this fraction of its slope is a T wave
    decay_s: float = 2.0  # without a beat for this long the QRS level halves ...
    decay_floor: float = 0.25  # ... but not below this fraction of the long-run QRS level
    flutter_window_s: float = 2.0  # flutter guard: window of the MWI percentiles
    flutter_ratio: float = 0.3  # 10th / 90th percentile above this = continuous activity (0 disables)
    initial_level: float = 0.75  # initial QRS level: this fraction of the largest MWI value in the warm-up
    same_complex_s: float = 0.15  # R peaks closer than this belong to one complex (no heart beats faster)
    edge_s: float = 0.05  # no beat is reported in the first 50 ms of a stream (a QRS cut by the start)
    min_height: float = 0.5  # MWI floor in mV/s: about a 0.04 mV QRS; flat lines give no beats
    rr_bounds_s: tuple[float, float] = (0.2, 3.0)  # RR intervals outside are not remembered


DEFAULT_PARAMS = QrsParams()


def params_digest(params: QrsParams = DEFAULT_PARAMS) -> str:
    """sha256 of the canonical JSON of ``params``: the "weights" of this DSP model, kept in the manifest."""
    text = json.dumps(asdict(params), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
