"""Every edge model, fed what a real recording can hold, answers within its contract and never crashes.

Random, flat, clipped, saturated, stepped, spiky, NaN-filled and infinite windows, from empty to a
minute long, at every device rate (:mod:`tests.hostile_signals`). A model may refuse an input its
documentation rules out with a ``ValueError`` that says why (a PPG below 16 Hz, an ECG quality window
under 2 s); anything else must come back well-formed: finite numbers in range, or an abstention.
Warnings are errors in this suite, so a silent NaN from an invalid operation fails too.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.models import qrs_stream
from edge_agent.models.beats import CLASSES, FEATURE_NAMES, BeatClassifier, beat_features
from edge_agent.models.ppg_hr import WINDOW_S as PPG_WINDOW_S
from edge_agent.models.ppg_hr import PpgHeartRate, ppg_heart_rate
from edge_agent.models.qrs import detect_qrs, heart_rate
from edge_agent.models.rhythm import FEATURES as RHYTHM_FEATURES
from edge_agent.models.rhythm import LABELS, RhythmClassifier, rhythm_features
from edge_agent.models.sqi import FEATURE_NAMES as SQI_FEATURES
from edge_agent.models.sqi import WINDOW_S as SQI_WINDOW_S
from edge_agent.models.sqi import EcgQuality, ecg_quality_features
from edge_agent.models.vf import MIN_WINDOW_S as VF_MIN_WINDOW_S
from edge_agent.models.vf import WINDOW_S as VF_WINDOW_S
from edge_agent.models.vf import is_vf
from tests.hostile_signals import ECG_RATES, KINDS, PPG_RATES, bounded, windows


@pytest.fixture(scope="module")
def beat_model() -> BeatClassifier:
    return BeatClassifier()


@pytest.fixture(scope="module")
def rhythm_model() -> RhythmClassifier:
    return RhythmClassifier()


@pytest.fixture(scope="module")
def quality_model() -> EcgQuality:
    return EcgQuality()


def _finite(values: object) -> bool:
    return bool(np.all(np.isfinite(np.asarray(values, dtype=np.float64))))


@pytest.mark.parametrize("kind", KINDS)
@bounded
@given(data=st.data(), chunk=st.integers(1, 2000))
def test_qrs_detector_reports_sorted_beats_inside_the_signal_whatever_the_chunking(
    kind: str, data: st.DataObject, chunk: int
) -> None:
    window = data.draw(windows(kind, ECG_RATES, 10.0))
    batch = detect_qrs(window.samples, window.fs)
    assert batch.dtype == np.int64
    assert np.all(np.diff(batch) > 0)
    assert np.all((batch >= 0) & (batch < max(len(window.samples), 1)))
    detector = qrs_stream.StreamingQrsDetector(window.fs)
    pieces = [detector.push(window.samples[i : i + chunk]) for i in range(0, len(window.samples), chunk)]
    streamed = np.concatenate([*pieces, detector.flush()]) if pieces else detector.flush()
    assert streamed.tolist() == batch.tolist()  # chunk-invariant, bad samples or not
    rate = heart_rate(batch, window.fs)
    assert rate is None or 20.0 <= rate <= 300.0


@pytest.mark.parametrize("kind", KINDS)
@bounded
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_beat_features_and_classes_are_finite_for_any_beats(
    beat_model: BeatClassifier, kind: str, data: st.DataObject, seed: int
) -> None:
    window = data.draw(windows(kind, ECG_RATES, 30.0))
    x = window.samples
    rng = np.random.default_rng(seed)
    # The detector's beats, or beats anywhere (before the buffer too, as the edge's history allows).
    found = detect_qrs(x, window.fs)
    drawn = np.unique(rng.integers(-int(2 * window.fs), max(len(x), 1), size=int(rng.integers(2, 60))))
    for peaks in (found, drawn):
        if len(peaks) < 2:
            continue
        targets = np.arange(len(peaks) - 1, dtype=np.int64)
        features = beat_features(x, window.fs, peaks.astype(np.int64), targets)
        assert features.shape == (len(targets), len(FEATURE_NAMES))
        assert _finite(features)
        labels, proba = beat_model.classify(x, window.fs, peaks.astype(np.int64), targets)
        assert set(labels) <= set(CLASSES)
        assert _finite(proba)
        assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-4)


beat_times = st.lists(st.floats(0.0, 60.0, allow_nan=False), max_size=120).map(lambda t: np.unique(np.asarray(t)))


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(beat_times, st.data())
def test_rhythm_answers_af_or_not_for_any_beat_times(
    rhythm_model: RhythmClassifier, times: np.ndarray, data: st.DataObject
) -> None:
    classes = data.draw(st.lists(st.sampled_from(CLASSES), min_size=len(times), max_size=len(times)))
    for given_classes in (None, classes):
        features = rhythm_features(times, given_classes)
        assert features.shape == (len(RHYTHM_FEATURES),)
        assert _finite(features) or bool(np.isnan(features).all())  # features, or none at all
        label, probabilities = rhythm_model.predict(times, given_classes)
        assert label in LABELS
        assert all(0.0 <= p <= 1.0 for p in probabilities.values())


@pytest.mark.parametrize("kind", KINDS)
@bounded
@given(data=st.data())
def test_ecg_quality_is_a_probability_or_a_clear_refusal(
    quality_model: EcgQuality, kind: str, data: st.DataObject
) -> None:
    window = data.draw(windows(kind, ECG_RATES, SQI_WINDOW_S))
    x, fs = window.samples, window.fs
    if len(x) < 2 * fs + 1 and _finite(x):
        with pytest.raises(ValueError, match="too short"):
            quality_model.score(x, fs)
        return
    score = quality_model.score(x, fs)
    assert 0.0 <= score <= 1.0
    if _finite(x):
        features = ecg_quality_features(x, fs)
        assert features.shape == (len(SQI_FEATURES),)
        assert _finite(features)


@pytest.mark.parametrize("kind", KINDS)
@bounded
@given(data=st.data(), updates=st.integers(1, 6))
def test_pulse_rate_is_plausible_or_withheld(kind: str, data: st.DataObject, updates: int) -> None:
    window = data.draw(windows(kind, (*PPG_RATES, 10.0), PPG_WINDOW_S))
    x, fs = window.samples, window.fs
    if fs < 16.0:
        with pytest.raises(ValueError, match="too low"):
            ppg_heart_rate(x, fs)
        return
    rate, quality = ppg_heart_rate(x, fs)
    assert rate is None or 30.0 <= rate <= 220.0
    assert 0.0 <= quality <= 1.0
    tracker = PpgHeartRate(fs)
    for k in range(updates):  # the streaming tracker over a growing window
        rate, quality = tracker.update(x[: len(x) * (k + 1) // updates])
        assert rate is None or 30.0 <= rate <= 220.0
        assert 0.0 <= quality <= 1.0


@pytest.mark.parametrize("kind", KINDS)
@bounded
@given(data=st.data())
def test_vf_detector_answers_yes_or_no_with_finite_features(kind: str, data: st.DataObject) -> None:
    window = data.draw(windows(kind, ECG_RATES, VF_WINDOW_S))
    x, fs = window.samples, window.fs
    if len(x) < VF_MIN_WINDOW_S * fs:
        with pytest.raises(ValueError, match="at least"):
            is_vf(x, fs)
        return
    fibrillating, features = is_vf(x, fs)
    assert isinstance(fibrillating, bool)
    assert _finite(list(features.values()))
    assert not fibrillating or 0.0 <= features["concentration"] <= 1.0
