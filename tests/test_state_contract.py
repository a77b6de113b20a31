"""The state contract, over every per-patient and per-device state class: pickle round trip, independent
copies, inputs left alone, determinism.

The processor checkpoints patients by pickling them, and the edge keeps one pipeline per device, so
each of these classes must (1) restore from a pickle into an object that behaves exactly like the
original on whatever comes next, (2) deep-copy into an object that shares no mutable state with the
original, (3) never mutate what it is fed, and (4) given the same inputs, reach the same outputs and
the same pickled state.

Each class is driven by a small adapter (:class:`Case`): ``make()`` a fresh object, ``feed(obj,
item)`` one input and return what it answered, ``inputs()`` from the project's simulators, and a
``split`` index into them taken mid-episode (an alert open, a beat pending, a gap outstanding) so
that what follows the split depends on the state built before it. ``eventful`` says which outputs
are worth having: every check asserts some among the outputs it compares, so no case can pass by
answering nothing.
"""

from __future__ import annotations

import copy
import functools
import pickle
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from edge_agent.frames import DeviceFrame
from edge_agent.models.qrs import StreamingQrsDetector
from edge_agent.pipeline import DevicePipeline, EdgeModels
from edge_agent.scenarios import parse_scenarios
from edge_agent.simulator import SimulatedWard, WaveformWard, device_id, patient_id
from stream_processor.alert_lifecycle import AlertLifecycle, AlertSubject, CommandRefused
from stream_processor.baselines import VitalBaseline
from stream_processor.core import ProcessorCore, ReadingOutcome
from stream_processor.limits import hard_limit_rules
from stream_processor.patient import PatientState
from stream_processor.sequence import SeqStatus, SeqTracker
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream.wire import AlertAction, AlertExplanation, VitalsReading

T0 = 1_790_000_000_000
SEED = 11
_BUILT: dict[str, Sequence[Any]] = {}


@dataclass(frozen=True)
class Case:
    """One state class under the contract (see the module docstring)."""

    name: str
    make: Callable[[], Any]
    feed: Callable[[Any, Any], Any]
    inputs: Callable[[], Sequence[Any]]  # builds new input objects at each call
    split: int
    eventful: Callable[[Any], bool]

    def items(self) -> Sequence[Any]:
        """The inputs, built once for all the checks that only read them."""
        if self.name not in _BUILT:
            _BUILT[self.name] = self.inputs()
        return _BUILT[self.name]

    def run(self, state: Any, items: Sequence[Any]) -> list[Any]:
        return [self.feed(state, item) for item in items]

    def halves(self) -> tuple[Sequence[Any], Sequence[Any]]:
        items = self.items()
        assert 0 < self.split < len(items)
        return items[: self.split], items[self.split :]

    def assert_eventful(self, outputs: list[Any]) -> None:
        assert any(self.eventful(out) for out in outputs), f"{self.name}: nothing happened in {len(outputs)} outputs"


def _readings(spec: str, seconds: int, *, start_ms: int = T0) -> list[VitalsReading]:
    """One simulated patient's 1 Hz readings, sequence numbers from 0."""
    ward = SimulatedWard(parse_scenarios(spec, patients=1), seed=SEED, start_ms=start_ms)
    return ward.readings_until(start_ms + (seconds - 1) * 1000)


def _frames(spec: str, seconds: int) -> tuple[DeviceFrame, ...]:
    """One simulated patient's waveform frames, their samples read-only (a write to them raises)."""
    ward = WaveformWard(parse_scenarios(spec, patients=1), seed=SEED, start_ms=T0)
    frames = ward.frames_until(T0 + (seconds - 1) * 1000)
    for frame in frames:
        for chunk in frame.chunks:
            chunk.samples.setflags(write=False)
    return tuple(frames)


# ---------------------------------------------------------------- River baselines


_ALERTING = AlertingSettings()


def _baseline_feed(baseline: VitalBaseline, reading: VitalsReading) -> tuple[float, float, bool, int]:
    """Protected learning as the core does it (no alarm is open here): settle first, then only the unsurprising."""
    value = reading.vitals["hr"]
    learn = baseline.learned_s < _ALERTING.baseline_min_s or abs(baseline.z(value)) < _ALERTING.learn_max_z
    baseline.observe(value, ts_ms=reading.ts_ms, learn=learn)
    return baseline.mean, baseline.sd, baseline.adopting, baseline.learned


def _baseline_inputs() -> tuple[VitalsReading, ...]:
    # Twenty quiet minutes, then a heart rate that stays high: a change of normal the baseline adopts.
    return tuple(_readings("stable/tachycardia@1200+2400", 1800))


BASELINE = Case(
    name="VitalBaseline",
    make=lambda: VitalBaseline.for_vital("hr"),
    feed=_baseline_feed,
    inputs=_baseline_inputs,
    split=1260,  # a minute into the shift, before the change detector has seen enough of it
    eventful=lambda out: out[2],  # adopting
)


# ---------------------------------------------------------------- alert lifecycle


@dataclass(frozen=True)
class Click:
    """A clinician's command as the lifecycle receives it."""

    action: AlertAction
    by: str
    ts_ms: int


_HR_HIGH = next(rule for rule in hard_limit_rules(LimitsSettings()) if rule.kind == "hr_high")
_ESCALATE_AFTER_MS = 20_000


def _lifecycle_make() -> AlertLifecycle:
    return AlertLifecycle(
        kind=_HR_HIGH.kind,
        priority=_HR_HIGH.priority,
        delay_ms=int(_HR_HIGH.delay_s * 1000),
        clear_delay_ms=int(LimitsSettings().clear_delay_s * 1000),
    )


def _lifecycle_feed(lifecycle: AlertLifecycle, item: VitalsReading | Click) -> list[tuple[object, ...]]:
    if isinstance(item, Click):
        try:
            return [lifecycle.command(item.action, by=item.by, ts_ms=item.ts_ms)]
        except CommandRefused as refused:
            return [("refused", refused.reason)]
    value = item.vitals["hr"]

    def describe(held_ms: int) -> AlertExplanation:
        return AlertExplanation(
            f"hard_limit:{_HR_HIGH.kind}", _HR_HIGH.summary(value, held_ms / 1000), vital="hr", value=value
        )

    subject = AlertSubject(item.patient, "icu", item.device)
    changes = lifecycle.observe(
        _HR_HIGH.verdict(value), ts_ms=item.ts_ms, subject=subject, retrospective=False, describe=describe
    )
    return [*changes, *lifecycle.escalate_if_due(item.ts_ms, _ESCALATE_AFTER_MS)]


def _lifecycle_inputs() -> tuple[VitalsReading | Click, ...]:
    # Tachycardia twice (raise, escalate, clear, re-open within the flapping window), and a nurse who
    # acknowledges, clicks again, and finally calls the cleared alert a false alarm.
    items: list[VitalsReading | Click] = list(_readings("tachycardia@20+40/tachycardia@100+40", 170))
    clicks = ((118, AlertAction.ACKNOWLEDGE), (119, AlertAction.ACKNOWLEDGE), (165, AlertAction.FALSE_ALARM))
    for at_s, action in clicks:
        index = next(i for i, item in enumerate(items) if item.ts_ms > T0 + at_s * 1000)
        items.insert(index, Click(action, "nurse-7", T0 + at_s * 1000 + 500))
    return tuple(items)


LIFECYCLE = Case(
    name="AlertLifecycle",
    make=_lifecycle_make,
    feed=_lifecycle_feed,
    inputs=_lifecycle_inputs,
    split=40,  # raised, not yet escalated
    eventful=bool,
)


# ---------------------------------------------------------------- sequence tracker


def _seq_feed(tracker: SeqTracker, reading: VitalsReading) -> tuple[object, ...]:
    verdict = tracker.observe(reading.seq, ts_ms=reading.ts_ms)
    return verdict, tracker.skipped_total, tracker.late_total, len(tracker.missing)


def _seq_inputs() -> tuple[VitalsReading, ...]:
    """At-least-once delivery of a device's readings: some held back (late), some twice, then a device reset."""
    rng = random.Random(SEED)
    delivered: list[VitalsReading] = []
    held: list[VitalsReading] = []
    restarted = _readings("stable", 40, start_ms=T0 + 600_000)  # counter back at 0, device time later
    for reading in [*_readings("stable", 200), *restarted]:
        roll = rng.random()
        if roll < 0.1:
            held.append(reading)
            continue
        delivered.append(reading)
        if roll > 0.9:
            delivered.append(reading)
        if held and rng.random() < 0.15:
            delivered.append(held.pop(0))
    return tuple(delivered + held)


SEQUENCE = Case(
    name="SeqTracker",
    make=SeqTracker,
    feed=_seq_feed,
    inputs=_seq_inputs,
    split=107,  # two sequence numbers missing, their readings still to come
    eventful=lambda out: out[0].status is not SeqStatus.NEW,
)


# ---------------------------------------------------------------- streaming QRS detector


def _qrs_feed(detector: StreamingQrsDetector, samples: np.ndarray) -> tuple[int, ...]:
    return tuple(int(index) for index in detector.push(samples))


def _qrs_inputs() -> tuple[np.ndarray, ...]:
    return tuple(next(c for c in frame.chunks if c.kind == "ecg").samples for frame in _frames("af@10+20", 40))


QRS = Case(
    name="StreamingQrsDetector",
    make=lambda: StreamingQrsDetector(WaveformWard.ECG_FS),
    feed=_qrs_feed,
    inputs=_qrs_inputs,
    split=15,  # mid-stream, in atrial fibrillation
    eventful=bool,
)


# ---------------------------------------------------------------- patient state, through the core


@functools.cache
def _core() -> ProcessorCore:
    """Rules and settings only: the patients it works on are handed in per reading and taken back."""
    return ProcessorCore(limits=LimitsSettings(), alerting=_ALERTING, ward_of=lambda _p: "icu", horizon_s=300)


def _patient_feed(state: PatientState, reading: VitalsReading) -> ReadingOutcome:
    core = _core()
    core.patients = {reading.patient: state}
    try:
        return core.on_reading(reading, now_ms=reading.ts_ms + 200)
    finally:
        core.patients = {}


def _patient_inputs() -> tuple[VitalsReading, ...]:
    # Tachycardia, then a desaturation while it lasts; every 7th reading redelivered.
    readings = _readings("tachycardia@20+40/desaturation@40+40", 120)
    return tuple(r for i, reading in enumerate(readings) for r in ([reading] * (2 if i % 7 == 3 else 1)))


PATIENT = Case(
    name="PatientState",
    make=lambda: PatientState(ward="icu"),
    feed=_patient_feed,
    inputs=_patient_inputs,
    split=40,  # the heart-rate alert just raised, the desaturation still to come
    eventful=lambda out: bool(out.events),
)


# ---------------------------------------------------------------- device pipeline


@functools.cache
def _edge_models() -> EdgeModels:
    return EdgeModels.load()


def _pipeline_feed(pipeline: DevicePipeline, frame: DeviceFrame) -> tuple[VitalsReading, tuple[object, ...]]:
    reading, events = pipeline.process(frame, _edge_models())
    return reading, tuple(events)


PIPELINE = Case(
    name="DevicePipeline",
    make=lambda: DevicePipeline(patient_id(SEED, 0), device_id(SEED, 0)),
    feed=_pipeline_feed,
    inputs=lambda: _frames("vrun@15+8", 45),
    split=20,  # inside the ventricular run, its event open and not yet sent
    eventful=lambda out: bool(out[1]) or out[0].beats.get("V", 0) > 0,
)


CASES = [BASELINE, LIFECYCLE, SEQUENCE, QRS, PATIENT, PIPELINE]
each_case = pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])


# ---------------------------------------------------------------- the contract


@each_case
def test_what_follows_the_split_depends_on_the_state_before_it(case: Case) -> None:
    """Otherwise the checks below could pass with a state that pickles or copies to nothing."""
    head, tail = case.halves()
    state = case.make()
    case.run(state, head)
    continued = case.run(state, tail)
    case.assert_eventful(continued)
    assert case.run(case.make(), tail) != continued


@each_case
def test_a_pickled_state_restores_to_one_that_behaves_the_same(case: Case) -> None:
    head, tail = case.halves()
    original = case.make()
    case.run(original, head)
    restored = pickle.loads(pickle.dumps(original))
    assert type(restored) is type(original)
    expected = case.run(original, tail)
    assert case.run(restored, tail) == expected
    case.assert_eventful(expected)


@each_case
def test_copies_are_independent(case: Case) -> None:
    head, tail = case.halves()
    original = case.make()
    case.run(original, head)
    before = pickle.dumps(original)
    copied = copy.deepcopy(original)
    from_copy = case.run(copied, tail)
    case.assert_eventful(from_copy)
    assert pickle.dumps(copied) != before, "the tail changed the copy (so a shared part would show)"
    assert pickle.dumps(original) == before, "feeding the copy changed the original"
    copied_after = pickle.dumps(copied)
    assert case.run(original, tail) == from_copy
    assert pickle.dumps(copied) == copied_after, "feeding the original changed the copy"


@each_case
def test_inputs_are_not_mutated(case: Case) -> None:
    items = case.inputs()  # new objects, which no other test has fed anywhere
    before = pickle.dumps(items)
    outputs = case.run(case.make(), items)
    case.assert_eventful(outputs)
    assert pickle.dumps(items) == before


@each_case
def test_the_same_inputs_give_the_same_outputs_and_state(case: Case) -> None:
    items = case.items()
    first, second = case.make(), case.make()
    outputs = case.run(first, items)
    assert case.run(second, items) == outputs
    case.assert_eventful(outputs)
    assert pickle.dumps(first) == pickle.dumps(second)
