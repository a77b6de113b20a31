"""Replay recorded waveforms as live devices: WFDB records (MIT-BIH, NSTDB, ...) and BIDMC ``*_Signals.csv``.

Each record becomes one patient with one device. The ECG lead is picked by name (MLII, II, ...) or
by ``ecg_channel``; a PLETH channel, when present, is replayed as PPG; for BIDMC, the 1 Hz SpO2
and respiratory rate of the matching ``*_Numerics.csv`` travel along as direct vitals.

Pacing: second ``k`` of a record (its samples from ``k`` to ``k + 1`` s) is due ``(k + 1) / speed``
seconds after the start and is stamped ``start + k + 1`` seconds of device time (a frame carries the
time at the end of its chunk), so ``speed=1`` is a live device and ``speed=10`` a device
whose clock runs ten times faster than the wall clock (useful to push a 30-minute record through
the whole system in 3 minutes).

Data: MIT-BIH Arrhythmia Database (Moody & Mark 2001), BIDMC PPG and Respiration Dataset
(Pimentel et al. 2017), via PhysioNet (Goldberger et al. 2000); ODC-By 1.0.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_agent.frames import DeviceFrame, SignalChunk
from edge_agent.records import Record, pick_channel, read_record
from vitalstream.errors import ConfigError

__all__ = ["RecordingReplay", "find_recordings"]


def find_recordings(path: str | Path) -> list[Path]:
    """The waveform recordings at ``path``: one file, or every WFDB header / BIDMC signals file in a directory."""
    target = Path(path)
    if target.is_dir():
        found = sorted(target.glob("*.hea")) + sorted(target.glob("*_Signals.csv"))
        if not found:
            raise ConfigError("no WFDB records (*.hea) or BIDMC *_Signals.csv files here", source=str(target))
        return found
    if target.suffix in {".hea", ".dat", ".mat", ".csv"} and target.exists():
        return [target]
    if target.with_suffix(".hea").exists():
        return [target.with_suffix(".hea")]
    raise ConfigError("not a WFDB record or BIDMC signals file", source=str(target))


def _numerics_for(signals_csv: Path) -> list[dict[str, float]]:
    """BIDMC's 1 Hz monitor values (SpO2, RESP) next to a signals file, NaN cells left out."""
    numerics = signals_csv.with_name(signals_csv.name.replace("_Signals.csv", "_Numerics.csv"))
    if not numerics.exists():
        return []
    rows: list[dict[str, float]] = []
    with numerics.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, skipinitialspace=True):
            values: dict[str, float] = {}
            for column, key in (("SpO2", "spo2"), ("RESP", "rr")):
                try:
                    value = float(row[column])
                except (KeyError, TypeError, ValueError):
                    continue
                if math.isfinite(value):
                    values[key] = value
            rows.append(values)
    return rows


@dataclass(slots=True)
class _Replayed:
    patient: str
    device: str
    record: Record
    ecg: int | None
    ppg: int | None
    numerics: list[dict[str, float]]

    @property
    def seconds(self) -> int:
        return int(self.record.duration_s)


class RecordingReplay:
    """A frame source over recorded files (see the module docstring)."""

    def __init__(self, paths: list[Path], *, start_ms: int, speed: float = 1.0, ecg_channel: int | None = None) -> None:
        if speed <= 0:
            raise ConfigError("must be positive", source="--speed")
        self._items: list[_Replayed] = []
        for path in paths:
            record = read_record(path)
            names = [c.upper() for c in record.channels]
            ppg = next((i for i, n in enumerate(names) if n in {"PLETH", "PPG"}), None)
            ecg_candidates = [i for i in range(len(names)) if i != ppg and names[i] not in {"RESP", "ABP", "CVP"}]
            ecg = pick_channel(record, "ecg", ecg_channel) if ecg_candidates else None
            stem = record.name.replace("_", "-")
            prefix = "bidmc" if path.suffix == ".csv" else path.parent.name or "rec"
            patient = stem if stem.startswith(prefix) else f"{prefix}-{stem}"
            numerics = _numerics_for(path) if path.suffix == ".csv" else []
            self._items.append(_Replayed(patient, f"{patient}-dev", record, ecg, ppg, numerics))
        self._start_ms = start_ms
        self._speed = speed
        self._next = 0

    @property
    def devices(self) -> list[tuple[str, str]]:
        return [(item.patient, item.device) for item in self._items]

    @property
    def seconds(self) -> int:
        """The longest record's length in whole seconds."""
        return max(item.seconds for item in self._items)

    @property
    def finished(self) -> bool:
        return self._next >= self.seconds

    def frames_until(self, now_ms: int) -> list[DeviceFrame]:
        frames: list[DeviceFrame] = []
        while not self.finished and self._start_ms + (self._next + 1) * 1000 / self._speed <= now_ms:
            second = self._next
            ts_ms = self._start_ms + (second + 1) * 1000
            for item in self._items:
                if second >= item.seconds:
                    continue
                fs = item.record.fs
                lo, hi = round(second * fs), round((second + 1) * fs)
                chunks = []
                if item.ecg is not None:
                    lead = item.record.channels[item.ecg]
                    chunks.append(SignalChunk("ecg", lead, fs, np.asarray(item.record.signals[lo:hi, item.ecg])))
                if item.ppg is not None:
                    chunks.append(SignalChunk("ppg", "PLETH", fs, np.asarray(item.record.signals[lo:hi, item.ppg])))
                vitals = item.numerics[second] if second < len(item.numerics) else {}
                frames.append(DeviceFrame(item.patient, item.device, ts_ms, vitals, tuple(chunks)))
            self._next += 1
        return frames
