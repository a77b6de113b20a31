"""The edge's per-device inference: one second of raw ECG/PPG in, one 1 Hz reading (and now and then an event) out.

Per device, ring buffers hold the last 40 s of each signal (the longest need: a 10 s + 20 s event
snippet) and the last few hundred beat times (long RR averages for the beat classifier). Each
second:

1. the streaming QRS detector takes the new ECG samples and reports the beats that became final;
2. every beat whose successor is known (the classifier looks one beat ahead) is classified N/S/V/F/Q;
3. ECG signal quality is scored on the latest window, the rhythm (N / AF) on the last 30 s of beats,
   the pulse rate and PPG quality on the latest PPG window;
4. heart rate comes from the recent RR intervals; with no beat for 5 s, electrodes on and no
   fibrillation it is 0 (a suspected asystole the processor must see), and it is left out when the
   ECG is unusable; a spectral detector flags ventricular fibrillation/flutter (rhythm ``VF``); the
   PPG pulse rate travels separately as ``pr`` so the processor can cross-check the ECG against it;
5. events (AF onset, a run of ventricular beats, VF, asystole, signal loss) open when seen and are sent 20 s later
   with the waveform from 10 s before to 20 s after their onset.

Models are shared by all devices (``EdgeModels``); everything per device lives in ``DevicePipeline``.
Every model call goes through :meth:`edge_agent.isolation.ModelFaults.run`: a model that fails on a
window costs that output for that second (named in the reading's ``faults``), never the reading.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from edge_agent.dsp import Array, int16_counts
from edge_agent.frames import DeviceFrame, FrameSource, SignalChunk
from edge_agent.isolation import ModelFaults
from edge_agent.models import ppg_hr, qrs, vf
from edge_agent.models.beats import BeatClassifier
from edge_agent.models.ppg_hr import WINDOW_S as PPG_WINDOW_S
from edge_agent.models.ppg_hr import PpgHeartRate
from edge_agent.models.qrs import StreamingQrsDetector, heart_rate
from edge_agent.models.qrs_stream import Indices
from edge_agent.models.registry import load_manifest
from edge_agent.models.rhythm import WINDOW_S as RHYTHM_WINDOW_S
from edge_agent.models.rhythm import RhythmClassifier
from edge_agent.models.sqi import WINDOW_S as SQI_WINDOW_S
from edge_agent.models.sqi import EcgQuality
from edge_agent.models.vf import WINDOW_S as VF_WINDOW_S
from edge_agent.models.vf import is_vf
from vitalstream.wire import EdgeEvent, Fault, Rhythm, VitalsReading, Waveform
from vitalstream.wire.codec import MAX_BEATS

__all__ = ["DevicePipeline", "EdgeModels", "PipelineSource"]

_BUFFER_S = 40.0
_PEAK_HISTORY = 400
_SNIPPET_BEFORE_S = 10.0
_SNIPPET_AFTER_S = 20.0
_ASYSTOLE_S = 5.0
_FLAT_MV = 0.01  # peak-to-peak below this for 5 s: electrodes off (real baselines always move)
_QUIET_MV = 0.2  # standard deviation below this: no large artefact that could hide beats
_USABLE_SQI = 0.5
_ECG_SCALE_MV = 0.005  # 5 uV per count: int16 spans +-163 mV, far beyond any ECG


@dataclass
class EdgeModels:
    """The loaded models (ONNX sessions verified against the manifest); stateless, shared by all devices."""

    beats: BeatClassifier
    rhythm: RhythmClassifier
    sqi: EcgQuality
    refs: dict[str, str]

    @classmethod
    def load(cls) -> EdgeModels:

        manifest = load_manifest()
        beats, rhythm, sqi = (
            BeatClassifier(manifest["beats"]),
            RhythmClassifier(manifest["rhythm"]),
            EcgQuality(manifest["sqi"]),
        )
        refs = {
            "hr": f"{qrs.NAME}@{qrs.VERSION}",
            "beats": beats.ref,
            "rhythm": rhythm.ref,
            "sqi": sqi.ref,
            "ppg_hr": f"{ppg_hr.NAME}@{ppg_hr.VERSION}",
            "vf": f"{vf.NAME}@{vf.VERSION}",
        }
        return cls(beats=beats, rhythm=rhythm, sqi=sqi, refs=refs)


class _Ring:
    """The last ``seconds`` of one signal, addressed by absolute sample index."""

    def __init__(self, fs: float, seconds: float) -> None:
        self.fs = fs
        self.capacity = int(fs * seconds)
        self.data: Array = np.zeros(0)
        self.start = 0  # absolute index of data[0]

    @property
    def end(self) -> int:
        return self.start + len(self.data)

    def push(self, samples: Array) -> None:
        self.data = np.concatenate([self.data, np.asarray(samples, dtype=np.float64)])
        excess = len(self.data) - self.capacity
        if excess > 0:
            self.data = self.data[excess:]
            self.start += excess

    def last(self, seconds: float) -> Array:
        return self.data[-int(seconds * self.fs) :]

    def between(self, lo: int, hi: int) -> Array:
        return self.data[max(0, lo - self.start) : max(0, hi - self.start)]


@dataclass
class _Second:
    """What one second of processing found, filled in by the ECG and PPG steps."""

    vitals: dict[str, float]
    sqi: dict[str, float] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    beats: dict[str, int] = field(default_factory=dict)
    runs: dict[str, int] = field(default_factory=dict)
    rhythm: Rhythm | None = None
    faults: dict[str, Fault] = field(default_factory=dict)


@dataclass
class _OpenEvent:
    kind: str
    onset_ms: int
    detail: dict[str, float | str]
    models: dict[str, str]


@dataclass
class DevicePipeline:
    """All per-device state. Picklable apart from the shared models, which are passed to :meth:`process`."""

    patient: str
    device: str
    faults: ModelFaults = field(default_factory=ModelFaults)  # shared by a PipelineSource's devices
    _qrs: StreamingQrsDetector | None = None
    _qrs_offset: int = 0  # absolute ECG index of the current detector's first sample
    _beat_gap_end: int | None = None  # end of the last chunk whose beats were lost to a QRS failure
    _ecg: _Ring | None = None
    _ppg: _Ring | None = None
    _ppg_hr: object = None
    _t0_ms: int | None = None
    _peaks: deque[int] = field(default_factory=lambda: deque(maxlen=_PEAK_HISTORY))
    _classes: dict[int, str] = field(default_factory=dict)
    _next_to_classify: int = 0
    _events: list[_OpenEvent] = field(default_factory=list)
    _last_event_ms: dict[str, int] = field(default_factory=dict)
    _previous_rhythm: str = "N"
    _af_seconds: int = 0
    _low_sqi_seconds: int = 0
    _v_streak: int = 0
    _max_v_run: int = 0
    _vf_seconds: int = 0

    # ------------------------------------------------------------------ one second

    def process(self, frame: DeviceFrame, models: EdgeModels) -> tuple[VitalsReading, list[EdgeEvent]]:
        if self._t0_ms is None:
            self._t0_ms = frame.ts_ms
        out = _Second(vitals=dict(frame.vitals))
        ecg = _chunk(frame, "ecg")
        if ecg is not None:
            self._process_ecg(ecg, models, out)
        ppg = _chunk(frame, "ppg")
        if ppg is not None:
            self._process_ppg(ppg, models, out)
        self._watch(frame.ts_ms, out.sqi.get("ecg"), out.rhythm, out.vitals.get("hr"), models)
        reading = VitalsReading(
            patient=self.patient,
            device=self.device,
            seq=0,
            ts_ms=frame.ts_ms,
            vitals=out.vitals,
            sqi=out.sqi,
            rhythm=out.rhythm,
            beats=out.beats,
            models=out.models,
            runs=out.runs,
            faults=out.faults,
        )
        return reading, self._due_events(frame.ts_ms, models)

    def _process_ecg(self, ecg: SignalChunk, models: EdgeModels, out: _Second) -> None:

        if self._ecg is None:
            self._ecg = _Ring(ecg.fs, _BUFFER_S)
        self._ecg.push(ecg.samples)
        self._detect_beats(ecg, out)
        out.beats = self._classify_beats(models, out)
        if out.beats:
            out.models["beats"] = models.refs["beats"]
        if self._max_v_run:
            out.runs["V"] = min(self._max_v_run, MAX_BEATS)  # "at least 1000": the contract's bound, ~5 min of VT
        window = self._ecg.last(SQI_WINDOW_S)
        if len(window) >= int(SQI_WINDOW_S * ecg.fs * 0.99):
            score = self.faults.run("sqi", out.faults, models.sqi.score, window, ecg.fs)
            if score is not None:
                out.sqi["ecg"] = round(float(score), 3)
                out.models["sqi"] = models.refs["sqi"]
        fibrillating, vf_features = self._fibrillation(ecg.fs, out)
        # Lost beats read as a pause (a false asystole) or as irregularity (false AF) until they leave the window.
        gap_s = None if self._beat_gap_end is None else (self._ecg.end - self._beat_gap_end) / ecg.fs
        if gap_s is not None and gap_s < _ASYSTOLE_S:
            out.faults.setdefault("hr", Fault.INPUT_GAP)
        else:
            sqi = out.sqi.get("ecg")
            hr = self.faults.run("hr", out.faults, self._heart_rate, ecg.fs, sqi, heart_rate, fibrillating=fibrillating)
            if hr is not None:
                out.vitals["hr"] = hr
                out.models["hr"] = models.refs["hr"]
        if fibrillating:
            # VF overrides the AF model: there are no beats whose intervals it could judge.
            out.rhythm = Rhythm("VF", round(min(1.0, vf_features["concentration"]), 3))
            out.models["rhythm"] = models.refs["vf"]
        elif gap_s is not None and gap_s < RHYTHM_WINDOW_S:
            out.faults["rhythm"] = Fault.INPUT_GAP
        else:
            out.rhythm = self.faults.run("rhythm", out.faults, self._rhythm, models)
            if out.rhythm is not None:
                out.models["rhythm"] = models.refs["rhythm"]

    def _process_ppg(self, ppg: SignalChunk, models: EdgeModels, out: _Second) -> None:

        if self._ppg is None:
            self._ppg = _Ring(ppg.fs, _BUFFER_S)
            self._ppg_hr = PpgHeartRate(ppg.fs)
        assert isinstance(self._ppg_hr, PpgHeartRate)
        self._ppg.push(ppg.samples)
        update = self.faults.run("ppg_hr", out.faults, self._ppg_hr.update, self._ppg.last(PPG_WINDOW_S))
        if update is None:
            return
        pulse, quality = update
        out.sqi["ppg"] = round(float(quality), 3)
        out.models["ppg_hr"] = models.refs["ppg_hr"]
        if pulse is not None:
            out.vitals["pr"] = round(float(pulse), 1)

    # ------------------------------------------------------------------ parts

    def _detect_beats(self, ecg: SignalChunk, out: _Second) -> None:
        assert self._ecg is not None
        found = self.faults.run("hr", out.faults, self._push_qrs, ecg)
        if found is None:
            # The detector may have failed half-way through its update: a fresh one takes over with the
            # next chunk. This chunk's beats are lost, which hr and rhythm must not read as a pause.
            self._qrs = None
            self._qrs_offset = self._beat_gap_end = self._ecg.end
            return
        self._peaks.extend(self._qrs_offset + int(p) for p in found)

    def _push_qrs(self, ecg: SignalChunk) -> Indices:
        if self._qrs is None:
            self._qrs = StreamingQrsDetector(ecg.fs)
        return self._qrs.push(ecg.samples)

    def _classify_beats(self, models: EdgeModels, out: _Second) -> dict[str, int]:
        assert self._ecg is not None
        self._max_v_run = self._v_streak  # a run still going on counts in this second too
        peaks = np.fromiter(self._peaks, dtype=np.int64)
        if len(peaks) < 2:
            return {}
        fs = self._ecg.fs
        # Beat i needs beat i+1 (post-RR) and 0.6 s of signal after its R peak (window + filter margin).
        ready = [
            i for i, p in enumerate(peaks[:-1]) if p >= self._next_to_classify and p + int(0.6 * fs) <= self._ecg.end
        ]
        if not ready:
            return {}
        targets = np.asarray(ready, dtype=np.int64)
        self._next_to_classify = int(peaks[ready[-1]]) + 1
        result = self.faults.run(
            "beats", out.faults, models.beats.classify, self._ecg.data, fs, peaks - self._ecg.start, targets
        )
        if result is None:
            return {}  # these beats stay unclassified (the rhythm model reads them as N); the next ones are tried
        labels, _ = result
        counts: dict[str, int] = {}
        for index, label in zip(ready, labels, strict=True):
            self._classes[int(peaks[index])] = label
            counts[label] = counts.get(label, 0) + 1
            self._v_streak = self._v_streak + 1 if label == "V" else 0
            self._max_v_run = max(self._max_v_run, self._v_streak)
        for old in [p for p in self._classes if p < peaks[0]]:
            del self._classes[old]
        return counts

    def _fibrillation(self, fs: float, out: _Second) -> tuple[bool, dict[str, float]]:

        assert self._ecg is not None
        window = self._ecg.last(VF_WINDOW_S)
        if len(window) < int(VF_WINDOW_S * fs) or self._leads_off():
            return False, {}
        # A failed VF check counts as "no VF": an unknown VF state must not hide an asystole (hr 0).
        found = self.faults.run("vf", out.faults, is_vf, window, fs)
        return (False, {}) if found is None else found

    def _leads_off(self) -> bool:
        """A flat line (electrode off, amplifier idle): no signal at all, not even baseline noise."""
        assert self._ecg is not None
        recent = self._ecg.last(_ASYSTOLE_S)
        recent = recent[np.isfinite(recent)]  # dropouts are no signal either
        return len(recent) == 0 or float(np.ptp(recent)) < _FLAT_MV

    def _heart_rate(self, fs: float, ecg_sqi: float | None, heart_rate: object, *, fibrillating: bool) -> float | None:
        assert self._ecg is not None
        since_last = (self._ecg.end - self._peaks[-1]) / fs if self._peaks else self._ecg.end / fs
        if since_last >= _ASYSTOLE_S:
            # No beat for 5 s. With electrodes on, no fibrillation and no large artefact this is a
            # suspected asystole, and the processor must see it (as 0/min) even though a signal
            # without beats scores poorly on quality; the processor cross-checks it with the PPG.
            recent = self._ecg.last(_ASYSTOLE_S)  # a dropout could hide beats: never quiet
            quiet = bool(np.isfinite(recent).all()) and float(np.std(recent)) < _QUIET_MV
            if fibrillating or self._leads_off() or not (quiet or (ecg_sqi or 0.0) >= _USABLE_SQI):
                return None
            return 0.0 if self._ecg.end / fs >= _ASYSTOLE_S + 1 else None
        if ecg_sqi is not None and ecg_sqi < _USABLE_SQI:
            return None  # an unusable ECG says nothing about the heart rate
        peaks = np.fromiter(self._peaks, dtype=np.int64)
        hr = heart_rate(peaks, fs)  # type: ignore[operator]
        return None if hr is None else round(float(hr), 1)

    def _rhythm(self, models: EdgeModels) -> Rhythm | None:

        assert self._ecg is not None
        fs = self._ecg.fs
        end = self._ecg.end
        recent = [p for p in self._peaks if p > end - RHYTHM_WINDOW_S * fs]
        if len(recent) < 6:
            return None
        times = np.asarray([(p - (end - RHYTHM_WINDOW_S * fs)) / fs for p in recent], dtype=np.float64)
        classes = [self._classes.get(p, "N") for p in recent]
        label, probabilities = models.rhythm.predict(times, classes)
        return Rhythm(label, round(float(probabilities[label]), 3))

    # ------------------------------------------------------------------ events

    def _open(self, kind: str, onset_ms: int, detail: dict[str, float | str], models: dict[str, str]) -> None:
        last = self._last_event_ms.get(kind)
        if last is not None and onset_ms - last < 60_000:
            return  # one event of a kind per minute: a snippet each second would flood the link
        self._last_event_ms[kind] = onset_ms
        self._events.append(_OpenEvent(kind, onset_ms, detail, models))

    def _watch(
        self, ts_ms: int, ecg_sqi: float | None, rhythm: Rhythm | None, hr: float | None, models: EdgeModels
    ) -> None:
        self._vf_seconds = self._vf_seconds + 1 if rhythm is not None and rhythm.label == "VF" else 0
        if self._vf_seconds == 2:
            self._open(
                "vf", ts_ms - 4000, {"concentration": rhythm.p if rhythm else 0.0}, {"rhythm": models.refs["vf"]}
            )
        if hr == 0.0:
            self._open(
                "asystole", ts_ms - int(_ASYSTOLE_S * 1000), {"no_beat_s": _ASYSTOLE_S}, {"hr": models.refs["hr"]}
            )
        label = rhythm.label if rhythm is not None else self._previous_rhythm
        self._af_seconds = self._af_seconds + 1 if label == "AF" else 0
        if self._af_seconds == 3 and rhythm is not None:
            self._open("af_onset", ts_ms - 2000, {"p_af": rhythm.p}, {"rhythm": models.refs["rhythm"]})
        self._previous_rhythm = label
        if self._v_streak >= 3:
            self._open("v_run", ts_ms, {"beats": float(self._v_streak)}, {"beats": models.refs["beats"]})
        # A flat-but-connected ECG (asystole) and VF score as poor signals; they are not signal loss.
        unexplained = hr != 0.0 and self._vf_seconds == 0
        low = ecg_sqi is not None and ecg_sqi < 0.3 and unexplained
        self._low_sqi_seconds = self._low_sqi_seconds + 1 if low else 0
        if self._low_sqi_seconds == 5:
            self._open("signal_loss", ts_ms - 4000, {"sqi": ecg_sqi or 0.0}, {"sqi": models.refs["sqi"]})

    def _due_events(self, ts_ms: int, _models: EdgeModels) -> list[EdgeEvent]:
        due = [e for e in self._events if ts_ms >= e.onset_ms + _SNIPPET_AFTER_S * 1000]
        self._events = [e for e in self._events if e not in due]
        return [self._event(e) for e in due]

    def _event(self, event: _OpenEvent) -> EdgeEvent:
        waveforms = []
        for ring, kind, lead in ((self._ecg, "ecg", "ECG"), (self._ppg, "ppg", "PLETH")):
            if ring is None or self._t0_ms is None:
                continue
            lo = round((event.onset_ms - self._t0_ms - _SNIPPET_BEFORE_S * 1000) / 1000 * ring.fs)
            hi = round((event.onset_ms - self._t0_ms + _SNIPPET_AFTER_S * 1000) / 1000 * ring.fs)
            lo = max(lo, ring.start)
            samples = ring.between(lo, hi)
            if not len(samples):
                continue
            finite = np.abs(samples[np.isfinite(samples)])
            scale = _ECG_SCALE_MV if kind == "ecg" else max(float(finite.max(initial=0.0)) / 30000.0, 1e-9)
            counts = int16_counts(samples, scale)
            start_ms = self._t0_ms + round(lo / ring.fs * 1000)
            waveforms.append(
                Waveform(kind, lead, ring.fs, start_ms, scale, "mV" if kind == "ecg" else "1", counts.tobytes())
            )
        digest = hashlib.sha256(f"{self.device}|{event.kind}|{event.onset_ms}".encode()).hexdigest()[:16]
        return EdgeEvent(
            event_id=f"e-{digest}",
            patient=self.patient,
            device=self.device,
            kind=event.kind,
            ts_ms=event.onset_ms,
            detail=event.detail,
            models=event.models,
            waveforms=tuple(waveforms),
        )


def _chunk(frame: DeviceFrame, kind: str) -> SignalChunk | None:
    return next((c for c in frame.chunks if c.kind == kind), None)


class PipelineSource:
    """Adapts a frame source to the agent: runs each device's pipeline, yields readings and events."""

    def __init__(self, frames: FrameSource, models: EdgeModels | None = None) -> None:
        self._frames = frames
        self._models = models or EdgeModels.load()
        self._pipelines: dict[str, DevicePipeline] = {}
        self.faults = ModelFaults()  # one failure log for every device: rate-limited per model, not per patient

    @property
    def finished(self) -> bool:
        return bool(getattr(self._frames, "finished", False))

    def poll(self, now_ms: int) -> list[VitalsReading | EdgeEvent]:
        out: list[VitalsReading | EdgeEvent] = []
        for frame in self._frames.frames_until(now_ms):
            pipeline = self._pipelines.get(frame.device)
            if pipeline is None:
                pipeline = self._pipelines[frame.device] = DevicePipeline(frame.patient, frame.device, self.faults)
            reading, events = pipeline.process(frame, self._models)
            out.append(reading)
            out.extend(events)
        return out
