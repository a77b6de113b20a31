"""The streaming QRS detector: the causal, chunk-invariant implementation of :mod:`edge_agent.models.qrs`.

The method (feature, candidates, decision, flutter guard, R peak, start and end, latency) is described
in :mod:`edge_agent.models.qrs`; this module holds the state machine that runs it one chunk at a time,
so that the device, :func:`~edge_agent.models.qrs.detect_qrs` and the evaluations run the same code.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from edge_agent.dsp import Array
from edge_agent.models.qrs_params import DEFAULT_PARAMS, QrsParams

__all__ = ["Indices", "StreamingQrsDetector"]

Indices = NDArray[np.int64]


def _median(values: deque[float] | deque[int]) -> float:
    # The buffers hold 8-32 numbers: sorting a list beats numpy's per-call overhead by 10x.
    ranked = sorted(values)
    mid = len(ranked) // 2
    return float(ranked[mid]) if len(ranked) % 2 else (ranked[mid - 1] + ranked[mid]) / 2


def _boxcar(n: int) -> Array:
    n = max(n, 1)
    return np.full(n, 1.0 / n)


@dataclass(frozen=True, slots=True)
class _Kernels:
    """The three FIR kernels for one sampling rate and their delays in samples."""

    bandpass: Array
    derivative: Array
    integration: Array

    @classmethod
    def build(cls, fs: float, p: QrsParams) -> _Kernels:
        n_low = max(1, round(p.lowpass_box_s * fs))
        low = np.convolve(_boxcar(n_low), _boxcar(n_low))
        n_high = round(p.highpass_box_s * fs) | 1  # odd, so the all-pass tap sits on the centre
        high = -_boxcar(n_high)
        high[n_high // 2] += 1.0
        bandpass = np.convolve(low, high)
        if len(bandpass) % 2 == 0:  # keep an integer group delay
            bandpass = np.convolve(bandpass, [0.5, 0.5])
        k = max(1, round(p.derivative_s * fs))
        derivative = np.zeros(2 * k + 1)
        derivative[0], derivative[-1] = fs / (2 * k), -fs / (2 * k)  # mV/s, whatever fs is
        return cls(bandpass, derivative, _boxcar(round(p.integration_s * fs)))

    @property
    def bandpass_delay(self) -> int:
        return (len(self.bandpass) - 1) // 2

    @property
    def derivative_delay(self) -> int:
        return (len(self.derivative) - 1) // 2


class _Fir:
    """Streaming FIR: keeps the last ``len(h) - 1`` inputs, so chunking never changes the output."""

    def __init__(self, h: Array) -> None:
        self.h = h
        self.tail: Array | None = None

    def __call__(self, x: Array, initial: float) -> Array:
        if self.tail is None:  # as if the input had been constant before the stream started
            self.tail = np.full(len(self.h) - 1, initial)
        joined = np.concatenate((self.tail, x))
        self.tail = joined[len(joined) - (len(self.h) - 1) :]
        return np.convolve(joined, self.h, mode="valid")


@dataclass(slots=True)
class _Candidate:
    peak: int  # MWI sample index
    height: float
    r: int  # R-peak sample index (raw signal)
    slope: float


class StreamingQrsDetector:
    """Causal QRS detector for a stream of one ECG lead (mV); see :mod:`edge_agent.models.qrs` for the method.

    ``push`` takes chunks of any size and returns the absolute sample indices (counted from the
    first sample ever pushed) of the beats that became final with that chunk; ``flush`` ends the
    stream and decides the pending candidate. The state is a few seconds of filtered signal and a
    few small buffers (about 25 kB pickled at 360 Hz); instances pickle and copy.

    >>> import numpy as np
    >>> fs = 360.0
    >>> t = np.arange(int(10 * fs)) / fs
    >>> ecg = sum(np.exp(-(((t - beat) / 0.01) ** 2)) for beat in np.arange(0.3, 10, 1.0))
    >>> detector = StreamingQrsDetector(fs)
    >>> found = [detector.push(ecg[i : i + 360]) for i in range(0, len(ecg), 360)]
    >>> (np.concatenate([*found, detector.flush()]) / fs).round(2).tolist()[:3]
    [0.3, 1.3, 2.3]
    """

    def __init__(self, fs: float, *, params: QrsParams = DEFAULT_PARAMS) -> None:
        if not fs > 0:
            raise ValueError(f"sampling rate must be positive, got {fs!r}")
        self.fs = float(fs)
        self.params = params
        p = params
        self._k = _Kernels.build(self.fs, p)
        self._bandpass = _Fir(self._k.bandpass)
        self._derivative = _Fir(self._k.derivative)
        self._integration = _Fir(self._k.integration)
        self._n = 0  # samples received
        self._last_value = 0.0  # last finite sample, to bridge NaN gaps
        # Histories aligned on raw sample index: element j belongs to sample self._start + j.
        self._start = 0
        self._bp: Array = np.zeros(0)
        self._slope: Array = np.zeros(0)
        self._mwi: Array = np.zeros(0)
        self._scanned = 0  # MWI indices below this were searched for local maxima
        self._clock = 0  # time of the last event handled: a timer made due retroactively fires now
        self._ready = False
        self._held: tuple[int, float] | None = None
        self._searchback: _Candidate | None = None
        self._qrs: deque[float] = deque(maxlen=p.buffer_beats)
        self._qrs_long: deque[float] = deque(maxlen=4 * p.buffer_beats)
        self._noise: deque[float] = deque(maxlen=p.buffer_beats)
        self._rr: deque[int] = deque(maxlen=p.buffer_beats)
        self._last_beat = 0  # MWI index of the last accepted candidate (set by the warm-up)
        self._last_slope = 0.0
        self._last_r = -(1 << 40)  # R-peak sample index of the last accepted candidate
        self._virtual_beat = False  # _last_beat is the stream start, not a detected beat
        self._closed = False  # flush() was called
        self._decayed_at = 0  # the QRS level decays after decay_s without a beat, from the stream start on
        self._found: list[int] = []
        s = self.fs
        self._warmup = max(1, round(p.warmup_s * s))
        self._blank = max(1, round(p.blank_s * s))
        self._refractory = round(p.refractory_s * s)
        self._twave = round(p.twave_s * s)
        self._edge = round(p.edge_s * s)
        self._decay = max(1, round(p.decay_s * s))
        self._flutter = round(p.flutter_window_s * s)
        self._rr_min, self._rr_max = (round(b * s) for b in p.rr_bounds_s)
        self._same_complex = round(p.same_complex_s * s)
        self._keep = max(self._flutter, round(0.6 * s)) + self._blank + 2

    # ------------------------------------------------------------------ public API
    def push(self, samples: ArrayLike) -> Indices:
        """Feed the next samples (mV); returns the sample indices of beats that became final."""
        if self._closed:
            raise RuntimeError("this stream was flushed; start a new StreamingQrsDetector")
        x = np.asarray(samples, dtype=np.float64).ravel()
        if len(x):
            self._filter(x)
        if not self._ready:
            if self._n < self._warmup:
                return np.zeros(0, dtype=np.int64)
            self._init_levels()
        self._scan(self._n - 1)
        return self._collect()

    def flush(self) -> Indices:
        """End the stream (or window) and report the beats still pending; the detector is spent afterwards.

        The filters are run on past the end over a constant extension (as at the start), so a QRS
        just before the end is complete; no search-back fires in that extension, and no beat is
        reported within ``edge_s`` of the end (its R peak may lie past it).
        """
        if self._n == 0 or self._closed:
            return np.zeros(0, dtype=np.int64)
        if not self._ready:
            self._init_levels()
        self._scan(self._n - 1)
        end = self._n
        self._closed = True
        self._searchback = None
        self._filter(np.full(self._keep, self._last_value))
        self._scan(self._n - 1)
        held, self._held = self._held, None
        if held is not None:
            self._classify(held[0], held[1], self._n - 1)
        self._found = [r for r in self._found if r < end - self._edge]
        return self._collect()

    @property
    def samples_seen(self) -> int:
        return self._n

    # ------------------------------------------------------------------ features
    def _filter(self, x: Array) -> None:
        finite = np.isfinite(x)
        if not finite.all():  # hold the last finite value over gaps: no step, no false beat
            index = np.where(finite, np.arange(len(x)), -1)
            np.maximum.accumulate(index, out=index)
            x = np.where(index >= 0, x[np.maximum(index, 0)], self._last_value)
        first = x[0]
        bp = self._bandpass(x, first)
        slope = np.abs(self._derivative(bp, 0.0))
        mwi = self._integration(slope, 0.0)
        self._last_value = float(x[-1])
        self._bp = np.concatenate((self._bp, bp))
        self._slope = np.concatenate((self._slope, slope))
        self._mwi = np.concatenate((self._mwi, mwi))
        self._n += len(x)

    def _init_levels(self) -> None:
        # A shorter take on Hamilton's learning period: a 2 s warm-up holds at least one beat above
        # 30 /min; starting from (most of) its largest peak keeps T and P waves out of the first beats.
        level = self.params.initial_level * float(self._mwi[: self._warmup].max())
        # A window may open just after a beat: a virtual beat (R at 0.1 s, with the steepest slope of
        # the warm-up) lets the T-wave rule reject the T wave of a beat that lies before the stream.
        self._last_slope = float(self._slope[: self._warmup].max())
        k = self._k
        self._last_beat = k.bandpass_delay + k.derivative_delay + len(k.integration) // 2 + round(0.1 * self.fs)
        self._virtual_beat = True
        for _ in range(self.params.buffer_beats):
            self._qrs.append(level)
            self._qrs_long.append(level)
            self._noise.append(0.0)
        self._ready = True

    def _collect(self) -> Indices:
        found = np.array(sorted(self._found), dtype=np.int64)
        self._found.clear()
        if self._ready:  # drop history that no pending decision can reach any more
            oldest = self._n - self._keep
            if self._held is not None:
                oldest = min(oldest, self._held[0] - self._keep)
            cut = oldest - self._start
            if cut > 0:
                self._bp, self._slope, self._mwi = self._bp[cut:], self._slope[cut:], self._mwi[cut:]
                self._start = oldest
        return found

    # ------------------------------------------------------------------ events
    def _scan(self, horizon: int) -> None:
        """Handle every event before ``horizon`` in time order (a local maximum needs the next sample)."""
        lo = max(self._scanned, self._start + 1)
        if horizon <= lo:
            return
        m, off = self._mwi, self._start
        centre = m[lo - off : horizon - off]
        is_peak = (centre > m[lo - 1 - off : horizon - 1 - off]) & (centre >= m[lo + 1 - off : horizon + 1 - off])
        self._scanned = horizon
        for i in (np.flatnonzero(is_peak) + lo).tolist():
            self._timers(i)
            self._clock = i
            value = float(m[i - off])
            if self._held is None or value > self._held[1]:
                self._held = (i, value)
        self._timers(horizon)

    def _timers(self, now: int) -> None:
        """Fire the timers due before ``now``: release of the held candidate, search-back, level decay."""
        while True:
            due: list[tuple[int, int]] = []
            if self._held is not None:
                due.append((self._held[0] + self._blank + 1, 0))
            if self._searchback is not None and self._rr:  # no search-back before an RR interval is known
                due.append((self._searchback_time(), 1))
            due.append((max(self._last_beat, self._decayed_at) + self._decay, 2))
            time, kind = min(due, default=(now, -1))
            if time >= now:
                return
            time = self._clock = max(time, self._clock)
            if kind == 0:
                held, self._held = self._held, None
                assert held is not None
                self._classify(held[0], held[1], time)
            elif kind == 1:  # (never after flush: beyond the end, "no beat came" is unknown)
                candidate, self._searchback = self._searchback, None
                assert candidate is not None
                if candidate.height > self.params.searchback_fraction * self._threshold():
                    self._accept(candidate, time)
            else:
                self._decay_levels(time)

    def _searchback_time(self) -> int:
        ranked = sorted(self._rr)
        reference = ranked[min(len(ranked) - 1, int(self.params.searchback_rank * len(ranked)))]
        return self._last_beat + round(self.params.searchback_rr * reference)

    def _decay_levels(self, now: int) -> None:
        p = self.params
        floor = p.decay_floor * _median(self._qrs_long)
        halved = [max(q / 2, floor) for q in self._qrs]
        self._qrs.clear()
        self._qrs.extend(halved)
        self._decayed_at = now

    def _threshold(self) -> float:
        p = self.params
        ranked = sorted(self._qrs)
        qrs = ranked[min(len(ranked) - 1, int(p.qrs_rank * len(ranked)))]
        noise = _median(self._noise)
        return max(noise + p.threshold * (qrs - noise), p.min_height)

    def _locate(self, peak: int) -> tuple[int, float]:
        """R-peak sample index and steepest slope of the QRS that produced the MWI peak at ``peak``."""
        k, off = self._k, self._start
        width = len(k.integration)
        margin = round(0.05 * self.fs)
        lo = max(peak - k.derivative_delay - width - margin, off)
        hi = min(peak - k.derivative_delay + margin, self._n - 1)
        segment = np.abs(self._bp[lo - off : hi + 1 - off])
        at = int(np.argmax(segment))
        r = lo + at - k.bandpass_delay
        if r < self._edge:  # a QRS cut by the stream start: its R peak may lie before the first sample
            r = -1
        slope = float(self._slope[max(peak - width, off) - off : peak + 1 - off].max())
        return r, slope

    def _classify(self, peak: int, height: float, now: int) -> None:
        r, slope = self._locate(peak)
        candidate = _Candidate(peak, height, r, slope)
        if r - self._last_r < self._same_complex:  # the last beat's complex, found a second time
            self._noise.append(height)
            return
        if height > self._threshold():
            since = peak - self._last_beat
            if not (since < self._twave and slope < self.params.twave_slope * self._last_slope):
                self._accept(candidate, now)
                return
        self._noise.append(height)
        late = peak - self._last_beat > self._refractory and not self._closed
        if late and (self._searchback is None or height > self._searchback.height):
            self._searchback = candidate

    def _accept(self, c: _Candidate, now: int) -> None:
        if not self._virtual_beat and self._rr_min <= c.peak - self._last_beat <= self._rr_max:
            self._rr.append(c.peak - self._last_beat)
        self._virtual_beat = False
        self._last_beat = c.peak
        self._last_r = c.r
        self._last_slope = c.slope
        self._qrs.append(c.height)
        self._qrs_long.append(c.height)
        self._searchback = None
        if c.r >= 0 and not self._continuous_activity(now):
            self._found.append(c.r)

    def _continuous_activity(self, now: int) -> bool:
        """Flutter guard: the MWI stayed high for the whole recent window (no isoelectric intervals)."""
        p = self.params
        if p.flutter_ratio <= 0:
            return False
        off = self._start
        window = self._mwi[max(now + 1 - self._flutter, off) - off : now + 1 - off]
        if len(window) < self._flutter:
            return False
        k = len(window) // 10
        low, high = np.partition(window, (k, len(window) - 1 - k))[[k, len(window) - 1 - k]]
        return bool(low > p.flutter_ratio * high)
