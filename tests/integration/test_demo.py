"""``vitalstream demo``: the whole pipeline in one process, with nothing but the package installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.procs import cli_env
from tests.servers import InfluxServer

pytestmark = pytest.mark.integration


def test_demo_runs_for_its_duration_and_shows_alerts(tmp_path: Path) -> None:
    # No broker or database on PATH: the demo embeds its own (amqtt, SQLite).
    env = cli_env(PATH=str(Path(sys.executable).parent) + ":/usr/bin:/bin")
    result = subprocess.run(
        [sys.executable, "-m", "vitalstream", "demo", "--duration", "30"],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["patients"] == 12
    assert summary["readings_published"] == 12 * 30
    assert summary["vitals_stored"] == summary["readings_published"]
    assert summary["alerts_raised"] >= 1
    kinds = {alert["kind"] for alert in summary["alerts"]}
    assert kinds <= {"tachycardia", "hr_high", "spo2_low", "bradycardia", "hr_low", "rr_high"}
    # The scripted tachycardia pages once: as the rhythm alarm or the hard limit, whichever is due first.
    assert len(kinds & {"tachycardia", "hr_high"}) == 1
    assert "spo2_low" in kinds
    text = result.stdout
    assert "ALERT raised" in text
    assert "below the hard limit of 85 %" in text
    assert (tmp_path / "var" / "processor" / "demo.sqlite").exists()


def test_demo_can_write_to_a_real_influxdb(tmp_path: Path, influxd: InfluxServer) -> None:
    db = "demo_influx"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vitalstream",
            "demo",
            "--duration",
            "22",
            "--patients",
            "4",
            "--influx-url",
            influxd.url,
            "--influx-api",
            "v1",
            "--influx-db",
            db,
        ],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=cli_env(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["readings_published"] == 4 * 22
    assert influxd.rows(db, "SELECT count(seq) FROM vitals")[0]["count"] == 4 * 22
    alerts = influxd.rows(db, "SELECT * FROM alerts")
    assert [a["kind"] for a in alerts] in (["tachycardia"], ["hr_high"])
    assert summary["alerts_raised"] == 1
