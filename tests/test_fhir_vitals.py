"""FHIR R4B Observations for vitals: vital-signs profiles, LOINC and UCUM codes, the blood-pressure panel,
signal quality and model, deterministic ids; every resource validated by the R4B models."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.fhir import fhir_id, vitals_observations
from tests.fhir_checks import FHIR_ID, GOOD_SQI, LOINC, T0, UCUM, codes, reading, validate
from vitalstream.wire import VitalsReading
from vitalstream.wire.codec import SQI_CHANNELS, decode_vitals, encode_vitals
from vitalstream.wire.topics import vitals_topic
from vitalstream.wire.vitals import VITALS, VitalSpec

CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
PROFILE = "http://hl7.org/fhir/StructureDefinition/"


def by_code(observations: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {obs["code"]["coding"][0]["code"]: obs for obs in observations}


# ---------------------------------------------------------------- vitals

# Written out from DESIGN.md and the FHIR vital-signs profiles, not derived from the module under test.
SINGLE_VITALS = [
    # key, value, LOINC codes (wire contract's first), UCUM code, specific profile
    ("hr", 72.0, ["8867-4"], "/min", "heartrate"),
    ("pr", 71.0, ["8889-8", "8867-4"], "/min", "heartrate"),
    ("spo2", 97.0, ["59408-5", "2708-6"], "%", "oxygensat"),
    ("rr", 14.0, ["9279-1"], "/min", "resprate"),
    ("temp", 36.8, ["8310-5"], "Cel", "bodytemp"),
]


@pytest.mark.parametrize(("key", "value", "loinc", "ucum", "profile"), SINGLE_VITALS)
def test_each_vital_is_a_vital_signs_observation_with_loinc_and_ucum(
    key: str, value: float, loinc: list[str], ucum: str, profile: str
) -> None:
    [obs] = vitals_observations(reading({key: value}, sqi=GOOD_SQI))
    validate(obs)
    assert obs["resourceType"] == "Observation"
    assert obs["meta"]["profile"] == [PROFILE + "vitalsigns", PROFILE + profile]
    assert obs["status"] == "final"
    assert codes(obs["category"][0]) == [(CATEGORY, "vital-signs")]
    assert codes(obs["code"]) == [(LOINC, code) for code in loinc]
    assert obs["valueQuantity"]["value"] == value
    assert (obs["valueQuantity"]["system"], obs["valueQuantity"]["code"]) == (UCUM, ucum)
    assert obs["subject"]["reference"] == "Patient/p-1"
    assert obs["device"]["reference"] == "Device/d-1"
    assert obs["effectiveDateTime"] == "2026-09-21T14:13:20.123Z"
    assert "component" not in obs


def test_systolic_and_diastolic_become_one_blood_pressure_panel() -> None:
    observations = vitals_observations(reading({"sbp": 128.0, "dbp": 84.0}))
    assert len(observations) == 1
    [panel] = observations
    validate(panel)
    assert panel["meta"]["profile"] == [PROFILE + "vitalsigns", PROFILE + "bp"]
    assert codes(panel["code"]) == [(LOINC, "85354-9")]
    assert "valueQuantity" not in panel  # obs-7: the panel's value is in its components
    systolic, diastolic = panel["component"]
    assert codes(systolic["code"]) == [(LOINC, "8480-6")]
    assert codes(diastolic["code"]) == [(LOINC, "8462-4")]
    assert systolic["valueQuantity"] == {"value": 128.0, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}
    assert diastolic["valueQuantity"] == {"value": 84.0, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}


@pytest.mark.parametrize(("present", "absent"), [("sbp", "dbp"), ("dbp", "sbp")])
def test_one_sided_blood_pressure_keeps_the_panel_and_says_what_is_missing(present: str, absent: str) -> None:
    [panel] = vitals_observations(reading({present: 90.0}))
    validate(panel)
    by_vital = {component["code"]["coding"][0]["code"]: component for component in panel["component"]}
    assert by_vital[VITALS[present].loinc]["valueQuantity"]["value"] == 90.0
    missing = by_vital[VITALS[absent].loinc]
    assert "valueQuantity" not in missing
    assert missing["dataAbsentReason"]["coding"][0]["code"] == "unknown"


def test_a_full_reading_gives_one_observation_per_vital_in_contract_order() -> None:
    vitals = {"dbp": 80.0, "sbp": 120.0, "temp": 36.9, "rr": 16.0, "spo2": 98.0, "pr": 70.0, "hr": 71.0}
    observations = vitals_observations(reading(vitals))
    for obs in observations:
        validate(obs)
    assert [obs["code"]["coding"][0]["code"] for obs in observations] == [
        "8867-4",
        "8889-8",
        "59408-5",
        "9279-1",
        "8310-5",
        "85354-9",
    ]
    # Every LOINC code of the wire contract appears, so a vital added to VITALS cannot vanish unnoticed.
    emitted = {
        coding["code"]
        for obs in observations
        for concept in [obs["code"], *(c["code"] for c in obs.get("component", []))]
        for coding in concept["coding"]
    }
    assert {spec.loinc for spec in VITALS.values()} <= emitted


def test_missing_vitals_make_no_observations() -> None:
    assert vitals_observations(reading({})) == []
    observations = vitals_observations(reading({"temp": 38.2, "hr": 88.0}))
    assert sorted(by_code(observations)) == ["8310-5", "8867-4"]


def test_an_unknown_vital_is_an_error_not_a_silent_drop() -> None:
    with pytest.raises(ValueError, match="glucose"):
        vitals_observations(reading({"hr": 70.0, "glucose": 5.4}))


def test_a_vital_added_to_the_contract_but_not_mapped_keeps_its_contract_code(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = VitalSpec("etco2", "End-tidal CO2", "19889-5", "mm[Hg]", 0.0, 150.0, "test-only vital")
    monkeypatch.setitem(VITALS, "etco2", spec)
    [obs] = vitals_observations(reading({"etco2": 38.0}))
    validate(obs)
    assert obs["meta"]["profile"] == [PROFILE + "vitalsigns"]  # no specific profile to claim
    assert obs["code"] == {"coding": [{"system": LOINC, "code": "19889-5"}], "text": "End-tidal CO2"}
    assert obs["valueQuantity"] == {"value": 38.0, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"}


def test_signal_quality_and_model_travel_with_the_observation() -> None:
    [obs] = vitals_observations(reading({"hr": 64.0}, sqi={"ppg": 0.4, "ecg": 0.97}, models={"hr": "qrs-adaptive@1.0"}))
    validate(obs)
    [sqi] = obs["extension"]
    assert sqi["url"].endswith("/signal-quality")
    assert sqi["extension"] == [{"url": "ecg", "valueDecimal": 0.97}, {"url": "ppg", "valueDecimal": 0.4}]
    assert obs["method"] == {"text": "model qrs-adaptive@1.0"}
    [bare] = vitals_observations(reading({"hr": 64.0}))
    assert "extension" not in bare
    assert "method" not in bare


def test_observation_ids_are_deterministic_and_name_the_reading() -> None:
    vitals = {"hr": 70.0, "spo2": 97.0, "sbp": 120.0, "dbp": 80.0}
    first = vitals_observations(reading(vitals, seq=5))
    # A redelivery, as it arrives off the wire, maps to the very same resources.
    redelivered = decode_vitals(vitals_topic("p-1", "d-1"), encode_vitals(reading(vitals, seq=5)))
    assert vitals_observations(redelivered) == first
    ids = [obs["id"] for obs in first]
    assert len(set(ids)) == 3
    assert first[0]["identifier"] == [
        {
            "system": "https://vitalstream.example/fhir/NamingSystem/vitals-observation",
            "value": "p-1|d-1|5|2026-09-21T14:13:20.123Z|hr",
        }
    ]
    # Another reading, or the same sequence number after a device reset (later time), is another resource.
    assert vitals_observations(reading(vitals, seq=6))[0]["id"] not in ids
    assert vitals_observations(reading(vitals, seq=5, ts_ms=T0 + 3_600_000))[0]["id"] not in ids


def test_pseudonyms_that_are_not_fhir_ids_are_hashed_and_kept_as_identifiers() -> None:
    assert fhir_id("p-3f2a") == "p-3f2a"
    hashed = fhir_id("bed_12")
    assert FHIR_ID.fullmatch(hashed)
    assert hashed.startswith("-")  # pseudonyms start with a letter or digit: no collision with a kept id
    assert hashed == fhir_id("bed_12") != fhir_id("bed_13")
    [obs] = vitals_observations(VitalsReading("bed_12", "dev_1", 1, T0, {"rr": 12.0}))
    validate(obs)
    assert obs["subject"]["reference"] == f"Patient/{hashed}"
    assert obs["subject"]["identifier"]["value"] == "bed_12"
    assert obs["device"]["reference"] == f"Device/{fhir_id('dev_1')}"


_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", fullmatch=True)


@st.composite
def valid_readings(draw: st.DrawFn) -> VitalsReading:
    vitals: dict[str, float] = {}
    for key, spec in VITALS.items():
        if draw(st.booleans()):
            vitals[key] = draw(st.floats(spec.low, spec.high, allow_nan=False, allow_infinity=False))
    if "sbp" in vitals and "dbp" in vitals and vitals["dbp"] >= vitals["sbp"]:
        del vitals["dbp"]  # the codec refuses diastolic >= systolic
    sqi = draw(st.dictionaries(st.sampled_from(sorted(SQI_CHANNELS)), st.floats(0.0, 1.0)))
    return VitalsReading(
        draw(_ids),
        draw(_ids),
        draw(st.integers(0, 2**63 - 1)),
        draw(st.integers(946_684_800_000, 4_102_444_799_999)),
        vitals,
        sqi=sqi,
    )


@settings(max_examples=60)
@given(valid_readings())
def test_any_valid_reading_gives_valid_observations_that_keep_every_value(sample: VitalsReading) -> None:
    observations = vitals_observations(sample)
    has_bp = any(key in sample.vitals for key in ("sbp", "dbp"))
    assert len(observations) == len(set(sample.vitals) - {"sbp", "dbp"}) + has_bp
    assert len({obs["id"] for obs in observations}) == len(observations)
    kept: dict[str, float] = {}
    for obs in observations:
        model = validate(obs)
        assert model.effectiveDateTime is not None
        for part in [obs, *obs.get("component", [])]:
            if "valueQuantity" in part:
                kept[part["code"]["coding"][0]["code"]] = part["valueQuantity"]["value"]
    assert kept == {VITALS[key].loinc: value for key, value in sample.vitals.items()}
    assert vitals_observations(sample) == observations
