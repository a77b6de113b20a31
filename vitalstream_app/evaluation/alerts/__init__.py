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

import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from edge_agent.pipeline import EdgeModels
from stream_processor.replay import replay_stream
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream.wire import AlertAction, AlertCommand, AlertEvent
from vitalstream_app.evaluation.alerts.cases import DAY_S, Case, TrueEvent
from vitalstream_app.evaluation.alerts.library import MITDB_DEFAULT, build_library
from vitalstream_app.evaluation.alerts.scoring import Tally, real_summary, score, summary, table

__all__ = [
    "CONFIGS",
    "MITDB_DEFAULT",
    "Case",
    "ScriptedNurse",
    "Tally",
    "TrueEvent",
    "build_library",
    "evaluate",
    "run",
    "score",
]

CONFIGS: dict[str, dict[str, bool]] = {
    "static": {"use_baselines": False, "use_sqi_gating": False, "use_feedback": False},
    "baselines": {"use_baselines": True, "use_sqi_gating": False, "use_feedback": False},
    "sqi_gating": {"use_baselines": True, "use_sqi_gating": True, "use_feedback": False},
    "full": {"use_baselines": True, "use_sqi_gating": True, "use_feedback": True},
}

_NURSE_RESPONSE_S = 90.0


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

    started = time.perf_counter()
    limits = limits or LimitsSettings()
    alerting = alerting or AlertingSettings()
    cases = build_library(
        seed=seed, days=days, limits=limits, alerting=alerting, models=EdgeModels.load(), data=data,
        records=records, log=log,
    )  # fmt: skip
    tallies = run(cases, limits=limits, alerting=alerting, log=log)
    ablation = {name: summary(scripted) for name, (scripted, _) in tallies.items()}
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
            **{name: real_summary(real, real_hours) for name, (_, real) in tallies.items()},
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
    log.write(table(ablation))
    return result
