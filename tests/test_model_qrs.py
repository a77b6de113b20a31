"""QRS detector: synthetic-signal unit tests, the manifest contract, and real MIT-BIH windows."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.evaluation.metrics import match_beats
from edge_agent.models import qrs
from edge_agent.models.registry import load_manifest
from edge_agent.records import data_dir, read_annotations, read_record
from vitalstream.errors import ConfigError


def synthetic_ecg(fs: float, seconds: float, *, seed: int = 0, noise_mv: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """P-QRS-T complexes at irregular RR (0.5-1.2 s) over baseline wander; returns (mV signal, R indices)."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * fs)) / fs
    beats = np.cumsum(rng.uniform(0.5, 1.2, size=int(seconds / 0.5) + 2)) - 0.2
    beats = beats[(beats > 0.1) & (beats < seconds - 0.3)]
    x = 0.3 * np.sin(2 * np.pi * 0.25 * t) + noise_mv * rng.standard_normal(len(t))
    for b in beats:
        amplitude = rng.uniform(0.8, 1.4)
        x += 0.15 * np.exp(-(((t - b + 0.16) / 0.025) ** 2))  # P
        x += -0.15 * amplitude * np.exp(-(((t - b + 0.025) / 0.008) ** 2))  # Q
        x += amplitude * np.exp(-(((t - b) / 0.011) ** 2))  # R
        x += -0.25 * amplitude * np.exp(-(((t - b - 0.03) / 0.01) ** 2))  # S
        x += 0.3 * np.exp(-(((t - b - 0.28) / 0.06) ** 2))  # T
    return x, np.round(beats * fs).astype(np.int64)


def stream(detector: qrs.StreamingQrsDetector, x: np.ndarray, sizes: list[int]) -> np.ndarray:
    found, begin, k = [], 0, 0
    while begin < len(x):
        size = sizes[k % len(sizes)]
        found.append(detector.push(x[begin : begin + size]))
        begin, k = begin + size, k + 1
    found.append(detector.flush())
    return np.concatenate(found)


# ---------------------------------------------------------------- synthetic signals


@pytest.mark.parametrize("fs", [125.0, 250.0, 360.0, 500.0])
def test_finds_every_synthetic_beat_at_device_rates(fs: float) -> None:
    x, truth = synthetic_ecg(fs, 60.0, seed=int(fs))
    found = qrs.detect_qrs(x, fs)
    _, fn, fp = match_beats(truth, found, round(0.05 * fs))
    assert (fn, fp) == (0, 0), f"fn={fn} fp={fp} of {len(truth)}"
    assert found.dtype == np.int64


def test_detects_within_the_two_second_warm_up() -> None:
    x, truth = synthetic_ecg(360.0, 10.0, seed=3)
    found = qrs.detect_qrs(x, 360.0)
    early = truth[truth < 2 * 360]
    assert len(early) >= 2
    assert match_beats(early, found[found < 2 * 360], 18) == (len(early), 0, 0)


def test_flat_and_constant_signals_have_no_beats() -> None:
    assert len(qrs.detect_qrs(np.zeros(3600), 360.0)) == 0
    assert len(qrs.detect_qrs(np.full(3600, 2.5), 360.0)) == 0
    assert len(qrs.detect_qrs(np.random.default_rng(1).normal(0, 0.001, 3600), 360.0)) == 0


def test_amplitude_scale_does_not_change_the_beats() -> None:
    x, _ = synthetic_ecg(250.0, 30.0, seed=5)
    reference = qrs.detect_qrs(x, 250.0)
    assert np.array_equal(qrs.detect_qrs(0.2 * x, 250.0), reference)
    assert np.array_equal(qrs.detect_qrs(5.0 * x, 250.0), reference)


def test_nan_gap_is_bridged_without_false_beats() -> None:
    x, truth = synthetic_ecg(360.0, 30.0, seed=6)
    gap = x.copy()
    gap[3600:3700] = np.nan
    found = qrs.detect_qrs(gap, 360.0)
    outside = truth[(truth < 3600 - 36) | (truth > 3700 + 36)]
    _, fn, fp = match_beats(outside, found[(found < 3600 - 36) | (found > 3700 + 36)], 18)
    assert (fn, fp) == (0, 0)


def test_recovers_after_a_large_artefact_burst() -> None:
    fs = 250.0
    x, truth = synthetic_ecg(fs, 40.0, seed=12)
    burst = np.zeros_like(x)
    rng = np.random.default_rng(2)
    for at in rng.integers(int(10 * fs), int(13 * fs), size=12):
        burst[at : at + 5] = rng.choice([-20.0, 20.0])  # electrode-pop spikes, 20x the QRS
    found = qrs.detect_qrs(x + burst, fs)
    later = truth[truth > 18 * fs]
    assert match_beats(later, found[found > 18 * fs - 12], 12) == (len(later), 0, 0)


def test_flutter_like_oscillation_is_not_reported_as_beats() -> None:
    fs = 250.0
    x, truth = synthetic_ecg(fs, 30.0, seed=13)
    t = np.arange(int(20 * fs)) / fs
    flutter = 0.8 * np.sin(2 * np.pi * 4.0 * t)  # 240 /min sinusoid, no isoelectric line
    found = qrs.detect_qrs(np.concatenate((x, flutter)), fs)
    during = found[found >= len(x)]
    assert len(during) <= 12  # the guard needs its 2 s window: at most the first seconds are reported
    assert match_beats(truth, found[found < len(x)], 12)[1] == 0


def test_input_is_not_mutated() -> None:
    x, _ = synthetic_ecg(360.0, 10.0, seed=7)
    before = x.copy()
    qrs.detect_qrs(x, 360.0)
    assert np.array_equal(x, before)


@given(st.lists(st.integers(min_value=1, max_value=900), min_size=1, max_size=8))
def test_any_chunking_gives_the_same_beats_as_detect_qrs(sizes: list[int]) -> None:
    x, _ = synthetic_ecg(250.0, 20.0, seed=11)
    assert np.array_equal(stream(qrs.StreamingQrsDetector(250.0), x, sizes), qrs.detect_qrs(x, 250.0))


def test_pickled_and_copied_detectors_continue_identically() -> None:
    x, _ = synthetic_ecg(360.0, 30.0, seed=8)
    detector = qrs.StreamingQrsDetector(360.0)
    head = detector.push(x[:4000])
    restored = pickle.loads(pickle.dumps(detector))
    twin = copy.deepcopy(detector)
    tails = [np.concatenate((d.push(x[4000:]), d.flush())) for d in (detector, restored, twin)]
    assert np.array_equal(tails[0], tails[1])
    assert np.array_equal(tails[0], tails[2])
    assert np.array_equal(np.concatenate((head, tails[0])), qrs.detect_qrs(x, 360.0))
    assert len(pickle.dumps(restored)) < 64_000  # small state: a few seconds of features


def test_beats_are_reported_within_half_a_second() -> None:
    fs = 360.0
    x, truth = synthetic_ecg(fs, 30.0, seed=9)
    detector = qrs.StreamingQrsDetector(fs)
    delays: list[float] = []
    for begin in range(0, len(x), 9):  # 25 ms chunks
        found = detector.push(x[begin : begin + 9])
        delays.extend((detector.samples_seen - found) / fs)
    late = np.asarray(delays)[len(truth[truth < 2 * fs]) :]  # warm-up beats wait for the levels
    assert len(late) > 20
    assert late.max() <= 0.5


def test_window_edges_give_no_spurious_beats() -> None:
    fs = 250.0
    x, truth = synthetic_ecg(fs, 120.0, seed=10)
    rng = np.random.default_rng(0)
    extra = 0
    for _ in range(40):
        begin = int(rng.integers(0, len(x) - int(10 * fs)))
        window = x[begin : begin + int(10 * fs)]
        inside = truth[(truth >= begin) & (truth < begin + len(window))] - begin
        found = qrs.detect_qrs(window, fs)
        _, _, fp = match_beats(inside, found, round(0.05 * fs))
        extra += fp
    assert extra == 0


def test_streaming_rejects_a_bad_rate_and_a_push_after_flush() -> None:
    with pytest.raises(ValueError, match="sampling rate"):
        qrs.StreamingQrsDetector(0.0)
    detector = qrs.StreamingQrsDetector(250.0)
    detector.push(np.zeros(1000))
    detector.flush()
    assert len(detector.flush()) == 0
    with pytest.raises(RuntimeError, match="flushed"):
        detector.push(np.zeros(10))


# ---------------------------------------------------------------- heart rate and matching


def test_heart_rate_is_the_median_of_plausible_rr() -> None:
    fs = 250.0
    regular = np.arange(10) * 200  # 0.8 s -> 75 /min
    assert qrs.heart_rate(regular, fs) == pytest.approx(75.0)
    with_extra = np.sort(np.append(regular, 1010))  # one false beat: two short RR, median unmoved
    assert qrs.heart_rate(with_extra, fs) == pytest.approx(75.0)
    assert qrs.heart_rate(np.array([0, 200]), fs) is None
    assert qrs.heart_rate(np.array([0, 2000, 4000]), fs) is None  # 8 s gaps are not plausible RR
    assert qrs.heart_rate(np.arange(40) * 125, fs, window_beats=4) == pytest.approx(120.0)


def test_match_beats_pairs_one_to_one() -> None:
    assert match_beats([], [], 10) == (0, 0, 0)
    assert match_beats([100, 200], [], 10) == (0, 2, 0)
    assert match_beats([], [100], 10) == (0, 0, 1)
    assert match_beats([100], [95, 105], 10) == (1, 0, 1)  # one reference, two candidates
    assert match_beats([100, 300], [111, 300], 10) == (1, 1, 1)
    assert match_beats([300, 100], [300, 100], 0) == (2, 0, 0)  # order does not matter


# ---------------------------------------------------------------- manifest contract


def test_manifest_entry_matches_the_code() -> None:
    spec = load_manifest()["qrs"]
    assert spec.ref == f"{qrs.NAME}@{qrs.VERSION}"
    assert spec.kind == "dsp"
    assert spec.file is None
    assert spec.sha256 == qrs.params_digest(qrs.DEFAULT_PARAMS)
    assert qrs.model_spec() == spec
    assert (spec.directory / str(spec.card)).is_file()


def test_changed_parameters_fail_the_integrity_check() -> None:
    from edge_agent.models.registry import ModelIntegrityError  # noqa: PLC0415 -- only this test needs it

    with pytest.raises(ModelIntegrityError, match="parameters"):
        qrs.model_spec(qrs.QrsParams(threshold=0.41))


# ---------------------------------------------------------------- real MIT-BIH windows


@pytest.fixture(scope="module")
def mitdb() -> Path:
    try:
        path = data_dir() / "mitdb"
    except ConfigError:
        pytest.skip("PhysioNet data directory not found (../shared/data): real-data tests need MIT-BIH")
    if not (path / "100.hea").is_file():
        pytest.skip(f"{path} has no MIT-BIH records")
    return path


@pytest.mark.parametrize(
    ("record", "start_s", "errors"),
    [
        ("100", 0.0, 0),  # normal sinus rhythm, APCs
        ("119", 600.0, 0),  # ventricular bigeminy
        ("208", 1200.0, 2),  # PVCs and fusion beats: two known misses (N at 1217.5 s, F at 1218.0 s)
        ("233", 300.0, 0),  # frequent multiform PVCs
        ("105", 60.0, 1),  # heavy noise
    ],
)
def test_real_windows_match_the_reference_beats(mitdb: Path, record: str, start_s: float, errors: int) -> None:
    signal = read_record(mitdb / record).channel(0)
    beats, _ = read_annotations(mitdb / record).beats()
    a, b = round(start_s * 360), round((start_s + 20) * 360)
    found = qrs.detect_qrs(signal[a:b], 360.0)
    reference = beats[(beats >= a) & (beats < b)] - a
    tp, fn, fp = match_beats(reference, found, 54)
    assert len(reference) > 15
    assert fn + fp <= errors, f"record {record}: tp={tp} fn={fn} fp={fp}"
    rate = qrs.heart_rate(found, 360.0)
    expected = qrs.heart_rate(reference, 360.0)
    assert rate is not None
    assert expected is not None
    assert rate == pytest.approx(expected, rel=0.05)


def test_whole_record_streaming_equals_batch(mitdb: Path) -> None:
    signal = read_record(mitdb / "208").channel(0)
    beats, _ = read_annotations(mitdb / "208").beats()
    batch = qrs.detect_qrs(signal, 360.0)
    streamed = stream(qrs.StreamingQrsDetector(360.0), signal, [360])
    assert np.array_equal(streamed, batch)
    tp, fn, fp = match_beats(beats, streamed, 54)
    assert tp / (tp + fn) > 0.995
    assert tp / (tp + fp) > 0.995
