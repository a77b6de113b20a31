"""NEWS2 against the RCP 2017 chart, boundary by boundary, and the ``vitalstream news2`` command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stream_processor.news2 import PARAMETERS, News2Error, news2
from tests.procs import cli_env

# (value, points) pairs straight from the chart, at and either side of every boundary.
CHART: dict[str, list[tuple[float, int]]] = {
    "respiration_rate": [(4, 3), (8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3), (40, 3)],
    "systolic_bp": [(70, 3), (90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)],
    "pulse": [(30, 3), (40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2), (131, 3)],
    "temperature": [
        (34.0, 3),
        (35.0, 3),
        (35.1, 1),
        (36.0, 1),
        (36.1, 0),
        (38.0, 0),
        (38.1, 1),
        (39.0, 1),
        (39.1, 2),
        (41.0, 2),
    ],
}
SCALE1 = [(85, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)]
# Scale 2: (spo2, on_oxygen, points)
SCALE2 = [
    (83, False, 3),
    (84, True, 2),
    (85, False, 2),
    (86, False, 1),
    (87, True, 1),
    (88, True, 0),
    (92, True, 0),
    (93, False, 0),
    (97, False, 0),
    (93, True, 1),
    (94, True, 1),
    (95, True, 2),
    (96, True, 2),
    (97, True, 3),
]


@pytest.mark.parametrize(("parameter", "value", "points"), [(p, v, s) for p, rows in CHART.items() for v, s in rows])
def test_chart_boundaries(parameter: str, value: float, points: int) -> None:
    assert news2({parameter: value}).points[parameter] == points


@pytest.mark.parametrize(("spo2", "points"), SCALE1)
def test_spo2_scale_1(spo2: int, points: int) -> None:
    assert news2({"spo2": spo2}).points["spo2"] == points


@pytest.mark.parametrize(("spo2", "on_oxygen", "points"), SCALE2)
def test_spo2_scale_2(spo2: int, on_oxygen: bool, points: int) -> None:
    assert news2({"spo2": spo2, "spo2_scale": 2, "on_oxygen": on_oxygen}).points["spo2"] == points


@pytest.mark.parametrize(("level", "points"), [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)])
def test_consciousness(level: str, points: int) -> None:
    assert news2({"consciousness": level}).points["consciousness"] == points


def test_air_or_oxygen() -> None:
    assert news2({"on_oxygen": True}).points["on_oxygen"] == 2
    assert news2({"on_oxygen": False}).points["on_oxygen"] == 0


def test_values_between_chart_rows_round_half_up() -> None:
    assert news2({"respiration_rate": 20.4}).points["respiration_rate"] == 0
    assert news2({"respiration_rate": 20.5}).points["respiration_rate"] == 2
    assert news2({"temperature": 38.05}).points["temperature"] == 1


ALL_NORMAL = {
    "respiration_rate": 16,
    "spo2": 97,
    "on_oxygen": False,
    "systolic_bp": 125,
    "pulse": 72,
    "consciousness": "A",
    "temperature": 36.8,
}


@pytest.mark.parametrize(
    ("changes", "total", "band"),
    [
        ({}, 0, "low"),
        ({"pulse": 95, "temperature": 38.5}, 2, "low"),
        ({"respiration_rate": 26}, 3, "low-medium"),  # a single red score
        ({"pulse": 120, "temperature": 39.2, "spo2": 95}, 5, "medium"),
        ({"pulse": 120, "respiration_rate": 22, "on_oxygen": True}, 6, "medium"),
        ({"pulse": 135, "respiration_rate": 26, "on_oxygen": True}, 8, "high"),
        ({"consciousness": "U", "systolic_bp": 85, "spo2": 90}, 9, "high"),
    ],
)
def test_totals_and_bands(changes: dict[str, object], total: int, band: str) -> None:
    score = news2(ALL_NORMAL | changes)
    assert (score.total, score.band, score.missing) == (total, band, ())
    assert "nurse" in score.response


def test_missing_parameters_are_listed_not_scored_as_zero() -> None:
    score = news2({"pulse": 72, "spo2": 97})
    assert score.missing == ("respiration_rate", "on_oxygen", "systolic_bp", "consciousness", "temperature")
    assert not score.complete
    assert set(score.points) == {"pulse", "spo2"}


@pytest.mark.parametrize(
    ("observations", "field"),
    [
        ({"pulse": "fast"}, "pulse"),
        ({"spo2": 120}, "spo2"),
        ({"consciousness": "X"}, "consciousness"),
        ({"spo2_scale": 3}, "spo2_scale"),
        ({"on_oxygen": "yes"}, "on_oxygen"),
        ({"temperature": float("nan")}, "temperature"),
    ],
)
def test_unscorable_values_name_the_field(observations: dict[str, object], field: str) -> None:
    with pytest.raises(News2Error) as caught:
        news2(observations)
    assert caught.value.field == field


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "respiration_rate": st.integers(0, 60),
            "spo2": st.integers(50, 100),
            "on_oxygen": st.booleans(),
            "systolic_bp": st.integers(50, 250),
            "pulse": st.integers(20, 200),
            "consciousness": st.sampled_from("ACVPU"),
            "temperature": st.floats(30, 43, allow_nan=False),
        },
    )
)
def test_total_is_the_sum_and_band_follows_the_rules(observations: dict[str, object]) -> None:
    score = news2(observations)
    assert score.total == sum(score.points.values())
    assert set(score.points) | set(score.missing) == set(PARAMETERS)
    expected = (
        "high"
        if score.total >= 7
        else "medium"
        if score.total >= 5
        else "low-medium"
        if 3 in score.points.values()
        else "low"
    )
    assert score.band == expected


def test_command_reads_json_lines_and_reports_bad_ones() -> None:
    lines = [
        json.dumps(ALL_NORMAL | {"pulse": 135, "respiration_rate": 26, "on_oxygen": True}),
        "not json",
        json.dumps({"spo2": 88, "spo2_scale": 2}),
    ]
    result = subprocess.run(
        [sys.executable, "-m", "vitalstream", "news2"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    first, second, third = (json.loads(line) for line in result.stdout.splitlines())
    assert (first["total"], first["band"], first["missing"]) == (8, "high", [])
    assert first["points"]["on_oxygen"] == 2
    assert "critical care" in first["response"]
    assert second["line"] == 2
    assert "error" in second
    assert third["points"] == {"spo2": 0}
    assert "on_oxygen" in third["missing"]
