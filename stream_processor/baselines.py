"""A patient's learned normal, per vital: River exponentially weighted mean and variance, a population
prior for the cold start, and a drift detector so that a genuine, sustained change is accepted slowly.

Learning is protected, in the spirit of River's ``QuantileFilter(protect_anomaly_detector=True)``: the
caller decides per reading whether it may teach the baseline (good signal quality, no alarm open, not
itself anomalous), so a deterioration never becomes the patient's "normal" by being watched.

But a real change of normal (an athlete after surgery, a COPD patient on a new regime) must not alarm
forever either. So every good-quality value, taught or not, is averaged per minute into River's
Page-Hinkley change detector. When it sees a sustained shift *and* the new level differs from the
baseline, the baseline enters adoption: it then learns from good values even if they look anomalous,
slowly (a time constant of about an hour), until it has caught up. Hard clinical limits do not depend
on any of this, so adoption can never silence them.

Page-Hinkley rather than ADWIN: a few floats of state instead of a bucket list (1.2 KB per vital, too
much for a 10 KiB per-patient budget), and on per-minute means it needs no more.

>>> b = VitalBaseline.for_vital("hr")
>>> round(b.mean, 1), round(b.sd, 1)  # the population prior before anything is learned
(75.0, 12.0)
>>> for second in range(1800):  # half an hour of a resting athlete, one reading a second
...     b.observe(52.0, ts_ms=second * 1000, learn=True)
>>> round(b.mean), round(b.sd, 1)
(55, 4.3)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from river import drift, stats

__all__ = ["POPULATION", "SAMPLE_MS", "Prior", "VitalBaseline"]


@dataclass(frozen=True, slots=True)
class Prior:
    """Population normal for adults at rest: the baseline starts here and lets data take over."""

    mean: float
    sd: float
    floor_sd: float  # a learned s.d. never goes below this: devices quantise, patients are never constant


POPULATION: dict[str, Prior] = {
    "hr": Prior(75.0, 12.0, 3.0),
    "spo2": Prior(97.0, 1.5, 1.0),
    "rr": Prior(16.0, 3.0, 1.5),
    "temp": Prior(36.9, 0.4, 0.2),
    "sbp": Prior(122.0, 15.0, 5.0),
    "dbp": Prior(76.0, 10.0, 4.0),
}

# The baseline learns one sample every 5 s of device time: a normal with a 30-minute time constant is no
# better estimated from every second, and this is the processor's hottest loop (10,000 readings a second).
SAMPLE_MS = 5000
_SAMPLES_PER_S = 1000 / SAMPLE_MS
# Weight of the prior, in samples: after ~5 minutes the patient's own data weigh as much.
_PRIOR_WEIGHT = 300 * _SAMPLES_PER_S
_FADING = 1 / (1800 * _SAMPLES_PER_S)  # EW time constant ~30 minutes: a normal that follows the day, not the minute
_ADOPT_FADING = 1 / (3600 * _SAMPLES_PER_S)  # ~1 hour: how slowly an accepted change of normal is learned
_MINUTE_MS = 60_000


class VitalBaseline:
    """One vital of one patient. Picklable, a few hundred bytes."""

    __slots__ = (
        "_ewmean",
        "_ewvar",
        "_minute_n",
        "_minute_start",
        "_minute_sum",
        "_next_sample_ms",
        "_shift",
        "adopting",
        "learned",
        "prior",
    )

    def __init__(self, prior: Prior) -> None:
        self.prior = prior
        self._ewmean = stats.EWMean(fading_factor=_FADING)
        self._ewvar = stats.EWVar(fading_factor=_FADING)
        self.learned = 0
        self.adopting = False
        # On minute means: a shift of ~2 prior s.d. held for ~5 minutes crosses the threshold.
        self._shift = drift.PageHinkley(min_instances=10, delta=0.5 * prior.sd, threshold=8.0 * prior.sd)
        self._minute_start: int | None = None
        self._minute_sum = 0.0
        self._minute_n = 0
        self._next_sample_ms = 0

    @classmethod
    def for_vital(cls, vital: str) -> VitalBaseline:
        return cls(POPULATION[vital])

    @property
    def mean(self) -> float:
        if self.learned == 0:
            return self.prior.mean
        w = self.learned / (self.learned + _PRIOR_WEIGHT)
        return w * float(self._ewmean.get()) + (1 - w) * self.prior.mean

    @property
    def sd(self) -> float:
        if self.learned < 2:
            return self.prior.sd
        w = self.learned / (self.learned + _PRIOR_WEIGHT)
        learned_sd = math.sqrt(max(float(self._ewvar.get()), self.prior.floor_sd**2))
        return w * learned_sd + (1 - w) * self.prior.sd

    @property
    def learned_s(self) -> float:
        """Seconds of the patient's data in the baseline (one sample stands for ``SAMPLE_MS``)."""
        return self.learned * SAMPLE_MS / 1000

    def due(self, ts_ms: int) -> bool:
        """Is a learning sample due at ``ts_ms``? (Callers skip the learn/no-learn decision otherwise.)"""
        return ts_ms >= self._next_sample_ms

    def z(self, value: float) -> float:
        return (value - self.mean) / self.sd

    def band(self, k: float) -> tuple[float, float]:
        """The patient's normal range, mean +- k s.d."""
        return self.mean - k * self.sd, self.mean + k * self.sd

    def observe(self, value: float, *, ts_ms: int, learn: bool) -> None:
        """Feed one good-quality value; ``learn`` says whether it may teach the baseline (when a sample is due)."""
        self._track_shift(value, ts_ms)
        if ts_ms < self._next_sample_ms:
            return
        self._next_sample_ms = ts_ms + SAMPLE_MS
        if self.adopting:
            # Adoption: the mean follows the new level slowly, whatever it looks like (hard limits
            # still alarm). The spread is not updated meanwhile: a level shift is not variability, and
            # letting it inflate the s.d. would hush every deviation within minutes.
            self._ewmean.fading_factor = _ADOPT_FADING
            self._ewmean.update(value)
            self.learned += 1
            if abs(self.z(value)) < 1.0:
                self.adopting = False
                self._ewmean.fading_factor = _FADING
        elif learn:
            self._learn(value)

    def _learn(self, value: float) -> None:
        self._ewmean.update(value)
        self._ewvar.update(value)
        self.learned += 1

    def _track_shift(self, value: float, ts_ms: int) -> None:
        if self._minute_start is None:
            self._minute_start = ts_ms
        if ts_ms - self._minute_start >= _MINUTE_MS and self._minute_n:
            minute_mean = self._minute_sum / self._minute_n
            self._shift.update(minute_mean)  # type: ignore[no-untyped-call]  # river leaves it unannotated
            if self._shift.drift_detected and abs(self.z(minute_mean)) > 2.0:
                self.adopting = True
            self._minute_start, self._minute_sum, self._minute_n = ts_ms, 0.0, 0
        self._minute_sum += value
        self._minute_n += 1
