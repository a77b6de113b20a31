"""``vitalstream eval alarms``: the decision rule, the challenge score, the folder layout, one record's work and
the command on two real Challenge 2015 records (the full 249-record run is a documented command, minutes long)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from edge_agent.pipeline import EdgeModels
from stream_processor.limits import hard_limit_rules
from stream_processor.replay import replay_stream
from stream_processor.rules import rule_specs
from tests.procs import cli_env
from tests.servers import REPO
from vitalstream.errors import ConfigError
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream_app.evaluation.alarms import ALARM_KINDS, Alarm, Counts, decide, evaluate_record, read_layout
from vitalstream_app.evaluation.alarms.decision import Span, active_kinds
from vitalstream_app.evaluation.alarms.layout import ALARM_TYPES, parse_alarms, signal_names
from vitalstream_app.evaluation.alarms.scoring import tally
from vitalstream_app.replay_sources import scenario_streams

LIMITS, ALERTING = LimitsSettings(), AlertingSettings()
CHALLENGE = REPO.parent / "shared" / "data" / "challenge2015-dev"


def _challenge() -> Path:
    if not (CHALLENGE / "ALARMS").exists():
        pytest.skip("PhysioNet/CinC Challenge 2015 data not available; CI without ../shared/data skips this")
    return CHALLENGE


def _link(source: Path, target: Path, record: str, *, data: bool = True) -> None:
    for suffix in (".hea", ".mat") if data else (".hea",):
        (target / f"{record}{suffix}").symlink_to(source / f"{record}{suffix}")


# ---------------------------------------------------------------- the decision rule


@pytest.mark.parametrize(
    ("span", "active"),
    [
        (Span("asystole", 290.0, None), True),  # raised in the window, still open
        (Span("asystole", 100.0, 280.0), False),  # ended before the window
        (Span("asystole", 100.0, 290.0), True),  # ended inside the window
        (Span("asystole", 100.0, 284.0), True),  # ended at the window's first moment
        (Span("asystole", 300.0, None), True),  # raised at the alarm itself
        (Span("asystole", 301.0, None), False),  # after the alarm: never seen
    ],
)
def test_an_alert_counts_when_it_is_active_between_284_and_300_s(span: Span, active: bool) -> None:
    assert (span.kind in active_kinds([span])) is active
    assert decide("Asystole", active_kinds([span])) is active


def test_a_replay_stopped_at_the_alarm_never_reports_a_later_alert() -> None:
    # Raised after 300 s in the full record, the alert does not exist in a replay that stops at 300 s.
    (stream,) = scenario_streams("tachycardia@294+60", seconds=330, seed=1, models=None)
    full = replay_stream(stream, limits=LIMITS, alerting=ALERTING)
    assert any(a.t_s > 300 for a in full)
    cut = replay_stream(stream, limits=LIMITS, alerting=ALERTING, until_s=300)
    assert all(a.t_s <= 300 for a in cut)
    assert [a.t_s for a in cut] == [a.t_s for a in full if a.t_s <= 300]


def test_the_kind_table_fits_each_alarm_to_kinds_the_processor_raises() -> None:
    assert set(ALARM_KINDS) == set(ALARM_TYPES)
    raisable = set(rule_specs(LIMITS, ALERTING, hard_limit_rules(LIMITS)))
    for kinds in ALARM_KINDS.values():
        assert set(kinds) <= raisable, set(kinds) - raisable
    # Primary kind first; the strict decision uses it alone.
    assert decide("Bradycardia", {"hr_low"}) is True
    assert decide("Bradycardia", {"hr_low"}, strict=True) is False
    assert decide("Bradycardia", {"bradycardia"}, strict=True) is True
    assert decide("Ventricular_Tachycardia", {"ventricular_fibrillation"}) is True
    assert decide("Ventricular_Flutter_Fib", {"ventricular_tachycardia"}) is False
    assert decide("Tachycardia", {"signal_quality", "af", "hr_high_warning"}) is False


# ---------------------------------------------------------------- the score


def test_the_challenge_score_by_hand() -> None:
    # 10 true alarms (8 kept, 2 suppressed), 10 false ones (3 kept, 7 suppressed):
    # 100 * (8 + 7) / (8 + 7 + 3 + 5 * 2) = 1500 / 28 = 53.57.
    outcomes = (
        [("Asystole", True, True)] * 8
        + [("Asystole", True, False)] * 2
        + [("Tachycardia", False, True)] * 3
        + [("Tachycardia", False, False)] * 7
    )
    overall, by_type = tally(outcomes, ALARM_TYPES)
    assert (overall.tp, overall.fn, overall.fp, overall.tn) == (8, 2, 3, 7)
    assert overall.score == 53.57
    assert overall.tpr == 0.8
    assert overall.tnr == 0.7
    assert by_type["Asystole"].score == round(100 * 8 / (8 + 5 * 2), 2) == 44.44
    assert by_type["Asystole"].tnr is None  # no false asystole alarms: no TNR, not 0
    assert by_type["Tachycardia"].score == 70.0
    assert by_type["Bradycardia"].n == 0
    assert by_type["Bradycardia"].score is None
    assert Counts(tp=1).as_json() == {"tp": 1, "fn": 0, "fp": 0, "tn": 0, "score": 100.0, "tpr": 1.0, "tnr": None}


# ---------------------------------------------------------------- the layout


def test_alarms_lines_are_read_and_bad_ones_refused() -> None:
    assert parse_alarms("# comment\n\na103l, Asystole, 0\n", source="x") == (Alarm("a103l", "Asystole", False),)
    for bad in ("a103l,Asystole", "a103l,Asystole,yes", "a103l,Flutter,1", "a103l,Asystole,1\na103l,Asystole,0"):
        with pytest.raises(ConfigError):
            parse_alarms(bad, source="x")


def test_a_folder_with_some_of_the_listed_records(tmp_path: Path) -> None:
    source = _challenge()
    (tmp_path / "ALARMS").write_text("a103l,Asystole,0\nt108s,Tachycardia,1\nv111l,Ventricular_Tachycardia,0\n")
    _link(source, tmp_path, "a103l")
    _link(source, tmp_path, "v111l")
    layout = read_layout(tmp_path)
    assert [a.record for a in layout.alarms] == ["a103l", "v111l"]  # ALARMS order, present ones only
    assert layout.alarms[0] == Alarm("a103l", "Asystole", False)
    assert layout.absent == ("t108s",)
    assert layout.listed == 3
    assert signal_names(layout.header(layout.alarms[0])) == ("II", "V", "PLETH")
    # A PhysioNet data root holding challenge2015-dev/ is found too.
    assert read_layout(source.parent).directory == source
    with pytest.raises(ConfigError):
        read_layout(tmp_path / "nowhere")


# ---------------------------------------------------------------- one record, and the command


def test_a_record_whose_replay_raises_is_reported_not_fatal(tmp_path: Path) -> None:
    source = _challenge()
    _link(source, tmp_path, "a103l", data=False)  # the header without its signal file
    result = evaluate_record(
        tmp_path / "a103l.hea", Alarm("a103l", "Asystole", True), models=EdgeModels.load(), limits=LIMITS,
        alerting=ALERTING,
    )  # fmt: skip
    assert result.error is not None
    assert result.error.split(":")[0].isidentifier()  # "<ExceptionType>: message"
    assert result.decision is False
    line = result.as_json()
    assert line["outcome"] == "FN"
    assert line["error"] == result.error


def test_eval_alarms_on_two_real_records(tmp_path: Path) -> None:
    source = _challenge()
    data = tmp_path / "data"
    data.mkdir()
    rows = [line for line in (source / "ALARMS").read_text().splitlines() if line.split(",")[0] in {"a103l", "t108s"}]
    (data / "ALARMS").write_text("\n".join([*rows, "b999s,Bradycardia,1", "v998s,Ventricular_Tachycardia,0"]) + "\n")
    _link(source, data, "a103l")
    _link(source, data, "t108s")
    (data / "v998s.hea").write_text("v998s 2 250 75000\nv998s.mat 16+24 200/mV 16 0 0 0 0 II\n")  # no signal file

    result = subprocess.run(
        [sys.executable, "-m", "vitalstream", "eval", "alarms", "--data", str(data), "--jobs", "2"],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    *records, summary = lines
    assert result.returncode == 1, result.stderr.decode()  # one record errored
    assert [r["record"] for r in records] == ["a103l", "t108s", "v998s"]  # ALARMS order
    truth = {row.split(",")[0]: row.split(",")[2] == "1" for row in rows}
    for line in records:
        assert {"record", "alarm", "truth", "decision"} <= line.keys()
        assert isinstance(line["decision"], bool)
    for line in records[:2]:
        assert line["truth"] is truth[line["record"]]
        assert "error" not in line
        assert all(a["t"] <= 300 for a in line["alerts"])
    assert records[2]["error"]
    assert records[2]["decision"] is False
    assert summary["records"] == 3
    assert summary["listed"] == 4
    assert summary["absent"] == 1
    assert summary["errors"] == 1
    assert summary["errored"] == ["v998s"]
    assert set(summary["by_type"]) == set(ALARM_TYPES)
    assert {"score", "tpr", "tnr"} <= summary.keys()
    assert sum(summary["counts"].values()) == 3
    stderr = result.stderr.decode()
    assert "Tachycardia" in stderr
    assert "score" in stderr
