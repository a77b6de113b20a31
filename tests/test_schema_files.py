"""The schema files themselves: valid draft 2020-12 documents with their URNs, offline references
only, shared definitions identical, and the contract's tables (vitals, channels, beat classes, enums)
mirrored exactly.
"""

from __future__ import annotations

import json
from importlib import resources

import pytest
from jsonschema import Draft202012Validator

import vitalstream.schemas
from tests.schema_checks import SCHEMAS, URN
from vitalstream.schemas import NAMES, load
from vitalstream.wire import VITALS, AlertAction, AlertState, Priority, RejectReason, Resolution, Transition, topics
from vitalstream.wire.codec import BEAT_CLASSES, SQI_CHANNELS


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_draft_2020_12_with_its_urn(name: str) -> None:
    schema = SCHEMAS[name]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == URN + name
    assert schema["title"].strip()
    assert len(schema["description"]) > 100


def _strings_under(node: object, key: str | None = None) -> list[tuple[str | None, str]]:
    if isinstance(node, dict):
        return [pair for k, v in node.items() for pair in _strings_under(v, k)]
    if isinstance(node, list):
        return [pair for item in node for pair in _strings_under(item, key)]
    return [(key, node)] if isinstance(node, str) else []


@pytest.mark.parametrize("name", NAMES)
def test_schema_names_no_web_host_and_refers_only_by_urn(name: str) -> None:
    for key, text in _strings_under(SCHEMAS[name]):
        if key == "$ref":
            assert text.startswith(("#/$defs/", URN)), text
        if key != "$schema":  # the draft 2020-12 dialect's own identifier, which validators know built in
            assert "://" not in text, (key, text)
            assert "www." not in text, (key, text)


def test_alert_schemas_refer_to_the_alert_schema_instead_of_copying_it() -> None:
    alert_ref = {"$ref": URN + "alert"}
    assert SCHEMAS["alert_state"]["properties"]["alerts"]["items"] == alert_ref
    assert SCHEMAS["alert_event"]["properties"]["alert"]["$ref"] == URN + "alert"
    for name in ("alert_state", "alert_event"):
        assert "explanation" not in json.dumps(SCHEMAS[name])


def test_shared_definitions_are_identical_in_every_schema() -> None:
    for definition in ("identifier", "timestamp", "modelRef"):
        copies = [s["$defs"][definition] for s in SCHEMAS.values() if definition in s.get("$defs", {})]
        assert len(copies) >= 2
        assert all(copy_ == copies[0] for copy_ in copies), definition
    assert SCHEMAS["vitals"]["$defs"]["identifier"]["pattern"] == f"^{topics._ID.pattern}$"


def test_top_level_objects_are_open_but_vitals_sqi_and_beats_are_closed() -> None:
    for name in ("vitals", "alert", "alert_state", "alert_event", "command", "deadletter"):
        assert SCHEMAS[name].get("additionalProperties", True) is True, name
    properties = SCHEMAS["vitals"]["properties"]
    for closed in ("vitals", "sqi", "beats"):
        assert properties[closed]["additionalProperties"] is False, closed
    assert set(properties["sqi"]["properties"]) == SQI_CHANNELS
    assert set(properties["beats"]["properties"]) == BEAT_CLASSES


@pytest.mark.parametrize("key", sorted(VITALS))
def test_vital_entry_mirrors_the_vitals_table(key: str) -> None:
    spec = VITALS[key]
    entry = SCHEMAS["vitals"]["properties"]["vitals"]["properties"][key]
    assert (entry["type"], float(entry["minimum"]), float(entry["maximum"])) == ("number", spec.low, spec.high)
    assert (entry["x-loinc"], entry["x-ucum"], entry["title"]) == (spec.loinc, spec.ucum, spec.name)
    assert f"LOINC {spec.loinc}" in entry["description"]
    assert f"UCUM {spec.ucum}" in entry["description"]
    assert set(SCHEMAS["vitals"]["properties"]["vitals"]["properties"]) == set(VITALS)


def test_enums_mirror_the_message_types() -> None:
    alert = SCHEMAS["alert"]["properties"]
    assert alert["priority"]["enum"] == [member.value for member in Priority]
    assert alert["state"]["enum"] == [member.value for member in AlertState]
    assert alert["resolution"]["enum"] == [*(member.value for member in Resolution), None]
    assert SCHEMAS["alert_event"]["properties"]["transition"]["enum"] == [member.value for member in Transition]
    assert SCHEMAS["command"]["properties"]["action"]["enum"] == [member.value for member in AlertAction]
    deadletter_reasons = SCHEMAS["deadletter"]["properties"]["reason"]["description"]
    assert all(reason.value in deadletter_reasons for reason in RejectReason)


def test_load_knows_exactly_the_shipped_files() -> None:
    shipped = {
        entry.name.removesuffix(".schema.json")
        for entry in resources.files(vitalstream.schemas).iterdir()
        if entry.name.endswith(".schema.json")
    }
    assert shipped == set(NAMES)
    assert load("vitals") is not load("vitals")  # callers may mutate their copy
    with pytest.raises(ValueError, match="unknown schema"):
        load("../pyproject")


def test_all_is_sorted_and_complete() -> None:
    module = vitalstream.schemas
    defined_here = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and (name.isupper() or getattr(value, "__module__", None) == module.__name__)
    }
    assert module.__all__ == sorted(module.__all__)
    assert set(module.__all__) == defined_here == {"NAMES", "load"}
