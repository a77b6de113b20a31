"""Reading a folder in the PhysioNet/CinC Challenge 2015 layout: an ``ALARMS`` file and WFDB records.

``ALARMS`` has one line per alarm, ``record,alarm type,1|0`` (1: a true alarm, agreed by the expert
annotators); each record is ``RECORD.hea`` with its signal file (``.mat``) beside it. A folder may hold
only some of the records its ``ALARMS`` lists (a subset for a quick run, a test's two records): the
records present are evaluated and the others counted as absent.

>>> parse_alarms("a103l,Asystole,0\\nt108s,Tachycardia,1\\n", source="ALARMS")
(Alarm(record='a103l', type='Asystole', truth=False), Alarm(record='t108s', type='Tachycardia', truth=True))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vitalstream.errors import ConfigError

__all__ = ["ALARM_TYPES", "Alarm", "Layout", "find_layout", "parse_alarms", "read_layout", "signal_names"]

# The challenge's five alarm types, as ``ALARMS`` spells them.
ALARM_TYPES = ("Asystole", "Bradycardia", "Tachycardia", "Ventricular_Tachycardia", "Ventricular_Flutter_Fib")

_SUBFOLDER = "challenge2015-dev"


@dataclass(frozen=True, slots=True)
class Alarm:
    """One bedside-monitor alarm: the record that ends at it, its type, and whether it was true."""

    record: str
    type: str
    truth: bool


@dataclass(frozen=True, slots=True)
class Layout:
    """The alarms whose records are present (in ``ALARMS`` order) and the records listed but absent."""

    directory: Path
    alarms: tuple[Alarm, ...]
    absent: tuple[str, ...]

    @property
    def listed(self) -> int:
        return len(self.alarms) + len(self.absent)

    def header(self, alarm: Alarm) -> Path:
        return self.directory / f"{alarm.record}.hea"


def parse_alarms(text: str, *, source: str) -> tuple[Alarm, ...]:
    """The alarms of an ``ALARMS`` file; blank lines and ``#`` comments are skipped, anything else malformed
    is refused with its line number."""
    alarms: list[Alarm] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 3 or fields[2] not in {"0", "1"} or not fields[0]:
            raise ConfigError(f"line {number}: expected 'record,alarm type,1|0', got {line!r}", source=source)
        record, kind, truth = fields
        if kind not in ALARM_TYPES:
            raise ConfigError(
                f"line {number}: unknown alarm type {kind!r} (one of {', '.join(ALARM_TYPES)})", source=source
            )
        if record in seen:
            raise ConfigError(f"line {number}: record {record} is listed twice", source=source)
        seen.add(record)
        alarms.append(Alarm(record, kind, truth == "1"))
    return tuple(alarms)


def find_layout(path: Path) -> Path:
    """The folder with the ``ALARMS`` file: ``path`` itself, or its ``challenge2015-dev/`` (a PhysioNet data root)."""
    for candidate in (path, path / _SUBFOLDER):
        if (candidate / "ALARMS").is_file():
            return candidate
    raise ConfigError("no ALARMS file here (expected the PhysioNet/CinC Challenge 2015 layout)", source=str(path))


def read_layout(path: Path) -> Layout:
    """The alarms at ``path`` (see :func:`find_layout`), split into records present and absent."""
    directory = find_layout(path)
    alarms = parse_alarms((directory / "ALARMS").read_text(encoding="utf-8"), source=str(directory / "ALARMS"))
    present = tuple(a for a in alarms if (directory / f"{a.record}.hea").is_file())
    absent = tuple(a.record for a in alarms if a not in present)
    return Layout(directory, present, absent)


def signal_names(header: Path) -> tuple[str, ...]:
    """The signal names of a WFDB header (II, V, PLETH, ABP, RESP, ...), read from its text."""
    lines = [
        line.strip()
        for line in header.read_text(encoding="utf-8", errors="replace").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        return ()
    try:
        count = int(lines[0].split()[1])
    except (IndexError, ValueError):
        return ()
    # A signal line's description (its name) is everything after the eighth field.
    return tuple(" ".join(line.split()[8:]) for line in lines[1 : 1 + count])
