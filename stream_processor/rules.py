"""The alert rules: what each reading says about each alert kind. Pure functions of the reading and
the patient's state; the alert lifecycle (delay, hysteresis, re-open) is applied afterwards.

Four families, from the most to the least certain:

- **hard limits** (``hr_high``, ``spo2_low``, ...): crossing one always alarms; learning cannot change it;
- **rhythm and technical rules** from the edge's outputs, with the PhysioNet/CinC 2015 definitions:
  ``asystole``, ``bradycardia`` (extreme: < 40/min for 5 beats), ``tachycardia`` (extreme: > 140/min
  for 17 beats), ``ventricular_tachycardia`` (>= 5 consecutive V beats at > 100/min),
  ``ventricular_fibrillation`` (>= 4 s), ``af`` and ``signal_quality`` ("check sensor"); ECG-based
  alarms are cross-checked against the PPG before they page;
- **soft limits** (``hr_high_warning``, ...): ward warning thresholds, low priority, which the
  patient's learned normal silences when the value is usual *for that patient* (an athlete's 48/min,
  a COPD patient's 89 %);
- **deviations** (``hr_deviation``, ...): the patient leaves their own band while inside every limit.

Alarms that describe one physiological event are grouped: while a more specific or more serious
alert of a group is open, the others of that group are not raised (one tachycardia pages once, not
as ``tachycardia`` and ``hr_high`` and ``hr_high_warning``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stream_processor.limits import LimitRule, Verdict
from stream_processor.news2 import News2Score, news2
from stream_processor.patient import PatientState
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream.wire import VITALS, AlertExplanation, Priority, VitalsReading

__all__ = [
    "BAND_PRIORITY",
    "GROUPS",
    "NEWS2_EVERY_MS",
    "Finding",
    "ReadingContext",
    "RuleSpec",
    "evaluate_reading",
    "is_quiet",
    "news2_of",
    "news2_verdict",
    "rule_specs",
]

Describe = Callable[[int], AlertExplanation]

_LABEL = {"hr": "Heart rate", "spo2": "SpO2", "rr": "Respiratory rate", "temp": "Temperature"}

# Most specific or most serious first; a kind is held back while an earlier kind of its group is open.
GROUPS: tuple[tuple[str, ...], ...] = (
    ("ventricular_fibrillation", "asystole", "bradycardia", "hr_low", "hr_low_warning", "hr_deviation"),
    ("ventricular_tachycardia", "tachycardia", "hr_high", "hr_high_warning", "hr_deviation"),
    ("spo2_low", "spo2_low_warning", "spo2_deviation"),
    ("rr_low", "rr_low_warning", "rr_deviation"),
    ("rr_high", "rr_high_warning", "rr_deviation"),
    ("temp_high", "temp_high_warning", "temp_deviation"),
)


NEWS2_EVERY_MS = 5000


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """How the lifecycle of a kind is set up: base priority, condition delay, clear delay, and the longest
    gap between evaluations before a pending condition starts over."""

    kind: str
    priority: Priority
    delay_s: float
    clear_delay_s: float
    max_gap_s: float = 5.0


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


_GATES = {"spo2": "ppg", "rr": "resp"}


def rule_specs(limits: LimitsSettings, alerting: AlertingSettings, hard: tuple[LimitRule, ...]) -> dict[str, RuleSpec]:
    """Every kind the processor can raise, with its lifecycle parameters."""
    a = alerting
    specs = [RuleSpec(rule.kind, rule.priority, rule.delay_s, limits.clear_delay_s) for rule in hard]
    specs += [
        RuleSpec("asystole", Priority.HIGH, 0.0, 5.0),
        RuleSpec("ventricular_fibrillation", Priority.HIGH, 0.0, 5.0),
        RuleSpec("ventricular_tachycardia", Priority.HIGH, 0.0, 10.0),
        RuleSpec("bradycardia", Priority.HIGH, 0.0, 5.0),
        RuleSpec("tachycardia", Priority.HIGH, 0.0, 5.0),
        RuleSpec("af", Priority.MEDIUM, a.af_delay_s, 60.0),
        RuleSpec("signal_quality", Priority.LOW, a.technical_after_s, 10.0),
        RuleSpec("no_data", Priority.MEDIUM, 0.0, 0.0),
        RuleSpec("news2", Priority.MEDIUM, a.news2_delay_s, 60.0, max_gap_s=3 * NEWS2_EVERY_MS / 1000),
    ]
    for vital in ("hr", "spo2", "rr", "temp"):
        for side in ("high", "low"):
            specs.append(RuleSpec(f"{vital}_{side}_warning", Priority.LOW, a.soft_delay_s, 30.0))
        specs.append(RuleSpec(f"{vital}_deviation", Priority.LOW, a.deviation_delay_s, 60.0))
    return {spec.kind: spec for spec in specs}


def _explanation(
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


def _baseline_facts(ctx: ReadingContext, vital: str, value: float) -> dict[str, float]:
    baseline = ctx.state.baselines.get(vital)
    if baseline is None or baseline.learned == 0:
        return {}
    return {
        "mean": round(baseline.mean, 2),
        "sd": round(baseline.sd, 2),
        "z": round(baseline.z(value), 2),
        "learned_s": baseline.learned_s,
    }


def _established(ctx: ReadingContext, vital: str) -> bool:
    baseline = ctx.state.baselines.get(vital)
    return baseline is not None and baseline.learned_s >= ctx.alerting.baseline_min_s


def _widening(ctx: ReadingContext, kind: str) -> float:
    """Clinician feedback: each false alarm of this kind widens the personal band a little, bounded."""
    if not ctx.alerting.use_feedback:
        return 0.0
    return min(ctx.alerting.feedback_max_sd, ctx.state.feedback.get(kind, 0) * ctx.alerting.feedback_step_sd)


# ---------------------------------------------------------------- hard and soft limits, deviations


def _hard(ctx: ReadingContext, rule: LimitRule) -> Finding | None:
    value = ctx.value(rule.vital)
    if value is None:
        return None
    verdict = rule.verdict(value)
    if not ctx.wanted(rule.kind, verdict):
        return None

    def describe(held_ms: int) -> AlertExplanation:
        return _explanation(
            ctx,
            rule=f"hard_limit:{rule.kind}",
            summary=rule.summary(value, held_ms / 1000),
            vital=rule.vital,
            value=value,
            limit=rule.limit,
            baseline=_baseline_facts(ctx, rule.vital, value),
        )

    if rule.vital == "hr" and verdict == "raising" and _ecg_and_pulse_disagree(ctx):
        verdict = "hold"  # the ECG says one thing, a good PPG another: an artefact, not a heart rate
    return Finding(rule.kind, verdict, describe, gate=ctx.gate_for(rule.vital))


def _ecg_and_pulse_disagree(ctx: ReadingContext) -> bool:
    hr, pr = ctx.reading.vitals.get("hr"), ctx.reading.vitals.get("pr")
    return hr is not None and pr is not None and ctx.pulse_argues_against and abs(hr - pr) > 30


def _soft_limits(ctx: ReadingContext) -> list[Finding]:
    a = ctx.alerting
    table = (
        ("hr", "high", a.soft_hr_high),
        ("hr", "low", a.soft_hr_low),
        ("spo2", "low", a.soft_spo2_low),
        ("rr", "high", a.soft_rr_high),
        ("rr", "low", a.soft_rr_low),
        ("temp", "high", a.soft_temp_high),
    )
    findings = []
    for vital, side, threshold in table:
        value = ctx.value(vital)
        if value is None:
            continue
        kind = f"{vital}_{side}_warning"
        beyond = value > threshold if side == "high" else value < threshold
        # Hysteresis: 5 % of the threshold on the safe side before the warning clears.
        back = value < threshold * 0.95 if side == "high" else value > threshold * 1.05
        verdict: Verdict = "raising" if beyond else "clear" if back else "hold"
        if not ctx.wanted(kind, verdict):
            continue
        usual = False
        if beyond and a.use_baselines and _established(ctx, vital):
            low, high = ctx.state.baselines[vital].band(a.personal_band_sd + _widening(ctx, kind))
            usual = low <= value <= high
            if usual:
                verdict = "clear"  # unusual for the ward, usual for this patient: not a warning
        describe = _soft_describer(ctx, kind=kind, vital=vital, side=side, value=value, threshold=threshold)
        findings.append(Finding(kind, verdict, describe, gate=ctx.gate_for(vital)))
    return findings


def _soft_describer(
    ctx: ReadingContext, *, kind: str, vital: str, side: str, value: float, threshold: float
) -> Describe:
    def describe(held_ms: int) -> AlertExplanation:
        unit = VITALS[vital].ucum
        direction = "above" if side == "high" else "below"
        facts = _baseline_facts(ctx, vital, value)
        usual = f"; the patient's usual is {facts['mean']:g} +- {facts['sd']:g} {unit}" if facts else ""
        summary = (
            f"{_LABEL[vital]} {value:g} {unit} {direction} the ward warning level of {threshold:g} {unit} "
            f"for {held_ms / 1000:.0f} s{usual}"
        )
        return _explanation(
            ctx, rule=f"soft_limit:{kind}", summary=summary, vital=vital, value=value, limit=threshold, baseline=facts
        )

    return describe


def _deviations(ctx: ReadingContext) -> list[Finding]:
    a = ctx.alerting
    if not a.use_baselines:
        return []
    findings = []
    for vital in ("hr", "spo2", "rr", "temp"):
        value = ctx.value(vital)
        if value is None or not _established(ctx, vital):
            continue
        kind = f"{vital}_deviation"
        baseline = ctx.state.baselines[vital]
        z = baseline.z(value)
        limit = a.deviation_z + _widening(ctx, kind)
        verdict: Verdict = "raising" if abs(z) >= limit else "clear" if abs(z) < a.deviation_clear_z else "hold"
        if not ctx.wanted(kind, verdict):
            continue
        describe = _deviation_describer(ctx, vital=vital, value=value, z=z, limit=limit)
        findings.append(Finding(kind, verdict, describe, gate=ctx.gate_for(vital)))
    return findings


def _deviation_describer(ctx: ReadingContext, *, vital: str, value: float, z: float, limit: float) -> Describe:
    baseline = ctx.state.baselines[vital]
    mean, sd = baseline.mean, baseline.sd

    def describe(held_ms: int) -> AlertExplanation:
        unit = VITALS[vital].ucum
        summary = (
            f"{_LABEL[vital]} {value:g} {unit} is {abs(z):.1f} s.d. {'above' if z > 0 else 'below'} this "
            f"patient's usual {mean:.1f} +- {sd:.1f} {unit} for {held_ms / 60000:.0f} min"
        )
        return _explanation(
            ctx,
            rule=f"personal_baseline:{vital}",
            summary=summary,
            vital=vital,
            value=value,
            limit=round(mean + (limit if z > 0 else -limit) * sd, 2),
            baseline={"mean": round(mean, 2), "sd": round(sd, 2), "z": round(z, 2)},
        )

    return describe


# ---------------------------------------------------------------- rhythm and technical rules


def _count(ctx: ReadingContext, key: str, *, condition: bool, amount: float) -> float:
    counters = ctx.state.counters
    counters[key] = counters.get(key, 0.0) + amount if condition else 0.0
    return counters[key]


def _rhythm_rules(ctx: ReadingContext) -> list[Finding]:
    reading = ctx.reading
    hr = reading.vitals.get("hr")  # the ECG heart rate: these rules are ECG rules
    label = reading.rhythm.label if reading.rhythm is not None else None
    findings: list[Finding] = []
    against = ctx.pulse_argues_against

    def simple(kind: str, summary: str, detail: dict[str, float | str] | None = None) -> Describe:
        return lambda held_ms: _explanation(
            ctx, rule=f"rhythm:{kind}", summary=summary, vital="hr", value=hr, detail=detail
        )

    if hr is not None and ctx.from_ecg_analysis:
        asystole = hr == 0.0
        verdict: Verdict = "hold" if asystole and against else "raising" if asystole else "clear"
        findings.append(
            Finding(
                "asystole",
                verdict,
                simple(
                    "asystole",
                    "No QRS complex for at least 5 s on a connected ECG; no pulse in the PPG"
                    if not against
                    else "No QRS complex, but the PPG shows a pulse",
                    {"pulse_rate": reading.vitals.get("pr", 0.0)},
                ),
            )
        )
        beats = float(sum(reading.beats.values())) or hr / 60.0
        slow = _count(ctx, "brady_beats", condition=0 < hr < 40, amount=beats)
        fast = _count(ctx, "tachy_beats", condition=hr > 140, amount=beats)
        disagree = _ecg_and_pulse_disagree(ctx)
        findings.append(
            Finding(
                "bradycardia",
                "hold" if disagree else "raising" if slow >= 5 else "clear" if hr >= 45 else "hold",
                simple(
                    "bradycardia",
                    f"Extreme bradycardia: heart rate {hr:g} /min below 40 /min for {slow:.0f} beats",
                    {"beats": slow},
                ),
                gate="ecg",
            )
        )
        findings.append(
            Finding(
                "tachycardia",
                "hold" if disagree else "raising" if fast >= 17 else "clear" if hr <= 130 else "hold",
                simple(
                    "tachycardia",
                    f"Extreme tachycardia: heart rate {hr:g} /min above 140 /min for {fast:.0f} beats",
                    {"beats": fast},
                ),
                gate="ecg",
            )
        )
        v_run = reading.runs.get("V", 0)
        vt = v_run >= 5 and hr > 100
        findings.append(
            Finding(
                "ventricular_tachycardia",
                "raising" if vt else "clear" if v_run < 3 else "hold",
                simple(
                    "ventricular_tachycardia",
                    f"Ventricular tachycardia: {v_run} consecutive ventricular beats at {hr:g} /min",
                    {"run": float(v_run)},
                ),
                gate="ecg",
            )
        )
    if label is not None:
        vf_seconds = _count(ctx, "vf_seconds", condition=label == "VF", amount=1.0)
        verdict = "hold" if label == "VF" and against else "raising" if vf_seconds >= 4 else "clear"
        findings.append(
            Finding(
                "ventricular_fibrillation",
                verdict,
                simple(
                    "ventricular_fibrillation",
                    f"Ventricular fibrillation or flutter waveform for {vf_seconds:.0f} s",
                    {"seconds": vf_seconds},
                ),
            )
        )
        p = reading.rhythm.p if reading.rhythm is not None else 0.0
        af: Verdict = "raising" if label == "AF" and p >= 0.8 else "clear" if label == "N" else "hold"
        findings.append(Finding("af", af, _af_describer(ctx, p), gate="ecg"))
    technical = _signal_quality(ctx)
    if technical is not None:
        findings.append(technical)
    return [f for f in findings if ctx.wanted(f.kind, f.verdict)]


def _af_describer(ctx: ReadingContext, p: float) -> Describe:
    def describe(held_ms: int) -> AlertExplanation:
        return _explanation(
            ctx,
            rule="rhythm:af",
            detail={"p": p},
            summary=f"Atrial fibrillation (model probability {p:.2f}) for {held_ms / 1000:.0f} s",
        )

    return describe


def _signal_quality(ctx: ReadingContext) -> Finding | None:
    reading = ctx.reading
    floor = ctx.alerting.sqi_min
    if "signal_quality" not in ctx.open_kinds and all(q >= floor for q in ctx.sqi.values()):
        return None  # the common case: every channel fine, nothing pending
    # Asystole and VF look like poor signals; they must page as what they are, not as "check sensor".
    physiological = reading.vitals.get("hr") == 0.0 or (reading.rhythm is not None and reading.rhythm.label == "VF")
    poor = {ch: q for ch, q in ctx.sqi.items() if q < floor}
    good = all(q >= floor + 0.1 for q in ctx.sqi.values())
    verdict: Verdict = "hold" if physiological else "raising" if poor else "clear" if good else "hold"
    channels = ", ".join(sorted(poor)) or "none"

    def describe(held_ms: int) -> AlertExplanation:
        return _explanation(
            ctx,
            rule="technical:signal_quality",
            summary=f"Check sensor: poor signal quality ({channels}) for {held_ms / 1000:.0f} s; "
            "alarms from these channels are held back meanwhile",
            detail={k: round(v, 3) for k, v in poor.items()},
        )

    return Finding("signal_quality", verdict, describe)


# ---------------------------------------------------------------- NEWS2


def news2_of(state: PatientState, now_ms: int, alerting: AlertingSettings) -> News2Score:
    """NEWS2 from the freshest inputs; stale inputs count as missing, never as normal."""
    observations: dict[str, object] = {"spo2_scale": state.spo2_scale}
    for parameter, (value, ts_ms) in state.news2_inputs.items():
        horizon = alerting.news2_vitals_fresh_s if parameter in _CONTINUOUS else alerting.news2_observations_fresh_s
        if now_ms - ts_ms <= horizon * 1000:
            observations[parameter] = value
    return news2(observations)


_CONTINUOUS = frozenset({"respiration_rate", "spo2", "pulse", "temperature"})
BAND_PRIORITY = {"low-medium": Priority.LOW, "medium": Priority.MEDIUM, "high": Priority.HIGH}


# Hysteresis for NEWS2: an open NEWS2 alert clears only once the total is back to this or less, so
# a score hovering at a band edge (4, 5, 4, 5 ...) does not page, clear and page again.
NEWS2_CLEAR_TOTAL = 2


def news2_verdict(score: News2Score, *, is_open: bool) -> Verdict:
    if score.band != "low":
        return "raising"
    return "hold" if is_open and score.total > NEWS2_CLEAR_TOTAL else "clear"


def _news2_finding(ctx: ReadingContext) -> Finding:
    score = news2_of(ctx.state, ctx.reading.ts_ms, ctx.alerting)
    verdict = news2_verdict(score, is_open=ctx.state.is_open("news2"))

    def describe(held_ms: int) -> AlertExplanation:
        missing = f"; not scored (missing or stale): {', '.join(score.missing)}" if score.missing else ""
        detail: dict[str, float | str] = {f"points_{k}": float(v) for k, v in score.points.items()}
        detail["total"] = float(score.total)
        detail["band"] = score.band
        if score.missing:
            detail["missing"] = ",".join(score.missing)
        return _explanation(
            ctx,
            rule="news2",
            summary=f"NEWS2 {score.total} ({score.band} risk){missing}",
            value=float(score.total),
            detail=detail,
            response=score.response,
        )

    return Finding("news2", verdict, describe, priority=BAND_PRIORITY.get(score.band))


# ---------------------------------------------------------------- all together


def is_quiet(ctx: ReadingContext) -> bool:  # noqa: PLR0911 -- one early exit per rule family reads best
    """True when no rule can raise on this reading and nothing is pending or open for the patient.

    Most readings are like that; for them the rules are skipped (and their counters reset). It must
    never say quiet when a rule would raise: ``tests/test_alert_rules.py`` checks that on random readings.
    """
    if ctx.open_kinds:
        return False
    reading, limits, a = ctx.reading, ctx.limits, ctx.alerting
    floor = a.sqi_min
    for quality in reading.sqi.values():
        if quality < floor:
            return False
    rate = ctx.rate
    if rate is not None:
        low = max(limits.hr_low, a.soft_hr_low)
        high = min(limits.hr_high, a.soft_hr_high, 140.0)  # 140: the extreme tachycardia definition
        if not low <= rate <= high:
            return False
    vitals = reading.vitals
    spo2 = vitals.get("spo2")
    if spo2 is not None and spo2 < max(limits.spo2_low, a.soft_spo2_low):
        return False
    rr = vitals.get("rr")
    if rr is not None and not max(limits.rr_low, a.soft_rr_low) <= rr <= min(limits.rr_high, a.soft_rr_high):
        return False
    temp = vitals.get("temp")
    if temp is not None and not limits.temp_low <= temp <= min(limits.temp_high, a.soft_temp_high):
        return False
    if reading.runs.get("V", 0) >= 5 or (reading.rhythm is not None and reading.rhythm.label != "N"):
        return False
    if a.use_baselines:
        for vital, value in (("hr", rate), ("spo2", spo2), ("rr", rr), ("temp", temp)):
            if (
                value is not None
                and _established(ctx, vital)
                and abs(ctx.state.baselines[vital].z(value)) >= a.deviation_z
            ):
                return False
    return True


def evaluate_reading(ctx: ReadingContext, hard: tuple[LimitRule, ...]) -> list[Finding]:
    """Every rule's finding for one reading, in a fixed order (deterministic replays)."""
    if is_quiet(ctx):
        findings: list[Finding] = []
        counters = ctx.state.counters
        for key in ("brady_beats", "tachy_beats", "vf_seconds"):
            if key in counters:
                counters[key] = 0.0  # what the rules would do: their conditions are all false here
    else:
        # Rhythm rules first: they head their groups, so when a rhythm alarm and a hard limit describing
        # the same event come due on one reading, the more specific one raises and holds the other back.
        findings = _rhythm_rules(ctx)
        findings += [f for f in (_hard(ctx, rule) for rule in hard) if f is not None]
        findings += _soft_limits(ctx)
        findings += _deviations(ctx)
    # NEWS2 moves slowly (smoothed inputs, minutes-long freshness): scoring it every 5 s of device time
    # is as good as every second, and a fifth of the work.
    counters = ctx.state.counters
    if ctx.reading.ts_ms - counters.get("news2_at", float("-inf")) >= NEWS2_EVERY_MS:
        counters["news2_at"] = float(ctx.reading.ts_ms)
        finding = _news2_finding(ctx)
        if ctx.wanted(finding.kind, finding.verdict):
            findings.append(finding)
    return findings
