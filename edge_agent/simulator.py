"""A simulated ward: N patients whose 1 Hz vitals follow scripted scenarios, deterministically.

Each patient's vitals are its profile plus slow, bounded AR(1) noise plus the scripted episodes.
Given the same seed, scenarios and start time, the ward produces the same readings byte for byte,
whatever the wall clock does; the caller passes the time in.

>>> from edge_agent.scenarios import parse_scenarios
>>> ward = SimulatedWard(parse_scenarios("tachycardia@2+10", patients=2), seed=1, start_ms=1_790_000_000_000)
>>> [r.seq for r in ward.readings_until(1_790_000_001_000)]
[0, 0, 1, 1]
>>> ward.readings_until(1_790_000_001_999)
[]
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

from edge_agent.frames import DeviceFrame, SignalChunk
from edge_agent.scenarios import Scenario
from edge_agent.waveform_sim import EcgPpgGenerator
from vitalstream.wire import VitalsReading

__all__ = ["SimulatedPatient", "SimulatedWard", "WaveformWard", "device_id", "patient_id"]

# Noise per vital: (AR(1) coefficient, innovation s.d.). Deviations are clamped at 2.5 stationary
# s.d. so that a stable patient never wanders across a hard limit by chance.
_NOISE: dict[str, tuple[float, float]] = {
    "hr": (0.9, 1.0),
    "spo2": (0.9, 0.3),
    "rr": (0.85, 0.5),
    "temp": (0.99, 0.01),
    "sbp": (0.5, 3.0),
    "dbp": (0.5, 2.0),
}
_BP_EVERY_S = 300  # a cuff measures now and then; the other vitals are continuous
_ROUND = {"hr": 0, "spo2": 0, "rr": 0, "temp": 1, "sbp": 0, "dbp": 0}


def _pseudonym(prefix: str, seed: int, index: int) -> str:
    digest = hashlib.sha256(f"vitalstream-sim/{prefix}/{seed}/{index}".encode()).hexdigest()
    return f"{prefix}-{digest[:8]}"


def patient_id(seed: int, index: int) -> str:
    """The pseudonymous id of simulated patient ``index`` (no names ever travel on the bus)."""
    return _pseudonym("p", seed, index)


def device_id(seed: int, index: int) -> str:
    return _pseudonym("d", seed, index)


class SimulatedPatient:
    """One patient's vitals generator; :meth:`vitals_at` must be called with increasing whole seconds."""

    def __init__(self, scenario: Scenario, *, rng: random.Random) -> None:
        self.scenario = scenario
        self._rng = rng
        self._deviation = dict.fromkeys(_NOISE, 0.0)

    def vitals_at(self, t_s: int) -> dict[str, float]:
        profile = self.scenario.profile
        base = {
            "hr": profile.hr,
            "spo2": profile.spo2,
            "rr": profile.rr,
            "temp": profile.temp,
            "sbp": profile.sbp,
            "dbp": profile.dbp,
        }
        for vital, (phi, sigma) in _NOISE.items():
            bound = 2.5 * sigma / math.sqrt(1.0 - phi * phi)
            step = phi * self._deviation[vital] + self._rng.gauss(0.0, sigma)
            self._deviation[vital] = max(-bound, min(bound, step))
        values = {vital: base[vital] + self._deviation[vital] for vital in base}
        for episode in self.scenario.episodes:
            weight = episode.weight(float(t_s))
            if weight > 0.0 and episode.target is not None:
                values[episode.vital] += weight * (episode.target - base[episode.vital])
        artefact = self.artefact_at(t_s)
        if artefact == "motion":
            # What a moving wrist does to a wearable's numbers: a pulse rate that jumps around and
            # an SpO2 that dips, both flagged by a poor signal quality (see sqi_at).
            values["hr"] += self._rng.uniform(-25.0, 70.0)
            values["spo2"] = min(values["spo2"], self._rng.uniform(72.0, 90.0))
        values["spo2"] = min(100.0, values["spo2"])
        if artefact == "leadoff":
            del values["hr"]  # no ECG, no heart rate
        if t_s % _BP_EVERY_S != 0:
            del values["sbp"], values["dbp"]
        return {vital: round(value, _ROUND[vital]) for vital, value in values.items()}

    def artefact_at(self, t_s: int) -> str | None:
        return next((e.artefact for e in self.scenario.episodes if e.artefact and e.active(float(t_s))), None)

    def silent_at(self, t_s: int) -> bool:
        """The device sends nothing (battery, out of range, taken off)."""
        return any(e.silent and e.active(float(t_s)) for e in self.scenario.episodes)

    def sqi_at(self, t_s: int) -> dict[str, float]:
        artefact = self.artefact_at(t_s)
        ecg = self._rng.uniform(0.92, 0.99)
        ppg = self._rng.uniform(0.88, 0.98)
        if artefact == "motion":
            ecg, ppg = self._rng.uniform(0.05, 0.35), self._rng.uniform(0.05, 0.3)
        elif artefact == "leadoff":
            ecg = 0.0
        return {"ecg": round(ecg, 2), "ppg": round(ppg, 2)}


@dataclass(frozen=True, slots=True)
class SimulatedDevice:
    index: int
    patient: str
    device: str
    scenario: Scenario


class SimulatedWard:
    """A reading source: one reading per patient per second of event time since ``start_ms``."""

    def __init__(self, scenarios: list[Scenario], *, seed: int, start_ms: int, first_seq: int = 0) -> None:
        self.devices = [
            SimulatedDevice(index, patient_id(seed, index), device_id(seed, index), scenario)
            for index, scenario in enumerate(scenarios)
        ]
        self._patients = [
            SimulatedPatient(device.scenario, rng=random.Random(f"{seed}/{device.index}")) for device in self.devices
        ]
        self._start_ms = start_ms
        self._next_tick = 0
        # A restarted agent continues its devices' sequence numbers instead of reusing them.
        self._first_seq = first_seq

    def poll(self, now_ms: int) -> list[VitalsReading]:
        return self.readings_until(now_ms)

    def readings_until(self, now_ms: int) -> list[VitalsReading]:
        """Every reading whose timestamp is at or before ``now_ms`` and that was not returned before."""
        readings: list[VitalsReading] = []
        while self._start_ms + self._next_tick * 1000 <= now_ms:
            tick = self._next_tick
            ts_ms = self._start_ms + tick * 1000
            for device, patient in zip(self.devices, self._patients, strict=True):
                vitals, sqi = patient.vitals_at(tick), patient.sqi_at(tick)
                if patient.silent_at(tick):
                    continue  # generated all the same, so what follows does not depend on the silence
                readings.append(
                    VitalsReading(
                        patient=device.patient,
                        device=device.device,
                        seq=self._first_seq + tick,
                        ts_ms=ts_ms,
                        vitals=vitals,
                        sqi=sqi,
                    )
                )
            self._next_tick += 1
        return readings


class WaveformWard:
    """A frame source: per patient per second, synthetic ECG (360 Hz) and PPG (125 Hz) consistent with the
    scripted heart rate and rhythm, plus the scripted SpO2, respiratory rate, temperature and blood pressure
    as direct vitals. Heart rate is *not* sent: the edge pipeline measures it from the ECG like on a device.
    """

    ECG_FS = 360.0
    PPG_FS = 125.0

    def __init__(self, scenarios: list[Scenario], *, seed: int, start_ms: int) -> None:

        self._vitals = SimulatedWard(scenarios, seed=seed, start_ms=start_ms)
        self.devices = self._vitals.devices
        self._generators = [
            EcgPpgGenerator(ecg_fs=self.ECG_FS, ppg_fs=self.PPG_FS, rng=random.Random(f"wave/{seed}/{d.index}"))
            for d in self.devices
        ]
        self._start_ms = start_ms

    def frames_until(self, now_ms: int) -> list[DeviceFrame]:
        frames: list[DeviceFrame] = []
        # A reading stamped t covers the second before it, so frame k (ending at start + k s) renders [k-1, k).
        for reading in self._vitals.readings_until(now_ms):
            index = next(d.index for d in self.devices if d.device == reading.device)
            tick = (reading.ts_ms - self._start_ms) // 1000
            scenario = self.devices[index].scenario
            rhythm, artefact, pvc_every = "N", None, 0
            for episode in scenario.episodes:
                if episode.active(float(tick)):
                    rhythm = episode.rhythm or rhythm
                    artefact = episode.artefact or artefact
                    pvc_every = episode.pvc_every or pvc_every
            hr = reading.vitals.get("hr", scenario.profile.hr)
            ecg, ppg = self._generators[index].render_second(
                int(tick), hr_bpm=hr, rhythm=rhythm, pvc_every=pvc_every, artefact=artefact
            )
            vitals = {k: v for k, v in reading.vitals.items() if k != "hr"}
            frames.append(
                DeviceFrame(
                    reading.patient,
                    reading.device,
                    reading.ts_ms,
                    vitals,
                    (SignalChunk("ecg", "II", self.ECG_FS, ecg), SignalChunk("ppg", "PLETH", self.PPG_FS, ppg)),
                )
            )
        return frames
