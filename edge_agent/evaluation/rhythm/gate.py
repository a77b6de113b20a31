"""The ECG quality gate in front of the AF detector: the ``sqi`` model over the 5-s blocks of a signal.

On the device a window whose ECG the ``sqi`` model rejects gets no rhythm call; the ``sqi_gated``
scores of the evaluation show what that gate does to sensitivity and to false AF calls in noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from edge_agent.dsp import Array
from edge_agent.evaluation.rhythm.windows import RhythmWindow
from edge_agent.models.sqi import WINDOW_S as BLOCK_S
from edge_agent.models.sqi import EcgQuality, ecg_quality_features

__all__ = ["QualityGate", "quality_gate"]


class QualityGate:
    """The ``sqi`` model over the 5-s blocks of a signal: a 30-s window passes when every block is usable."""

    def __init__(self) -> None:
        self.block_s = BLOCK_S
        self.quality = EcgQuality()

    @property
    def ref(self) -> str:
        return self.quality.ref

    def usable_blocks(self, signal: Array, fs: float) -> NDArray[np.bool_]:
        """Whether each whole 5-s block of ``signal`` scores at or above the ``sqi`` threshold."""
        n = round(self.block_s * fs)
        rows = np.stack([ecg_quality_features(signal[i : i + n], fs) for i in range(0, len(signal) - n + 1, n)])
        return np.asarray(self.quality.score_batch(rows) >= self.quality.threshold, dtype=bool)

    def passes(self, windows: Sequence[RhythmWindow], blocks: dict[str, NDArray[np.bool_]]) -> NDArray[np.bool_]:
        """Whether every block of each window is usable (``blocks`` by record, from :meth:`usable_blocks`)."""
        out = []
        for w in windows:
            usable = blocks[w.record]
            lo, hi = round(w.start_s / self.block_s), round(w.end_s / self.block_s)
            out.append(bool(usable[lo:hi].all()))
        return np.asarray(out, dtype=bool)


def quality_gate() -> tuple[QualityGate | None, str]:
    """The sqi gate and how it is used, or None and why not (the gated scores are dropped then)."""
    try:
        gate = QualityGate()
        gate.usable_blocks(np.sin(np.linspace(0.0, 60.0, round(2 * gate.block_s * 360))), 360.0)
    except Exception as exc:  # noqa: BLE001 -- any failure of the other model only drops the gated scores
        return None, f"not available: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    return gate, f"{gate.ref}: a window counts only if every {gate.block_s:g}-s block scores >= the sqi threshold"
