"""The processor's pure core: condition delay, hysteresis, event time, idempotency, commands."""

from __future__ import annotations

import pickle
from collections.abc import Sequence

import pytest

from edge_agent.scenarios import parse_scenarios
from edge_agent.simulator import SimulatedWard
from stream_processor.core import CommandRefused, ProcessorCore, ReadingOutcome
from stream_processor.sequence import SeqStatus
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream.wire import AlertAction, AlertCommand, AlertState, Resolution, Transition, VitalsReading

T0 = 1_790_000_000_000


def make_core(alerting: AlertingSettings | None = None, **limits: float) -> ProcessorCore:
    return ProcessorCore(
        limits=LimitsSettings(**limits),
        alerting=alerting or AlertingSettings(),
        ward_of=lambda _p: "icu",
        horizon_s=300,
    )


def feed(
    core: ProcessorCore, hrs: Sequence[float], *, start_seq: int = 0, now_offset_ms: int = 0
) -> list[ReadingOutcome]:
    outcomes = []
    for i, hr in enumerate(hrs):
        seq = start_seq + i
        ts = T0 + seq * 1000
        outcomes.append(core.on_reading(VitalsReading("p-1", "d-1", seq, ts, {"hr": hr}), now_ms=ts + now_offset_ms))
    return outcomes


def transitions(outcomes: list[ReadingOutcome]) -> list[tuple[int, str, str]]:
    return [(o_index, e.transition.value, e.alert.kind) for o_index, o in enumerate(outcomes) for e in o.events]


def test_condition_must_hold_for_the_delay() -> None:
    core = make_core(hr_delay_s=6)
    # 5 s over the limit, one normal reading, then 7 s over: only the second run raises, 6 s after it began.
    outcomes = feed(core, [160] * 6 + [80] + [160] * 7)
    assert transitions(outcomes) == [(13, "raised", "hr_high")]
    alert = outcomes[13].events[0].alert
    assert alert.onset_ms == T0 + 7000
    assert alert.raised_ms == T0 + 13000
    assert alert.explanation.value == 160
    assert alert.explanation.limit == 150
    assert "for 6 s" in alert.explanation.summary


def test_hysteresis_keeps_the_alert_until_the_clear_threshold_holds() -> None:
    core = make_core(hr_delay_s=2, clear_delay_s=3)
    # Raised, then 145 (between clear 140 and limit 150) holds it, then < 140 for 3 s clears it.
    outcomes = feed(core, [160, 160, 160] + [145] * 10 + [130] * 4)
    assert transitions(outcomes) == [(2, "raised", "hr_high"), (16, "resolved", "hr_high")]
    resolved = outcomes[16].events[0].alert
    assert resolved.resolution is Resolution.CLEARED
    assert outcomes[16].snapshot is not None
    assert outcomes[16].snapshot.alerts == ()


def test_one_open_alert_per_kind_retriggers_do_not_duplicate() -> None:
    core = make_core(hr_delay_s=2)
    outcomes = feed(core, [160] * 30)
    assert transitions(outcomes) == [(2, "raised", "hr_high")]


def test_a_gap_in_the_readings_restarts_the_delay() -> None:
    core = make_core(hr_delay_s=6)
    first = feed(core, [160] * 4)  # t = 0..3 s
    later = feed(core, [160] * 4, start_seq=20)  # t = 20..23 s: 4 s observed since the gap, no alert
    assert transitions(first + later) == []


def test_duplicates_change_nothing_and_late_readings_do_not_rewind() -> None:
    core = make_core(hr_delay_s=2)
    outcomes = feed(core, [160, 160, 160])
    again = core.on_reading(VitalsReading("p-1", "d-1", 1, T0 + 1000, {"hr": 160.0}), now_ms=T0 + 4000)
    assert again.seq.status is SeqStatus.DUPLICATE
    assert again.events == ()
    assert transitions(outcomes) == [(2, "raised", "hr_high")]


def test_replay_is_deterministic_including_alert_ids() -> None:
    def run() -> list[tuple[str, str, str, int]]:
        core = make_core()
        ward = SimulatedWard(parse_scenarios("tachycardia@5+40,desaturation@8+40", patients=3), seed=5, start_ms=T0)
        out: list[tuple[str, str, str, int]] = []
        for r in ward.readings_until(T0 + 120_000):
            out.extend(
                (e.alert.alert_id, e.transition.value, e.alert.kind, e.ts_ms)
                for e in core.on_reading(r, now_ms=r.ts_ms).events
            )
        return out

    first = run()
    assert first == run()
    assert {kind for _, _, kind, _ in first} == {"hr_high", "spo2_low"}
    assert [t for _, t, _, _ in first].count("raised") == 2


def test_backlog_alerts_are_retrospective_until_confirmed_live() -> None:
    core = make_core(hr_delay_s=2)
    # Readings two hours old (a backlog flushed after reconnect): recorded but retrospective.
    old = feed(core, [160] * 4, now_offset_ms=2 * 3600 * 1000)
    raised = old[2].events[0].alert
    assert raised.retrospective
    # The same condition is still there on live data: the alert is updated and now pages.
    live = feed(core, [160], start_seq=4)
    assert [(e.transition, e.alert.retrospective) for e in live[0].events] == [(Transition.UPDATED, False)]


def test_clinician_commands_move_the_alert_and_are_idempotent() -> None:
    core = make_core(hr_delay_s=2)
    outcomes = feed(core, [160] * 3)
    alert_id = outcomes[2].events[0].alert.alert_id
    ack = AlertCommand("c-1", AlertAction.ACKNOWLEDGE, alert_id, "p-1", "nurse-7", T0 + 5000)
    result = core.on_command(ack)
    assert [(e.transition, e.alert.state, e.by) for e in result.events] == [
        (Transition.ACKNOWLEDGED, AlertState.ACKNOWLEDGED, "nurse-7")
    ]
    assert core.on_command(ack).duplicate
    false_alarm = AlertCommand("c-2", AlertAction.FALSE_ALARM, alert_id, "p-1", "nurse-7", T0 + 6000)
    closed = core.on_command(false_alarm).events[0].alert
    assert (closed.state, closed.resolution) == (AlertState.RESOLVED, Resolution.FALSE_ALARM)
    with pytest.raises(CommandRefused) as refused:
        core.on_command(AlertCommand("c-3", AlertAction.RESOLVE, alert_id, "p-1", "nurse-7", T0 + 7000))
    assert refused.value.reason == "transition_not_allowed"
    with pytest.raises(CommandRefused) as unknown:
        core.on_command(AlertCommand("c-4", AlertAction.RESOLVE, "a-nope", "p-1", "nurse-7", T0 + 7000))
    assert unknown.value.reason == "unknown_alert"


def test_after_a_clinician_resolves_a_persisting_condition_alarms_again_after_the_delay() -> None:
    core = make_core(hr_delay_s=2)
    outcomes = feed(core, [160] * 3)
    alert_id = outcomes[2].events[0].alert.alert_id
    core.on_command(AlertCommand("c-1", AlertAction.RESOLVE, alert_id, "p-1", "n-1", T0 + 2500))
    again = feed(core, [160] * 3, start_seq=3)
    assert transitions(again) == [(2, "raised", "hr_high")]
    assert again[2].events[0].alert.alert_id != alert_id


def test_hard_limits_for_each_vital() -> None:
    core = make_core()
    kinds = set()
    for seq in range(80):
        ts = T0 + seq * 1000
        vitals = {"hr": 30.0, "spo2": 80.0, "rr": 5.0, "temp": 34.0}
        for e in core.on_reading(VitalsReading("p-2", "d-2", seq, ts, vitals), now_ms=ts).events:
            kinds.add(e.alert.kind)
    assert kinds == {"hr_low", "spo2_low", "rr_low", "temp_low", "news2"}


def test_patient_state_pickles_and_restores() -> None:
    core = make_core(hr_delay_s=2)
    feed(core, [160] * 3)
    restored = make_core(hr_delay_s=2)
    restored.patients = pickle.loads(pickle.dumps(core.patients))
    assert [a.alert_id for a in restored.open_alerts()] == [a.alert_id for a in core.open_alerts()]
    assert feed(restored, [160], start_seq=3)[0].events == ()


def test_an_alert_that_cleared_by_itself_can_still_be_called_a_false_alarm_and_teaches() -> None:
    core = make_core(hr_delay_s=2)
    outcomes = feed(core, [160] * 3 + [80] * 10)
    cleared = [e.alert for o in outcomes for e in o.events if e.transition is Transition.RESOLVED]
    assert [a.resolution for a in cleared] == [Resolution.CLEARED]
    alert_id = cleared[0].alert_id
    later = core.on_command(AlertCommand("c-1", AlertAction.FALSE_ALARM, alert_id, "p-1", "n-1", T0 + 60_000))
    (event,) = later.events
    assert (event.transition, event.alert.resolution) == (Transition.FALSE_ALARM, Resolution.FALSE_ALARM)
    assert core.patients["p-1"].feedback == {"hr_high": 1}
    # Only "false alarm" is meaningful after the fact; a second verdict or an acknowledgement is refused.
    for command_id, action in (("c-2", AlertAction.ACKNOWLEDGE), ("c-3", AlertAction.FALSE_ALARM)):
        with pytest.raises(CommandRefused):
            core.on_command(AlertCommand(command_id, action, alert_id, "p-1", "n-1", T0 + 61_000))
