"""FHIR R4B resources for vitals and alerts: every resource validated by the ``fhir.resources`` R4B models,
plus the codes, values, ids and state mappings those models do not check."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.observation import Observation
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.fhir import ALERT_KIND_SYSTEM, alert_resources, fhir_id, fhir_topic, vitals_observations
from stream_processor.core import ProcessorCore
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream.wire import (
    AlertAction,
    AlertCommand,
    AlertEvent,
    AlertState,
    Priority,
    Resolution,
    Transition,
    VitalsReading,
)
from vitalstream.wire.codec import SQI_CHANNELS, decode_vitals, encode_vitals
from vitalstream.wire.messages import Observation as NurseObservation
from vitalstream.wire.topics import vitals_topic
from vitalstream.wire.vitals import VITALS, VitalSpec

T0 = 1_790_000_000_000
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
PROFILE = "http://hl7.org/fhir/StructureDefinition/"
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
GOOD_SQI = {"ecg": 0.98, "ppg": 0.95}
ROOT = Path(__file__).resolve().parent.parent

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


def by_code(observations: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {obs["code"]["coding"][0]["code"]: obs for obs in observations}


def reading(vitals: dict[str, float], **fields: Any) -> VitalsReading:
    return VitalsReading("p-1", "d-1", fields.pop("seq", 42), fields.pop("ts_ms", T0 + 123), vitals, **fields)


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


# ---------------------------------------------------------------- alerts from a real processor core


def run_core() -> list[AlertEvent]:
    """Every alert transition, from a real core: heart rate 170/min for several patients, nurses' commands."""
    core = ProcessorCore(
        limits=LimitsSettings(),
        alerting=AlertingSettings(escalate_after_s=10),
        ward_of=lambda _p: "icu",
        horizon_s=300,
    )
    events: list[AlertEvent] = []

    def feed(patient: str, hrs: list[float], *, lag_ms: int = 0) -> None:
        for seq, hr in enumerate(hrs):
            ts = T0 + seq * 1000
            outcome = core.on_reading(
                VitalsReading(patient, "d-1", seq, ts, {"hr": hr}, sqi=GOOD_SQI), now_ms=ts + lag_ms
            )
            events.extend(outcome.events)

    def command(n: int, action: AlertAction, patient: str, at_s: int) -> None:
        alert_id = next(e.alert.alert_id for e in events if e.alert.patient == patient)
        events.extend(
            core.on_command(AlertCommand(f"c-{n}", action, alert_id, patient, "nurse-7", T0 + at_s * 1000)).events
        )

    feed("p-1", [170.0] * 20)  # raised, then escalated after 10 s unacknowledged
    command(1, AlertAction.ACKNOWLEDGE, "p-1", 21)
    command(2, AlertAction.RESOLVE, "p-1", 22)
    feed("p-2", [170.0] * 8)
    command(3, AlertAction.FALSE_ALARM, "p-2", 9)
    feed("p-3", [170.0] * 8 + [80.0] * 8)  # clears by itself, then a nurse calls it a false alarm
    command(4, AlertAction.FALSE_ALARM, "p-3", 30)
    feed("p-4", [170.0] * 8, lag_ms=3_600_000)  # an hour-old backlog: retrospective
    news2: dict[str, float | str | bool] = {
        "respiration_rate": 30,
        "spo2": 88,
        "systolic_bp": 85,
        "pulse": 135,
        "consciousness": "V",
    }
    events.extend(core.on_observation(NurseObservation("p-5", "obs-1", T0, news2), now_ms=T0).events)
    return events


@pytest.fixture(scope="module")
def core_events() -> list[AlertEvent]:
    return run_core()


def event(events: list[AlertEvent], patient: str, transition: Transition) -> AlertEvent:
    [found] = [e for e in events if e.alert.patient == patient and e.transition is transition]
    return found


def resources(e: AlertEvent) -> dict[str, dict[str, Any]]:
    emitted = alert_resources(e)
    for resource in emitted:
        validate(resource)
    by_type = {resource["resourceType"]: resource for resource in emitted}
    assert len(by_type) == len(emitted)
    return by_type


def facts(issue: dict[str, Any]) -> dict[str, Any]:
    [alert] = issue["extension"]
    return {
        sub["url"]: next(value for key, value in sub.items() if key.startswith("value")) for sub in alert["extension"]
    }


def test_the_core_run_covers_every_transition(core_events: list[AlertEvent]) -> None:
    seen = {(e.alert.patient, e.transition) for e in core_events}
    assert seen == {
        ("p-1", Transition.RAISED),
        ("p-1", Transition.ESCALATED),
        ("p-1", Transition.ACKNOWLEDGED),
        ("p-1", Transition.RESOLVED),
        ("p-2", Transition.RAISED),
        ("p-2", Transition.FALSE_ALARM),
        ("p-3", Transition.RAISED),
        ("p-3", Transition.RESOLVED),
        ("p-3", Transition.FALSE_ALARM),
        ("p-4", Transition.RAISED),
        ("p-5", Transition.RAISED),
    }
    for e in core_events:
        resources(e)


def test_raised_alert_is_a_preliminary_detected_issue_and_a_stat_page(core_events: list[AlertEvent]) -> None:
    e = event(core_events, "p-1", Transition.RAISED)
    emitted = resources(e)
    assert list(emitted) == ["DetectedIssue", "Communication"]
    issue, page = emitted["DetectedIssue"], emitted["Communication"]
    assert issue["id"] == e.alert.alert_id
    assert issue["identifier"][0]["value"] == e.alert.alert_id
    assert issue["status"] == "preliminary"
    assert issue["severity"] == "high"
    assert codes(issue["code"]) == [(ALERT_KIND_SYSTEM, "hr_high")]
    assert issue["patient"]["reference"] == "Patient/p-1"
    assert issue["identifiedDateTime"] == "2026-09-21T14:13:26.000Z"  # raised 6 s after the first reading
    assert issue["detail"] == e.alert.explanation.summary
    assert "hard limit of 150 /min" in issue["detail"]
    assert codes(issue["evidence"][0]["code"][0]) == [(LOINC, "8867-4")]
    assert issue["evidence"][0]["detail"][0]["reference"] == "Device/d-1"
    assert "mitigation" not in issue
    about = facts(issue)
    assert about["state"] == "active"
    assert about["transition"] == "raised"
    assert about["onset"] == "2026-09-21T14:13:20.000Z"
    assert about["rule"] == "hard_limit:hr_high"
    assert about["value"] == {"value": 170.0, "unit": "/min", "system": UCUM, "code": "/min"}
    assert about["limit"]["value"] == 150.0

    assert page["status"] == "completed"
    assert page["priority"] == "stat"
    assert page["about"] == [{"reference": f"DetectedIssue/{issue['id']}"}]
    assert page["subject"]["reference"] == "Patient/p-1"
    assert page["sent"] == "2026-09-21T14:13:26.000Z"
    assert page["payload"][0]["contentString"] == e.alert.explanation.summary + "."
    assert page["category"][0]["coding"][0]["code"] == "raised"


def test_escalation_pages_again_with_its_own_communication(core_events: list[AlertEvent]) -> None:
    raised = resources(event(core_events, "p-1", Transition.RAISED))
    escalated = resources(event(core_events, "p-1", Transition.ESCALATED))
    issue, page = escalated["DetectedIssue"], escalated["Communication"]
    assert issue["id"] == raised["DetectedIssue"]["id"]  # the same issue, a new version
    assert issue["status"] == "preliminary"
    assert facts(issue)["escalated"] is True
    assert page["id"] != raised["Communication"]["id"]
    assert page["priority"] == "stat"
    assert page["sent"] == "2026-09-21T14:13:36.000Z"
    assert page["payload"][0]["contentString"].startswith("Escalated, unacknowledged for 10 s: Heart rate 170")
    assert page["category"][0]["coding"][0]["code"] == "escalated"


def test_acknowledgement_is_a_mitigation_with_who_and_when(core_events: list[AlertEvent]) -> None:
    emitted = resources(event(core_events, "p-1", Transition.ACKNOWLEDGED))
    assert list(emitted) == ["DetectedIssue"]  # acknowledging pages nobody
    issue = emitted["DetectedIssue"]
    assert issue["status"] == "preliminary"
    assert facts(issue)["state"] == "acknowledged"
    [ack] = issue["mitigation"]
    assert ack["action"]["coding"][0]["code"] == "acknowledge"
    assert ack["author"]["identifier"]["value"] == "nurse-7"
    assert ack["date"] == "2026-09-21T14:13:41.000Z"


def test_resolution_by_a_clinician_is_final_and_keeps_the_acknowledgement(core_events: list[AlertEvent]) -> None:
    emitted = resources(event(core_events, "p-1", Transition.RESOLVED))
    assert list(emitted) == ["DetectedIssue"]
    issue = emitted["DetectedIssue"]
    assert issue["status"] == "final"
    assert facts(issue)["resolution"] == "resolved"
    assert facts(issue)["resolved"] == "2026-09-21T14:13:42.000Z"
    ack, resolve = issue["mitigation"]
    assert ack["action"]["coding"][0]["code"] == "acknowledge"
    assert "date" not in ack  # the alert keeps who acknowledged, not when: not invented here
    assert resolve["action"]["coding"][0]["code"] == "resolve"
    assert resolve["date"] == "2026-09-21T14:13:42.000Z"
    assert resolve["author"]["identifier"]["value"] == "nurse-7"


def test_a_cleared_alert_is_final_without_a_mitigation(core_events: list[AlertEvent]) -> None:
    issue = resources(event(core_events, "p-3", Transition.RESOLVED))["DetectedIssue"]
    assert issue["status"] == "final"
    assert facts(issue)["resolution"] == Resolution.CLEARED.value
    assert "mitigation" not in issue


@pytest.mark.parametrize("patient", ["p-2", "p-3"])
def test_a_false_alarm_is_entered_in_error(core_events: list[AlertEvent], patient: str) -> None:
    e = event(core_events, patient, Transition.FALSE_ALARM)
    emitted = resources(e)
    assert list(emitted) == ["DetectedIssue"]
    issue = emitted["DetectedIssue"]
    assert issue["id"] == event(core_events, patient, Transition.RAISED).alert.alert_id
    assert issue["status"] == "entered-in-error"
    assert facts(issue)["resolution"] == "false_alarm"
    [call] = issue["mitigation"]
    assert call["action"]["coding"][0]["code"] == "false_alarm"
    assert call["author"]["identifier"]["value"] == "nurse-7"
    assert call["date"] == "2026-09-21T14:13:" + ("29.000Z" if patient == "p-2" else "50.000Z")


def test_a_retrospective_alert_is_recorded_but_its_page_is_not_done(core_events: list[AlertEvent]) -> None:
    e = event(core_events, "p-4", Transition.RAISED)
    assert e.alert.retrospective
    emitted = resources(e)
    assert facts(emitted["DetectedIssue"])["retrospective"] is True
    page = emitted["Communication"]
    assert page["status"] == "not-done"
    assert "sent" not in page
    assert "retrospective" in page["statusReason"]["text"]


def test_news2_page_carries_the_recommended_response(core_events: list[AlertEvent]) -> None:
    e = event(core_events, "p-5", Transition.RAISED)
    assert e.alert.explanation.response
    emitted = resources(e)
    issue, page = emitted["DetectedIssue"], emitted["Communication"]
    assert codes(issue["code"]) == [(ALERT_KIND_SYSTEM, "news2")]
    assert "evidence" in issue
    assert "code" not in issue["evidence"][0]  # NEWS2 is not about one vital
    assert facts(issue)["response"] == e.alert.explanation.response
    text = page["payload"][0]["contentString"]
    assert text.startswith(e.alert.explanation.summary)
    assert "Recommended response: Emergency response" in text


@pytest.mark.parametrize(
    ("priority", "severity", "urgency"),
    [(Priority.HIGH, "high", "stat"), (Priority.MEDIUM, "moderate", "urgent"), (Priority.LOW, "low", "routine")],
)
def test_priority_maps_to_severity_and_communication_priority(
    core_events: list[AlertEvent], priority: Priority, severity: str, urgency: str
) -> None:
    raised = event(core_events, "p-2", Transition.RAISED)
    e = dataclasses.replace(raised, alert=dataclasses.replace(raised.alert, priority=priority))
    emitted = resources(e)
    assert emitted["DetectedIssue"]["severity"] == severity
    assert emitted["Communication"]["priority"] == urgency


def test_alert_resources_are_deterministic_across_replays(core_events: list[AlertEvent]) -> None:
    replayed = run_core()
    assert [alert_resources(e) for e in replayed] == [alert_resources(e) for e in core_events]
    pages = [r["id"] for e in core_events for r in alert_resources(e) if r["resourceType"] == "Communication"]
    assert len(pages) == len(set(pages))


def test_an_alert_id_that_is_not_a_fhir_id_still_gives_a_valid_issue(core_events: list[AlertEvent]) -> None:
    raised = event(core_events, "p-1", Transition.RAISED)
    odd = dataclasses.replace(raised, alert=dataclasses.replace(raised.alert, alert_id="alert_7", patient="bed_3"))
    emitted = resources(odd)
    issue = emitted["DetectedIssue"]
    assert issue["id"] == fhir_id("alert_7")
    assert issue["identifier"][0]["value"] == "alert_7"
    assert emitted["Communication"]["about"] == [{"reference": f"DetectedIssue/{fhir_id('alert_7')}"}]
    assert issue["patient"]["reference"] == f"Patient/{fhir_id('bed_3')}"


def test_active_and_acknowledged_states_are_both_preliminary(core_events: list[AlertEvent]) -> None:
    raised = event(core_events, "p-2", Transition.RAISED)
    for state in (AlertState.ACTIVE, AlertState.ACKNOWLEDGED):
        e = dataclasses.replace(raised, alert=dataclasses.replace(raised.alert, state=state))
        assert alert_resources(e)[0]["status"] == "preliminary"


# ---------------------------------------------------------------- topics and packaging


def test_fhir_topic_names_ward_patient_and_resource_type(core_events: list[AlertEvent]) -> None:
    [obs] = vitals_observations(reading({"hr": 60.0}))
    assert fhir_topic(obs, "icu", "p-1") == "fhir/v1/icu/p-1/Observation"
    issue, page = alert_resources(event(core_events, "p-1", Transition.RAISED))
    assert fhir_topic(issue, "icu", "p-1") == "fhir/v1/icu/p-1/DetectedIssue"
    assert fhir_topic(page, "icu", "p-1") == "fhir/v1/icu/p-1/Communication"
    for bad in ({}, {"resourceType": "obs/+"}, {"resourceType": 3}):
        with pytest.raises(ValueError, match="resourceType"):
            fhir_topic(bad, "icu", "p-1")


def test_the_module_is_pure_and_stays_out_of_the_edge() -> None:
    tree = ast.parse((ROOT / "alerts" / "fhir.py").read_text())
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    roots = {name.split(".")[0] for name in imported}
    # No I/O, clock or third-party modules: the wire contract and a few pure standard modules.
    assert roots <= {"__future__", "hashlib", "re", "collections", "dataclasses", "typing", "vitalstream"}
    assert all(name.startswith("vitalstream.wire") for name in imported if name.startswith("vitalstream"))
    for path in (ROOT / "edge_agent").rglob("*.py"):
        assert "alerts.fhir" not in path.read_text(), path
