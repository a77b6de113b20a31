"""The ECG signal-quality model (role ``sqi``): features, label construction, the manifest entry, real windows."""

from __future__ import annotations

import dataclasses
import doctest
import itertools
import json
import math
import shutil
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from edge_agent.dsp import Array, bandpass_fir, fir_filter, resample
from edge_agent.evaluation import sqi as evaluation
from edge_agent.models import sqi
from edge_agent.models.registry import ModelIntegrityError, load_manifest, sha256_of
from edge_agent.models.sqi import FEATURE_NAMES, FS_HZ, WINDOW_S, EcgQuality, ecg_quality_features
from edge_agent.records import aami_class, data_dir, read_annotations, read_record
from vitalstream.errors import ConfigError

# P, Q, R, S, T as (offset from R in s, amplitude in mV, width in s): a plain sinus beat.
_WAVES = ((-0.2, 0.15, 0.025), (-0.03, -0.1, 0.01), (0.0, 1.2, 0.012), (0.03, -0.25, 0.012), (0.28, 0.3, 0.05))


def synthetic_ecg(fs: float = 360.0, *, seconds: float = WINDOW_S, rate_bpm: float = 72.0, seed: int = 0) -> Array:
    """A clean-looking lead II: Gaussian P-QRS-T waves, 2 % RR jitter, 10 uV of sensor noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * fs)) / fs
    x = np.zeros_like(t)
    beat = 0.3
    while beat < seconds + 0.5:
        for offset, amplitude, width in _WAVES:
            x += amplitude * np.exp(-0.5 * ((t - beat - offset) / width) ** 2)
        beat += 60.0 / rate_bpm * (1.0 + 0.02 * rng.standard_normal())
    return x + 0.01 * rng.standard_normal(len(t))


def band_noise(n: int, fs: float, rms_mv: float, *, seed: int = 1) -> Array:
    """Gaussian noise in the 5-40 Hz band, where muscle artefact overlaps the QRS complex."""
    noise = fir_filter(np.random.default_rng(seed).standard_normal(n), bandpass_fir(fs, 5.0, 40.0, taps=101))
    return noise * rms_mv / float(np.std(noise))


def feature(features: np.ndarray, name: str) -> float:
    return float(features[FEATURE_NAMES.index(name)])


# ---------------------------------------------------------------- features and labels, no model or data needed


@pytest.mark.parametrize("module", [sqi, evaluation], ids=["model", "evaluation"])
def test_the_docstring_examples_run(module: ModuleType) -> None:
    failures, tried = doctest.testmod(module)
    assert tried > 0
    assert failures == 0


def test_module_constants_and_exports() -> None:
    assert (sqi.NAME, sqi.VERSION, WINDOW_S, FS_HZ) == ("sqi-ecg", "1.0.0", 5.0, 125.0)
    for module in (sqi, evaluation):
        # Every public function and class defined here is exported, and every export exists.
        defined = {
            name
            for name, value in vars(module).items()
            if not name.startswith("_") and callable(value) and getattr(value, "__module__", "") == module.__name__
        }
        assert defined <= set(module.__all__), defined - set(module.__all__)
        assert all(hasattr(module, name) for name in module.__all__)
    assert {"NAME", "VERSION", "WINDOW_S", "FS_HZ", "FEATURE_NAMES"} <= set(sqi.__all__)
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)


@pytest.mark.parametrize("fs", [125.0, 250.0, 360.0, 500.0])
def test_features_are_finite_float32_of_the_declared_names_at_any_rate(fs: float) -> None:
    features = ecg_quality_features(synthetic_ecg(fs), fs)
    assert features.dtype == np.float32
    assert features.shape == (len(FEATURE_NAMES),)
    assert np.isfinite(features).all()
    assert feature(features, "bsqi") == 1.0
    assert feature(features, "beats_per_min") == pytest.approx(72.0, abs=12.0)
    assert feature(features, "template_corr_mean") > 0.95


def test_the_device_rate_barely_changes_the_features() -> None:
    reference = ecg_quality_features(synthetic_ecg(360.0), 360.0)
    for fs in (125.0, 250.0, 500.0):
        other = ecg_quality_features(resample(synthetic_ecg(360.0), 360.0, fs), fs)
        for name in ("frac_5_15hz", "psqi", "bsqi", "template_corr_mean", "qrs_energy_fraction"):
            assert feature(other, name) == pytest.approx(feature(reference, name), abs=0.05), (fs, name)


def test_features_ignore_polarity_and_offset_and_the_ratios_ignore_gain() -> None:
    x = synthetic_ecg()
    reference = ecg_quality_features(x, 360.0)
    np.testing.assert_allclose(ecg_quality_features(-x + 3.0, 360.0), reference, rtol=1e-5, atol=1e-4)
    scaled = ecg_quality_features(2.0 * x, 360.0)
    for name in ("psqi", "bassqi", "kurtosis", "bsqi", "template_corr_mean", "template_snr_db", "rr_cv"):
        assert feature(scaled, name) == pytest.approx(feature(reference, name), rel=1e-3, abs=1e-3), name
    assert feature(scaled, "log_ptp_mv") == pytest.approx(feature(reference, "log_ptp_mv") + math.log10(2.0), abs=1e-3)


def test_noise_lowers_every_quality_estimate() -> None:
    clean = synthetic_ecg()
    noisy = clean + band_noise(len(clean), 360.0, 0.6)
    a, b = ecg_quality_features(clean, 360.0), ecg_quality_features(noisy, 360.0)
    assert feature(b, "template_snr_db") < feature(a, "template_snr_db") - 10.0
    assert feature(b, "interbeat_snr_db") < feature(a, "interbeat_snr_db") - 10.0
    assert feature(b, "kurtosis") < feature(a, "kurtosis")
    assert feature(b, "frac_15_40hz") > feature(a, "frac_15_40hz")


def test_flat_and_clipped_windows_are_flagged_by_their_features() -> None:
    flat = ecg_quality_features(np.full(1800, 0.3), 360.0)
    assert feature(flat, "flat_fraction") == 1.0
    assert np.isfinite(flat).all()
    x = synthetic_ecg()
    clipped = ecg_quality_features(np.minimum(x, np.percentile(x, 50)), 360.0)
    assert feature(clipped, "saturation_fraction") > 0.3
    assert feature(ecg_quality_features(x, 360.0), "saturation_fraction") < 0.05


def test_features_reject_bad_input_and_do_not_mutate_it() -> None:
    with pytest.raises(ValueError, match="too short"):
        ecg_quality_features(np.zeros(100), 360.0)
    with pytest.raises(ValueError, match="one channel"):
        ecg_quality_features(np.zeros((1800, 2)), 360.0)
    with pytest.raises(ValueError, match="positive rate"):
        ecg_quality_features(np.zeros(1800), 0.0)
    with pytest.raises(ValueError, match="NaN"):
        ecg_quality_features(np.full(1800, np.nan), 360.0)
    x = synthetic_ecg()
    before = x.copy()
    first = ecg_quality_features(x, 360.0)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_array_equal(first, ecg_quality_features(x, 360.0))


def test_labels_follow_the_snr_definition() -> None:
    assert evaluation.label_for(math.inf) == 1
    assert evaluation.label_for(12.0) == 1
    assert evaluation.label_for(11.9) is None
    assert evaluation.label_for(6.0) is None
    assert evaluation.label_for(0.0) == 0
    assert evaluation.label_for(-6.0) == 0


def test_nst_amplitude_and_noise_measures() -> None:
    fs = 360.0
    t = np.arange(round(10 * fs)) / fs
    # sigamp -r: per-second RMS about the mean, so an offset does not count and a 2 Hz sine gives a/sqrt(2).
    assert evaluation.nst_noise_rms(0.5 * np.sin(2 * np.pi * 2.0 * t) + 7.0, fs) == pytest.approx(0.5 / math.sqrt(2))
    spikes = np.zeros(len(t))
    beats = np.arange(100, len(t) - 100, 300)
    spikes[beats], spikes[beats + 10] = 1.0, -0.5  # R, then S 28 ms later: 1.5 mV peak to peak
    assert evaluation.nst_qrs_amplitude(spikes, beats, fs) == pytest.approx(1.5)
    x = synthetic_ecg(fs)
    # A noise scaled as nst does sits at the requested SNR: A / (2 sqrt(2) N) = 10^(SNR/20).
    noise = band_noise(len(x), fs, 1.0)
    amplitude = evaluation.nst_qrs_amplitude(x, beats, fs)
    gain = amplitude / (2 * math.sqrt(2) * evaluation.nst_noise_rms(noise, fs) * 10 ** (6.0 / 20))
    snr = 20 * math.log10(amplitude / (2 * math.sqrt(2) * evaluation.nst_noise_rms(gain * noise, fs)))
    assert snr == pytest.approx(6.0, abs=1e-9)


def test_auroc_matches_the_pairwise_definition() -> None:
    rng = np.random.default_rng(0)
    scores = np.round(rng.uniform(size=60), 1)  # plenty of ties
    labels = rng.integers(0, 2, size=60)
    pos, neg = scores[labels == 1], scores[labels == 0]
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert evaluation.auroc(scores, labels) == pytest.approx(pairs)
    assert evaluation.auroc(np.ones(4), np.array([0, 1, 0, 1])) == 0.5
    assert math.isnan(evaluation.auroc(np.ones(3), np.ones(3, dtype=np.int64)))


def test_synthetic_noise_and_artefacts_are_seeded_and_labelled() -> None:
    for kind in evaluation.SYNTHETIC_NOISE:
        a = evaluation.synthetic_noise(kind, 1800, 360.0, np.random.default_rng(5))
        b = evaluation.synthetic_noise(kind, 1800, 360.0, np.random.default_rng(5))
        np.testing.assert_array_equal(a, b)
        assert a.shape == (1800,)
        assert float(np.std(a)) > 0
    with pytest.raises(ValueError, match="unknown synthetic noise"):
        evaluation.synthetic_noise("em", 1800, 360.0, np.random.default_rng(0))
    clean = evaluation.LabelledWindow(synthetic_ecg(), 360.0, "syn", "clean", math.inf, 1)
    rng = np.random.default_rng(0)
    artefacts = [evaluation.synthetic_artefact(clean, rng) for _ in range(20)]
    assert {w.noise for w in artefacts} == {"flat", "saturated"}
    assert all(w.label == 0 and len(w.signal) == len(clean.signal) for w in artefacts)


# ---------------------------------------------------------------- the registered model (no data needed)


@pytest.fixture(scope="module")
def quality() -> EcgQuality:
    return EcgQuality()


def test_the_manifest_entry_matches_the_file_and_the_module(quality: EcgQuality) -> None:
    spec = load_manifest()["sqi"]
    assert spec.path is not None
    assert spec.sha256 == sha256_of(spec.path)
    assert quality.ref == f"{sqi.NAME}@{sqi.VERSION}" == spec.ref
    assert spec.inputs["feature_names"] == list(FEATURE_NAMES)
    assert 0.0 < quality.threshold < 1.0
    assert spec.metrics["auroc"] >= 0.95
    assert spec.card is not None
    assert (spec.directory / spec.card).is_file()


def test_a_tampered_model_is_refused(tmp_path: Path) -> None:
    spec = load_manifest()["sqi"]
    assert spec.path is not None
    shutil.copy(spec.path, tmp_path / spec.path.name)
    document = {"manifest_version": 1, "models": {"sqi": {**_entry(spec), "sha256": "0" * 64}}}
    (tmp_path / "manifest.json").write_text(json.dumps(document))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        EcgQuality(load_manifest(tmp_path)["sqi"])


def _entry(spec: object) -> dict[str, object]:
    fields = ("name", "version", "kind", "file", "inputs", "outputs", "training", "metrics", "card")
    return {name: getattr(spec, name) for name in fields}


@pytest.mark.parametrize("fs", [125.0, 250.0, 360.0, 500.0])
def test_clean_synthetic_ecg_is_usable_and_drowned_ecg_is_not(quality: EcgQuality, fs: float) -> None:
    clean = synthetic_ecg(fs)
    assert quality.score(clean, fs) >= quality.threshold
    assert quality.score(-0.5 * clean, fs) >= quality.threshold
    drowned = clean + band_noise(len(clean), fs, 0.6)
    assert quality.score(drowned, fs) < quality.threshold


def test_gaps_and_flat_lines_are_not_usable(quality: EcgQuality) -> None:
    x = synthetic_ecg()
    x[500:520] = np.nan
    assert quality.score(x, 360.0) == 0.0
    lead_off = 0.002 * np.random.default_rng(0).standard_normal(1800)
    assert quality.score(lead_off, 360.0) < quality.threshold


def test_score_batch_matches_score(quality: EcgQuality) -> None:
    windows = [synthetic_ecg(seed=s) for s in range(3)]
    rows = np.stack([ecg_quality_features(w, 360.0) for w in windows])
    batch = quality.score_batch(rows)
    assert batch.shape == (3,)
    assert ((batch >= 0) & (batch <= 1)).all()
    np.testing.assert_allclose(batch, [quality.score(w, 360.0) for w in windows], rtol=1e-6)


# ---------------------------------------------------------------- real PhysioNet windows (skipped without the data)


@pytest.fixture(scope="module")
def data() -> Path:
    try:
        found = data_dir()
    except ConfigError:
        pytest.skip("PhysioNet data directory not found (../shared/data); the real-window tests need mitdb and nstdb")
    if not (found / "mitdb" / "100.hea").is_file() or not (found / "nstdb" / "bw.hea").is_file():
        pytest.skip(f"{found} lacks mitdb/100 or nstdb/bw")
    return found


def test_mixed_windows_have_exactly_their_snr(data: Path) -> None:
    record = read_record(data / "mitdb" / "100")
    beats, symbols = read_annotations(data / "mitdb" / "100").beats()
    normal = np.asarray([aami_class(symbol) == "N" for symbol in symbols])
    conditions = [("bw", 12.0), ("ma", 0.0), ("bw+ma", -6.0)]
    windows = list(
        evaluation.mixed_windows(
            data, (100,), conditions=conditions, per_condition=3, noise_part="test", seed=3, snr_jitter_db=0.0
        )
    )
    assert [(w.noise, w.snr_db) for w in windows] == [c for c in conditions for _ in range(3)]
    for w in windows:
        clean = record.channel(0)[w.start : w.start + len(w.signal)]
        # The signal amplitude comes from the window's normal (AAMI N) beats when it has any.
        inside = (beats >= w.start) & (beats < w.start + len(w.signal))
        chosen = beats[inside & normal] if (inside & normal).any() else beats[inside]
        amplitude = evaluation.nst_qrs_amplitude(clean, chosen - w.start, w.fs)
        snr = 20 * math.log10(amplitude / (2 * math.sqrt(2) * evaluation.nst_noise_rms(w.signal - clean, w.fs)))
        assert snr == pytest.approx(w.snr_db, abs=1e-6)
        assert w.label == evaluation.label_for(w.snr_db)


def test_clean_windows_avoid_what_the_annotators_marked_noisy(data: Path) -> None:
    wfdb = pytest.importorskip("wfdb")
    ann = wfdb.rdann(str(data / "mitdb" / "105"), "atr")
    marks = [(int(s), int(t)) for s, sym, t in zip(ann.sample, ann.symbol, ann.subtype, strict=True) if sym == "~"]
    noisy = [(a[0], b[0]) for a, b in itertools.pairwise(marks) if a[1] != 0]
    starts = evaluation.clean_starts(data / "mitdb" / "105")
    window = round(WINDOW_S * 360.0)
    assert 0 < len(starts) < 650000 - window
    for begin, end in noisy:
        assert not np.any((starts < end) & (starts + window > begin)), (begin, end)


def test_electrode_motion_segments_are_where_nst_put_them(data: Path) -> None:
    clean = read_record(data / "mitdb" / "118").channel(0)
    noisy = read_record(data / "nstdb" / "118e06").channel(0)
    difference = noisy - clean
    for begin, end in evaluation.EM_NOISY_S:
        before = difference[round((begin - 20) * 360.0) : round((begin - 0.1) * 360.0)]
        during = difference[round((begin + 0.1) * 360.0) : round(min(begin + 20, end) * 360.0)]
        assert np.ptp(before) < 1e-9  # only nst's constant offset outside the noisy segments
        assert np.std(during) > 0.05


def test_real_held_out_windows_are_classified(data: Path, quality: EcgQuality) -> None:
    conditions = [("clean", math.inf), ("ma", 24.0), ("bw", -6.0), ("ma", -6.0)]
    windows = list(
        evaluation.mixed_windows(data, (100, 213), conditions=conditions, per_condition=4, noise_part="test", seed=11)
    )
    scores = np.asarray([quality.score(w.signal, w.fs) for w in windows])
    labels = np.asarray([w.label for w in windows])
    assert set(labels.tolist()) == {0, 1}
    correct = (scores >= quality.threshold) == (labels == 1)
    assert correct.mean() >= 0.9, list(zip(labels.tolist(), np.round(scores, 3).tolist(), strict=True))
    assert evaluation.auroc(scores, labels) >= 0.95


def test_real_electrode_motion_windows_at_minus_6_db_are_mostly_rejected(data: Path, quality: EcgQuality) -> None:
    record = read_record(data / "nstdb" / "119e_6").channel(0)
    n = round(WINDOW_S * 360.0)
    starts = [round(s * 360.0) for s in (545, 560, 600, 790, 830, 1030, 1270, 1510)]
    scores = [quality.score(record[s : s + n], 360.0) for s in starts]
    assert sum(score < quality.threshold for score in scores) >= 6, np.round(scores, 3).tolist()
    first_minutes = [quality.score(record[s : s + n], 360.0) for s in range(0, 60 * 360, n)]
    assert np.mean([score >= quality.threshold for score in first_minutes]) >= 0.9


def test_window_at_another_device_rate_keeps_its_label(data: Path, quality: EcgQuality) -> None:
    window = next(
        evaluation.mixed_windows(
            data, (100,), conditions=[("clean", math.inf)], per_condition=1, noise_part="test", seed=2
        )
    )
    for fs in (128.0, 250.0, 500.0):
        assert quality.score(resample(window.signal, window.fs, fs), fs) >= quality.threshold
    noisy = dataclasses.replace(window, signal=window.signal + band_noise(len(window.signal), 360.0, 1.5))
    for fs in (128.0, 250.0, 500.0):
        assert quality.score(resample(noisy.signal, noisy.fs, fs), fs) < quality.threshold
