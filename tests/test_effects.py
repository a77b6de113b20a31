"""The pure effects planner: one outcome -> the points to store and the messages to publish, in order."""

from __future__ import annotations

import itertools

import orjson
import pytest

from stream_processor.alert_lifecycle import CommandRefused
from stream_processor.core import CommandOutcome, Outcome, ProcessorCore, ReadingOutcome
from stream_processor.effects import EffectsPlanner, FhirVitalsSchedule, Publish
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream.wire import (
    AlertAction,
    AlertCommand,
    CommandStatus,
    EdgeEvent,
    Observation,
    Transition,
    VitalsReading,
    decode_alert_event,
    decode_alert_state,
    decode_command_result,
    decode_deadletter,
)

T0 = 1_790_000_000_000
WARD = "ward-1"


def planner(*, fhir: bool = True, every_s: float = 60.0) -> EffectsPlanner:
    return EffectsPlanner(fhir=fhir, fhir_vitals_every_s=every_s, ward_of=lambda _patient: WARD)


def reading(seq: int, hr: float, *, device: str = "d-1") -> VitalsReading:
    return VitalsReading("p-1", device, seq, T0 + seq * 1000, {"hr": hr})


def outcomes(hrs: list[float]) -> list[tuple[VitalsReading, ReadingOutcome]]:
    core = ProcessorCore(
        limits=LimitsSettings(hr_delay_s=2, clear_delay_s=2), alerting=AlertingSettings(), ward_of=lambda _p: WARD
    )
    readings = [reading(seq, hr) for seq, hr in enumerate(hrs)]
    return [(r, core.on_reading(r, now_ms=r.ts_ms)) for r in readings]


def topics(publishes: tuple[Publish, ...]) -> list[str]:
    return [p.topic for p in publishes]


def test_a_raised_alert_publishes_event_fhir_and_retained_snapshot_in_order_and_stores_two_points() -> None:
    raised_reading, raised = next((r, o) for r, o in outcomes([170.0] * 5) if o.events)
    effects = planner(every_s=-1).reading(raised_reading, raised)
    assert topics(effects.publishes) == [
        f"alert-events/v1/{WARD}/p-1",
        f"fhir/v1/{WARD}/p-1/DetectedIssue",
        f"fhir/v1/{WARD}/p-1/Communication",
        f"alerts/v1/{WARD}/p-1",
    ]
    assert [p.retain for p in effects.publishes] == [False, False, False, True]
    event = decode_alert_event(effects.publishes[0].payload)
    assert (event.transition, event.alert.kind) == (Transition.RAISED, "hr_high")
    assert orjson.loads(effects.publishes[1].payload)["id"] == event.alert.alert_id
    assert [a.alert_id for a in decode_alert_state(effects.publishes[3].payload).alerts] == [event.alert.alert_id]
    # The reading's own point, then the alert's two: its state and the lifecycle event.
    assert [p.measurement for p in effects.points or ()] == ["vitals", "alerts", "alert_events"]
    assert effects.events == raised.events


def test_a_reading_without_alert_changes_stores_its_point_and_publishes_nothing() -> None:
    first_reading, first = outcomes([72.0])[0]
    effects = planner().reading(first_reading, first)
    assert effects.publishes == ()
    assert [p.measurement for p in effects.points or ()] == ["vitals"]
    assert effects.events == ()


def test_an_empty_snapshot_deletes_the_retained_state() -> None:
    steps = outcomes([170.0] * 5 + [80.0] * 6)
    resolved_reading, resolved = next((r, o) for r, o in steps if o.events and o.snapshot and not o.snapshot.alerts)
    effects = planner(fhir=False).reading(resolved_reading, resolved)
    assert effects.publishes[-1] == Publish(f"alerts/v1/{WARD}/p-1", b"", retain=True)
    assert decode_alert_event(effects.publishes[0].payload).transition is Transition.RESOLVED


def test_fhir_off_publishes_no_fhir_topics() -> None:
    off = planner(fhir=False, every_s=0)
    published = [t for r, o in outcomes([170.0] * 5 + [80.0] * 6) for t in topics(off.reading(r, o).publishes)]
    assert published  # the alert was raised and resolved
    assert not [t for t in published if t.startswith("fhir/")]


def test_fhir_vitals_go_out_once_per_period_per_device_at_a_phase_of_their_own() -> None:
    every_s = 10
    plan = planner(every_s=every_s)
    due: dict[str, list[int]] = {"d-1": [], "d-2": []}
    for second in range(60):
        for device, seconds in due.items():
            effects = plan.reading(reading(second, 72.0, device=device), ReadingOutcome())
            fhir = [p for p in effects.publishes if p.topic == f"fhir/v1/{WARD}/p-1/Observation"]
            if fhir:
                seconds.append(second)
                assert orjson.loads(fhir[0].payload)["valueQuantity"]["value"] == 72.0
    for seconds in due.values():
        # Not on a device's first reading (it waits for its phase), then exactly every period.
        assert seconds[0] > 0
        assert [b - a for a, b in itertools.pairwise(seconds)] == [every_s] * (len(seconds) - 1)
        assert len(seconds) in {5, 6}
    assert due["d-1"][0] % every_s != due["d-2"][0] % every_s  # different phases: no ward-wide burst


@pytest.mark.parametrize(("every_s", "expected"), [(0, 5), (-1, 0)])
def test_fhir_vitals_every_reading_or_never(every_s: float, expected: int) -> None:
    plan = planner(every_s=every_s)
    published = [plan.reading(reading(s, 72.0), ReadingOutcome()).publishes for s in range(5)]
    assert sum(len(p) for p in published) == expected


def test_the_schedule_keeps_its_phase_for_late_and_repeated_readings() -> None:
    schedule = FhirVitalsSchedule(every_ms=10_000)
    ts = [T0 + s * 1000 for s in range(40)]
    first = [t for t in ts if schedule.due("p-1", "d-1", t)]
    # Redelivered or late readings of a period already published do not publish again.
    assert [t for t in ts if schedule.due("p-1", "d-1", t)] == []
    assert len(first) == 3


def test_a_command_answer_goes_out_after_the_alert_changes() -> None:
    core = ProcessorCore(limits=LimitsSettings(hr_delay_s=2), alerting=AlertingSettings(), ward_of=lambda _p: WARD)
    for seq in range(5):
        core.on_reading(reading(seq, 170.0), now_ms=T0 + seq * 1000)
    (alert,) = core.open_alerts()
    command = AlertCommand("c-1", AlertAction.ACKNOWLEDGE, alert.alert_id, "p-1", "nurse-7", T0 + 9000)
    effects = planner(fhir=False).command(command, core.on_command(command), ward=WARD, refused=None, now_ms=T0 + 9500)
    assert topics(effects.publishes) == [
        f"alert-events/v1/{WARD}/p-1",
        f"alerts/v1/{WARD}/p-1",
        f"command-results/v1/{WARD}/p-1",
    ]
    answer = decode_command_result(effects.publishes[-1].payload)
    assert (answer.status, answer.command_id, answer.ts_ms) == (CommandStatus.APPLIED, "c-1", T0 + 9500)
    assert [p.measurement for p in effects.points or ()] == ["alerts", "alert_events"]

    duplicate = planner().command(command, CommandOutcome(duplicate=True), ward=WARD, refused=None, now_ms=T0)
    assert decode_command_result(duplicate.publishes[0].payload).status is CommandStatus.DUPLICATE


def test_a_refused_command_is_answered_with_the_reason_and_still_goes_through_the_store() -> None:
    command = AlertCommand("c-2", AlertAction.RESOLVE, "a-unknown", "p-1", "nurse-7", T0)
    refused = CommandRefused("unknown_alert", "no alert with this id for this patient")
    effects = planner().command(command, Outcome(), ward=WARD, refused=refused, now_ms=T0)
    (answer,) = effects.publishes
    result = decode_command_result(answer.payload)
    assert (result.status, result.reason, result.detail) == (CommandStatus.REFUSED, "unknown_alert", refused.detail)
    assert effects.points == ()  # an (empty) store entry: its ack waits behind the writes before it


def test_observations_edge_events_ticks_and_dead_letters() -> None:
    plan = planner()
    observation = Observation("p-1", "nurse-3", T0, {"consciousness": "A"}, by="nurse-3")
    assert [p.measurement for p in plan.observation(observation, Outcome()).points or ()] == ["observations"]
    event = EdgeEvent("e-1", "p-1", "d-1", "af_onset", T0)
    edge = plan.edge_event(event)
    assert (edge.publishes, [p.measurement for p in edge.points or ()]) == ((), ["edge_events"])
    assert plan.tick(Outcome()).points == ()

    letter = plan.dead_letter(
        "vitals/v1/p-1/d-1", b"{oops", reason="processing_failed", field=None, detail="KeyError", now_ms=T0
    )
    assert letter.points is None  # nothing for the store: acknowledged once the dead letter is at the broker
    (publish,) = letter.publishes
    assert (publish.topic, publish.retain) == ("deadletter/v1/vitals", False)
    decoded = decode_deadletter(publish.payload)
    assert (decoded.reason, decoded.payload, decoded.topic) == ("processing_failed", b"{oops", "vitals/v1/p-1/d-1")
