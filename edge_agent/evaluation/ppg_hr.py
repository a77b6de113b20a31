"""``vitalstream eval ppg-hr``: PPG pulse rate against the bedside monitor on BIDMC records 01-10.

Protocol: for every second ``t`` of each record, the streaming estimator (:class:`PpgHeartRate`, as on the
device) gets the PLETH window that ends at ``t`` (the last ``WINDOW_S`` s, shorter at the start) and its
answer is compared with the monitor's ECG-derived ``HR`` at ``t`` from ``bidmc_NN_Numerics.csv``
(and, for reference, with the monitor's own PPG ``PULSE``). Seconds without a reference are skipped and
counted; seconds where the estimator abstains are counted and excluded from the error. Nothing was
fitted to these records, so every one of them is held out.

A stress table repeats the run with Gaussian noise limited to the pulse band (0.5-5 Hz, where motion
artefact lives) added to the PLETH at fixed signal-to-noise ratios (seeded), to show what the quality
index and the abstentions do when the signal degrades.

>>> round(_snr_noise_scale(np.ones(4) * np.array([1.0, -1.0, 1.0, -1.0]), 0.0), 6)
1.0
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from edge_agent.dsp import Array, bandpass_fir, fir_filter, resample
from edge_agent.evaluation.metrics import percentile
from edge_agent.evaluation.runner import run_main
from edge_agent.models import ppg_hr
from edge_agent.models.registry import ModelIntegrityError, load_manifest
from edge_agent.records import pick_channel, read_bidmc_signals
from vitalstream.errors import ConfigError

__all__ = ["BIDMC_SIGNAL_RECORDS", "bidmc_dir", "evaluate", "evaluate_records", "run_record"]

ROLE = "ppg_hr"
# The Signals CSVs of the shared copy cover records 01-10 only.
BIDMC_SIGNAL_RECORDS = tuple(range(1, 11))
STRESS_SNR_DB = (10.0, 5.0, 0.0)
STRESS_BAND_HZ = (0.5, 5.0)
OTHER_RATES_HZ = (25.0, 64.0, 250.0, 500.0)
QUALITY_BINS = (0.3, 0.5, 0.7, 0.9, 1.001)


@dataclass(frozen=True, slots=True)
class RecordRun:
    """Per-second outcome of one record: estimate (NaN = abstained), quality, references (NaN = missing)."""

    name: str
    seconds: Array
    estimate: Array
    quality: Array
    hr: Array
    pulse: Array
    stateless: Array  # one-shot ppg_heart_rate on the same window, without the streaming median


def bidmc_dir(data: Path) -> Path:
    """The folder with the BIDMC CSV files: ``DATA/bidmc/bidmc_csv``, ``DATA/bidmc_csv`` or ``DATA`` itself."""
    for candidate in (data / "bidmc" / "bidmc_csv", data / "bidmc_csv", data):
        if (candidate / "bidmc_01_Numerics.csv").is_file():
            return candidate
    raise ConfigError(f"no BIDMC CSV files (bidmc_01_Numerics.csv) under {data}", source="--data")


def _read_numerics(path: Path) -> dict[str, Array]:
    """``bidmc_NN_Numerics.csv`` as columns (``Time [s]``, ``HR``, ``PULSE``, ...), NaN where empty."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, skipinitialspace=True)
        header = [name.strip() for name in next(reader)]
        rows = [[float(v) if v.strip() not in {"", "NaN"} else np.nan for v in row] for row in reader if row]
    table = np.asarray(rows, dtype=np.float64)
    return {name: table[:, i] for i, name in enumerate(header)}


def _snr_noise_scale(signal: Array, snr_db: float) -> float:
    """Scale of unit-variance noise that gives ``snr_db`` against the signal's variance."""
    return float(np.std(signal) / 10 ** (snr_db / 20))


def _in_band_noise(rng: np.random.Generator, n: int, fs: float) -> Array:
    """Unit-variance Gaussian noise limited to 0.5-5 Hz: it overlaps the pulse band, like motion artefact."""
    noise = fir_filter(rng.standard_normal(n), bandpass_fir(fs, *STRESS_BAND_HZ, taps=round(4 * fs) | 1))
    return np.asarray(noise / np.std(noise), dtype=np.float64)


def _in_band(signal: Array, fs: float) -> Array:
    return fir_filter(signal, bandpass_fir(fs, *STRESS_BAND_HZ, taps=round(4 * fs) | 1))


def run_record(pleth: Array, fs: float, numerics: dict[str, Array], name: str, *, one_shot: bool = True) -> RecordRun:
    """Feed the record second by second through a fresh :class:`PpgHeartRate` (and the one-shot function)."""
    tracker = ppg_hr.PpgHeartRate(fs)
    seconds = numerics["Time [s]"].astype(np.int64)
    estimate = np.full(len(seconds), np.nan)
    stateless = np.full(len(seconds), np.nan)
    quality = np.zeros(len(seconds))
    width = round(ppg_hr.WINDOW_S * fs)
    for row, t in enumerate(seconds):
        end = min(len(pleth), round(t * fs) + 1)  # the sample at t itself is the newest one
        window = pleth[max(0, end - width) : end]
        rate, quality[row] = tracker.update(window)
        if rate is not None:
            estimate[row] = rate
        if one_shot:
            single, _ = ppg_hr.ppg_heart_rate(window, fs)
            stateless[row] = np.nan if single is None else single
    return RecordRun(name, seconds.astype(np.float64), estimate, quality, numerics["HR"], numerics["PULSE"], stateless)


def _summary(runs: list[RecordRun]) -> dict[str, Any]:
    estimate = np.concatenate([r.estimate for r in runs])
    stateless = np.concatenate([r.stateless for r in runs])
    hr = np.concatenate([r.hr for r in runs])
    pulse = np.concatenate([r.pulse for r in runs])
    quality = np.concatenate([r.quality for r in runs])
    warmup = np.concatenate([r.seconds for r in runs]) < ppg_hr.MIN_WINDOW_S
    scored = np.isfinite(hr)
    answered = scored & np.isfinite(estimate)
    error = np.abs(estimate - hr)[answered]
    with_pulse = answered & np.isfinite(pulse)
    one_shot = scored & np.isfinite(stateless)
    return {
        "mae_bpm": round(float(error.mean()), 3) if error.size else None,
        "coverage": round(float(answered.sum() / max(1, scored.sum())), 4),
        "mae_bpm_vs_pulse": round(float(np.abs(estimate - pulse)[with_pulse].mean()), 3) if with_pulse.any() else None,
        "p95_abs_error_bpm": round(percentile(error, 95), 2) if error.size else None,
        "within_5_bpm": round(float(np.mean(error <= 5.0)), 4) if error.size else None,
        "seconds": int(scored.sum()),
        "answered": int(answered.sum()),
        "abstained": int(scored.sum() - answered.sum()),
        "abstained_warmup": int((scored & ~answered & warmup).sum()),
        "reference_missing": int((~scored).sum()),
        "pulse_missing_among_answered": int((answered & ~np.isfinite(pulse)).sum()),
        "mean_quality": round(float(quality[scored].mean()), 3),
        "stateless_mae_bpm": round(float(np.abs(stateless - hr)[one_shot].mean()), 3) if one_shot.any() else None,
        "stateless_coverage": round(float(one_shot.sum() / max(1, scored.sum())), 4),
    }


def _quality_table(runs: list[RecordRun], log: TextIO) -> list[dict[str, Any]]:
    estimate = np.concatenate([r.estimate for r in runs])
    hr = np.concatenate([r.hr for r in runs])
    quality = np.concatenate([r.quality for r in runs])
    answered = np.isfinite(hr) & np.isfinite(estimate)
    rows = []
    log.write("quality bin   answered   MAE bpm   within 5 bpm\n")
    for low, high in itertools.pairwise(QUALITY_BINS):
        in_bin = answered & (quality >= low) & (quality < high)
        error = np.abs(estimate - hr)[in_bin]
        mae = round(float(error.mean()), 3) if error.size else None
        within = round(float(np.mean(error <= 5.0)), 4) if error.size else None
        rows.append(
            {"quality": [low, min(high, 1.0)], "answered": int(in_bin.sum()), "mae_bpm": mae, "within_5_bpm": within}
        )
        log.write(f"[{low:.1f}, {min(high, 1.0):.1f})  {int(in_bin.sum()):>8}   {_fmt(mae)}   {_fmt(within)}\n")
    return rows


def _fmt(value: float | None) -> str:
    return "   n/a" if value is None else f"{value:7.3f}"


def evaluate_records(data: Path, *, log: TextIO, stress: bool = True) -> dict[str, Any]:
    """The metrics of the module's estimator on BIDMC 01-10 (no registry check; see :func:`evaluate`)."""
    folder = bidmc_dir(data)
    signals: list[tuple[str, Array, float, dict[str, Array]]] = []
    for number in BIDMC_SIGNAL_RECORDS:
        record = read_bidmc_signals(folder / f"bidmc_{number:02d}_Signals.csv")
        pleth = record.channel(pick_channel(record, "ppg"))
        signals.append((record.name, pleth, record.fs, _read_numerics(folder / f"bidmc_{number:02d}_Numerics.csv")))
    runs = [run_record(pleth, fs, numerics, name) for name, pleth, fs, numerics in signals]
    log.write(f"{ppg_hr.NAME}@{ppg_hr.VERSION}: window {ppg_hr.WINDOW_S:g} s, streaming, one update per second\n")
    log.write("record     seconds  ref NaN  abstained  coverage  MAE(HR)  MAE(PULSE)  p95 err  mean q")
    log.write("  1-shot MAE  1-shot cov\n")
    per_record = {}
    for run in runs:
        row = _summary([run])
        per_record[run.name] = row
        log.write(
            f"{run.name:<10} {row['seconds']:>7}  {row['reference_missing']:>7}  {row['abstained']:>9}  "
            f"{row['coverage']:>8.4f}  {_fmt(row['mae_bpm'])}  {_fmt(row['mae_bpm_vs_pulse'])}  "
            f"{_fmt(row['p95_abs_error_bpm'])}  {row['mean_quality']:.3f}   {_fmt(row['stateless_mae_bpm'])}"
            f"     {row['stateless_coverage']:.4f}\n"
        )
    overall = _summary(runs)
    log.write(
        f"{'all':<10} {overall['seconds']:>7}  {overall['reference_missing']:>7}  {overall['abstained']:>9}  "
        f"{overall['coverage']:>8.4f}  {_fmt(overall['mae_bpm'])}  {_fmt(overall['mae_bpm_vs_pulse'])}  "
        f"{_fmt(overall['p95_abs_error_bpm'])}  {overall['mean_quality']:.3f}   {_fmt(overall['stateless_mae_bpm'])}"
        f"     {overall['stateless_coverage']:.4f}\n"
    )
    result: dict[str, Any] = {
        **{k: overall[k] for k in ("mae_bpm", "coverage", "mae_bpm_vs_pulse")},
        "records": len(runs),
        **{k: v for k, v in overall.items() if k not in {"mae_bpm", "coverage", "mae_bpm_vs_pulse"}},
        "mae_bpm_record_mean": round(float(np.mean([r["mae_bpm"] for r in per_record.values()])), 3),
        "window_s": ppg_hr.WINDOW_S,
        "protocol": (
            "BIDMC 01-10 PLETH (125 Hz), streaming PpgHeartRate updated every second with the causal window "
            f"ending at t (last {ppg_hr.WINDOW_S:g} s); reference = Numerics HR at t (ECG-derived); NaN "
            "references skipped; abstentions counted, MAE over answered seconds; no parameter fitted to the data"
        ),
        "per_record": per_record,
        "quality_bins": _quality_table(runs, log),
    }
    if stress:
        result["stress"] = _stress(signals, log)
        result["other_rates"] = _other_rates(signals, log)
    return result


def _other_rates(signals: list[tuple[str, Array, float, dict[str, Array]]], log: TextIO) -> dict[str, Any]:
    """The same protocol with PLETH resampled to wearable and high-rate device rates."""
    log.write("PLETH resampled to other device rates\nfs Hz   coverage   MAE(HR)   mean q\n")
    table = {}
    for rate in OTHER_RATES_HZ:
        runs = [
            run_record(resample(pleth, fs, rate), rate, numerics, name, one_shot=False)
            for name, pleth, fs, numerics in signals
        ]
        row = _summary(runs)
        table[f"{rate:g}"] = {k: row[k] for k in ("coverage", "mae_bpm", "mean_quality", "abstained")}
        log.write(f"{rate:>5g}   {row['coverage']:>8.4f}   {_fmt(row['mae_bpm'])}   {row['mean_quality']:.3f}\n")
    return table


def _stress(signals: list[tuple[str, Array, float, dict[str, Array]]], log: TextIO) -> dict[str, Any]:
    log.write(
        f"stress: Gaussian noise in {STRESS_BAND_HZ[0]:g}-{STRESS_BAND_HZ[1]:g} Hz added to PLETH, SNR in that band "
        "(seed 0)\nSNR dB   coverage   MAE(HR)   mean q\n"
    )
    table = {}
    for snr in STRESS_SNR_DB:
        rng = np.random.default_rng(0)
        runs = []
        for name, pleth, fs, numerics in signals:
            noise = _in_band_noise(rng, len(pleth), fs) * _snr_noise_scale(_in_band(pleth, fs), snr)
            runs.append(run_record(pleth + noise, fs, numerics, name, one_shot=False))
        row = _summary(runs)
        table[f"{snr:g}"] = {k: row[k] for k in ("coverage", "mae_bpm", "mean_quality", "abstained")}
        log.write(f"{snr:>6g}   {row['coverage']:>8.4f}   {_fmt(row['mae_bpm'])}   {row['mean_quality']:.3f}\n")
    return table


def evaluate(data: Path, *, log: TextIO) -> dict[str, Any]:
    """Check the manifest entry against the runtime module, then score it on BIDMC 01-10."""
    spec = load_manifest().get(ROLE)
    if spec is None:
        raise ModelIntegrityError(f"no {ROLE} entry in the manifest (run models.training.register_ppg_hr)")
    fingerprint = spec.training.get("parameters_sha256")
    if (spec.kind, spec.name, spec.version) != ("dsp", ppg_hr.NAME, ppg_hr.VERSION) or (
        fingerprint != ppg_hr.parameters_sha256()
    ):
        raise ModelIntegrityError(
            f"manifest {ROLE} is {spec.ref} ({spec.kind}, parameters {str(fingerprint)[:12]}) but the runtime is "
            f"{ppg_hr.NAME}@{ppg_hr.VERSION} (parameters {ppg_hr.parameters_sha256()[:12]})"
        )
    result = evaluate_records(data, log=log)
    result["model"] = spec.ref
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edge_agent.evaluation.ppg_hr --data DIR``: the summary as one JSON line on stdout."""
    return run_main(evaluate, argv, doc=__doc__)


if __name__ == "__main__":
    raise SystemExit(main())
