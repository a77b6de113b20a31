"""``vitalstream eval alerts``: the scenario library, the scoring and the ablation, on small slices of the
library (the full run is a documented command, minutes long)."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest

from edge_agent.scenarios import parse_scenarios
from stream_processor.replay import replay_stream
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream_app.evaluation.alerts import CONFIGS, Case, Tally, TrueEvent, run, score
from vitalstream_app.evaluation.alerts import library as evaluation_library
from vitalstream_app.replay_sources import scenario_stream

LIMITS, ALERTING = LimitsSettings(), AlertingSettings()


def _run(cases: list[Case]) -> dict[str, Tally]:
    return {
        name: scripted
        for name, (scripted, _real) in run(cases, limits=LIMITS, alerting=ALERTING, log=io.StringIO()).items()
    }


def test_abrupt_events_are_all_detected_within_the_condition_delay_plus_2_s() -> None:
    cases = [c for c in evaluation_library._abrupt(7, LIMITS) if c.stream.record.startswith("abrupt/")]
    assert len(cases) == 12  # 4 events x 3 profiles (stable, athlete, COPD)
    tally = _run(cases)["full"]
    assert tally.missed == []
    assert tally.detected == tally.events == 12
    assert max(tally.excess) <= 2.0, tally.excess
    assert sorted(tally.excess)[len(tally.excess) // 2] <= 2.0


def test_a_copd_day_static_limits_cry_wolf_the_full_system_does_not() -> None:
    # Day 2 of the plan is a COPD patient (SpO2 ~90 %, scale 2), with motions, a displaced sensor and a loss.
    (copd,) = [c for c in evaluation_library._patient_days(7, 3) if c.group == "copd"]
    tallies = _run([copd])
    static, full = tallies["static"], tallies["full"]
    assert static.false_alerts >= 4, static.false_by_kind  # the chronic 88-92 % trips the static SpO2 limits
    assert full.false_alerts <= static.false_alerts / 2, full.false_by_kind
    assert full.missed == []  # the displaced sensor and the sensor loss both reach the nurse
    assert {e.name for e in copd.events} == {"sensor_displaced", "sensor_loss"}
    assert full.detected == 2


def test_score_counts_false_alerts_detection_and_ignores_retrospective_ones() -> None:
    # A real tachycardia stream: its alert is true only within the scripted event's window.

    (scenario,) = parse_scenarios("stable/tachycardia@120+60", patients=1)
    stream = scenario_stream(scenario, record="s", seconds=400, seed=1, models=None)
    alerts = replay_stream(stream, limits=LIMITS, alerting=ALERTING)
    assert [a.event.alert.kind for a in alerts] == ["hr_high"]
    hr = frozenset({"hr_high"})

    right = Tally()
    score(Case(stream, "t", (TrueEvent("tachy", "abrupt", 120, 180, hr, hr, 6.0),)), alerts, right)
    assert (right.detected, right.events, right.false_alerts) == (1, 1, 0)
    assert right.times["abrupt"][0] == pytest.approx(alerts[0].t_s - 120)

    wrong_time = Tally()
    score(Case(stream, "t", (TrueEvent("tachy", "abrupt", 300, 360, hr, hr, 6.0),)), alerts, wrong_time)
    assert (wrong_time.detected, wrong_time.false_alerts, wrong_time.missed) == (0, 1, ["s:tachy"])

    retro = [replace(a, event=replace(a.event, alert=replace(a.event.alert, retrospective=True))) for a in alerts]
    ignored = Tally()
    score(Case(stream, "t"), retro, ignored)
    assert (ignored.alerts, ignored.false_alerts) == (0, 0)


def test_the_ablation_switches_are_the_four_documented_configurations() -> None:
    assert list(CONFIGS) == ["static", "baselines", "sqi_gating", "full"]
    assert not any(CONFIGS["static"].values())
    assert all(CONFIGS["full"].values())
