"""What "usable" means for the ECG signal-quality model, and the labelled window it is trained and scored on.

Labels are known by construction, from the SNR of the noise added to a clean window (``nst``'s SNR,
:mod:`edge_agent.evaluation.nstdb`): **usable** = clean or SNR >= :data:`USABLE_MIN_DB`; **not
usable** = SNR <= :data:`UNUSABLE_MAX_DB`; in between no label (scored and tabulated, left out of
the AUROC).

>>> label_for(math.inf), label_for(12.0), label_for(6.0), label_for(-6.0)
(1, 1, None, 0)
"""

from __future__ import annotations

import dataclasses
import math

from edge_agent.dsp import Array

__all__ = ["UNUSABLE_MAX_DB", "USABLE_MIN_DB", "LabelledWindow", "label_for"]

USABLE_MIN_DB = 12.0
UNUSABLE_MAX_DB = 0.0


@dataclasses.dataclass(frozen=True, slots=True)
class LabelledWindow:
    """One ECG window with how it was made: ``label`` 1 usable, 0 not usable, None in between."""

    signal: Array
    fs: float
    record: str
    noise: str  # "clean", "bw", "ma", "bw+ma", "em" or a synthetic artefact
    snr_db: float  # nominal; math.inf for clean windows
    label: int | None
    measured_snr_db: float = math.nan  # em windows: the SNR of this window (nst's gain is per record)
    start: int = 0  # first sample in the source record


def label_for(snr_db: float) -> int | None:
    """The usable / not-usable label of a window at ``snr_db`` (``inf`` = no noise added)."""
    if snr_db >= USABLE_MIN_DB:
        return 1
    if snr_db <= UNUSABLE_MAX_DB:
        return 0
    return None
