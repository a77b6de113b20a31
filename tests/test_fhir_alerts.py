"""FHIR R4B DetectedIssue and Communication resources for alerts from a real processor core: every
transition, its state mapping and pages; the topics FHIR resources travel on; the module's purity."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from alerts.fhir import ALERT_KIND_SYSTEM, alert_resources, fhir_id, fhir_topic, vitals_observations
from stream_processor.core import ProcessorCore
from tests.fhir_checks import GOOD_SQI, LOINC, T0, UCUM, codes, reading, validate
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
from vitalstream.wire.messages import Observation as NurseObservation

ROOT = Path(__file__).resolve().parent.parent


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
