"""Checks for the FHIR tests: every resource validated by the ``fhir.resources`` R4B models plus the
required codes and the extension rule those models do not check; a vitals reading builder."""

from __future__ import annotations

import re
from typing import Any

import orjson
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.observation import Observation

from vitalstream.wire import VitalsReading

T0 = 1_790_000_000_000
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
GOOD_SQI = {"ecg": 0.98, "ppg": 0.95}

MODELS: dict[str, Any] = {"Observation": Observation, "DetectedIssue": DetectedIssue, "Communication": Communication}
# Required value-set bindings of the elements we emit. The fhir.resources models check structure and
# primitive formats (ids, dateTimes) but not codes, so a status "done" would pass them.
REQUIRED_CODES: dict[tuple[str, str], frozenset[str]] = {
    ("Observation", "status"): frozenset(
        {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"}
    ),
    ("DetectedIssue", "status"): frozenset(
        {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"}
    ),
    ("DetectedIssue", "severity"): frozenset({"high", "moderate", "low"}),
    ("Communication", "status"): frozenset(
        {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown"}
    ),
    ("Communication", "priority"): frozenset({"routine", "urgent", "asap", "stat"}),
}


def check_extensions(node: object) -> None:
    """ext-1: an extension has a value or sub-extensions, not both; every extension has a url."""
    if isinstance(node, dict):
        for extension in node.get("extension", []):
            values = [key for key in extension if key.startswith("value")]
            assert extension["url"]
            assert bool(values) != bool(extension.get("extension")), extension
            assert len(values) <= 1, extension
        for child in node.values():
            check_extensions(child)
    elif isinstance(node, list):
        for child in node:
            check_extensions(child)


def validate(resource: dict[str, Any]) -> Any:
    """Validate with the R4B model, the required bindings and ext-1; also survive a JSON round trip."""
    kind = resource["resourceType"]
    model = MODELS[kind].model_validate(resource)
    assert FHIR_ID.fullmatch(resource["id"])
    for (of, element), allowed in REQUIRED_CODES.items():
        if of == kind and element in resource:
            assert resource[element] in allowed, (kind, element, resource[element])
    check_extensions(resource)
    assert orjson.loads(orjson.dumps(resource)) == resource
    return model


def codes(concept: dict[str, Any]) -> list[tuple[str, str]]:
    return [(coding["system"], coding["code"]) for coding in concept["coding"]]


def reading(vitals: dict[str, float], **fields: Any) -> VitalsReading:
    return VitalsReading("p-1", "d-1", fields.pop("seq", 42), fields.pop("ts_ms", T0 + 123), vitals, **fields)
