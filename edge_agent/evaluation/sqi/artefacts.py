"""Synthetic ECG noise and artefacts that no recording provides, for the signal-quality model.

Training mixes the generic noises of :func:`synthetic_noise` in with the NSTDB records so that the
model learns "noise" rather than two particular recordings; :func:`synthetic_artefact` makes the
lead-off and saturation windows that the evaluation checks are rejected.
"""

from __future__ import annotations

import math

import numpy as np

from edge_agent.dsp import Array
from edge_agent.evaluation.sqi.labels import LabelledWindow

__all__ = ["SYNTHETIC_NOISE", "synthetic_artefact", "synthetic_noise"]

SYNTHETIC_NOISE = ("band", "motion")


def synthetic_noise(kind: str, n: int, fs: float, rng: np.random.Generator) -> Array:
    """Generic noise no recording provides, for training only: ``band`` or ``motion``.

    ``band``: Gaussian noise in a random band (low edge 0.3-8 Hz, high edge 2-8x higher, up to 60 Hz).
    ``motion``: bumps, biphasic bumps and smoothed steps (20-150 ms wide, heavy-tailed amplitudes), at
    random (0.3-3 per second) or at a rhythm of their own (36-150 per minute, jittered): beat-like
    artefacts in general terms, not a model of any recording.

    >>> import numpy as np
    >>> synthetic_noise("band", 1800, 360.0, np.random.default_rng(0)).shape
    (1800,)
    """
    t = np.arange(n) / fs
    if kind == "band":
        low = math.exp(rng.uniform(math.log(0.3), math.log(8.0)))
        high = min(low * rng.uniform(2.0, 8.0), 60.0)
        freqs = np.fft.rfftfreq(n, 1.0 / fs)
        # Smooth (raised-cosine in log frequency) band edges, so the noise has no ringing artefacts.
        shape = np.clip((np.log(freqs + 1e-9) - math.log(low / 1.5)) / math.log(1.5), 0.0, 1.0)
        shape *= np.clip((math.log(high * 1.5) - np.log(freqs + 1e-9)) / math.log(1.5), 0.0, 1.0)
        spectrum = (rng.normal(size=len(freqs)) + 1j * rng.normal(size=len(freqs))) * np.sin(shape * np.pi / 2) ** 2
        return np.asarray(np.fft.irfft(spectrum, n), dtype=np.float64)
    if kind == "motion":
        # Electrode motion mimics beats (Moody, Muldrow & Mark 1984): bumps a QRS detector takes for
        # complexes, arriving at random or at their own rhythm, plus the odd baseline step.
        x = np.zeros(n)
        if rng.random() < 0.5:
            rate = rng.uniform(0.3, 3.0)
            times = np.cumsum(rng.exponential(1.0 / rate, size=int(rate * n / fs * 3) + 2))
        else:
            period = 1.0 / rng.uniform(0.6, 2.5)
            times = np.cumsum(period * (1.0 + rng.uniform(-0.3, 0.3) * rng.standard_normal(int(n / fs / period) + 3)))
        times = times[times < n / fs + 0.5] - rng.uniform(0.0, 0.5)
        for centre in times:
            width = math.exp(rng.uniform(math.log(0.02), math.log(0.15)))
            z = (t - centre) / width
            shape = rng.choice(3, p=[0.45, 0.4, 0.15])
            amplitude = rng.standard_t(4)
            x += amplitude * (np.exp(-(z**2)) if shape == 0 else -z * np.exp(0.5 - z**2) if shape == 1 else np.tanh(z))
        return x
    raise ValueError(f"unknown synthetic noise {kind!r} (expected one of {SYNTHETIC_NOISE})")


def synthetic_artefact(clean: LabelledWindow, rng: np.random.Generator) -> LabelledWindow:
    """A not-usable artefact the noise records lack: lead-off (flat + mains hum) or amplifier saturation."""
    n = len(clean.signal)
    if rng.random() < 0.5:
        t = np.arange(n) / clean.fs
        hum = rng.uniform(0.0, 0.2) * np.sin(2 * np.pi * rng.choice([50.0, 60.0]) * t + rng.uniform(0, 6.3))
        x = rng.uniform(-1.0, 1.0) + rng.normal(0.0, rng.uniform(0.001, 0.01), n) + hum
        return LabelledWindow(x, clean.fs, clean.record, "flat", -math.inf, 0, start=clean.start)
    # Saturation: the amplifier rails at a level below the R peaks, so the QRS complexes are cut off.
    rail = float(np.percentile(clean.signal, rng.uniform(20.0, 60.0)))
    return LabelledWindow(
        np.minimum(clean.signal, rail), clean.fs, clean.record, "saturated", -math.inf, 0, start=clean.start
    )
