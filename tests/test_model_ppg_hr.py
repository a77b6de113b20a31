"""The PPG pulse-rate estimator (role ``ppg_hr``): synthetic pulse waves, the manifest entry, real BIDMC windows."""

from __future__ import annotations

import copy
import io
import pickle
from pathlib import Path

import numpy as np
import pytest

from edge_agent.dsp import Array
from edge_agent.evaluation import ppg_hr as evaluation
from edge_agent.models import ppg_hr
from edge_agent.models.ppg_hr import MIN_QUALITY, WINDOW_S, PpgHeartRate, ppg_heart_rate
from edge_agent.models.registry import ModelIntegrityError, load_manifest
from edge_agent.records import data_dir, pick_channel, read_bidmc_signals, read_record
from vitalstream.errors import ConfigError


def pulse_wave(
    fs: float, seconds: float, rate: float, *, seed: int = 0, noise: float = 0.02, dicrotic: float = 0.4
) -> tuple[Array, float]:
    """A PPG-like wave: skewed systolic and Gaussian diastolic bumps per beat, 3 % beat-to-beat variability, breathing.

    Returns the signal and the true mean rate (/min) over the last ``WINDOW_S`` seconds.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(0, seconds, 1 / fs)
    onsets = [-rng.uniform(0, 60 / rate)]
    while onsets[-1] < seconds + 1:
        onsets.append(onsets[-1] + 60 / rate * (1 + 0.03 * rng.standard_normal()))
    x = np.zeros_like(t)
    for onset in onsets:
        # fast systolic upstroke (0.05 s), slower decay (0.12 s), then the diastolic wave
        lag = t - onset - 0.15
        x += np.exp(-0.5 * (lag / np.where(lag < 0, 0.05, 0.12)) ** 2)
        x += dicrotic * np.exp(-0.5 * ((t - onset - 0.45) / 0.1) ** 2)
    x += 0.3 * np.sin(2 * np.pi * 0.25 * t) + noise * rng.standard_normal(len(t))
    peaks = np.asarray(onsets) + 0.15
    inside = peaks[(peaks > seconds - WINDOW_S) & (peaks < seconds)]
    return x, 60.0 / float(np.mean(np.diff(inside)))


# ---------------------------------------------------------------- synthetic, no data needed


@pytest.mark.parametrize("fs", [25.0, 64.0, 125.0, 250.0, 500.0])
@pytest.mark.parametrize("rate", [40.0, 72.0, 120.0, 180.0])
def test_rate_of_a_clean_pulse_wave_at_any_device_rate(fs: float, rate: float) -> None:
    x, truth = pulse_wave(fs, WINDOW_S, rate, seed=int(rate))
    estimate, quality = ppg_heart_rate(x, fs)
    assert estimate is not None
    assert abs(estimate - truth) < 2.0
    assert quality > 0.7


@pytest.mark.parametrize("rate", [50.0, 60.0, 80.0, 110.0])
def test_a_diastolic_wave_never_doubles_the_rate(rate: float) -> None:
    x, truth = pulse_wave(125.0, WINDOW_S, rate, seed=int(rate), dicrotic=0.3)
    estimate, _ = ppg_heart_rate(x, 125.0)
    assert estimate is not None
    assert abs(estimate - truth) < 2.0
    # as tall as 50-90 % of the systolic peak: detections may mix, and then the window is withheld
    for dicrotic in (0.5, 0.7, 0.9):
        x, truth = pulse_wave(125.0, WINDOW_S, rate, seed=int(rate), dicrotic=dicrotic)
        estimate, _ = ppg_heart_rate(x, 125.0)
        assert estimate is None or abs(estimate - truth) < 0.1 * truth
    # Withholding is for the windows where the waves mix, not a way out: over a clean minute with a
    # diastolic wave half as tall as the systolic peak, (almost) every window gets the right rate.
    fs = 125.0
    x, _ = pulse_wave(fs, 60.0, rate, seed=int(rate), dicrotic=0.5)
    width = round(WINDOW_S * fs)
    estimates = [ppg_heart_rate(x[end - width : end], fs)[0] for end in range(width, len(x) + 1, round(fs))]
    answered = [e for e in estimates if e is not None]
    assert len(answered) >= 0.9 * len(estimates), f"{len(answered)} of {len(estimates)} windows answered"
    assert all(abs(e - rate) < 0.1 * rate for e in answered)


@pytest.mark.parametrize("rate", [45.0, 95.0, 160.0])
def test_inverted_polarity_gives_the_same_answer(rate: float) -> None:
    x, _ = pulse_wave(64.0, WINDOW_S, rate, seed=3)
    upright = ppg_heart_rate(x, 64.0)
    assert upright[0] is not None
    assert ppg_heart_rate(-x, 64.0) == upright


def test_flat_short_or_gappy_windows_abstain() -> None:
    fs = 125.0
    assert ppg_heart_rate(np.zeros(round(WINDOW_S * fs)), fs) == (None, 0.0)
    assert ppg_heart_rate(np.full(round(WINDOW_S * fs), 3.3), fs) == (None, 0.0)
    x, _ = pulse_wave(fs, WINDOW_S, 80.0)
    assert ppg_heart_rate(x[: round(3.5 * fs)], fs) == (None, 0.0)  # under MIN_WINDOW_S
    gappy = x.copy()
    gappy[100:300] = np.nan  # 20 % missing
    assert ppg_heart_rate(gappy, fs) == (None, 0.0)


def test_short_dropouts_are_bridged() -> None:
    x, truth = pulse_wave(125.0, WINDOW_S, 80.0, seed=5)
    x[400:440] = np.nan  # 4 % missing
    estimate, _ = ppg_heart_rate(x, 125.0)
    assert estimate is not None
    assert abs(estimate - truth) < 3.0


def test_a_block_whose_maximum_sits_on_a_slope_keeps_its_peak_inside_the_window() -> None:
    """Regression: challenge2015 v472s and v598s crashed the edge with ``IndexError`` in ``_systolic_peaks``.

    A block of interest can start just after a (dicrotic) crest, on the falling limb, so its largest
    sample is no local maximum. The three samples around it were nearly collinear there, and the
    parabolic refinement put the "peak" hundreds of samples away, beyond the window; comparing the next
    peak with it then indexed past the end. This is that shape at the internal 50 Hz: a systolic crest
    every second, a dicrotic wave whose falling limb opens a block, and three samples there bent by one
    part in a thousand (the old code put that peak at sample 1029 of 400).
    """
    fs = 50.0
    phase = np.arange(400.0) % 50
    y = 2.2 * np.exp(-(((phase - 10) / 2.5) ** 2)) + 0.3 * np.exp(-(((phase - 28) / 8) ** 2))
    crest, start = y[28], y[29]  # the dicrotic crest, then the block's first (and largest) sample
    y[30] = 2 * start - crest + (crest - start) / 1000
    peaks = ppg_hr._systolic_peaks(y, fs)
    assert len(peaks) > 0
    assert np.all((peaks >= 0) & (peaks <= len(y) - 1))
    # every peak is within half a sample of a sample that is at least as high as the samples around it
    nearest = np.round(peaks).astype(np.int64)
    assert np.all(np.abs(peaks - nearest) <= 0.5)
    systolic = peaks[np.abs(peaks % 50 - 10) < 1]
    assert len(systolic) == 8  # the refinement of true crests is unchanged


def test_noise_alone_gives_no_trusted_rate() -> None:
    rng = np.random.default_rng(11)
    answers = [ppg_heart_rate(rng.standard_normal(1000), 125.0) for _ in range(20)]
    assert sum(rate is not None for rate, _ in answers) <= 2
    assert all(rate is None for rate, q in answers if q < MIN_QUALITY)
    assert np.mean([q for _, q in answers]) < 0.3


def test_quality_falls_as_noise_rises() -> None:
    mean_quality = []
    for noise in (0.02, 0.3, 0.8):
        qualities = [
            ppg_heart_rate(pulse_wave(125.0, WINDOW_S, 75.0, seed=s, noise=noise)[0], 125.0)[1] for s in range(8)
        ]
        mean_quality.append(float(np.mean(qualities)))
    assert mean_quality[0] > mean_quality[1] > mean_quality[2]
    assert mean_quality[0] > 0.9


def test_only_the_last_window_counts_and_input_is_not_mutated() -> None:
    x, _ = pulse_wave(125.0, 30.0, 70.0)
    before = x.copy()
    assert ppg_heart_rate(x, 125.0) == ppg_heart_rate(x[-round(WINDOW_S * 125.0) :], 125.0)
    np.testing.assert_array_equal(x, before)


def test_too_low_a_sampling_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="too low"):
        ppg_heart_rate(np.zeros(80), 10.0)
    with pytest.raises(ValueError, match="too low"):
        ppg_heart_rate(np.zeros(80), float("nan"))


def test_streaming_median_rides_over_one_bad_window_and_passes_abstentions_on() -> None:
    fs = 125.0
    x, _ = pulse_wave(fs, 40.0, 66.0, seed=2)
    width = round(WINDOW_S * fs)
    tracker = PpgHeartRate(fs)
    outputs = []
    for second in range(8, 40):
        window = x[second * round(fs) - width : second * round(fs)]
        if second == 20:  # one window where a sensor artefact looks like a fast pulse
            window = np.sin(2 * np.pi * 2.5 * np.arange(width) / fs)
        if second == 30:
            window = np.zeros(width)  # sensor off
        outputs.append(tracker.update(window))
    rates = [rate for rate, _ in outputs]
    assert rates[30 - 8] is None
    assert outputs[30 - 8][1] == 0.0
    assert all(rate is not None and abs(rate - 66.0) < 5.0 for i, rate in enumerate(rates) if i != 30 - 8)
    assert outputs[20 - 8][1] < outputs[19 - 8][1]  # the odd window is flagged by a lower quality


def test_tracker_state_is_independent_after_copy_and_survives_pickle() -> None:
    fs = 64.0
    x, _ = pulse_wave(fs, 20.0, 88.0, seed=4)
    tracker = PpgHeartRate(fs)
    for second in range(8, 14):
        tracker.update(x[: second * 64])
    twin = copy.deepcopy(tracker)
    restored = pickle.loads(pickle.dumps(tracker))
    window = x[: 15 * 64]
    assert tracker.update(window) == twin.update(window) == restored.update(window)
    twin.reset()
    assert twin.update(np.zeros(512)) == (None, 0.0)
    assert tracker.update(x[: 16 * 64])[0] is not None
    with pytest.raises(ValueError, match="smoothing"):
        PpgHeartRate(fs, smoothing=0)


# ---------------------------------------------------------------- the manifest entry


def test_manifest_entry_matches_the_runtime_module() -> None:
    """A DSP model has no weights file, so no sha256: the manifest pins name, version and a parameter fingerprint."""
    spec = load_manifest()["ppg_hr"]
    assert spec.kind == "dsp"
    assert spec.file is None
    assert spec.sha256 is None
    assert spec.path is None
    assert spec.ref == f"{ppg_hr.NAME}@{ppg_hr.VERSION}"
    assert spec.training["parameters_sha256"] == ppg_hr.parameters_sha256()
    assert spec.training["parameters"] == ppg_hr.PARAMETERS
    assert spec.metrics["records"] == 10
    assert spec.metrics["mae_bpm"] <= 3.0
    assert spec.metrics["coverage"] >= 0.9
    assert spec.card is not None
    assert (spec.directory / spec.card).is_file()


def test_evaluation_refuses_a_runtime_that_differs_from_the_manifest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ppg_hr, "PARAMETERS", {**ppg_hr.PARAMETERS, "min_quality": 0.0})  # a silent retune
    with pytest.raises(ModelIntegrityError, match="parameters"):
        evaluation.evaluate(Path("/nonexistent"), log=io.StringIO())


# ---------------------------------------------------------------- real BIDMC windows (skipped without the data)


@pytest.fixture(scope="module")
def bidmc() -> Path:
    try:
        return evaluation.bidmc_dir(data_dir())
    except ConfigError as exc:
        pytest.skip(f"PhysioNet BIDMC data not available ({exc}); CI without ../shared/data skips these")


def _pleth_and_numerics(folder: Path, number: int) -> tuple[np.ndarray, float, dict[str, np.ndarray]]:
    record = read_bidmc_signals(folder / f"bidmc_{number:02d}_Signals.csv")
    numerics = evaluation._read_numerics(folder / f"bidmc_{number:02d}_Numerics.csv")
    return record.channel(pick_channel(record, "ppg")), record.fs, numerics


@pytest.mark.parametrize(("number", "seconds"), [(1, (200, 300, 450)), (6, (60, 300, 470))])
def test_real_windows_match_the_monitor_heart_rate(bidmc: Path, number: int, seconds: tuple[int, ...]) -> None:
    pleth, fs, numerics = _pleth_and_numerics(bidmc, number)
    for t in seconds:
        end = round(t * fs) + 1
        estimate, quality = ppg_heart_rate(pleth[end - round(WINDOW_S * fs) : end], fs)
        reference = numerics["HR"][t]
        assert estimate is not None, f"bidmc{number:02d} t={t}s abstained (quality {quality})"
        assert abs(estimate - reference) <= 3.0, f"bidmc{number:02d} t={t}s: {estimate} vs monitor {reference}"
        assert quality > 0.5
        # the same window with in-band noise as strong as the pulse is less trustworthy
        rng = np.random.default_rng(t)
        window = pleth[end - round(WINDOW_S * fs) : end]
        noisy = window + rng.standard_normal(len(window)).cumsum() * np.std(window) / 5
        assert ppg_heart_rate(noisy, fs)[1] < quality


def test_streaming_over_a_real_minute(bidmc: Path) -> None:
    pleth, fs, numerics = _pleth_and_numerics(bidmc, 9)
    minute = {key: values[120:180] for key, values in numerics.items()}
    run = evaluation.run_record(pleth, fs, minute, "bidmc_09", one_shot=False)
    answered = np.isfinite(run.estimate)
    assert answered.mean() >= 0.9
    assert float(np.mean(np.abs(run.estimate - run.hr)[answered])) <= 3.0


@pytest.mark.parametrize(("record", "second"), [("v472s", 84), ("v598s", 134)])
def test_the_icu_windows_that_crashed_the_edge_give_an_answer(record: str, second: int) -> None:
    """The two PLETH windows of the CinC 2015 ICU-alarm records that raised ``IndexError`` (see above)."""
    folder = _data_or_skip() / "challenge2015-dev"
    if not (folder / f"{record}.hea").is_file():
        pytest.skip(f"challenge2015-dev/{record} not available")
    signals = read_record(folder / f"{record}.hea")
    pleth = signals.channel(pick_channel(signals, "ppg"))
    end = round(second * signals.fs)
    estimate, quality = ppg_heart_rate(pleth[end - round(WINDOW_S * signals.fs) : end], signals.fs)
    assert 0.0 <= quality <= 1.0
    assert estimate is None or 30.0 <= estimate <= 220.0


def _data_or_skip() -> Path:
    try:
        return data_dir()
    except ConfigError as exc:
        pytest.skip(f"PhysioNet data not available ({exc})")
