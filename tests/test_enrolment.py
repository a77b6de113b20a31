"""The enrolment file: what it accepts, and a precise error for everything it does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vitalstream.enrolment import Enrolment, load_enrolment, parse_enrolment
from vitalstream.errors import ConfigError

VALID: dict[str, Any] = {
    "version": 1,
    "patients": {"p-1": "ward-1", "p-2": "ward-1", "p-9": "ward-2"},
    "edge": [
        {"name": "edge-1", "devices": {"d-1": "p-1", "d-1b": "p-1"}},
        {"name": "edge-9", "devices": {"d-9": "p-9"}},
    ],
    "processor": [{"name": "processor"}],
    "station": [{"name": "station-ward-1", "ward": "ward-1"}],
    "integrator": [{"name": "telemed", "wards": ["ward-1", "ward-2"]}],
}


def _with(**changes: object) -> dict[str, Any]:
    return {**VALID, **changes}


def test_a_valid_file_is_read_into_frozen_facts(tmp_path: Path) -> None:
    file = tmp_path / "enrolment.toml"
    file.write_text(
        """
version = 1
[patients]
p-1 = "ward-1"
[[edge]]
name = "edge-1"
devices = { d-1 = "p-1" }
[[station]]
name = "s-1"
ward = "ward-1"
""",
        encoding="utf-8",
    )
    enrolment = load_enrolment(file)
    assert enrolment.patients == {"p-1": "ward-1"}
    assert [(e.name, dict(e.devices)) for e in enrolment.edges] == [("edge-1", {"d-1": "p-1"})]
    assert [(s.name, s.ward) for s in enrolment.stations] == [("s-1", "ward-1")]
    assert enrolment.processors == ()
    assert enrolment.names == ("edge-1", "s-1")


def test_wards_list_their_patients_in_a_stable_order() -> None:
    enrolment = parse_enrolment(VALID, source="t")
    assert enrolment.patients_of("ward-1") == ("p-1", "p-2")
    assert enrolment.patients_of("ward-2") == ("p-9",)
    assert enrolment.patients_of("ward-3") == ()
    assert enrolment.integrators[0].wards == ("ward-1", "ward-2")
    assert parse_enrolment({"version": 1}, source="t") == Enrolment()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (_with(version=2), "version must be 1"),
        ({k: v for k, v in VALID.items() if k != "version"}, "version must be 1"),
        (_with(stations=[]), "unknown key(s) stations"),
        (_with(patients={"p-1": 3}), "must be a table of strings"),
        (_with(patients={"p-+": "ward-1"}), "'p-+' is not 1-64 characters"),
        (_with(patients={"p-1": "ward/#"}), "'ward/#' is not 1-64 characters"),
        (_with(edge=[{"name": "e", "devices": {"d-1": "p-404"}}]), "patient p-404 is not admitted"),
        (_with(edge=[{"name": "e", "devices": {"d-1": "p-1"}, "ward": "w"}]), "unknown key(s) ward"),
        (_with(edge=[{"devices": {"d-1": "p-1"}}]), "missing name"),
        (_with(edge={"name": "e"}), "must be an array of tables"),
        (_with(station=[{"name": "s", "ward": "+"}]), "'+' is not 1-64 characters"),
        (_with(station=[{"name": "s"}]), "missing ward"),
        (_with(integrator=[{"name": "i", "wards": []}]), "non-empty list of wards"),
        (_with(integrator=[{"name": "i", "wards": "ward-1"}]), "non-empty list of wards"),
        (_with(processor=[{"name": "station-ward-1"}]), "identity station-ward-1 is enrolled twice"),
        (_with(processor=[{"name": "access-admin"}]), "access-admin is reserved"),
        (_with(processor=[{"name": 7}]), "must be a string (got int)"),
        (
            _with(edge=[{"name": "a", "devices": {"d-1": "p-1"}}, {"name": "b", "devices": {"d-1": "p-2"}}]),
            "device d-1 is enrolled on both a and b",
        ),
    ],
)
def test_every_mistake_is_refused_with_where_it_is(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"^enrolment\.toml") as error:
        parse_enrolment(document, source="enrolment.toml")
    assert message in str(error.value)


def test_unreadable_and_malformed_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_enrolment(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("version = = 1", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_enrolment(bad)
