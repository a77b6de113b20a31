"""The AF detector (role ``rhythm``): synthetic beat trains, the manifest entry, real MIT-BIH windows."""

from __future__ import annotations

import dataclasses
import doctest
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from edge_agent.dsp import Array
from edge_agent.evaluation import rhythm as evaluation
from edge_agent.models import rhythm
from edge_agent.models.registry import ModelIntegrityError, load_manifest, open_session, sha256_of
from edge_agent.models.rhythm import FEATURES, LABELS, WINDOW_S, RhythmClassifier, nn_mask, rhythm_features
from edge_agent.records import data_dir
from vitalstream.errors import ConfigError


def sinus(seconds: float = WINDOW_S, rr: float = 0.8, *, seed: int = 0, jitter: float = 0.015) -> Array:
    """Beat times of a sinus rhythm with a slow respiratory modulation and a little beat-to-beat noise."""
    rng = np.random.default_rng(seed)
    times = [0.0]
    while times[-1] < seconds - rr:
        times.append(times[-1] + rr * (1 + 0.04 * np.sin(times[-1] / 4.0)) + jitter * rng.standard_normal())
    return np.asarray(times)


def atrial_fibrillation(seconds: float = WINDOW_S, *, seed: int = 0, low: float = 0.45, high: float = 1.05) -> Array:
    """Beat times with independent, uniformly distributed RR intervals (an irregularly irregular rhythm)."""
    rng = np.random.default_rng(seed)
    rr = rng.uniform(low, high, int(seconds / low) + 2)
    times = np.concatenate(([0.0], np.cumsum(rr)))
    return times[times < seconds]


@pytest.fixture(scope="module")
def classifier() -> RhythmClassifier:
    return RhythmClassifier()


# ---------------------------------------------------------------- features, no model or data needed


@pytest.mark.parametrize("module", [rhythm, evaluation], ids=["model", "evaluation"])
def test_the_docstring_examples_run(module: ModuleType) -> None:
    failures, tried = doctest.testmod(module)
    assert tried > 0
    assert failures == 0


def test_features_are_a_float32_vector_of_the_declared_names() -> None:
    features = rhythm_features(sinus())
    assert features.dtype == np.float32
    assert features.shape == (len(FEATURES),)
    assert np.isfinite(features).all()


def test_too_few_beats_give_no_features() -> None:
    assert np.isnan(rhythm_features(sinus(seconds=5.0))).all()
    assert np.isnan(rhythm_features(np.zeros(0))).all()
    assert np.isnan(rhythm_features(np.array([1.0]))).all()


def test_irregular_rhythm_scores_higher_on_every_irregularity_feature() -> None:
    regular, irregular = rhythm_features(sinus()), rhythm_features(atrial_fibrillation())
    for name in ("cosen", "log_nrmssd", "log_mpd"):
        index = FEATURES.index(name)
        assert irregular[index] > regular[index] + 0.5, name


def test_features_do_not_mutate_their_input_and_are_deterministic() -> None:
    beats = atrial_fibrillation(seed=3)
    classes = ["N"] * len(beats)
    before = beats.copy()
    first = rhythm_features(beats, classes)
    np.testing.assert_array_equal(beats, before)
    np.testing.assert_array_equal(first, rhythm_features(beats, classes))


def test_beat_classes_must_match_the_beats() -> None:
    with pytest.raises(ValueError, match="beat classes"):
        rhythm_features(sinus(), ["N", "N"])


def test_intervals_touching_an_ectopic_beat_are_dropped() -> None:
    beats = np.arange(12, dtype=np.float64) * 0.8
    classes = ["N"] * 12
    classes[5] = "V"
    _, keep = nn_mask(beats, classes)
    assert keep.tolist() == [True] * 4 + [False, False] + [True] * 5


def test_a_false_detection_and_a_missed_beat_are_dropped_without_classes() -> None:
    beats = list(np.arange(20) * 0.8)
    beats.insert(6, 4.5)  # a noise spike between two beats: 0.5 s + 0.3 s
    del beats[15]  # a missed beat: one interval of 1.6 s
    rr, keep = nn_mask(np.asarray(beats))
    assert not keep[5]
    assert not keep[6]
    assert not keep[np.argmax(rr)]
    assert keep.sum() >= len(rr) - 5


def test_premature_beats_with_a_compensatory_pause_are_dropped_without_classes() -> None:
    beats = list(np.arange(40) * 0.8)
    for k in range(4, 40, 8):
        beats[k] -= 0.25  # premature by 0.25 s, then the pause makes up for it
    rr, keep = nn_mask(np.asarray(beats))
    assert not keep[rr < 0.7].any()
    assert not keep[rr > 0.9].any()
    assert keep.sum() > len(rr) / 2


# ---------------------------------------------------------------- the registered model


def test_the_manifest_entry_matches_the_file_and_the_module() -> None:
    spec = load_manifest()["rhythm"]
    assert spec.kind == "onnx"
    assert spec.path is not None
    assert sha256_of(spec.path) == spec.sha256
    assert spec.ref == f"{rhythm.NAME}@{rhythm.VERSION}"
    assert spec.inputs["feature_names"] == list(FEATURES)
    assert spec.card is not None
    assert (spec.directory / spec.card).is_file()
    assert spec.metrics["f1"] >= 0.9


def test_a_model_file_that_does_not_match_its_sha256_is_refused() -> None:
    spec = dataclasses.replace(load_manifest()["rhythm"], sha256="0" * 64)
    with pytest.raises(ModelIntegrityError):
        RhythmClassifier(spec)


def test_the_onnx_label_is_the_probability_at_one_half() -> None:
    session = open_session(load_manifest()["rhythm"])
    rng = np.random.default_rng(1)
    rows = np.column_stack(
        [rng.uniform(-3, 0.5, 400), rng.uniform(-4, -0.5, 400), rng.uniform(-5, -1, 400), rng.uniform(0.3, 0.9, 400)]
    ).astype(np.float32)
    label, proba = session.run(None, {session.get_inputs()[0].name: rows})
    assert 0 < label.sum() < len(rows)  # the rows straddle the boundary
    np.testing.assert_array_equal(label, (proba[:, 1] >= 0.5).astype(label.dtype))


def test_sinus_rhythm_is_n_and_irregular_rhythm_is_af(classifier: RhythmClassifier) -> None:
    for seed in range(5):
        label, proba = classifier.predict(sinus(seed=seed))
        assert label == "N", proba
        label, proba = classifier.predict(atrial_fibrillation(seed=seed))
        assert label == "AF", proba
        assert set(proba) == set(LABELS)
        assert proba["AF"] + proba["N"] == pytest.approx(1.0)


def test_too_few_beats_are_n_with_a_flag(classifier: RhythmClassifier) -> None:
    label, proba = classifier.predict(atrial_fibrillation(seconds=4.0))
    assert label == "N"
    assert proba == {"AF": 0.0, "N": 1.0, "insufficient": 1.0}


def test_frequent_ectopic_beats_are_not_af_with_or_without_classes(classifier: RhythmClassifier) -> None:
    beats = sinus(rr=0.75, seed=2)
    classes = ["N"] * len(beats)
    for k in range(3, len(beats) - 1, 5):  # a premature ventricular beat every fifth beat
        beats[k] -= 0.22
        classes[k] = "V"
    assert classifier.predict(beats, classes)[0] == "N"
    assert classifier.predict(beats)[0] == "N"


def test_the_answer_does_not_depend_on_the_device_rate(classifier: RhythmClassifier) -> None:
    for seed in range(5):
        beats = atrial_fibrillation(seed=seed, low=0.55, high=0.95)
        answers = [classifier.predict(np.round(beats * fs) / fs) for fs in (500.0, 360.0, 250.0, 128.0)]
        assert len({label for label, _ in answers}) == 1
        assert max(p["AF"] for _, p in answers) - min(p["AF"] for _, p in answers) < 0.1


def test_the_batch_method_agrees_with_single_windows(classifier: RhythmClassifier) -> None:
    windows = [sinus(seed=1), atrial_fibrillation(seed=1), sinus(seconds=3.0)]
    rows = np.stack([rhythm_features(w) for w in windows])
    assert classifier.predict_batch(rows) == [classifier.predict(w)[0] for w in windows]
    p = classifier.predict_proba_batch(rows)
    assert p[0] == pytest.approx(classifier.predict(windows[0])[1]["AF"], abs=1e-6)
    assert p[2] == 0.0


# ---------------------------------------------------------------- real MIT-BIH windows (DS2, held out)

# wfdb 4.3.1 reads annotations with DataFrame.set_index(inplace=True), deprecated in pandas 3.1.
wfdb_pandas_warning = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.set_index is deprecated")


@pytest.fixture(scope="module")
def mitdb() -> Path:
    try:
        path = data_dir() / "mitdb"
    except ConfigError:
        pytest.skip("no PhysioNet data directory (../shared/data); the real-window tests need MIT-BIH")
    if not (path / "221.hea").is_file():
        pytest.skip(f"MIT-BIH is not in {path}")
    return path


@wfdb_pandas_warning
@pytest.mark.parametrize(
    ("record", "start_s", "expected"),
    [
        (221, 600.0, "AF"),  # atrial fibrillation with frequent PVCs
        (210, 300.0, "AF"),
        (219, 600.0, "AF"),
        (219, 990.0, "N"),  # a sinus stretch of a patient with AF
        (100, 600.0, "N"),  # sinus rhythm
        (233, 600.0, "N"),  # sinus with frequent multiform PVCs
        (200, 1200.0, "N"),  # ventricular bigeminy
    ],
)
def test_real_windows_with_known_rhythm(
    classifier: RhythmClassifier, mitdb: Path, record: int, start_s: float, expected: str
) -> None:
    times, classes, rhythms, _ = evaluation.reference_beats(mitdb / str(record))
    label, _ = evaluation.label_window(rhythms, start_s, start_s + WINDOW_S)
    assert label == expected  # the reference annotation says so
    inside = (times >= start_s) & (times < start_s + WINDOW_S)
    chosen = [c for c, keep in zip(classes, inside, strict=True) if keep]
    assert classifier.predict(times[inside], chosen)[0] == expected


@wfdb_pandas_warning
def test_the_evaluation_labels_whole_records(mitdb: Path) -> None:
    path = mitdb / "202"  # paroxysmal AF and flutter in a sinus record
    times, classes, rhythms, _ = evaluation.reference_beats(path)
    windows = evaluation.record_windows("202", times, classes, rhythms, evaluation.duration_s(path))
    labels = [w.label for w in windows]
    assert len(windows) == 60
    assert {"AF", "N", "AFL", "mixed"} <= set(labels)
    for w in windows:
        assert np.all((w.beat_times_s >= w.start_s) & (w.beat_times_s < w.end_s))
