"""Recorded data: WFDB records and annotations (MIT-BIH, NSTDB), BIDMC CSVs, and the AAMI beat classes.

Reading WFDB files needs the ``wfdb`` package (``pip install 'vitalstream[data]'``); it is imported
only when a WFDB record is actually read, so the edge agent stays light without it.

The PhysioNet databases are never part of the repository. Code that needs them takes a data
directory; :func:`data_dir` falls back to ``../shared/data`` (next to the checkout) when present.
Without a local copy, ``wfdb.dl_database("mitdb", "DIR/mitdb")`` fetches the same files.

>>> aami_class("L"), aami_class("A"), aami_class("E"), aami_class("/"), aami_class("+")
('N', 'S', 'V', 'Q', None)
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edge_agent.dsp import Array
from vitalstream.errors import ConfigError, MissingExtraError

__all__ = [
    "AAMI_CLASSES",
    "BEAT_SYMBOLS",
    "MITDB_DS1",
    "MITDB_DS2",
    "MITDB_PACED",
    "MITDB_RECORDS",
    "Annotations",
    "Record",
    "aami_class",
    "data_dir",
    "pick_channel",
    "read_annotations",
    "read_bidmc_signals",
    "read_record",
]

# de Chazal et al. 2004 inter-patient split of the MIT-BIH Arrhythmia Database (paced records excluded).
MITDB_DS1 = (
    101,
    106,
    108,
    109,
    112,
    114,
    115,
    116,
    118,
    119,
    122,
    124,
    201,
    203,
    205,
    207,
    208,
    209,
    215,
    220,
    223,
    230,
)
MITDB_DS2 = (
    100,
    103,
    105,
    111,
    113,
    117,
    121,
    123,
    200,
    202,
    210,
    212,
    213,
    214,
    219,
    221,
    222,
    228,
    231,
    232,
    233,
    234,
)
MITDB_PACED = (102, 104, 107, 217)
MITDB_RECORDS = tuple(sorted((*MITDB_DS1, *MITDB_DS2, *MITDB_PACED)))

AAMI_CLASSES = ("N", "S", "V", "F", "Q")
# ANSI/AAMI EC57 mapping of MIT-BIH beat labels to the five AAMI classes.
_AAMI = {
    **dict.fromkeys("NLRej", "N"),
    **dict.fromkeys("AaJS", "S"),
    **dict.fromkeys("VE", "V"),
    "F": "F",
    **dict.fromkeys("/fQ", "Q"),
}
# Every MIT-BIH annotation code that marks a beat (QRS complex), for QRS detection scoring.
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")


def aami_class(symbol: str) -> str | None:
    """The AAMI class of a MIT-BIH beat label, or ``None`` for non-beat annotations."""
    return _AAMI.get(symbol)


def data_dir(explicit: str | Path | None = None) -> Path:
    """The PhysioNet data directory: ``explicit``, else ``../shared/data`` from here or from the checkout."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_dir():
            raise ConfigError(f"data directory {path} does not exist", source="--data")
        return path
    repository = Path(__file__).resolve().parent.parent
    for candidate in (Path.cwd() / ".." / "shared" / "data", repository.parent / "shared" / "data"):
        if candidate.is_dir():
            return candidate.resolve()
    raise ConfigError(
        "no data directory: pass --data DIR, or fetch MIT-BIH with "
        "python -c \"import wfdb; wfdb.dl_database('mitdb', 'DIR/mitdb')\"",
        source="--data",
    )


def _wfdb() -> Any:  # noqa: ANN401 -- the wfdb module (it ships no type information)
    try:
        import wfdb  # noqa: PLC0415 -- optional, heavy (pandas, scipy, matplotlib)
    except ModuleNotFoundError as exc:
        raise MissingExtraError(extra="data", module="wfdb") from exc
    return wfdb


@dataclass(frozen=True, slots=True)
class Record:
    """A multichannel recording in physical units (mV for ECG)."""

    name: str
    fs: float
    signals: Array  # shape (samples, channels)
    channels: tuple[str, ...]

    @property
    def duration_s(self) -> float:
        return len(self.signals) / self.fs

    def channel(self, index: int) -> Array:
        return np.ascontiguousarray(self.signals[:, index])


@dataclass(frozen=True, slots=True)
class Annotations:
    """Reference annotations of one record: every labelled sample, and rhythm intervals."""

    samples: NDArray[np.int64]
    symbols: tuple[str, ...]
    rhythms: tuple[tuple[int, int, str], ...]  # (start sample, end sample, label such as "AFIB")

    def beats(self) -> tuple[NDArray[np.int64], tuple[str, ...]]:
        """Only the beat annotations (QRS complexes)."""
        keep = [i for i, s in enumerate(self.symbols) if s in BEAT_SYMBOLS]
        return self.samples[keep], tuple(self.symbols[i] for i in keep)


def read_record(path: str | Path) -> Record:
    """A WFDB record (``.hea`` with ``.dat``/``.mat``) or a BIDMC ``*_Signals.csv`` file."""
    target = Path(path)
    if target.suffix == ".csv":
        return read_bidmc_signals(target)
    stem = target.with_suffix("") if target.suffix in {".hea", ".dat", ".mat", ".atr"} else target
    raw = _wfdb().rdrecord(str(stem))
    signals = np.nan_to_num(np.asarray(raw.p_signal, dtype=np.float64))
    return Record(stem.name, float(raw.fs), signals, tuple(raw.sig_name))


def read_annotations(path: str | Path, extension: str = "atr") -> Annotations:
    target = Path(path)
    stem = target.with_suffix("") if target.suffix in {".hea", ".dat", ".atr"} else target
    ann = _wfdb().rdann(str(stem), extension)
    samples = np.asarray(ann.sample, dtype=np.int64)
    symbols = tuple(ann.symbol)
    rhythms: list[tuple[int, int, str]] = []
    current: tuple[int, str] | None = None
    for sample, aux in zip(samples, ann.aux_note, strict=True):
        label = (aux or "").rstrip("\x00").strip()
        if label.startswith("("):
            if current is not None:
                rhythms.append((current[0], int(sample), current[1]))
            current = (int(sample), label[1:])
    if current is not None:
        rhythms.append((current[0], int(samples[-1]) + 1 if len(samples) else current[0], current[1]))
    return Annotations(samples, symbols, tuple(rhythms))


def read_bidmc_signals(path: str | Path) -> Record:
    """``bidmc_NN_Signals.csv``: RESP, PLETH and ECG leads at 125 Hz (time from the row index)."""
    target = Path(path)
    with target.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, skipinitialspace=True)
        header = [name.strip() for name in next(reader)]
        rows = [[float(v) if v.strip() not in {"", "NaN"} else np.nan for v in row] for row in reader]
    data = np.asarray(rows, dtype=np.float64)
    columns = [i for i, name in enumerate(header) if not name.lower().startswith("time")]
    signals = np.nan_to_num(data[:, columns])
    return Record(target.name.removesuffix("_Signals.csv"), 125.0, signals, tuple(header[i] for i in columns))


_ECG_PREFERENCE = ("MLII", "II", "ECG", "I", "V5", "V2", "V1", "V", "III", "AVR")


def pick_channel(record: Record, kind: str = "ecg", explicit: int | None = None) -> int:
    """The channel to use: ``explicit``, else the first ECG lead by name preference (or PLETH for ``ppg``)."""
    if explicit is not None:
        if not 0 <= explicit < len(record.channels):
            raise ConfigError(f"record {record.name} has channels 0..{len(record.channels) - 1}", source="--channel")
        return explicit
    names = [c.strip().upper() for c in record.channels]
    preference = ("PLETH", "PPG", "PLE") if kind == "ppg" else _ECG_PREFERENCE
    for wanted in preference:
        if wanted in names:
            return names.index(wanted)
    if kind == "ppg":
        raise ConfigError(f"record {record.name} has no PPG channel (channels: {', '.join(record.channels)})")
    return 0
