"""The ``beats`` model: runtime features (synthetic ECG), the registered ONNX file, and real MIT-BIH beats."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

import numpy as np
import pytest

from edge_agent.evaluation.beats import confusion_matrix, load_record, summarize
from edge_agent.models import beats
from edge_agent.models.beats import CLASSES, FEATURE_NAMES, BeatClassifier, beat_features
from edge_agent.models.registry import ModelIntegrityError, load_manifest, sha256_of
from edge_agent.records import MITDB_DS1, MITDB_DS2, data_dir
from vitalstream.errors import ConfigError


def synthetic_ecg(
    fs: float, rr_s: list[float], *, wide: Collection[int] = frozenset(), start_s: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian P-QRS-T beats at the given RR intervals; beats in ``wide`` get a broad QRS and no P wave."""
    times = start_s + np.concatenate(([0.0], np.cumsum(rr_s)))
    t = np.arange(int((times[-1] + 1.0) * fs)) / fs
    x = np.zeros_like(t)
    for k, r in enumerate(times):
        qrs_width = 0.035 if k in wide else 0.010
        x += np.exp(-(((t - r) / qrs_width) ** 2))
        x += 0.3 * np.exp(-(((t - r - 0.25) / 0.05) ** 2))
        if k not in wide:
            x += 0.15 * np.exp(-(((t - r + 0.16) / 0.025) ** 2))
    return x, np.round(times * fs).astype(np.int64)


def column(features: np.ndarray, name: str) -> np.ndarray:
    return features[:, FEATURE_NAMES.index(name)]


# --- pure feature tests (no data, no model) ----------------------------------------------------------------


def test_features_shape_dtype_and_finite() -> None:
    x, peaks = synthetic_ecg(360.0, [0.8] * 40)
    f = beat_features(x, 360.0, peaks, np.arange(len(peaks)))
    assert f.shape == (len(peaks), len(FEATURE_NAMES))
    assert f.dtype == np.float32
    assert np.isfinite(f).all()


def test_premature_beat_is_early_relative_to_the_patients_rhythm() -> None:
    rr = [0.8] * 30 + [0.5, 1.1] + [0.8] * 10  # beat 31 comes early, then a pause
    x, peaks = synthetic_ecg(360.0, rr)
    f = beat_features(x, 360.0, peaks, np.array([20, 31]))
    # log(pre-RR / local RR): 0 for the on-time beat, log(0.5 / 0.8) for the early one
    assert column(f, "pre_local")[0] == pytest.approx(0.0, abs=0.01)
    assert column(f, "pre_local")[1] == pytest.approx(np.log(0.5 / 0.8), abs=0.01)
    assert column(f, "post_local")[1] == pytest.approx(np.log(1.1 / 0.8), abs=0.01)


def test_wide_beat_differs_from_the_template() -> None:
    x, peaks = synthetic_ecg(360.0, [0.8] * 40, wide={30})
    f = beat_features(x, 360.0, peaks, np.array([29, 30]))
    assert column(f, "qrs_width_ratio")[1] > column(f, "qrs_width_ratio")[0] + 0.5
    assert column(f, "corr_qrs")[1] < column(f, "corr_qrs")[0] - 0.05
    assert column(f, "corr_p")[0] > 0.9 > column(f, "corr_p")[1]


@pytest.mark.parametrize("fs", [125.0, 250.0, 500.0])
def test_features_do_not_depend_on_the_sampling_rate(fs: float) -> None:
    rr = [0.8] * 30 + [0.55, 1.0] + [0.8] * 5
    x360, p360 = synthetic_ecg(360.0, rr, wide={33})
    x, p = synthetic_ecg(fs, rr, wide={33})
    targets = np.array([25, 31, 33])
    reference = beat_features(x360, 360.0, p360, targets)
    other = beat_features(x, fs, p, targets)
    for name in ("pre_local", "post_local", "pre_long"):
        assert column(other, name) == pytest.approx(column(reference, name), abs=0.03), name
    # Morphology moves a little: 125 Hz leaves a QRS of a dozen samples, and the low-pass differs.
    for name in ("corr_qrs", "qrs_width_ratio", "corr_p"):
        assert column(other, name) == pytest.approx(column(reference, name), abs=0.2), name
    assert column(other, "qrs_width_ratio")[2] > 0.5  # the wide beat stays wide


def test_features_are_causal_except_for_the_next_peak() -> None:
    x, peaks = synthetic_ecg(360.0, [0.8] * 40)
    target = np.array([30])
    before = beat_features(x, 360.0, peaks, target)
    # Change everything after the target's window and after its next peak: nothing may move.
    cut = int(peaks[30] + (beats.WINDOW_POST_S + beats.FILTER_S) * 360.0) + 1
    y = x.copy()
    y[cut:] = np.random.default_rng(0).normal(0, 1, len(y) - cut)
    moved = peaks.copy()
    moved[32:] += 50
    after = beat_features(y, 360.0, moved, target)
    np.testing.assert_array_equal(before, after)
    # ...while moving the next peak does change the post-RR features.
    moved[31] += 30
    assert not np.array_equal(before, beat_features(y, 360.0, moved, target))


def test_history_before_the_buffer_may_be_negative() -> None:
    x, peaks = synthetic_ecg(360.0, [0.8] * 60)
    keep = int(peaks[40] - 20 * 360)  # keep only 20 s of raw signal, but all the peaks
    buffered = beat_features(x[keep:], 360.0, peaks - keep, np.array([45]))
    full = beat_features(x, 360.0, peaks, np.array([45]))
    rr_columns = [FEATURE_NAMES.index(n) for n in beats.RR_FEATURES]
    np.testing.assert_array_equal(buffered[:, rr_columns], full[:, rr_columns])
    assert (peaks - keep)[0] < 0


def test_rhythm_context_separates_irregular_from_regular_rhythm() -> None:
    rng = np.random.default_rng(0)
    regular = [0.8] * 30 + [0.5, 1.1] + [0.8] * 10  # one premature beat in sinus rhythm
    irregular = list(rng.uniform(0.45, 1.1, 42))  # AF-like
    x, peaks = synthetic_ecg(250.0, regular)
    y, af_peaks = synthetic_ecg(250.0, irregular)
    sinus = beat_features(x, 250.0, peaks, np.array([31]))
    af = beat_features(y, 250.0, af_peaks, np.array([31]))
    # The premature-compensatory pair is ectopy, not irregularity: the window stays "regular".
    assert column(af, "rhythm_log_nrmssd")[0] > column(sinus, "rhythm_log_nrmssd")[0] + 2.0
    assert column(sinus, "rhythm_insufficient")[0] == 0.0
    assert column(sinus, "pre_median5")[0] == pytest.approx(np.log(0.5 / 0.8), abs=0.01)
    # Too few beats for the rhythm features: the "regular" fill and the flag.
    few = beat_features(x, 250.0, peaks, np.array([3]))
    assert column(few, "rhythm_insufficient")[0] == 1.0


def test_targets_must_index_peaks() -> None:
    x, peaks = synthetic_ecg(360.0, [0.8] * 5)
    with pytest.raises(ValueError, match="targets"):
        beat_features(x, 360.0, peaks, np.array([len(peaks)]))
    assert beat_features(x, 360.0, peaks, np.array([], dtype=np.int64)).shape == (0, len(FEATURE_NAMES))


def test_summary_counts_sensitivity_and_ppv() -> None:
    m = confusion_matrix(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 0, 2]))
    s = summarize(m)
    assert s["classes"]["S"] == {"sensitivity": 0.5, "ppv": 0.5}
    assert s["classes"]["V"] == {"sensitivity": 1.0, "ppv": 1.0}
    assert s["accuracy"] == pytest.approx(0.6)
    assert s["beats"] == 5


# --- the registered model ------------------------------------------------------------------------------------


def test_model_is_registered_and_its_sha256_matches() -> None:
    spec = load_manifest()["beats"]
    assert spec.path is not None
    assert sha256_of(spec.path) == spec.sha256
    classifier = BeatClassifier()
    assert classifier.ref == f"{beats.NAME}@{beats.VERSION}" == spec.ref
    assert spec.outputs["classes"] == list(CLASSES)
    assert spec.inputs["feature_names"] == list(FEATURE_NAMES)


def test_previous_version_reads_its_own_columns() -> None:
    """1.0.0 (51 features, kept for roll-back) still runs: the classifier picks the spec's columns."""
    current = load_manifest()["beats"]
    path = current.directory / "beats-aami-1.0.0.onnx"
    old = dataclasses.replace(
        current,
        version="1.0.0",
        file=path.name,
        sha256=sha256_of(path),
        inputs={**current.inputs, "feature_names": list(FEATURE_NAMES[:51])},
    )
    x, peaks = synthetic_ecg(250.0, [0.8] * 40)
    proba = BeatClassifier(old).predict_proba(beat_features(x, 250.0, peaks, np.arange(30, 35)))
    assert proba.shape == (5, len(CLASSES))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="does not compute"):
        BeatClassifier(dataclasses.replace(old, inputs={"feature_names": ["no_such_feature"]}))


def test_tampered_manifest_is_refused() -> None:
    spec = dataclasses.replace(load_manifest()["beats"], sha256="0" * 64)
    with pytest.raises(ModelIntegrityError):
        BeatClassifier(spec)


def test_probabilities_are_a_distribution_and_batches_agree() -> None:
    x, peaks = synthetic_ecg(250.0, [0.8] * 30 + [0.5, 1.1] + [0.8] * 5, wide={34})
    classifier = BeatClassifier()
    targets = np.arange(1, len(peaks) - 1)
    labels, proba = classifier.classify(x, 250.0, peaks, targets)
    assert proba.shape == (len(targets), len(CLASSES))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert labels == [CLASSES[i] for i in proba.argmax(axis=1)]
    one = classifier.predict_proba(beat_features(x, 250.0, peaks, targets[5:6]))
    np.testing.assert_allclose(one[0], proba[5], atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        classifier.predict_proba(np.zeros((2, 3), dtype=np.float32))


# --- real beats (held-out DS2 records) ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def data() -> object:
    try:
        return data_dir()
    except ConfigError:
        pytest.skip("PhysioNet data directory not found (../shared/data); real-beat tests need mitdb/")


@pytest.mark.parametrize(("record", "cls", "minimum"), [(233, "V", 0.9), (100, "S", 0.8), (212, "N", 0.95)])
def test_real_beats_of_held_out_records(data: object, record: int, cls: str, minimum: float) -> None:
    assert record in MITDB_DS2
    assert record not in MITDB_DS1
    rec = load_record(data, record)  # type: ignore[arg-type]
    labels, _ = BeatClassifier().classify(rec.signal, rec.fs, rec.peaks, rec.targets)
    wanted = rec.labels == CLASSES.index(cls)
    predicted = np.array([CLASSES.index(c) for c in labels])
    sensitivity = float(np.mean(predicted[wanted] == CLASSES.index(cls)))
    assert wanted.sum() >= 30
    assert sensitivity >= minimum, f"record {record}: {cls} sensitivity {sensitivity:.2f}"


def test_real_windows_with_known_labels(data: object) -> None:
    """A few single beats classified the way the edge does it: a buffer of recent signal, 1 target."""
    rec = load_record(data, 119)  # type: ignore[arg-type]  # DS1 (training) record, ventricular bigeminy
    classifier = BeatClassifier()
    v_beats = rec.targets[rec.labels == CLASSES.index("V")][100:105]
    n_beats = rec.targets[rec.labels == CLASSES.index("N")][400:405]
    for target, expected in [*((t, "V") for t in v_beats), *((t, "N") for t in n_beats)]:
        start = int(rec.peaks[target] - 40 * rec.fs)
        stop = int(rec.peaks[target] + 1.0 * rec.fs)
        labels, _ = classifier.classify(rec.signal[start:stop], rec.fs, rec.peaks - start, np.array([target]))
        assert labels == [expected]
