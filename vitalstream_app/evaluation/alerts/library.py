"""The alert evaluation's library of cases, deterministic from a seed (see :mod:`vitalstream_app.evaluation.alerts`).

Patient-days of 1 Hz numbers with motion, a displaced sensor and a sensor loss; abrupt events and fevers on
each profile after an hour of learning; arrhythmias and lead problems in simulated waveforms through the edge;
and MIT-BIH records whose reference rhythm annotations are the events.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from edge_agent.pipeline import EdgeModels
from edge_agent.records import read_annotations
from edge_agent.scenarios import COMPOSITES, EPISODES, PROFILES, Episode, Scenario
from stream_processor.replay import REPLAY_START_MS, Stream
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream.wire import Observation
from vitalstream_app.evaluation.alerts.cases import (
    ARRHYTHMIA,
    DAY_S,
    HR_HIGH,
    HR_LOW,
    PHYSIOLOGICAL,
    RR_HIGH,
    SPO2_LOW,
    TEMP_HIGH,
    Case,
    TrueEvent,
)
from vitalstream_app.replay_sources import recording_streams, scenario_stream

__all__ = ["MITDB_DEFAULT", "build_library"]

# MIT-BIH records with VF/flutter, VT or AF episodes, and a few with none (false alerts on real ECG).
MITDB_DEFAULT = (
    "100", "103", "117", "122", "201", "202", "203", "205", "207", "210", "213", "214", "215", "219", "221", "222",
    "223",
)  # fmt: skip


def _observations(patient: str, seconds: int, *, copd: bool) -> tuple[Observation, ...]:
    """A nurse's round every 4 h: alert, on room air; a COPD patient has the 88-92 % target (scale 2)."""
    values: dict[str, float | str | bool] = {"consciousness": "A", "on_oxygen": False}
    if copd:
        values["spo2_scale"] = 2
    return tuple(
        Observation(patient, "nurse-round", REPLAY_START_MS + t * 1000, values, by="nurse-eval")
        for t in range(0, seconds, 4 * 3600)
    )


def _stream(scenario: Scenario, record: str, seconds: int, seed: int, models: EdgeModels | None) -> Stream:
    stream = scenario_stream(scenario, record=record, seconds=seconds, seed=seed, models=models)
    return replace(stream, observations=_observations(stream.patient, seconds, copd=scenario.profile.name == "copd"))


def _patient_days(seed: int, days: int) -> list[Case]:

    cases = []
    plan = ["stable", "athlete", "copd", "sepsis"]
    for index in range(days):
        kind = plan[index % len(plan)]
        rng = random.Random(f"eval/day/{seed}/{index}")  # noqa: S311 -- a reproducible library, not secrets
        # One item per hour slot (never in the first hour): 10 short motions, a displaced sensor, a loss.
        slots = rng.sample(range(1, 24), 12)
        episodes: list[Episode] = []
        events: list[TrueEvent] = []
        for slot in slots[:10]:
            onset = slot * 3600 + rng.uniform(0, 2400)
            episodes.append(replace(EPISODES["motion"], onset_s=onset, duration_s=rng.uniform(15, 60)))
        displaced = slots[10] * 3600 + rng.uniform(0, 2400)
        episodes.append(replace(EPISODES["motion"], onset_s=displaced, duration_s=300.0))
        events.append(
            TrueEvent("sensor_displaced", "technical", displaced, displaced + 300, frozenset({"signal_quality"}),
                      frozenset({"signal_quality"}), 60.0)
        )  # fmt: skip
        lost = slots[11] * 3600 + rng.uniform(0, 2400)
        episodes.append(replace(EPISODES["offline"], onset_s=lost, duration_s=600.0))
        events.append(TrueEvent("sensor_loss", "technical", lost, lost + 600, frozenset({"no_data"}),
                                frozenset({"no_data"}), 60.0))  # fmt: skip
        profile = PROFILES["stable" if kind == "sepsis" else kind]
        if kind == "sepsis":
            onset = 2 * 3600.0
            episodes += [replace(e, onset_s=onset, duration_s=DAY_S) for e in COMPOSITES["sepsis"]]
            events.append(TrueEvent("sepsis_trend", "trend", onset, DAY_S, PHYSIOLOGICAL, PHYSIOLOGICAL))
        scenario = Scenario(profile, tuple(sorted(episodes, key=lambda e: e.onset_s)))
        stream = _stream(scenario, f"day/{index}:{kind}", DAY_S, seed * 100 + index, None)
        cases.append(Case(stream, kind, tuple(events)))
    return cases


def _abrupt(seed: int, limits: LimitsSettings) -> list[Case]:

    onset, seconds = 3600.0, 2 * 3600
    table = (
        ("tachycardia", 120.0, frozenset({"hr_high"}), HR_HIGH, limits.hr_delay_s),
        ("bradycardia", 120.0, frozenset({"hr_low"}), HR_LOW, limits.hr_delay_s),
        ("desaturation", 120.0, frozenset({"spo2_low"}), SPO2_LOW, limits.spo2_delay_s),
        ("tachypnoea", 180.0, frozenset({"rr_high"}), RR_HIGH, limits.rr_delay_s),
    )
    cases = []
    for p_index, profile in enumerate(("stable", "athlete", "copd")):
        for e_index, (kind, duration, detect, accept, definition) in enumerate(table):
            episode = replace(EPISODES[kind], onset_s=onset, duration_s=duration, ramp_s=1.0)
            scenario = Scenario(PROFILES[profile], (episode,))
            stream = _stream(scenario, f"abrupt/{profile}:{kind}", seconds, seed * 100 + 10 * p_index + e_index, None)
            event = TrueEvent(kind, "abrupt", onset + 1, onset + duration + 1, detect, accept, definition)
            cases.append(Case(stream, "abrupt", (event,)))
        fever = replace(EPISODES["fever"], onset_s=onset, duration_s=3000.0, ramp_s=600.0)
        stream = _stream(
            Scenario(PROFILES[profile], (fever,)), f"trend/{profile}:fever", seconds, seed * 100 + 90 + p_index, None
        )
        event = TrueEvent(
            "fever", "trend", onset, onset + 3600, frozenset({"temp_high", "temp_high_warning"}), TEMP_HIGH
        )
        cases.append(Case(stream, "trend", (event,)))
    return cases


def _waveforms(seed: int, limits: LimitsSettings, alerting: AlertingSettings, models: EdgeModels) -> list[Case]:

    onset, seconds = 480.0, 900
    vt, hr_high, hr_low = (
        frozenset({"ventricular_tachycardia"}),
        frozenset({"tachycardia", "hr_high"}),
        frozenset({"bradycardia", "hr_low"}),
    )
    table: list[tuple[str, str, float, float, frozenset[str], frozenset[str], float]] = [
        ("vrun", "abrupt", 8.0, 0.5, vt, vt | HR_HIGH, 5 * 60 / 150),  # 5 beats at 150/min
        ("asystole", "abrupt", 15.0, 0.5, frozenset({"asystole"}), ARRHYTHMIA | HR_LOW, 4.0),
        ("vf", "abrupt", 20.0, 0.5, frozenset({"ventricular_fibrillation"}), ARRHYTHMIA | HR_LOW | HR_HIGH, 4.0),
        ("tachycardia", "abrupt", 120.0, 1.0, hr_high, HR_HIGH, limits.hr_delay_s),
        ("bradycardia", "abrupt", 120.0, 1.0, hr_low, HR_LOW, limits.hr_delay_s),
        ("af", "rhythm", 300.0, 2.0, frozenset({"af"}), frozenset({"af"}) | HR_HIGH, alerting.af_delay_s),
        ("leadoff", "technical", 120.0, 1.0, frozenset({"signal_quality"}), frozenset({"signal_quality"}),
         alerting.technical_after_s),
    ]  # fmt: skip
    cases = []
    for index, (kind, family, duration, ramp, detect, accept, definition) in enumerate(table):
        episode = replace(EPISODES[kind], onset_s=onset, duration_s=duration, ramp_s=ramp)
        stream = _stream(
            Scenario(PROFILES["stable"], (episode,)), f"waveform/{kind}", seconds, seed * 100 + 50 + index, models
        )
        true_onset = onset + (ramp if episode.rhythm is None else 0.0)
        cases.append(
            Case(
                stream, "waveform", (TrueEvent(kind, family, true_onset, onset + duration, detect, accept, definition),)
            )
        )
    motions = tuple(replace(EPISODES["motion"], onset_s=t, duration_s=40.0) for t in (300.0, 600.0))
    stream = _stream(Scenario(PROFILES["stable"], motions), "waveform/motion", seconds, seed * 100 + 60, models)
    cases.append(Case(stream, "waveform"))
    return cases


def _merged(episodes: list[tuple[float, float]], gap_s: float) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(episodes):
        if merged and start - merged[-1][1] < gap_s:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _real(data: Path, records: Sequence[str], models: EdgeModels, log: TextIO) -> list[Case]:
    """MIT-BIH records through the edge; their reference rhythm annotations are the events."""

    cases = []
    for name in records:
        header = data / "mitdb" / f"{name}.hea"
        if not header.exists():
            log.write(f"eval alerts: {header} not found, skipped\n")
            continue
        (stream,) = recording_streams(header, models=models)
        annotations = read_annotations(header)
        fs = 360.0
        spans: dict[str, list[tuple[float, float]]] = {"AFIB": [], "VFL": [], "VT": []}
        for begin, finish, label in annotations.rhythms:
            if label in spans:
                spans[label].append((begin / fs, finish / fs))
        events = []
        for start, end in _merged(spans["VFL"], 120.0):
            if end - start >= 4.0:
                events.append(TrueEvent("VFL", "rhythm", start, end, frozenset({"ventricular_fibrillation"}),
                                        ARRHYTHMIA | PHYSIOLOGICAL | {"signal_quality"}, 4.0))  # fmt: skip
        samples, symbols = annotations.beats()
        for start, end in _merged(spans["VT"], 120.0):
            v_beats = [s / fs for s, sym in zip(samples, symbols, strict=True) if sym == "V" and start <= s / fs <= end]
            rate = 60 * (len(v_beats) - 1) / (v_beats[-1] - v_beats[0]) if len(v_beats) >= 2 else 0.0
            if len(v_beats) >= 5 and rate > 100:
                events.append(TrueEvent("VT", "rhythm", start, end, frozenset({"ventricular_tachycardia"}),
                                        ARRHYTHMIA | PHYSIOLOGICAL, 5 * 60 / rate))  # fmt: skip
        for start, end in _merged(spans["AFIB"], 120.0):
            if end - start >= 90.0:
                events.append(TrueEvent("AFIB", "rhythm", start, end, frozenset({"af"}),
                                        frozenset({"af"}) | HR_HIGH | HR_LOW, 60.0))  # fmt: skip
        cases.append(Case(stream, "mitdb", tuple(events), scripted=False))
    return cases


def build_library(
    *,
    seed: int,
    days: int,
    limits: LimitsSettings,
    alerting: AlertingSettings,
    models: EdgeModels,
    data: Path | None,
    records: Sequence[str],
    log: TextIO,
) -> list[Case]:
    cases = _patient_days(seed, days) + _abrupt(seed, limits) + _waveforms(seed, limits, alerting, models)
    if data is not None and records:
        cases += _real(data, records, models, log)
    return cases
