"""Replay 1 Hz monitor numerics from the BIDMC PPG and Respiration Dataset as if live.

Each ``bidmc_NN_Numerics.csv`` (columns ``Time [s], HR, PULSE, RESP, SpO2``) becomes one patient
with one device; a directory replays every record in it at once. ``NaN`` cells (the monitor had no
value) are left out of the reading instead of being invented. Timestamps are re-based onto the
replay's start so the readings are live data to everything downstream.

Data: Pimentel MAF et al., "Toward a robust estimation of respiratory rate from pulse oximeters",
IEEE TBME 64(8), 2017; PhysioNet BIDMC 1.0.0 (ODC-By 1.0). See the README's data section.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from vitalstream.errors import ConfigError
from vitalstream.wire import VITALS, VitalsReading

__all__ = ["NumericsReplay"]

_COLUMNS = {"HR": "hr", "RESP": "rr", "SpO2": "spo2"}


def _load(path: Path) -> list[tuple[float, dict[str, float]]]:
    rows: list[tuple[float, dict[str, float]]] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, skipinitialspace=True)
        for row in reader:
            vitals: dict[str, float] = {}
            for column, key in _COLUMNS.items():
                try:
                    value = float(row[column])
                except (KeyError, TypeError, ValueError):
                    continue
                if math.isfinite(value) and VITALS[key].contains(value):
                    vitals[key] = value
            rows.append((float(row["Time [s]"]), vitals))
    return rows


class NumericsReplay:
    """A reading source over one BIDMC numerics file or a directory of them."""

    def __init__(self, path: str | Path, *, start_ms: int, first_seq: int = 0) -> None:
        target = Path(path)
        files = sorted(target.glob("*_Numerics.csv")) if target.is_dir() else [target]
        if not files or not all(f.is_file() for f in files):
            raise ConfigError("expected a bidmc_NN_Numerics.csv file or a directory holding them", source=str(path))
        self._records = []
        for file in files:
            record = file.name.removesuffix("_Numerics.csv").replace("_", "-")
            self._records.append((record, f"{record}-mon", _load(file)))
        self._start_ms = start_ms
        self._first_seq = first_seq
        self._next = 0

    @property
    def patients(self) -> list[str]:
        return [record for record, _, _ in self._records]

    def poll(self, now_ms: int) -> list[VitalsReading]:
        return self.readings_until(now_ms)

    def readings_until(self, now_ms: int) -> list[VitalsReading]:
        readings: list[VitalsReading] = []
        longest = max(len(rows) for _, _, rows in self._records)
        while self._next < longest:
            index = self._next
            due = [(rec, dev, rows[index]) for rec, dev, rows in self._records if index < len(rows)]
            ts_ms = self._start_ms + round(due[0][2][0] * 1000)
            if ts_ms > now_ms:
                break
            for record, device, (t_s, vitals) in due:
                readings.append(
                    VitalsReading(record, device, self._first_seq + index, self._start_ms + round(t_s * 1000), vitals)
                )
            self._next += 1
        return readings

    @property
    def finished(self) -> bool:
        return self._next >= max(len(rows) for _, _, rows in self._records)
