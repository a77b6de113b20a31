"""The MIT-BIH Noise Stress Test conventions the ECG evaluations share: ``nst``'s SNR and the ``e`` records.

``nst`` (WFDB) defines the SNR of noise added to an ECG as ``SNR = 20 log10(A / (2 sqrt(2) N))`` dB,
with ``A`` the QRS peak-to-peak amplitude (``sigamp -a``) and ``N`` the noise RMS (``sigamp -r``).
The ``sqi`` evaluation builds its windows with it and the ``rhythm`` evaluation its noisy records,
so both measure SNR the same way, and both score the electrode-motion records ``118e*``/``119e*``
in the parts where ``nst`` switched the noise on.

>>> import numpy as np
>>> nst_noise_rms(np.tile([1.0, -1.0], 360), 360.0)
1.0
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from edge_agent.dsp import Array

__all__ = ["EM_NOISY_S", "EM_RECORDS", "PEAK_TO_PEAK_PER_RMS", "nst_noise_rms", "nst_qrs_amplitude"]

# nst switches the electrode-motion noise on for 2 min every 4 min from 5:00 (see nstdb.txt).
EM_NOISY_S = ((300, 420), (540, 660), (780, 900), (1020, 1140), (1260, 1380), (1500, 1620), (1740, 1806))
# Record 118 with electrode motion at 24 ... -6 dB ("_6"); the 119 records have the same suffixes.
EM_RECORDS = ("118e24", "118e18", "118e12", "118e06", "118e00", "118e_6")
# nst's 2 sqrt(2): the peak-to-peak amplitude of a sine of unit RMS.
PEAK_TO_PEAK_PER_RMS = 2.0 * math.sqrt(2.0)


def nst_qrs_amplitude(x: Array, beats: NDArray[np.int64], fs: float) -> float:
    """Median QRS peak-to-peak amplitude within +-50 ms of each beat (``sigamp -a``, median not trimmed mean)."""
    half = round(0.05 * fs)
    amplitudes = [np.ptp(x[b - half : b + half + 1]) for b in beats if half <= b < len(x) - half]
    return float(np.median(amplitudes)) if amplitudes else 0.0


def nst_noise_rms(noise: Array, fs: float) -> float:
    """Mean over whole 1-s blocks of the RMS about each block's mean (``sigamp -r``)."""
    block = round(fs)
    blocks = noise[: len(noise) // block * block].reshape(-1, block)
    return float(np.mean(np.sqrt(np.mean((blocks - blocks.mean(axis=1, keepdims=True)) ** 2, axis=1))))
