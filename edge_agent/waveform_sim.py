"""Synthetic ECG and PPG consistent with a scripted heart rate: the simulator's raw signals.

Each beat is a sum of Gaussian waves (P, Q, R, S, T), the classic model of McSharry et al.
(IEEE TBME 2003) used per beat rather than as an ODE: normal beats, premature ventricular beats
(wide QRS, no P wave, inverted T) and atrial fibrillation (irregular RR, no P waves, fibrillatory
baseline). PPG pulses follow each beat after a pulse transit time. Artefact episodes add motion
noise or a lead-off flat line. All randomness comes from the generator passed in: the same seed
gives the same waveform.

>>> import random
>>> gen = EcgPpgGenerator(ecg_fs=250.0, ppg_fs=125.0, rng=random.Random(1))
>>> ecg, ppg = gen.render_second(0, hr_bpm=60.0, rhythm="N")
>>> ecg.shape, ppg.shape
((250,), (125,))
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from edge_agent.dsp import Array

__all__ = ["Beat", "EcgPpgGenerator"]

# (amplitude mV, centre s relative to R, width s); T-wave timing stretches with sqrt(RR) (Bazett).
_NORMAL = ((0.15, -0.20, 0.025), (-0.10, -0.035, 0.010), (1.20, 0.0, 0.011), (-0.25, 0.035, 0.011))
_NORMAL_T = (0.30, 0.28, 0.045)
_VENTRICULAR = ((1.50, 0.0, 0.030), (-0.55, 0.07, 0.035))
_VENTRICULAR_T = (-0.40, 0.32, 0.06)


@dataclass(frozen=True, slots=True)
class Beat:
    t_s: float  # R-peak time, seconds since the start of the stream
    ventricular: bool = False
    af: bool = False


class EcgPpgGenerator:
    """Renders one second at a time; beats are scheduled ahead from the current heart rate and rhythm."""

    def __init__(self, *, ecg_fs: float, ppg_fs: float, rng: random.Random) -> None:
        self.ecg_fs = ecg_fs
        self.ppg_fs = ppg_fs
        self._rng = rng
        # Sample-level noise from numpy, seeded from the caller's generator: still one seed, one waveform.
        self._noise = np.random.default_rng(rng.getrandbits(63))
        self._beats: list[Beat] = []
        self._next_beat_s = 0.3 + rng.uniform(0.0, 0.5)
        self._resp_phase = rng.uniform(0, 2 * math.pi)
        self.scheduled: list[Beat] = []  # every beat ever scheduled (ground truth for tests)

    def _schedule(self, until_s: float, hr_bpm: float, rhythm: str, pvc_every: int) -> None:
        if rhythm in {"ASYS", "VF"}:
            # No organised beats at all; the first beat after the episode comes a normal interval later.
            self._next_beat_s = max(self._next_beat_s, until_s)
            return
        while self._next_beat_s < until_s:
            rr = 60.0 / max(20.0, hr_bpm)
            af = rhythm == "AF"
            if af:
                rr *= self._rng.uniform(0.6, 1.4)  # irregularly irregular
            else:
                rr *= 1.0 + self._rng.gauss(0.0, 0.02)  # normal heart-rate variability
            ventricular = rhythm == "VT" or (pvc_every > 0 and len(self.scheduled) % pvc_every == pvc_every - 1)
            if ventricular and rhythm != "VT":
                rr *= 0.7  # premature, followed below by a compensatory pause
            beat = Beat(self._next_beat_s, ventricular=ventricular, af=af)
            self._beats.append(beat)
            self.scheduled.append(beat)
            self._next_beat_s += rr if not (ventricular and rhythm != "VT") else rr / 0.7 * 1.3
        horizon = until_s - 3.0
        self._beats = [b for b in self._beats if b.t_s > horizon]

    def render_second(
        self,
        second: int,
        *,
        hr_bpm: float,
        rhythm: str = "N",
        pvc_every: int = 0,
        artefact: str | None = None,
    ) -> tuple[Array, Array]:
        """ECG (mV) and PPG (arbitrary units) for ``[second, second + 1)`` of stream time."""
        self._schedule(second + 2.0, hr_bpm, rhythm, pvc_every)
        t_ecg = second + np.arange(int(self.ecg_fs)) / self.ecg_fs
        t_ppg = second + np.arange(int(self.ppg_fs)) / self.ppg_fs
        ecg = np.zeros_like(t_ecg)
        ppg = np.zeros_like(t_ppg)
        for beat in self._beats:
            if abs(beat.t_s - second - 0.5) > 2.0:
                continue
            ecg += self._ecg_beat(t_ecg - beat.t_s, beat, hr_bpm)
            ppg += self._ppg_pulse(t_ppg - beat.t_s, beat)
        resp = np.sin(2 * math.pi * 0.25 * t_ecg + self._resp_phase)
        ecg += 0.08 * resp + self._noise.normal(0.0, 0.01, len(t_ecg))
        if rhythm == "AF":
            ecg += 0.04 * np.sin(2 * math.pi * 6.3 * t_ecg + self._rng.uniform(0, 6.28))
        elif rhythm == "VF":
            # Coarse VF: a 4-6 Hz oscillation whose frequency and amplitude wander (no QRS, no pulse).
            frequency = 5.0 + 0.8 * np.sin(2 * math.pi * 0.3 * t_ecg)
            envelope = 0.5 + 0.2 * np.sin(2 * math.pi * 0.5 * t_ecg + 1.0)
            ecg += envelope * np.sin(2 * math.pi * np.cumsum(frequency) / self.ecg_fs + self._rng.uniform(0, 6.28))
        ppg += 0.05 * np.sin(2 * math.pi * 0.25 * t_ppg + self._resp_phase)
        ppg += self._noise.normal(0.0, 0.005, len(t_ppg))
        if artefact == "motion":
            ecg += self._motion(len(t_ecg), 0.8)
            ppg += self._motion(len(t_ppg), 0.6)
        elif artefact == "leadoff":
            ecg = np.zeros_like(ecg)
        return ecg, ppg

    def _ecg_beat(self, dt: Array, beat: Beat, hr_bpm: float) -> Array:
        rr = 60.0 / max(20.0, hr_bpm)
        stretch = math.sqrt(rr)
        out = np.zeros_like(dt)
        if beat.ventricular:
            waves = [*_VENTRICULAR, (_VENTRICULAR_T[0], _VENTRICULAR_T[1] * stretch, _VENTRICULAR_T[2] * stretch)]
        else:
            waves = [w for w in _NORMAL if not (beat.af and w[1] < -0.1)]  # AF: no P wave
            waves.append((_NORMAL_T[0], _NORMAL_T[1] * stretch, _NORMAL_T[2] * stretch))
        for amplitude, centre, width in waves:
            out += amplitude * np.exp(-0.5 * ((dt - centre) / width) ** 2)
        return out

    @staticmethod
    def _ppg_pulse(dt: Array, beat: Beat) -> Array:
        transit = 0.22  # pulse transit time from R peak to the finger
        strength = 0.6 if beat.ventricular else 1.0  # a premature beat ejects less
        systolic = np.exp(-0.5 * ((dt - transit - 0.12) / 0.07) ** 2)
        dicrotic = 0.35 * np.exp(-0.5 * ((dt - transit - 0.38) / 0.08) ** 2)
        return np.asarray(strength * (systolic + dicrotic), dtype=np.float64)

    def _motion(self, n: int, amplitude: float) -> Array:
        # Random-walk baseline jumps plus broadband bursts: the two faces of motion artefact.
        steps = self._noise.normal(0.0, amplitude / 8, n)
        bursts = self._noise.normal(0.0, amplitude / 3, n)
        return np.asarray(np.cumsum(steps) + bursts, dtype=np.float64)
