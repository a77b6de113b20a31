"""``vitalstream replay``: recorded and scripted streams through the real edge pipeline and processor core."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from edge_agent.pipeline import EdgeModels
from stream_processor.replay import replay_stream
from tests.procs import cli_env
from tests.servers import REPO
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream.wire import AlertAction, AlertCommand, AlertEvent
from vitalstream_app.replay_sources import scenario_streams, streams_for

LIMITS, ALERTING = LimitsSettings(), AlertingSettings()


@pytest.fixture(scope="module")
def models() -> EdgeModels:
    return EdgeModels.load()


def _replay(args: list[str], tmp_path: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "vitalstream", "replay", *args],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        timeout=300,
        check=True,
    )
    return [orjson.loads(line) for line in result.stdout.splitlines()]


def test_replay_prints_each_alert_and_a_summary(tmp_path: Path) -> None:
    lines = _replay(["scenario:vf@60+20,asystole@60+15", "scenario-vitals:desaturation@400+60"], tmp_path)
    *alerts, summary = lines
    assert summary["summary"] is True
    assert summary["records"] == 3
    assert summary["alerts"] == len(alerts)
    kinds = {(a["record"], a["kind"]) for a in alerts}
    assert ("scenario/0:vf@60+20", "ventricular_fibrillation") in kinds
    assert ("scenario/1:asystole@60+15", "asystole") in kinds
    assert ("scenario/desaturation@400+60", "spo2_low") in kinds
    for alert in alerts:
        assert {"record", "kind", "priority", "t", "explanation"} <= alert.keys()
        assert alert["explanation"]["summary"]
    vf = next(a for a in alerts if a["kind"] == "ventricular_fibrillation")
    # VF (>= 4 s by definition) starts at t=60: the alert follows within the definition plus edge latency.
    assert 64 <= vf["t"] <= 68


def test_until_stops_before_the_alarm_and_never_peeks(tmp_path: Path) -> None:
    full = _replay(["scenario:vf@60+20"], tmp_path)
    t_vf = next(a["t"] for a in full if a["kind"] == "ventricular_fibrillation")
    cut = _replay(["scenario:vf@60+20", "--until", str(float(t_vf) - 1)], tmp_path)
    assert all(a.get("kind") != "ventricular_fibrillation" for a in cut[:-1])
    # Everything raised before the cut is raised identically with or without the rest of the record; only
    # an alert that ended after the cut is still open (cleared_t null) in the cut replay.
    before = [a for a in full[:-1] if a["t"] <= float(t_vf) - 1]
    assert [{**a, "cleared_t": None} for a in cut[:-1]] == [{**a, "cleared_t": None} for a in before]
    for short, long in zip(cut[:-1], before, strict=True):
        ended_before_cut = long["cleared_t"] is not None and long["cleared_t"] <= float(t_vf) - 1
        assert short["cleared_t"] == (long["cleared_t"] if ended_before_cut else None)


def test_cleared_t_says_when_an_alert_ended_and_null_while_it_is_open(tmp_path: Path) -> None:
    # A 60 s tachycardia from t=60: hr_high is raised during it and clears after it, once the rate is
    # back under the clear threshold for the clear delay.
    (alert, summary) = _replay(["scenario-vitals:tachycardia@60+60"], tmp_path)
    assert summary["summary"] is True
    assert alert["kind"] == "hr_high"
    assert 60 < alert["t"] < 120 < alert["cleared_t"] <= 120 + 30
    (still_open, _) = _replay(["scenario-vitals:tachycardia@60+60", "--until", "100"], tmp_path)
    assert still_open["alert_id"] == alert["alert_id"]
    assert still_open["cleared_t"] is None


def test_cleared_t_follows_whichever_transition_ends_the_alert() -> None:
    # A nurse calls each alert a false alarm 60 s after it is raised. During the episode (400-700 s) the
    # condition still holds then, so her command ends the alert; an alert raised late in the episode ends
    # earlier, when the condition clears.
    (stream,) = scenario_streams("tachycardia@400+300", seconds=900, seed=1, models=None)
    alerts = replay_stream(stream, limits=LIMITS, alerting=ALERTING, nurse=_FalseAlarmNurse())
    by_nurse = [a for a in alerts if a.t_s + 60 < 700]
    assert by_nurse
    for alert in by_nurse:
        assert alert.cleared_t == pytest.approx(alert.t_s + 60)
        assert alert.as_json()["cleared_t"] == pytest.approx(alert.t_s + 60)
    by_condition = [a for a in alerts if a.t_s + 60 >= 700]
    assert by_condition
    for alert in by_condition:
        assert alert.cleared_t is not None
        assert 700 <= alert.cleared_t < alert.t_s + 60


def test_replay_is_deterministic(models: EdgeModels) -> None:
    def run() -> list[tuple[str, str, float]]:
        (stream,) = scenario_streams("af@60+180", seconds=300, seed=3, models=models)
        return [
            (a.event.alert.alert_id, a.event.alert.kind, a.t_s)
            for a in replay_stream(stream, limits=LIMITS, alerting=ALERTING)
        ]

    first = run()
    assert first == run()
    assert any(kind == "af" for _, kind, _ in first)


def test_a_silent_device_raises_no_data_while_time_goes_on() -> None:
    (stream,) = scenario_streams("offline@300+200", seconds=900, seed=1, models=None)
    alerts = replay_stream(stream, limits=LIMITS, alerting=ALERTING)
    (no_data,) = [a for a in alerts if a.event.alert.kind == "no_data"]
    assert no_data.t_s == pytest.approx(300 + ALERTING.no_data_after_s, abs=2)


class _FalseAlarmNurse:
    """Calls every alert a false alarm one minute after it is raised."""

    def __init__(self) -> None:
        self.answered: list[str] = []

    def respond(self, record: str, start_ms: int, event: AlertEvent) -> AlertCommand | None:
        self.answered.append(event.alert.kind)
        return AlertCommand(
            f"c-{event.alert.alert_id}",
            AlertAction.FALSE_ALARM,
            event.alert.alert_id,
            event.alert.patient,
            "nurse-1",
            event.ts_ms + 60_000,
        )


def test_a_nurse_answers_at_her_own_time() -> None:
    (stream,) = scenario_streams("tachycardia@400+300", seconds=900, seed=1, models=None)
    nurse = _FalseAlarmNurse()
    alerts = replay_stream(stream, limits=LIMITS, alerting=ALERTING, nurse=nurse)
    assert alerts
    assert nurse.answered == [a.event.alert.kind for a in alerts]


def test_records_replay_through_the_edge(models: EdgeModels) -> None:
    record = REPO.parent / "shared" / "data" / "mitdb" / "207.hea"
    if not record.exists():
        pytest.skip("PhysioNet MIT-BIH data not available; CI without ../shared/data skips this")
    # Record 207's reference annotations: ventricular flutter ("(VFL") at 40.8-51.1 s, 54.9-60.6 s, ...
    (stream,) = streams_for([str(record)], models=lambda: models, until_s=120)
    assert stream.record == "mitdb/207"
    alerts = replay_stream(stream, limits=LIMITS, alerting=ALERTING)
    vf = [a for a in alerts if a.event.alert.kind == "ventricular_fibrillation"]
    assert vf, [a.event.alert.kind for a in alerts]
    assert 44.8 <= vf[0].t_s <= 52
