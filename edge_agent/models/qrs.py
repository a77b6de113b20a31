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

>>> import numpy as np
>>> fs = 250.0
>>> t = np.arange(int(20 * fs)) / fs
>>> ecg = sum(np.exp(-(((t - beat) / 0.012) ** 2)) for beat in np.arange(0.5, 20, 0.8))
>>> peaks = detect_qrs(ecg, fs)
>>> len(peaks), round(heart_rate(peaks, fs))
(25, 75)
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from edge_agent.dsp import Array
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
    "match_beats",
    "model_spec",
    "params_digest",
]

NAME = "qrs-adaptive"
VERSION = "1.0.0"
ROLE = "qrs"

Indices = NDArray[np.int64]


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


def model_spec(params: QrsParams = DEFAULT_PARAMS) -> ModelSpec:
    """The manifest entry of this detector, checked against :data:`NAME`, :data:`VERSION` and the parameters."""
    spec = load_manifest()[ROLE]
    if (spec.name, spec.version) != (NAME, VERSION):
        raise ModelIntegrityError(f"manifest has {spec.ref} for role {ROLE}, code is {NAME}@{VERSION}")
    if spec.sha256 != params_digest(params):
        raise ModelIntegrityError(f"model {spec.ref}: parameters do not match the manifest sha256")
    return spec


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
    """Causal QRS detector for a stream of one ECG lead (mV); see the module docstring for the method.

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


def match_beats(reference: ArrayLike, detected: ArrayLike, tolerance_samples: int) -> tuple[int, int, int]:
    """``(tp, fn, fp)``: one-to-one matching of detected to reference beats within ``tolerance_samples``.

    The pairing rule is the one of the WFDB ``bxb`` comparator (ANSI/AAMI EC57): walk both sorted
    lists; the earlier annotation pairs with the other list's current one if it lies within the
    window and no closer partner is next in line.

    >>> match_beats([100, 400, 700], [105, 420, 900], 54)
    (2, 1, 1)
    """
    ref = np.sort(np.asarray(reference, dtype=np.int64)).tolist()
    det = np.sort(np.asarray(detected, dtype=np.int64)).tolist()
    far = 1 << 62
    i = j = tp = 0
    while i < len(ref) and j < len(det):
        r, d = ref[i], det[j]
        r_next = ref[i + 1] if i + 1 < len(ref) else far
        d_next = det[j + 1] if j + 1 < len(det) else far
        if d < r:
            paired = r - d <= tolerance_samples and (r - d < abs(r - d_next) or abs(r_next - d_next) < abs(r - d_next))
        else:
            paired = d - r <= tolerance_samples and (d - r < abs(d - r_next) or abs(d_next - r_next) < abs(d - r_next))
        if paired:
            tp += 1
            i += 1
            j += 1
        elif d < r:
            j += 1
        else:
            i += 1
    return tp, len(ref) - tp, len(det) - tp
