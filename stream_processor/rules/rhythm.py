"""The rhythm and technical rules, from the edge's ECG analysis, with the PhysioNet/CinC 2015 definitions.

``asystole``, ``bradycardia`` (extreme: < 40/min for 5 beats), ``tachycardia`` (extreme: > 140/min
for 17 beats), ``ventricular_tachycardia`` (>= 5 consecutive V beats at > 100/min),
``ventricular_fibrillation`` (>= 4 s), ``af`` and ``signal_quality`` ("check sensor"). They count beats
and seconds across readings (in the patient's ``counters``) and judge the ECG; ECG-based alarms are
cross-checked against the PPG before they page, because a good pulse wave means the heart is beating
whatever the ECG shows.
"""

from __future__ import annotations

from stream_processor.limits import Verdict
from stream_processor.rules.context import (
    Describe,
    Finding,
    ReadingContext,
    ecg_and_pulse_disagree,
    explanation,
)
from vitalstream.wire import AlertExplanation

__all__ = ["RHYTHM_COUNTERS", "rhythm_findings"]

# The counters these rules keep per patient; all of them are reset by a reading none of them applies to.
RHYTHM_COUNTERS = ("brady_beats", "tachy_beats", "vf_seconds")


def _count(ctx: ReadingContext, key: str, *, condition: bool, amount: float) -> float:
    counters = ctx.state.counters
    counters[key] = counters.get(key, 0.0) + amount if condition else 0.0
    return counters[key]


def rhythm_findings(ctx: ReadingContext) -> list[Finding]:
    """Every rhythm and technical finding for one reading, in a fixed order."""
    reading = ctx.reading
    hr = reading.vitals.get("hr")  # the ECG heart rate: these rules are ECG rules
    label = reading.rhythm.label if reading.rhythm is not None else None
    findings: list[Finding] = []
    against = ctx.pulse_argues_against

    def simple(kind: str, summary: str, detail: dict[str, float | str] | None = None) -> Describe:
        return lambda held_ms: explanation(
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
        disagree = ecg_and_pulse_disagree(ctx)
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
        return explanation(
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
        return explanation(
            ctx,
            rule="technical:signal_quality",
            summary=f"Check sensor: poor signal quality ({channels}) for {held_ms / 1000:.0f} s; "
            "alarms from these channels are held back meanwhile",
            detail={k: round(v, 3) for k, v in poor.items()},
        )

    return Finding("signal_quality", verdict, describe)
