"""The simulated ward: deterministic, pseudonymous, and true to its scripts."""

from __future__ import annotations

import pytest

from edge_agent.scenarios import parse_scenarios
from edge_agent.simulator import SimulatedWard
from vitalstream.errors import ConfigError
from vitalstream.settings import LimitsSettings
from vitalstream.wire import VitalsReading, decode_vitals, encode_vitals
from vitalstream.wire.topics import vitals_topic

T0 = 1_790_000_000_000


def run(spec: str, patients: int, seconds: int, seed: int = 3) -> list[VitalsReading]:
    ward = SimulatedWard(parse_scenarios(spec, patients=patients), seed=seed, start_ms=T0)
    return ward.readings_until(T0 + (seconds - 1) * 1000)


def test_same_seed_same_readings_different_seed_different_readings() -> None:
    assert run("mixed", 6, 120) == run("mixed", 6, 120)
    assert run("mixed", 6, 120) != run("mixed", 6, 120, seed=4)


def test_one_reading_per_patient_per_second_with_consecutive_seqs() -> None:
    readings = run("stable", 3, 10)
    assert len(readings) == 30
    by_device: dict[str, list[int]] = {}
    for r in readings:
        by_device.setdefault(r.device, []).append(r.seq)
        assert r.ts_ms == T0 + r.seq * 1000
    assert all(seqs == list(range(10)) for seqs in by_device.values())


def test_ids_are_pseudonyms() -> None:
    readings = run("stable", 2, 1)
    assert all(r.patient.startswith("p-") and len(r.patient) == 10 for r in readings)
    assert len({r.patient for r in readings}) == 2


def test_every_simulated_reading_passes_the_wire_contract() -> None:
    for r in run("mixed", 8, 400):
        assert decode_vitals(vitals_topic(r.patient, r.device), encode_vitals(r)) == r


def test_stable_profiles_stay_inside_hard_limits_for_an_hour() -> None:
    limits = LimitsSettings()
    for r in run("stable,athlete,copd", 3, 3600):
        v = r.vitals
        assert limits.hr_low < v["hr"] < limits.hr_high, r
        assert v["spo2"] > limits.spo2_low, r
        assert limits.rr_low < v["rr"] < limits.rr_high, r


def test_episode_reaches_its_target_and_ends() -> None:
    readings = run("tachycardia@10+30", 1, 60)
    hr = [r.vitals["hr"] for r in readings]
    assert max(hr[:10]) < 100
    assert min(hr[16:40]) > 155
    assert max(hr[46:]) < 100


def test_scenario_spec_errors_are_clear() -> None:
    with pytest.raises(ConfigError, match="unknown scenario"):
        parse_scenarios("zombie@3", patients=1)
    with pytest.raises(ConfigError, match="bad timing"):
        parse_scenarios("fever@soon", patients=1)
