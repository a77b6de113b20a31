"""Enrolment: who may use the bus and for what, read from one small TOML file.

Every broker identity is listed here, and nothing else gets in: ``vitalstream access`` turns this file
into the broker's clients, roles and ACLs (``vitalstream_app.access``). The file names identities and
pseudonyms only (no names of people, no secrets), so it can live in version control::

    version = 1

    [patients]                       # admitted patients: pseudonym -> ward
    p-3f2a91c0 = "ward-1"

    [[edge]]                         # an edge agent (phone, bedside gateway, Pi): one broker identity
    name = "edge-bed-12"
    devices = { d-81be0c2a = "p-3f2a91c0" }   # the devices it speaks for: device -> patient

    [[processor]]
    name = "processor"

    [[station]]                      # a nurse station process: reads and commands one ward
    name = "station-ward-1"
    ward = "ward-1"

    [[integrator]]                   # a telemedicine platform: follows alert events and FHIR of its wards
    name = "telemed-north"
    wards = ["ward-1"]

Names become broker user names (and client ids), so each running process needs its own. Unknown keys
are errors, as in the settings: a typo must not silently leave a device unenrolled.

>>> e = parse_enrolment({"version": 1, "patients": {"p-1": "w-1"},
...                      "edge": [{"name": "e-1", "devices": {"d-1": "p-1"}}]}, source="example")
>>> e.edges[0].devices, e.patients_of("w-1")
({'d-1': 'p-1'}, ('p-1',))
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vitalstream.errors import ConfigError
from vitalstream.wire.errors import RejectedMessage
from vitalstream.wire.topics import check_id

__all__ = [
    "RESERVED_NAMES",
    "EdgeEnrolment",
    "Enrolment",
    "IntegratorEnrolment",
    "StationEnrolment",
    "load_enrolment",
    "parse_enrolment",
]

# Identities ``vitalstream access`` adds by itself: the one that administers the broker's access control
# at run time, and the one a broker health check logs in as.
RESERVED_NAMES = frozenset({"access-admin", "broker-health"})

_TOP_LEVEL = {"version", "patients", "edge", "processor", "station", "integrator"}


@dataclass(frozen=True, slots=True)
class EdgeEnrolment:
    """An edge agent's broker identity and the devices it publishes for (device -> patient)."""

    name: str
    devices: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class StationEnrolment:
    name: str
    ward: str


@dataclass(frozen=True, slots=True)
class IntegratorEnrolment:
    name: str
    wards: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Enrolment:
    """The parsed file. ``patients`` maps each admitted patient to a ward."""

    patients: Mapping[str, str] = field(default_factory=dict)
    edges: tuple[EdgeEnrolment, ...] = ()
    processors: tuple[str, ...] = ()
    stations: tuple[StationEnrolment, ...] = ()
    integrators: tuple[IntegratorEnrolment, ...] = ()

    def patients_of(self, ward: str) -> tuple[str, ...]:
        """The ward's admitted patients, sorted (a stable order makes generated ACLs diff cleanly)."""
        return tuple(sorted(patient for patient, where in self.patients.items() if where == ward))

    @property
    def names(self) -> tuple[str, ...]:
        """Every enrolled identity, in file order by kind."""
        return (
            *(edge.name for edge in self.edges),
            *self.processors,
            *(station.name for station in self.stations),
            *(integrator.name for integrator in self.integrators),
        )


def load_enrolment(path: str | Path) -> Enrolment:
    """Read and check the enrolment file at ``path``."""
    file = Path(path)
    try:
        document = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source=str(file)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(file)) from None
    return parse_enrolment(document, source=str(file))


def parse_enrolment(document: Mapping[str, object], *, source: str) -> Enrolment:
    """Check a parsed document; every error names the entry and the key at fault."""
    unknown = sorted(set(document) - _TOP_LEVEL)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_TOP_LEVEL))}", source=source)
    if document.get("version") != 1:
        raise ConfigError("version must be 1", source=f"{source}: version")
    patients = {
        _id(patient, f"{source}: patients"): _id(ward, f"{source}: patients.{patient}")
        for patient, ward in _table(document.get("patients", {}), f"{source}: patients").items()
    }
    edges = tuple(_edge(entry, f"{source}: edge[{i}]", patients) for i, entry in _entries(document, "edge", source))
    processors = tuple(_name(entry, where) for where, entry in _named(document, "processor", source))
    stations = tuple(
        StationEnrolment(name=_name(entry, where), ward=_id(entry.get("ward"), f"{where}.ward"))
        for where, entry in _named(document, "station", source, keys={"name", "ward"})
    )
    integrators = tuple(
        IntegratorEnrolment(name=_name(entry, where), wards=_wards(entry.get("wards"), f"{where}.wards"))
        for where, entry in _named(document, "integrator", source, keys={"name", "wards"})
    )
    enrolment = Enrolment(
        patients=patients, edges=edges, processors=processors, stations=stations, integrators=integrators
    )
    _check_unique(enrolment, source)
    return enrolment


def _entries(document: Mapping[str, object], kind: str, source: str) -> list[tuple[int, Mapping[str, object]]]:
    raw = document.get(kind, [])
    if not isinstance(raw, list) or not all(isinstance(entry, dict) for entry in raw):
        raise ConfigError(f"[[{kind}]] must be an array of tables", source=f"{source}: {kind}")
    return list(enumerate(raw))


def _named(
    document: Mapping[str, object], kind: str, source: str, *, keys: set[str] | None = None
) -> list[tuple[str, Mapping[str, object]]]:
    found = []
    for i, entry in _entries(document, kind, source):
        where = f"{source}: {kind}[{i}]"
        found.append((where, _keys(entry, keys or {"name"}, where)))
    return found


def _keys(entry: Mapping[str, object], allowed: set[str], where: str) -> Mapping[str, object]:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}", source=where)
    missing = sorted(allowed - set(entry))
    if missing:
        raise ConfigError(f"missing {', '.join(missing)}", source=where)
    return entry


def _edge(entry: Mapping[str, object], where: str, patients: Mapping[str, str]) -> EdgeEnrolment:
    _keys(entry, {"name", "devices"}, where)
    devices: dict[str, str] = {}
    for device, patient in _table(entry["devices"], f"{where}.devices").items():
        _id(device, f"{where}.devices")
        if _id(patient, f"{where}.devices.{device}") not in patients:
            # The patient's ward decides who may see the readings; an unadmitted patient has none.
            raise ConfigError(f"patient {patient} is not admitted (not in [patients])", source=f"{where}.devices")
        devices[device] = patient
    return EdgeEnrolment(name=_name(entry, where), devices=devices)


def _table(value: object, where: str) -> Mapping[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError("must be a table of strings", source=where)
    return value


def _wards(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError("must be a non-empty list of wards", source=where)
    return tuple(_id(ward, where) for ward in value)


def _name(entry: Mapping[str, object], where: str) -> str:
    name = _id(entry.get("name"), f"{where}.name")
    if name in RESERVED_NAMES:
        raise ConfigError(f"{name} is reserved for vitalstream access itself", source=f"{where}.name")
    return name


def _id(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"must be a string (got {type(value).__name__})", source=where)
    try:
        return check_id(value, field="id")
    except RejectedMessage:
        # It becomes part of a topic filter: "+" or "#" would widen an ACL to other patients or wards.
        raise ConfigError(f"{value!r} is not 1-64 characters of A-Za-z0-9_.-", source=where) from None


def _check_unique(enrolment: Enrolment, source: str) -> None:
    seen: set[str] = set()
    for name in enrolment.names:
        if name in seen:
            raise ConfigError(f"identity {name} is enrolled twice (one name per running process)", source=source)
        seen.add(name)
    owner: dict[str, str] = {}
    for edge in enrolment.edges:
        for device in edge.devices:
            if device in owner:
                raise ConfigError(f"device {device} is enrolled on both {owner[device]} and {edge.name}", source=source)
            owner[device] = edge.name
