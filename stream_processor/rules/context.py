"""What every rule works from: one reading with its facts worked out once, and what a rule answers.

The rule families (``thresholds``, ``rhythm``, ``early_warning``) and the quiet fast path all read
the same facts (the heart rate and the channel it came from, the usable signal quality, whether the
PPG shows a pulse); computing them once per reading, here, keeps each family short and the
per-reading cost flat (this runs 10,000 times a second).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stream_processor.limits import Verdict
from stream_processor.patient import PatientState
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream.wire import VITALS, AlertExplanation, Priority, VitalsReading

__all__ = [
    "Describe",
    "Finding",
    "ReadingContext",
    "ecg_and_pulse_disagree",
    "established",
    "explanation",
]

Describe = Callable[[int], AlertExplanation]

# The channel whose quality a vital's value depends on (the heart rate's depends on where it came from).
_GATES = {"spo2": "ppg", "rr": "resp"}


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's opinion on one reading. ``gate`` names the channel whose quality must be usable."""

    kind: str
    verdict: Verdict
    describe: Describe
    gate: str | None = None
    priority: Priority | None = None


class ReadingContext:
    """One reading with the facts every rule needs, worked out once (this runs 10,000 times a second)."""

    __slots__ = (
        "alerting",
        "from_ecg_analysis",
        "limits",
        "measured",
        "open_kinds",
        "pulse_argues_against",
        "rate",
        "rate_channel",
        "reading",
        "sqi",
        "state",
    )

    def __init__(
        self, reading: VitalsReading, state: PatientState, limits: LimitsSettings, alerting: AlertingSettings
    ) -> None:
        self.reading = reading
        self.state = state
        self.limits = limits
        self.alerting = alerting
        # Kinds with a lifecycle (pending or open): only these need a finding when the verdict is not "raising".
        self.open_kinds = state.lifecycles.keys()
        vitals, sqi = reading.vitals, reading.sqi
        rhythm = reading.rhythm
        if (
            rhythm is not None
            and rhythm.label == "AF"
            and sqi.get("ppg", 1.0) < alerting.sqi_min <= sqi.get("ecg", 0.0)
        ):
            # An irregular rhythm makes an irregular pulse wave, which a periodicity-based PPG quality
            # scores as poor. With a good ECG showing AF, that is the heart, not the sensor: the PPG
            # counts as just usable (no "check sensor", SpO2 alarms not held back).
            sqi = {**sqi, "ppg": alerting.sqi_min}
        self.sqi = sqi
        # Heart rate and the channel it came from: the ECG's if there is one, else the PPG pulse rate.
        if "hr" in vitals:
            self.rate: float | None = vitals["hr"]
            self.rate_channel: str | None = "ecg" if "ecg" in sqi or "hr" in reading.models else None
        elif "pr" in vitals:
            self.rate, self.rate_channel = vitals["pr"], "ppg"
        else:
            self.rate, self.rate_channel = None, None
        # Did an ECG analysis (beat detection) produce this heart rate? The arrhythmia definitions count
        # beats; a bare numeric heart rate (a monitor's number, a vitals-only device) is judged by limits.
        self.from_ecg_analysis = (
            "hr" in reading.models or bool(reading.beats) or bool(reading.runs) or (reading.rhythm is not None)
        )
        # A good PPG with a plausible pulse: the heart is beating, whatever the ECG shows.
        pr = vitals.get("pr")
        self.pulse_argues_against = pr is not None and pr >= 30 and sqi.get("ppg", 0.0) >= alerting.sqi_min
        # (vital, value) of each baseline vital present on a usable channel: what may teach and score.
        floor = alerting.sqi_min
        measured = []
        for vital in ("hr", "spo2", "rr", "temp"):
            value = self.rate if vital == "hr" else vitals.get(vital)
            if value is None:
                continue
            channel = self.rate_channel if vital == "hr" else _GATES.get(vital)
            quality = None if channel is None else sqi.get(channel)
            if quality is None or quality >= floor:
                measured.append((vital, value))
        self.measured: tuple[tuple[str, float], ...] = tuple(measured)

    def value(self, vital: str) -> float | None:
        return self.rate if vital == "hr" else self.reading.vitals.get(vital)

    def gate_for(self, vital: str) -> str | None:
        if vital == "hr":
            return self.rate_channel
        return _GATES.get(vital)

    def quality_ok(self, channel: str | None) -> bool:
        if channel is None:
            return True
        quality = self.sqi.get(channel)
        return quality is None or quality >= self.alerting.sqi_min

    def wanted(self, kind: str, verdict: Verdict) -> bool:
        """Does this verdict matter? Not when it is not "raising" and nothing is pending or open for the kind."""
        return verdict == "raising" or kind in self.open_kinds


def explanation(
    ctx: ReadingContext,
    *,
    rule: str,
    summary: str,
    vital: str | None = None,
    value: float | None = None,
    limit: float | None = None,
    baseline: dict[str, float] | None = None,
    detail: dict[str, float | str] | None = None,
    response: str | None = None,
) -> AlertExplanation:
    """An alert's explanation, with the reading's signal quality and model versions attached."""
    return AlertExplanation(
        rule=rule,
        summary=summary,
        vital=vital,
        value=value,
        limit=limit,
        unit=VITALS[vital].ucum if vital in VITALS else None,
        baseline=baseline or {},
        sqi=dict(ctx.reading.sqi),
        models=dict(ctx.reading.models),
        response=response,
        detail=detail or {},
    )


def established(ctx: ReadingContext, vital: str) -> bool:
    """Has the patient's baseline for ``vital`` learned long enough to judge by?"""
    baseline = ctx.state.baselines.get(vital)
    return baseline is not None and baseline.learned_s >= ctx.alerting.baseline_min_s


def ecg_and_pulse_disagree(ctx: ReadingContext) -> bool:
    """The ECG heart rate and a good PPG's pulse rate differ by more than 30 /min: an artefact, not a rate."""
    hr, pr = ctx.reading.vitals.get("hr"), ctx.reading.vitals.get("pr")
    return hr is not None and pr is not None and ctx.pulse_argues_against and abs(hr - pr) > 30
