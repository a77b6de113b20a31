"""Scoring the alert evaluation: one configuration's tally over the cases, and its summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from stream_processor.replay import ReplayedAlert
from vitalstream_app.evaluation.alerts.cases import DAY_S, GRACE_S, Case

__all__ = ["Tally", "real_summary", "score", "summary", "table"]


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
            (a for a in live if a.event.alert.kind in event.detect and event.onset_s <= a.t_s <= event.end_s + GRACE_S),
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


def summary(tally: Tally) -> dict[str, object]:
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


def real_summary(tally: Tally, hours: float) -> dict[str, object]:
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


def table(ablation: dict[str, dict[str, object]]) -> str:
    lines = ["", f"{'configuration':<12} {'sens':>6} {'false/day':>10} {'alerts':>7} {'tta med':>8} {'tta p95':>8}"]
    for name, row in ablation.items():
        lines.append(
            f"{name:<12} {row['sensitivity']!s:>6} {row['false_alerts_per_patient_day']!s:>10} {row['alerts']!s:>7} "
            f"{row['median_time_to_alert_s']!s:>8} {row['p95_time_to_alert_s']!s:>8}"
        )
    return "\n".join(lines) + "\n"
