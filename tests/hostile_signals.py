"""Hypothesis strategies for the signals a real recording can hand the edge: the robustness tests share them.

A window is drawn as a kind (noise, flat, a plausible ECG or pulse train, clipped, saturated at the
rails, steps, spikes, NaN-filled, NaN runs, infinities), a length (empty, one sample, a few, short,
a model window, very long) and a sampling rate (the rates of the devices and databases we meet,
and odd ones). The samples come from a seeded NumPy generator: Hypothesis draws the seed and the
parameters, so examples stay reproducible and cheap to generate even at 60 s x 1 kHz.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

from edge_agent.dsp import Array

__all__ = ["ECG_RATES", "KINDS", "PPG_RATES", "Window", "bounded", "lengths", "signal", "windows"]

# Devices and databases: CinC 2015/BIDMC 125 and 250, wearables 128/200/256, CinC 2017 300, MIT-BIH
# 360, 500 (12-lead carts); odd ones: a 100 Hz patch, a drifting 97.5 Hz clock, 1 kHz Holters.
ECG_RATES = (125.0, 128.0, 200.0, 250.0, 256.0, 300.0, 360.0, 500.0, 100.0, 97.5, 1000.0)
# Pulse oximeters sample slower: 25-100 Hz wearables, then the ECG rates of bedside monitors.
PPG_RATES = (25.0, 32.0, 50.0, 64.0, 100.0, 125.0, 250.0, 500.0, 62.5)
KINDS = (
    "noise",
    "flat",
    "beats",
    "clipped",
    "saturated",
    "steps",
    "spikes",
    "nan",
    "nan_runs",
    "nan_sparse",
    "inf",
)
# A few examples per kind of window (the tests are parametrized by kind), no deadline: each example runs
# real models, and the machine is shared. Derandomized, no database: the same examples on every run.
bounded = settings(max_examples=10, deadline=None, derandomize=True, database=None)


@dataclass(frozen=True, slots=True)
class Window:
    kind: str
    fs: float
    samples: Array

    def __repr__(self) -> str:  # what Hypothesis prints for a failing example: not 60,000 numbers
        finite = self.samples[np.isfinite(self.samples)]
        span = f"{finite.min():.3g}..{finite.max():.3g}" if len(finite) else "none finite"
        return f"Window({self.kind!r}, fs={self.fs}, n={len(self.samples)}, {span})"


def signal(kind: str, n: int, fs: float, seed: int) -> Array:  # noqa: PLR0911 -- one branch per kind reads best
    """``n`` samples of ``kind`` at ``fs`` (see the module docstring); deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    scale = float(10.0 ** rng.integers(-6, 7))  # uV-level noise up to absurd gains
    if kind == "noise":
        return rng.normal(0.0, scale, n)
    if kind == "flat":
        return np.full(n, float(rng.choice([0.0, 1e-9, -3.3, 512.0, 1e6])))
    rate = rng.uniform(20.0, 300.0) / 60.0  # beats per second, from bradycardia to VT
    width = rng.uniform(0.005, 0.08)
    phase = (t * rate + rng.uniform()) % 1.0
    beats = np.exp(-(((phase - 0.5) / (width * rate)) ** 2)) + rng.normal(0.0, 0.02, n)
    if kind == "beats":
        return beats * scale
    if kind == "clipped":
        return np.clip(beats * scale, -0.3 * scale, 0.3 * scale)
    if kind == "saturated":  # an amplifier at its rails: long stretches of exactly +rail or -rail
        rail = float(rng.choice([5.0, 163.84, 32767.0, 1e9]))
        runs = np.repeat(rng.choice([-rail, rail], size=n // 50 + 1), 50)[:n]
        return np.where(rng.uniform(size=n) < 0.8, runs, beats)
    if kind == "steps":  # electrode pops: piecewise constant levels
        return np.repeat(rng.normal(0.0, scale, n // max(1, int(fs // 2)) + 1), max(1, int(fs // 2)))[:n]
    if kind == "spikes":
        x = np.zeros(n)
        x[rng.integers(0, max(n, 1), size=min(n, 5))] = scale * 1e3
        return x
    x = beats.copy()
    if kind == "nan":
        x[:] = np.nan
    elif kind == "nan_runs":
        for start in rng.integers(0, max(n, 1), size=3):
            x[start : start + int(rng.integers(1, max(2, n // 3)))] = np.nan
    elif kind == "nan_sparse":
        x[rng.uniform(size=n) < 0.05] = np.nan
    elif kind == "inf":
        x[rng.integers(0, max(n, 1), size=min(n, 3))] = rng.choice([np.inf, -np.inf])
    return x


def lengths(fs: float, window_s: float) -> st.SearchStrategy[int]:
    """Empty, one sample, a few, under a second, about the model's window, and a minute, equally often."""
    return st.sampled_from(("tiny", "short", "window", "long")).flatmap(
        lambda size: {
            "tiny": st.sampled_from([0, 1, 2, 3, 7]),
            "short": st.integers(8, int(fs)),
            "window": st.sampled_from([int(window_s * fs) - 1, int(window_s * fs), int(window_s * fs) + 1]),
            "long": st.just(int(60 * fs)),
        }[size]
    )


@st.composite
def windows(draw: st.DrawFn, kind: str, rates: tuple[float, ...], window_s: float) -> Window:
    """One ``kind`` of window at one of ``rates``, of a length around ``window_s`` or much shorter or longer."""
    fs = draw(st.sampled_from(rates))
    n = draw(lengths(fs, window_s))
    return Window(kind, fs, signal(kind, n, fs, draw(st.integers(0, 2**32 - 1))))
