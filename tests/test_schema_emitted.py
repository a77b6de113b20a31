"""Every message the code emits is valid under its JSON Schema and decodes.

Hand-built messages of each family (vitals, alert state and events, commands and their results, dead
letters), and everything a simulated ward run through the processor core publishes.
"""

from __future__ import annotations

import pytest

from edge_agent.scenarios import parse_scenarios
from edge_agent.simulator import SimulatedWard
from stream_processor.core import ProcessorCore
from tests.schema_checks import T0, VITALS_TOPIC, assert_valid, decode_emitted
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream.wire import (
    Alert,
    AlertAction,
    AlertCommand,
    AlertEvent,
    AlertExplanation,
    AlertState,
    CommandResult,
    CommandStatus,
    DeadLetter,
    Fault,
    PatientAlerts,
    Priority,
    Resolution,
    Rhythm,
    Transition,
    VitalsReading,
    decode_alert_event,
    decode_alert_state,
    decode_command,
    decode_vitals,
    encode_alert_event,
    encode_alert_state,
    encode_command,
    encode_command_result,
    encode_deadletter,
    encode_vitals,
)
from vitalstream.wire.codec import MAX_DEADLETTER_PAYLOAD
from vitalstream.wire.timefmt import EARLIEST_MS, LATEST_MS
from vitalstream.wire.topics import command_topic, vitals_topic

FULL_READING = VitalsReading(
    "p-3f2a",
    "d-01",
    seq=42,
    ts_ms=T0 + 123,
    vitals={"hr": 72.0, "spo2": 97.0, "rr": 15.0, "temp": 36.8, "sbp": 121.0, "dbp": 79.0},
    sqi={"ecg": 0.97, "ppg": 0.93, "resp": 0.8, "spo2": 0.9, "temp": 1.0, "bp": 0.75, "acc": 0.0},
    rhythm=Rhythm("AF", 0.87),
    beats={"N": 70, "S": 1, "V": 2, "F": 0, "Q": 1000},
    models={"hr": "hr-cnn@1.4.2", "rhythm": "af-detector@2025.10", "beats": "aami-beats@0.9", "sqi": "sqi-gbm@3"},
    runs={"V": 2},
    faults={"ppg_hr": Fault.MODEL_ERROR, "vf": Fault.INPUT_GAP},
)
OPEN_ALERT = Alert(
    alert_id="a-d7088553509bedbe84a5",
    patient="p-3f2a",
    ward="icu",
    device="d-01",
    kind="spo2_low",
    priority=Priority.HIGH,
    state=AlertState.ACTIVE,
    onset_ms=T0,
    raised_ms=T0 + 10_000,
    updated_ms=T0 + 10_000,
    explanation=AlertExplanation(
        rule="hard_limit:spo2_low",
        summary="SpO2 82 % below the hard limit of 85 % for 10 s",
        vital="spo2",
        value=82.0,
        limit=85.0,
        unit="%",
        baseline={"spo2": 96.5},
        sqi={"ppg": 0.93},
        models={"sqi": "sqi-gbm@3"},
    ),
)
CLOSED_ALERT = Alert(
    alert_id="a-0f3c0a1b2c3d4e5f6a7b",
    patient="p-3f2a",
    ward="icu",
    device="d-01",
    kind="rr_high",
    priority=Priority.MEDIUM,
    state=AlertState.RESOLVED,
    onset_ms=T0,
    raised_ms=T0 + 15_000,
    updated_ms=T0 + 60_000,
    explanation=AlertExplanation(rule="hard_limit:rr_high", summary="Respiratory rate 34 /min above 30 /min"),
    retrospective=True,
    escalated=True,
    acknowledged_by="nurse-7",
    resolved_ms=T0 + 60_000,
    resolution=Resolution.FALSE_ALARM,
)
BIG_BINARY = b"\xff\x00" * MAX_DEADLETTER_PAYLOAD  # not UTF-8, and twice the head a dead letter keeps

EMITTED = [
    pytest.param("vitals", encode_vitals(FULL_READING), id="vitals-full"),
    pytest.param("vitals", encode_vitals(VitalsReading("p-1", "d-1", 0, EARLIEST_MS, {})), id="vitals-minimal"),
    pytest.param("vitals", encode_vitals(VitalsReading("p-1", "d-1", 2**63 - 1, LATEST_MS - 1, {})), id="vitals-max"),
    pytest.param(
        "alert_state",
        encode_alert_state(PatientAlerts("icu", "p-3f2a", T0 + 60_000, (OPEN_ALERT, CLOSED_ALERT))),
        id="alert_state-two-alerts",
    ),
    pytest.param("alert_state", encode_alert_state(PatientAlerts("icu", "p-3f2a", T0, ())), id="alert_state-empty"),
    pytest.param(
        "alert_event", encode_alert_event(AlertEvent(1, Transition.RAISED, T0, OPEN_ALERT)), id="event-raised"
    ),
    *(
        pytest.param(
            "alert_event",
            encode_alert_event(AlertEvent(number, transition, T0 + 60_000, CLOSED_ALERT, by="nurse-7")),
            id=f"event-{transition}-by",
        )
        for number, transition in enumerate(Transition, start=2)
    ),
    *(
        pytest.param(
            "command",
            encode_command(AlertCommand("c-1", action, OPEN_ALERT.alert_id, "p-3f2a", "nurse-7", T0, note)),
            id=f"command-{action}-{'note' if note else 'plain'}",
        )
        for action in AlertAction
        for note in (None, "Probe was off the finger; repositioned.")
    ),
    *(
        pytest.param(
            "command_result",
            encode_command_result(
                CommandResult(
                    "c-1",
                    AlertAction.ACKNOWLEDGE,
                    OPEN_ALERT.alert_id,
                    "p-3f2a",
                    status,
                    T0,
                    reason=reason,
                    detail=detail,
                )
            ),
            id=f"command-result-{status}",
        )
        for status, reason, detail in (
            (CommandStatus.APPLIED, None, None),
            (CommandStatus.DUPLICATE, None, None),
            (CommandStatus.REFUSED, "transition_not_allowed", "the alert is already resolved (cleared)"),
        )
    ),
    pytest.param(
        "deadletter",
        encode_deadletter(
            DeadLetter(VITALS_TOPIC, "out_of_range", "vitals.spo2", "104 % is outside 0..100", T0, 5, b"hello")
        ),
        id="deadletter-with-field",
    ),
    pytest.param(
        "deadletter",
        encode_deadletter(DeadLetter("x/y", "too_large", None, "too big", T0, len(BIG_BINARY), BIG_BINARY)),
        id="deadletter-truncated-binary",
    ),
    pytest.param(
        "deadletter",
        encode_deadletter(DeadLetter("vitals", "bad_topic", None, "expected ...", T0, 0, b"")),
        id="deadletter-empty-payload",
    ),
]


@pytest.mark.parametrize(("name", "payload"), EMITTED)
def test_encoded_message_is_schema_valid_and_decodes(name: str, payload: bytes) -> None:
    assert_valid(name, payload)
    decode_emitted(name, payload)


def test_simulated_ward_through_the_processor_emits_only_valid_messages() -> None:
    ward = SimulatedWard(parse_scenarios("tachycardia@2+30,desaturation@3", patients=3), seed=7, start_ms=T0)
    core = ProcessorCore(limits=LimitsSettings(), alerting=AlertingSettings(), ward_of=lambda _patient: "icu")
    readings = ward.readings_until(T0 + 60_000)
    events: list[AlertEvent] = []
    snapshots: list[PatientAlerts] = []
    for reading in readings:
        payload = encode_vitals(reading)
        assert_valid("vitals", payload)
        assert decode_vitals(vitals_topic(reading.patient, reading.device), payload) == reading
        outcome = core.on_reading(reading, now_ms=reading.ts_ms)
        events += outcome.events
        if outcome.snapshot is not None:
            snapshots.append(outcome.snapshot)
    # Something must have happened, or this test would pass on an empty run.
    assert len(readings) == 3 * 61
    raised = {event.alert.kind for event in events if event.transition is Transition.RAISED}
    assert raised == {"hr_high", "spo2_low"}
    assert snapshots

    # A clinician takes the alert that is still open, then resolves it.
    (alert,) = core.open_alerts()
    commands = [
        AlertCommand(
            "c-ack-1", AlertAction.ACKNOWLEDGE, alert.alert_id, alert.patient, "nurse-7", T0 + 61_000, "on it"
        ),
        AlertCommand("c-res-1", AlertAction.RESOLVE, alert.alert_id, alert.patient, "nurse-7", T0 + 90_000),
    ]
    for command in commands:
        payload = encode_command(command)
        assert_valid("command", payload)
        assert decode_command(command_topic("icu", command.patient), payload) == command
        answered = core.on_command(command)
        events += answered.events
        assert answered.snapshot is not None
        snapshots.append(answered.snapshot)
    assert [event.transition for event in events[-2:]] == [Transition.ACKNOWLEDGED, Transition.RESOLVED]
    assert events[-1].alert.acknowledged_by == "nurse-7"
    assert events[-1].alert.resolution is Resolution.RESOLVED

    for event in events:
        payload = encode_alert_event(event)
        assert_valid("alert_event", payload)
        assert decode_alert_event(payload) == event
    for snapshot in snapshots:
        payload = encode_alert_state(snapshot)
        assert_valid("alert_state", payload)
        assert decode_alert_state(payload) == snapshot
