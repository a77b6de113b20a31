"""Vitals readings and alert events as FHIR R4B resources (JSON-ready dicts), for telemedicine platforms.

Pure: no I/O, no clock. Every time comes from the message, and every ``id`` is derived from the
message's identity, so a redelivered reading or a replayed alert event maps to the *same* resources
(an idempotent ``PUT``, a retained-topic overwrite), never to duplicates.

Vitals follow the FHIR vital-signs profiles: one ``Observation`` per vital with LOINC codes and UCUM
units (heart rate 8867-4 ``/min``, respiratory rate 9279-1 ``/min``, SpO2 59408-5 plus 2708-6 ``%``,
body temperature 8310-5 ``Cel``). Systolic and diastolic pressure become *one* blood-pressure panel
(85354-9) with components 8480-6 / 8462-4 in ``mm[Hg]``, as the ``bp`` profile requires; when a
reading carries only one of them, the other component says why it is absent (``dataAbsentReason``)
rather than breaking the profile. The pulse rate from the oximeter (``pr``, LOINC 8889-8) also
carries 8867-4, the code the heart-rate profile requires. A reading's signal quality is
per channel (ECG, PPG, ...) and the message does not say which channel produced which vital, so each
Observation carries all of the reading's channels in one ``signal-quality`` extension.

Alerts become a ``DetectedIssue`` rather than a ``Flag``. A ``Flag`` is a standing banner about a
patient ("falls risk"), with no severity, no identification time, no place for the evidence or for
what a clinician did about it. A ``DetectedIssue`` is "a clinical issue identified by a system or a
person, with severity, detail, evidence and mitigation", which is exactly an alarm and its
acknowledgement. Its ``status`` (the observation status codes) follows the alert's state:

==============================  ====================  ========================================
alert                           DetectedIssue.status  why
==============================  ====================  ========================================
active, acknowledged            ``preliminary``       open: priority and summary may still change
resolved (cleared or resolved)  ``final``             closed, nothing further is expected
resolved as a false alarm       ``entered-in-error``  "should never have existed": an artefact
==============================  ====================  ========================================

Acknowledging does not make an alert true or finished, so it does not change the status; it is a
``mitigation`` (who, and when on the acknowledging event itself, since the alert keeps no
acknowledgement time), as is a clinician's resolve or false-alarm call. ``severity`` is ``high`` /
``moderate`` / ``low`` from the priority. The alert's own facts (state, resolution, transition,
event number, onset, rule, value and limit) travel losslessly in one ``alert`` extension.

A ``raised`` or ``escalated`` transition also yields a ``Communication`` about the DetectedIssue:
the page itself, with ``priority`` ``stat`` / ``urgent`` / ``routine`` from the alert priority and
the summary plus the recommended response as its text. An alert raised from a backlog
(retrospective) is recorded but does not page a nurse, so its Communication is ``not-done`` with
the reason, instead of claiming a page that never happened.

Identifiers: our pseudonyms allow ``_``, which FHIR ids do not. :func:`fhir_id` keeps an id that is
already valid and replaces any other by ``-`` and a digest; pseudonyms never start with ``-``, so the
two forms cannot collide. Observation and Communication ids are digests of their natural keys
(patient, device, sequence number, device time and vital; alert id and transition), which also
appear readably in ``identifier``. The device time is part of the key because a device that
restarts its counter reuses sequence numbers.

>>> from vitalstream.wire.messages import VitalsReading
>>> reading = VitalsReading("p-1", "d-1", seq=7, ts_ms=1_790_000_000_000, vitals={"hr": 72.0})
>>> [obs] = vitals_observations(reading)
>>> obs["code"]["coding"][0]["code"], obs["valueQuantity"]["code"], obs["effectiveDateTime"]
('8867-4', '/min', '2026-09-21T14:13:20.000Z')
>>> fhir_topic(obs, "icu", "p-1")
'fhir/v1/icu/p-1/Observation'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from vitalstream.wire.messages import AlertEvent, AlertState, Priority, Resolution, Transition, VitalsReading
from vitalstream.wire.timefmt import format_ts
from vitalstream.wire.vitals import VITALS

__all__ = [
    "ALERT_KIND_SYSTEM",
    "LOINC",
    "UCUM",
    "VITAL_SIGNS_PROFILE",
    "FhirResource",
    "alert_resources",
    "fhir_id",
    "fhir_topic",
    "vitals_observations",
]

FhirResource: TypeAlias = dict[str, Any]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
VITAL_SIGNS_PROFILE = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
_PROFILE = "http://hl7.org/fhir/StructureDefinition/"
_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
# Our own code systems and naming systems. The host is a placeholder (RFC 2606 .example): a deployment
# that publishes these definitions replaces it, consumers match on the whole URL.
_BASE = "https://vitalstream.example/fhir"
ALERT_KIND_SYSTEM = f"{_BASE}/CodeSystem/alert-kind"
_ALERT_ACTION_SYSTEM = f"{_BASE}/CodeSystem/alert-action"
_ALERT_TRANSITION_SYSTEM = f"{_BASE}/CodeSystem/alert-transition"
_PATIENT_SYSTEM = f"{_BASE}/NamingSystem/patient"
_DEVICE_SYSTEM = f"{_BASE}/NamingSystem/device"
_CLINICIAN_SYSTEM = f"{_BASE}/NamingSystem/clinician"
_OBSERVATION_SYSTEM = f"{_BASE}/NamingSystem/vitals-observation"
_ALERT_SYSTEM = f"{_BASE}/NamingSystem/alert"
_PAGE_SYSTEM = f"{_BASE}/NamingSystem/alert-page"
_SQI_EXTENSION = f"{_BASE}/StructureDefinition/signal-quality"
_ALERT_EXTENSION = f"{_BASE}/StructureDefinition/alert"

_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")


@dataclass(frozen=True, slots=True)
class _VitalSign:
    """How one wire vital is coded in FHIR. The first coding is the wire contract's LOINC code."""

    profile: str | None  # the specific vital-signs profile, where FHIR defines one
    codings: tuple[tuple[str, str], ...]  # (LOINC code, LOINC display)
    unit: str  # human-readable unit; the UCUM code comes from VITALS


_VITAL_SIGNS: dict[str, _VitalSign] = {
    "hr": _VitalSign("heartrate", (("8867-4", "Heart rate"),), "beats/minute"),
    # The oximeter's pulse rate is a heart rate measured another way: 8867-4 is what the heartrate
    # profile requires, 8889-8 keeps it apart from the ECG's so the two can still be told apart.
    "pr": _VitalSign(
        "heartrate", (("8889-8", "Heart rate by Pulse oximetry"), ("8867-4", "Heart rate")), "beats/minute"
    ),
    "spo2": _VitalSign(
        "oxygensat",
        (
            ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
            ("2708-6", "Oxygen saturation in Arterial blood"),  # required by the oxygensat profile
        ),
        "%",
    ),
    "rr": _VitalSign("resprate", (("9279-1", "Respiratory rate"),), "breaths/minute"),
    "temp": _VitalSign("bodytemp", (("8310-5", "Body temperature"),), "C"),
    "sbp": _VitalSign(None, (("8480-6", "Systolic blood pressure"),), "mmHg"),
    "dbp": _VitalSign(None, (("8462-4", "Diastolic blood pressure"),), "mmHg"),
}
_BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
_BP_PARTS = ("sbp", "dbp")

_SEVERITY = {Priority.HIGH: "high", Priority.MEDIUM: "moderate", Priority.LOW: "low"}
_COMMUNICATION_PRIORITY = {Priority.HIGH: "stat", Priority.MEDIUM: "urgent", Priority.LOW: "routine"}
_PAGED = frozenset({Transition.RAISED, Transition.ESCALATED})
_ACTION_DISPLAY = {"acknowledge": "Acknowledged", "resolve": "Resolved", "false_alarm": "False alarm"}


def fhir_id(ident: str) -> str:
    """A valid FHIR id for a wire identifier: itself when valid, else ``-`` and a digest (see module doc).

    >>> fhir_id("p-3f2a"), fhir_id("bed_12")
    ('p-3f2a', '-46c87de64fcd04310774c4966b2004bfcc29cde0')
    """
    if _FHIR_ID.fullmatch(ident):
        return ident
    return "-" + hashlib.sha256(ident.encode()).hexdigest()[:40]


def fhir_topic(resource: Mapping[str, Any], ward: str, patient: str) -> str:
    """The MQTT topic for a resource: ``fhir/v1/{ward}/{patient}/{resourceType}``."""
    kind = resource.get("resourceType")
    if not isinstance(kind, str) or not _RESOURCE_TYPE.fullmatch(kind):
        raise ValueError(f"resourceType {kind!r} is not a FHIR resource type name")
    return f"fhir/v1/{ward}/{patient}/{kind}"


# ---------------------------------------------------------------- vitals


def vitals_observations(reading: VitalsReading) -> list[FhirResource]:
    """One vital-signs ``Observation`` per vital in ``reading`` (systolic + diastolic: one BP panel).

    Raises ``ValueError`` for a vital the wire contract does not know: dropping it silently would
    lose data, and its unit is unknown.
    """
    unknown = sorted(set(reading.vitals) - VITALS.keys())
    if unknown:
        raise ValueError(f"not v1 vitals: {', '.join(unknown)}")
    observations = []
    for key in VITALS:  # the contract's order, not the message's: deterministic output
        if key in _BP_PARTS:
            if key == _BP_PARTS[0] and any(part in reading.vitals for part in _BP_PARTS):
                observations.append(_blood_pressure(reading))
            continue
        value = reading.vitals.get(key)
        if value is not None:
            obs = _observation(reading, key, _vital_profile(key), _vital_code(key))
            obs["valueQuantity"] = _quantity(key, value)
            observations.append(obs)
    return observations


def _blood_pressure(reading: VitalsReading) -> FhirResource:
    obs = _observation(reading, "bp", "bp", _concept((_BP_PANEL,), "Blood pressure"))
    components = []
    for key in _BP_PARTS:
        component: FhirResource = {"code": _vital_code(key)}
        value = reading.vitals.get(key)
        if value is None:
            # The bp profile requires both components; a missing one states that it is missing.
            component["dataAbsentReason"] = {"coding": [{"system": _DATA_ABSENT, "code": "unknown"}]}
        else:
            component["valueQuantity"] = _quantity(key, value)
        components.append(component)
    obs["component"] = components
    return obs


def _observation(reading: VitalsReading, vital: str, profile: str | None, code: FhirResource) -> FhirResource:
    key = (reading.patient, reading.device, str(reading.seq), format_ts(reading.ts_ms), vital)
    obs: FhirResource = {
        "resourceType": "Observation",
        "id": _digest_id("o", *key),
        "meta": {"profile": [VITAL_SIGNS_PROFILE] + ([_PROFILE + profile] if profile else [])},
    }
    if reading.sqi:
        obs["extension"] = [
            {
                "url": _SQI_EXTENSION,
                "extension": [{"url": ch, "valueDecimal": q} for ch, q in sorted(reading.sqi.items())],
            }
        ]
    obs |= {
        "identifier": [{"system": _OBSERVATION_SYSTEM, "value": "|".join(key)}],
        "status": "final",
        "category": [
            {
                "coding": [{"system": _CATEGORY, "code": "vital-signs", "display": "Vital Signs"}],
                "text": "Vital Signs",
            }
        ],
        "code": code,
        "subject": _reference("Patient", reading.patient, _PATIENT_SYSTEM),
        "effectiveDateTime": format_ts(reading.ts_ms),
        "device": _reference("Device", reading.device, _DEVICE_SYSTEM),
    }
    model = reading.models.get(vital)
    if model is not None:
        obs["method"] = {"text": f"model {model}"}
    return obs


def _vital_profile(key: str) -> str | None:
    vital = _VITAL_SIGNS.get(key)
    return None if vital is None else vital.profile


def _vital_code(key: str) -> FhirResource:
    vital = _VITAL_SIGNS.get(key)
    if vital is None:
        # A vital added to the contract before it is mapped here still gets its contract LOINC code
        # (without a display: ours is not LOINC's, and a wrong display is worse than none).
        return {"coding": [{"system": LOINC, "code": VITALS[key].loinc}], "text": VITALS[key].name}
    return _concept(vital.codings, VITALS[key].name)


def _concept(codings: tuple[tuple[str, str], ...], text: str) -> FhirResource:
    return {"coding": [{"system": LOINC, "code": c, "display": d} for c, d in codings], "text": text}


def _quantity(key: str, value: float) -> FhirResource:
    spec = VITALS[key]
    vital = _VITAL_SIGNS.get(key)
    return {"value": value, "unit": spec.ucum if vital is None else vital.unit, "system": UCUM, "code": spec.ucum}


# ---------------------------------------------------------------- alerts


def alert_resources(event: AlertEvent) -> list[FhirResource]:
    """The alert's ``DetectedIssue`` as of ``event``, plus a ``Communication`` for a raise or escalation."""
    issue = _detected_issue(event)
    if event.transition not in _PAGED:
        return [issue]
    return [issue, _communication(event, issue["id"])]


def _detected_issue(event: AlertEvent) -> FhirResource:
    alert = event.alert
    why = alert.explanation
    issue: FhirResource = {
        "resourceType": "DetectedIssue",
        "id": fhir_id(alert.alert_id),
        "extension": [{"url": _ALERT_EXTENSION, "extension": _alert_facts(event)}],
        "identifier": [{"system": _ALERT_SYSTEM, "value": alert.alert_id}],
        "status": _issue_status(alert.state, alert.resolution),
        "code": {"coding": [{"system": ALERT_KIND_SYSTEM, "code": alert.kind}], "text": alert.kind},
        "severity": _SEVERITY[alert.priority],
        "patient": _reference("Patient", alert.patient, _PATIENT_SYSTEM),
        "identifiedDateTime": format_ts(alert.raised_ms),
        "detail": why.summary,
    }
    evidence: list[FhirResource] = [{"detail": [_reference("Device", alert.device, _DEVICE_SYSTEM)]}]
    if why.vital in VITALS:
        evidence[0]["code"] = [_vital_code(why.vital)]
    issue["evidence"] = evidence
    mitigation = []
    if alert.acknowledged_by is not None:
        ack_ms = event.ts_ms if event.transition is Transition.ACKNOWLEDGED else None
        mitigation.append(_mitigation("acknowledge", alert.acknowledged_by, ack_ms))
    if event.by is not None and event.transition in {Transition.RESOLVED, Transition.FALSE_ALARM}:
        action = "resolve" if event.transition is Transition.RESOLVED else "false_alarm"
        mitigation.append(_mitigation(action, event.by, event.ts_ms))
    if mitigation:
        issue["mitigation"] = mitigation
    return issue


def _issue_status(state: AlertState, resolution: Resolution | None) -> str:
    if state is not AlertState.RESOLVED:
        return "preliminary"
    return "entered-in-error" if resolution is Resolution.FALSE_ALARM else "final"


def _alert_facts(event: AlertEvent) -> list[FhirResource]:
    alert = event.alert
    why = alert.explanation
    facts: list[FhirResource] = [
        {"url": "transition", "valueCode": event.transition.value},
        {"url": "eventNumber", "valueInteger": event.event_no},
        {"url": "state", "valueCode": alert.state.value},
        {"url": "onset", "valueDateTime": format_ts(alert.onset_ms)},
        {"url": "rule", "valueString": why.rule},
        {"url": "escalated", "valueBoolean": alert.escalated},
        {"url": "retrospective", "valueBoolean": alert.retrospective},
    ]
    if alert.resolution is not None:
        facts.append({"url": "resolution", "valueCode": alert.resolution.value})
    if alert.resolved_ms is not None:
        facts.append({"url": "resolved", "valueDateTime": format_ts(alert.resolved_ms)})
    for name, number in (("value", why.value), ("limit", why.limit)):
        if number is not None:
            quantity: FhirResource = {"value": number}
            if why.unit is not None:
                quantity |= {"unit": why.unit, "system": UCUM, "code": why.unit}
            facts.append({"url": name, "valueQuantity": quantity})
    if why.response is not None:
        facts.append({"url": "response", "valueString": why.response})
    return facts


def _mitigation(action: str, by: str, at_ms: int | None) -> FhirResource:
    mitigation: FhirResource = {
        "action": {"coding": [{"system": _ALERT_ACTION_SYSTEM, "code": action, "display": _ACTION_DISPLAY[action]}]},
    }
    if at_ms is not None:
        mitigation["date"] = format_ts(at_ms)
    # A logical reference: the clinician's pseudonym, not a Practitioner resource we do not publish.
    mitigation["author"] = {"identifier": {"system": _CLINICIAN_SYSTEM, "value": by}, "display": by}
    return mitigation


def _communication(event: AlertEvent, issue_id: str) -> FhirResource:
    alert = event.alert
    why = alert.explanation
    text = _sentence(why.summary)
    if event.transition is Transition.ESCALATED:
        unacknowledged_s = (event.ts_ms - alert.raised_ms) / 1000
        text = f"Escalated, unacknowledged for {unacknowledged_s:.0f} s: {text}"
    if why.response:
        text += f" Recommended response: {_sentence(why.response)}"
    page: FhirResource = {
        "resourceType": "Communication",
        "id": _digest_id("c", alert.alert_id, event.transition.value),
        "identifier": [{"system": _PAGE_SYSTEM, "value": f"{alert.alert_id}|{event.transition.value}"}],
        "status": "completed",
        "category": [{"coding": [{"system": _ALERT_TRANSITION_SYSTEM, "code": event.transition.value}]}],
        "priority": _COMMUNICATION_PRIORITY[alert.priority],
        "subject": _reference("Patient", alert.patient, _PATIENT_SYSTEM),
        "about": [{"reference": f"DetectedIssue/{issue_id}"}],
        "sent": format_ts(event.ts_ms),
        "payload": [{"contentString": text}],
    }
    if alert.retrospective:
        # Raised from a backlog: recorded for the chart, deliberately not paged (see the module doc).
        del page["sent"]
        page["status"] = "not-done"
        page["statusReason"] = {"text": "retrospective: raised from delayed device data, not paged"}
    return page


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


# ---------------------------------------------------------------- identifiers


def _reference(resource_type: str, ident: str, system: str) -> FhirResource:
    """A literal reference by FHIR id, plus the pseudonym itself (which :func:`fhir_id` may have hashed)."""
    return {"reference": f"{resource_type}/{fhir_id(ident)}", "identifier": {"system": system, "value": ident}}


def _digest_id(prefix: str, *key: str) -> str:
    # 128 bits of SHA-256: collisions are not a practical concern, and the id stays well under 64 chars.
    return f"{prefix}-{hashlib.sha256('|'.join(key).encode()).hexdigest()[:32]}"
