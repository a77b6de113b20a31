"""``vitalstream eval alerts``: how few, how right and how fast the alerts are, on a scenario library.

The library (built here, deterministic from the seed):

- **patient-days** (1 Hz wearable numbers, 24 h each): stable adults, athletes (resting HR ~48),
  COPD patients (SpO2 ~90 %, NEWS2 SpO2 scale 2 prescribed) and sepsis-like deteriorations (HR, RR
  and temperature climb while SpO2 and blood pressure sag over four hours), each with ten short
  motion artefacts (15-60 s: a jumping pulse rate, SpO2 dips, poor signal quality), one displaced
  sensor (5 min of poor signal: a true "check sensor") and one sensor loss (10 min of silence: a
  true ``no_data``);
- **abrupt events** on each profile after an hour of learning: tachycardia, bradycardia,
  desaturation, tachypnoea (step changes), and a fever (a 10-minute rise);
- **arrhythmias and lead problems in simulated waveforms**, through the real edge pipeline: AF,
  a ventricular run, asystole, VF, extreme tachy- and bradycardia, an electrode off, and motion;
- **real recordings**: MIT-BIH Arrhythmia Database records through the edge pipeline, their
  reference rhythm annotations (``(AFIB``, ``(VFL``, ``(VT``) as the events. Reported apart: the
  sensitivity target is for the scripted events, whose truth is known exactly.

A simulated nurse answers each alert 90 s after it is raised: "false alarm" when it matches no true
event, else "acknowledge" (her verdicts teach only where feedback is on).

Every case runs under four configurations (the ablation): static limits only; + personal
baselines; + SQI gating; + clinician feedback (= the full system). A raised alert is **true** when
its kind is plausible for a true event going on at that time (from the event's onset to five
minutes after its end), else **false**. Time to alert is from the event's true onset to the first
alert of a detecting kind; for abrupt events it is also reported as the excess over the rule's own
definition (the condition delay: 6 s for a heart-rate limit, 4 s for VF, ...).

Data: MIT-BIH Arrhythmia Database (Moody & Mark 2001) via PhysioNet (Goldberger et al. 2000), ODC-By 1.0.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from stream_processor.replay import REPLAY_START_MS, ReplayedAlert, Stream, recording_streams, replay_stream
from stream_processor.replay import scenario_stream as _scenario_stream
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream.wire import AlertAction, AlertCommand, AlertEvent, Observation

if TYPE_CHECKING:
    from edge_agent.pipeline import EdgeModels
    from edge_agent.scenarios import Episode, Scenario

__all__ = ["CONFIGS", "Case", "TrueEvent", "build_library", "evaluate", "score"]

CONFIGS: dict[str, dict[str, bool]] = {
    "static": {"use_baselines": False, "use_sqi_gating": False, "use_feedback": False},
    "baselines": {"use_baselines": True, "use_sqi_gating": False, "use_feedback": False},
    "sqi_gating": {"use_baselines": True, "use_sqi_gating": True, "use_feedback": False},
    "full": {"use_baselines": True, "use_sqi_gating": True, "use_feedback": True},
}

DAY_S = 86_400
_GRACE_S = 300.0  # alerts up to 5 min after an event's end still belong to it (recovery, clear delays)
_NURSE_RESPONSE_S = 90.0
# MIT-BIH records with VF/flutter, VT or AF episodes, and a few with none (false alerts on real ECG).
MITDB_DEFAULT = (
    "100", "103", "117", "122", "201", "202", "203", "205", "207", "210", "213", "214", "215", "219", "221", "222",
    "223",
)  # fmt: skip

_HR_HIGH = frozenset({"hr_high", "hr_high_warning", "hr_deviation", "tachycardia", "news2"})
_HR_LOW = frozenset({"hr_low", "hr_low_warning", "hr_deviation", "bradycardia", "news2"})
_SPO2_LOW = frozenset({"spo2_low", "spo2_low_warning", "spo2_deviation", "news2"})
_RR_HIGH = frozenset({"rr_high", "rr_high_warning", "rr_deviation", "news2"})
_TEMP_HIGH = frozenset({"temp_high", "temp_high_warning", "temp_deviation", "news2"})
_ARRHYTHMIA = frozenset(
    {"asystole", "ventricular_fibrillation", "ventricular_tachycardia", "tachycardia", "bradycardia", "af"}
)
_PHYSIOLOGICAL = _HR_HIGH | _HR_LOW | _SPO2_LOW | _RR_HIGH | _TEMP_HIGH | {"rr_low", "rr_low_warning", "temp_low"}


@dataclass(frozen=True, slots=True)
class TrueEvent:
    """Something a nurse must hear about: when it truly began and ended, which alert kinds detect it,
    which kinds are not false while it lasts, and the detecting rule's own definition time."""

    name: str
    family: str  # abrupt | trend | rhythm | technical
    onset_s: float
    end_s: float
    detect: frozenset[str]
    accept: frozenset[str]
    definition_s: float = 0.0

    def covers(self, kind: str, t_s: float) -> bool:
        return kind in self.accept and self.onset_s <= t_s <= self.end_s + _GRACE_S


@dataclass(frozen=True, slots=True)
class Case:
    stream: Stream
    group: str
    events: tuple[TrueEvent, ...] = ()
    scripted: bool = True


@dataclass
class Tally:
    """One configuration's results over the library."""

    alerts: int = 0
    false_alerts: int = 0
    false_by_kind: Counter[str] = field(default_factory=Counter)
    false_by_group: Counter[str] = field(default_factory=Counter)
    detected: int = 0
    events: int = 0
    missed: list[str] = field(default_factory=list)
    times: dict[str, list[float]] = field(default_factory=dict)  # family -> times to alert
    excess: list[float] = field(default_factory=list)  # abrupt: time to alert - definition
    seconds: float = 0.0
    real: Counter[str] = field(default_factory=Counter)  # MIT-BIH: detected/missed per episode kind, others
    real_times: dict[str, list[float]] = field(default_factory=dict)


class ScriptedNurse:
    """Answers every alert after a while: "false alarm" when it matches no true event, else acknowledge."""

    def __init__(self, cases: Iterable[Case]) -> None:
        self._events = {case.stream.record: case.events for case in cases}

    def respond(self, record: str, start_ms: int, event: AlertEvent) -> AlertCommand | None:
        alert = event.alert
        t_s = (event.ts_ms - start_ms) / 1000
        true = any(e.covers(alert.kind, t_s) for e in self._events.get(record, ()))
        action = AlertAction.ACKNOWLEDGE if true else AlertAction.FALSE_ALARM
        at_ms = event.ts_ms + int(_NURSE_RESPONSE_S * 1000)
        return AlertCommand(f"eval-{alert.alert_id}", action, alert.alert_id, alert.patient, "nurse-eval", at_ms)


# ---------------------------------------------------------------- the library


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
    stream = _scenario_stream(scenario, record=record, seconds=seconds, seed=seed, models=models)
    return replace(stream, observations=_observations(stream.patient, seconds, copd=scenario.profile.name == "copd"))


def _patient_days(seed: int, days: int) -> list[Case]:
    from edge_agent.scenarios import COMPOSITES, EPISODES, PROFILES, Scenario  # noqa: PLC0415

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
            events.append(TrueEvent("sepsis_trend", "trend", onset, DAY_S, _PHYSIOLOGICAL, _PHYSIOLOGICAL))
        scenario = Scenario(profile, tuple(sorted(episodes, key=lambda e: e.onset_s)))
        stream = _stream(scenario, f"day/{index}:{kind}", DAY_S, seed * 100 + index, None)
        cases.append(Case(stream, kind, tuple(events)))
    return cases


def _abrupt(seed: int, limits: LimitsSettings) -> list[Case]:
    from edge_agent.scenarios import EPISODES, PROFILES, Scenario  # noqa: PLC0415

    onset, seconds = 3600.0, 2 * 3600
    table = (
        ("tachycardia", 120.0, frozenset({"hr_high"}), _HR_HIGH, limits.hr_delay_s),
        ("bradycardia", 120.0, frozenset({"hr_low"}), _HR_LOW, limits.hr_delay_s),
        ("desaturation", 120.0, frozenset({"spo2_low"}), _SPO2_LOW, limits.spo2_delay_s),
        ("tachypnoea", 180.0, frozenset({"rr_high"}), _RR_HIGH, limits.rr_delay_s),
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
            "fever", "trend", onset, onset + 3600, frozenset({"temp_high", "temp_high_warning"}), _TEMP_HIGH
        )
        cases.append(Case(stream, "trend", (event,)))
    return cases


def _waveforms(seed: int, limits: LimitsSettings, alerting: AlertingSettings, models: EdgeModels) -> list[Case]:
    from edge_agent.scenarios import EPISODES, PROFILES, Scenario  # noqa: PLC0415

    onset, seconds = 480.0, 900
    vt, hr_high, hr_low = (
        frozenset({"ventricular_tachycardia"}),
        frozenset({"tachycardia", "hr_high"}),
        frozenset({"bradycardia", "hr_low"}),
    )
    table: list[tuple[str, str, float, float, frozenset[str], frozenset[str], float]] = [
        ("vrun", "abrupt", 8.0, 0.5, vt, vt | _HR_HIGH, 5 * 60 / 150),  # 5 beats at 150/min
        ("asystole", "abrupt", 15.0, 0.5, frozenset({"asystole"}), _ARRHYTHMIA | _HR_LOW, 4.0),
        ("vf", "abrupt", 20.0, 0.5, frozenset({"ventricular_fibrillation"}), _ARRHYTHMIA | _HR_LOW | _HR_HIGH, 4.0),
        ("tachycardia", "abrupt", 120.0, 1.0, hr_high, _HR_HIGH, limits.hr_delay_s),
        ("bradycardia", "abrupt", 120.0, 1.0, hr_low, _HR_LOW, limits.hr_delay_s),
        ("af", "rhythm", 300.0, 2.0, frozenset({"af"}), frozenset({"af"}) | _HR_HIGH, alerting.af_delay_s),
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
    from edge_agent.records import read_annotations  # noqa: PLC0415

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
                                        _ARRHYTHMIA | _PHYSIOLOGICAL | {"signal_quality"}, 4.0))  # fmt: skip
        samples, symbols = annotations.beats()
        for start, end in _merged(spans["VT"], 120.0):
            v_beats = [s / fs for s, sym in zip(samples, symbols, strict=True) if sym == "V" and start <= s / fs <= end]
            rate = 60 * (len(v_beats) - 1) / (v_beats[-1] - v_beats[0]) if len(v_beats) >= 2 else 0.0
            if len(v_beats) >= 5 and rate > 100:
                events.append(TrueEvent("VT", "rhythm", start, end, frozenset({"ventricular_tachycardia"}),
                                        _ARRHYTHMIA | _PHYSIOLOGICAL, 5 * 60 / rate))  # fmt: skip
        for start, end in _merged(spans["AFIB"], 120.0):
            if end - start >= 90.0:
                events.append(TrueEvent("AFIB", "rhythm", start, end, frozenset({"af"}),
                                        frozenset({"af"}) | _HR_HIGH | _HR_LOW, 60.0))  # fmt: skip
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


# ---------------------------------------------------------------- scoring


def score(case: Case, alerts: Sequence[ReplayedAlert], tally: Tally) -> None:
    """Add one case's alerts to a configuration's tally."""
    live = [a for a in alerts if not a.event.alert.retrospective]
    tally.alerts += len(live)
    if case.scripted:
        tally.seconds += case.stream.seconds
    for alert in live:
        kind = alert.event.alert.kind
        if not any(event.covers(kind, alert.t_s) for event in case.events):
            if case.scripted:
                tally.false_alerts += 1
                tally.false_by_kind[kind] += 1
                tally.false_by_group[case.group] += 1
            else:
                tally.real["other_alerts"] += 1
    for event in case.events:
        first = next(
            (
                a
                for a in live
                if a.event.alert.kind in event.detect and event.onset_s <= a.t_s <= event.end_s + _GRACE_S
            ),
            None,
        )
        if not case.scripted:
            key = f"{event.name}_detected" if first is not None else f"{event.name}_missed"
            tally.real[key] += 1
            if first is not None:
                tally.real_times.setdefault(event.name, []).append(first.t_s - event.onset_s)
            continue
        tally.events += 1
        if first is None:
            tally.missed.append(f"{case.stream.record}:{event.name}")
            continue
        tally.detected += 1
        delay = first.t_s - event.onset_s
        tally.times.setdefault(event.family, []).append(delay)
        if event.family == "abrupt":
            tally.excess.append(delay - event.definition_s)


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 1)


def _summary(tally: Tally) -> dict[str, object]:
    days = tally.seconds / DAY_S
    abrupt = tally.times.get("abrupt", [])
    return {
        "sensitivity": round(tally.detected / tally.events, 4) if tally.events else None,
        "detected": tally.detected,
        "events": tally.events,
        "missed": tally.missed,
        "median_time_to_alert_s": _percentile(abrupt, 0.5),
        "p95_time_to_alert_s": _percentile(abrupt, 0.95),
        "median_excess_over_definition_s": _percentile(tally.excess, 0.5),
        "time_to_alert_by_family_s": {
            family: {"median": _percentile(times, 0.5), "p95": _percentile(times, 0.95), "n": len(times)}
            for family, times in sorted(tally.times.items())
        },
        "alerts": tally.alerts,
        "false_alerts": tally.false_alerts,
        "false_alerts_per_patient_day": round(tally.false_alerts / days, 2) if days else None,
        "false_by_kind": dict(tally.false_by_kind.most_common()),
        "false_by_group": dict(tally.false_by_group.most_common()),
    }


def _real_summary(tally: Tally, hours: float) -> dict[str, object]:
    out: dict[str, object] = {"record_hours": round(hours, 2)}
    for name in ("VFL", "VT", "AFIB"):
        detected, missed = tally.real[f"{name}_detected"], tally.real[f"{name}_missed"]
        times = tally.real_times.get(name, [])
        out[name] = {
            "episodes": detected + missed,
            "sensitivity": round(detected / (detected + missed), 3) if detected + missed else None,
            "median_time_to_alert_s": _percentile(times, 0.5),
        }
    other = tally.real["other_alerts"]
    out["alerts_outside_annotated_episodes_per_hour"] = round(other / hours, 2) if hours else None
    return out


def run(
    cases: Sequence[Case], *, limits: LimitsSettings, alerting: AlertingSettings, log: TextIO
) -> dict[str, tuple[Tally, Tally]]:
    """Every case under every configuration: (scripted tally, real-record tally) per configuration."""
    nurse = ScriptedNurse(cases)
    tallies = {name: (Tally(), Tally()) for name in CONFIGS}
    for case in cases:
        readings = list(case.stream.readings())  # generated once, replayed under each configuration
        stream = replace(case.stream, readings=lambda readings=readings: readings)  # type: ignore[misc]
        for name, switches in CONFIGS.items():
            settings = replace(alerting, **switches)
            alerts = replay_stream(stream, limits=limits, alerting=settings, nurse=nurse)
            score(case, alerts, tallies[name][0 if case.scripted else 1])
        log.write(f"eval alerts: {case.stream.record} ({case.stream.seconds} s) done\n")
    return tallies


def evaluate(
    data: Path | None,
    *,
    log: TextIO = sys.stderr,
    seed: int = 7,
    days: int = 8,
    records: Sequence[str] = MITDB_DEFAULT,
    limits: LimitsSettings | None = None,
    alerting: AlertingSettings | None = None,
) -> dict[str, object]:
    from edge_agent.pipeline import EdgeModels  # noqa: PLC0415

    started = time.perf_counter()
    limits = limits or LimitsSettings()
    alerting = alerting or AlertingSettings()
    cases = build_library(
        seed=seed, days=days, limits=limits, alerting=alerting, models=EdgeModels.load(), data=data,
        records=records, log=log,
    )  # fmt: skip
    tallies = run(cases, limits=limits, alerting=alerting, log=log)
    ablation = {name: _summary(scripted) for name, (scripted, _) in tallies.items()}
    full, static = ablation["full"], ablation["static"]
    real_hours = sum(c.stream.seconds for c in cases if not c.scripted) / 3600
    result: dict[str, object] = {
        "sensitivity": full["sensitivity"],
        "median_time_to_alert_s": full["median_time_to_alert_s"],
        "p95_time_to_alert_s": full["p95_time_to_alert_s"],
        "median_excess_over_definition_s": full["median_excess_over_definition_s"],
        "false_alerts_per_patient_day": {
            "static": static["false_alerts_per_patient_day"],
            "full": full["false_alerts_per_patient_day"],
        },
        "ablation": ablation,
        "library": {
            "scripted_cases": sum(c.scripted for c in cases),
            "scripted_events": full["events"],
            "patient_days": round(sum(c.stream.seconds for c in cases if c.scripted) / DAY_S, 2),
            "seed": seed,
        },
        "real_records": {
            "database": "mitdb",
            "records": [c.stream.record for c in cases if not c.scripted],
            **{name: _real_summary(real, real_hours) for name, (_, real) in tallies.items()},
        },
        "wall_s": round(time.perf_counter() - started, 1),
    }
    static_rate, full_rate = static["false_alerts_per_patient_day"], full["false_alerts_per_patient_day"]
    excess = full["median_excess_over_definition_s"]
    result["targets"] = {
        "sensitivity_100": full["sensitivity"] == 1.0,
        "false_alerts_halved": isinstance(static_rate, float) and isinstance(full_rate, float)
        and full_rate <= static_rate / 2,
        "abrupt_median_within_delay_plus_2s": isinstance(excess, float) and excess <= 2.0,
    }  # fmt: skip
    log.write(_table(ablation))
    return result


def _table(ablation: dict[str, dict[str, object]]) -> str:
    lines = ["", f"{'configuration':<12} {'sens':>6} {'false/day':>10} {'alerts':>7} {'tta med':>8} {'tta p95':>8}"]
    for name, row in ablation.items():
        lines.append(
            f"{name:<12} {row['sensitivity']!s:>6} {row['false_alerts_per_patient_day']!s:>10} {row['alerts']!s:>7} "
            f"{row['median_time_to_alert_s']!s:>8} {row['p95_time_to_alert_s']!s:>8}"
        )
    return "\n".join(lines) + "\n"
