"""``vitalstream bench influx`` against the real InfluxDB 1.6.7: v1 directly, v2 through the proxy, and the CLI.

Only what the bench reports is checked (every point landed exactly once, rates are measured); never how
fast anything is: speed is what the bench prints, not what a test asserts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.procs import cli_env
from tests.servers import InfluxServer, InfluxV2Proxy
from vitalstream.settings import InfluxSettings
from vitalstream_app.bench.influx import BENCH_DATABASE, bench_influx, vitals_points

POINTS = 20_000
BATCH = 2_000
REQUIRED = {"points_per_s", "raw_points_per_s", "ratio", "machine", "batch_size", "points", "api", "counts"}


def _databases(influxd: InfluxServer) -> set[str]:
    return {row["name"] for row in influxd.rows("", "SHOW DATABASES")}


def _check_result(result: dict[str, Any], *, points: int, rounds: int, api: str) -> None:
    assert result.keys() >= REQUIRED
    assert (result["api"], result["points"]) == (api, points)
    assert result["counts"] == {"writer": [points] * rounds, "raw": [points] * rounds}
    assert result["all_landed"] is True
    assert result["writer"]["rejected_points"] == 0
    assert len(result["rounds"]) == rounds
    for measured in result["rounds"]:
        assert measured["points_per_s"] > 0
        assert measured["raw_points_per_s"] > 0
        assert measured["ratio"] == pytest.approx(measured["points_per_s"] / measured["raw_points_per_s"], rel=1e-2)
    assert result["points_per_s"] > 0
    assert result["raw_points_per_s"] > 0
    assert result["machine"]["cores"] >= 1


def test_points_are_distinct_readings_of_many_patients() -> None:
    points = vitals_points(points=1_250, patients=500)
    keys = {(p.reading.patient, p.time_ms) for p in points}
    assert len(keys) == 1_250  # nothing would overwrite anything
    assert len({p.reading.patient for p in points}) == 500
    assert any("rhythm=" in p.line() for p in points)
    assert any("rhythm=" not in p.line() for p in points)


@pytest.mark.integration
def test_v1_every_point_lands_once_and_the_users_database_is_untouched(influxd: InfluxServer, influx_db: str) -> None:
    prefix = f"bench_{uuid.uuid4().hex[:8]}"
    settings = InfluxSettings(url=influxd.url, api="v1", db=influx_db)
    result = bench_influx(settings, points=POINTS, batch_size=BATCH, rounds=1, database=prefix)
    _check_result(result, points=POINTS, rounds=1, api="v1")
    assert result["sink"] == "InfluxV1Sink"
    assert result["writer"]["batches"] == POINTS // BATCH
    assert result["influxdb_version"]
    assert influxd.rows(influx_db, "SHOW MEASUREMENTS") == []
    assert not {name for name in _databases(influxd) if name.startswith(prefix)}  # dropped afterwards


@pytest.mark.integration
def test_v2_goes_through_the_official_client_and_both_paths_use_the_v2_endpoint(
    influxd: InfluxServer, influx_v2: InfluxV2Proxy
) -> None:
    prefix = f"bench_{uuid.uuid4().hex[:8]}"
    settings = InfluxSettings(url=influx_v2.url, api="v2", org="o", token="t")
    result = bench_influx(
        settings, points=POINTS, batch_size=BATCH, rounds=1, database=prefix, query_url=influxd.url, keep=True
    )
    _check_result(result, points=POINTS, rounds=1, api="v2")
    assert result["sink"] == "InfluxV2Sink"
    assert influx_v2.writes == 2 * POINTS // BATCH  # the writer's batches and the raw loop's, all via /api/v2/write
    # kept on request: the writer's and the raw loop's points are the same points, in separate databases
    for database in (f"{prefix}_0w", f"{prefix}_0r"):
        rows = influxd.rows(database, "SELECT count(hr) FROM vitals")
        assert rows[0]["count"] == POINTS
        influxd.query(f'DROP DATABASE "{database}"', method="POST")


@pytest.mark.integration
def test_cli_prints_the_result_as_its_last_line(influxd: InfluxServer, tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "vitalstream",
            "--log-format",
            "json",
            "bench",
            "influx",
            "--influx-url",
            influxd.url,
            "--influx-api",
            "v1",
        ],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    _check_result(result, points=result["points"], rounds=3, api="v1")
    assert result["points"] >= 100_000
    assert not {name for name in _databases(influxd) if name.startswith(BENCH_DATABASE)}
