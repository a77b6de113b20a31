"""Register the PPG pulse-rate estimator (``ppg_hr``, classical DSP) in the model manifest with its metrics.

Nothing is trained: every parameter of :mod:`edge_agent.models.ppg_hr` comes from physiology and the cited
papers. This script scores the runtime module on BIDMC records 01-10 (all held out, since none was used
to choose anything), measures the per-window latency, and writes the manifest entry::

    cd /work/main && .venv/bin/python -m models.training.register_ppg_hr --data /work/shared/data

The last stdout line is the metrics JSON, the same dict ``vitalstream eval ppg-hr`` prints.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.dsp import resample
from edge_agent.evaluation.metrics import percentile
from edge_agent.evaluation.ppg_hr import ROLE, bidmc_dir, evaluate_records
from edge_agent.models import ppg_hr
from edge_agent.records import data_dir, pick_channel, read_bidmc_signals
from models.training.manifest_tool import write_entry

COMMAND = ".venv/bin/python -m models.training.register_ppg_hr --data /work/shared/data"
LATENCY_RATES_HZ = (25.0, 125.0, 500.0)


def latency_ms(data: Path, *, windows: int = 1000) -> dict[str, Any]:
    """p50/p99 of one ``ppg_heart_rate`` call on real 8 s windows (BIDMC 01) at several rates, wall and CPU time.

    Wall time includes the scheduler preempting us on a busy machine; CPU time is what the call costs.
    """
    record = read_bidmc_signals(bidmc_dir(data) / "bidmc_01_Signals.csv")
    pleth = record.channel(pick_channel(record, "ppg"))
    table: dict[str, Any] = {}
    for rate in LATENCY_RATES_HZ:
        signal = resample(pleth, record.fs, rate)
        width = round(ppg_hr.WINDOW_S * rate)
        starts = np.linspace(0, len(signal) - width, windows).astype(np.int64)
        wall, cpu = [], []
        for start in starts:
            wall_began, cpu_began = time.perf_counter(), time.process_time()
            ppg_hr.ppg_heart_rate(signal[start : start + width], rate)
            cpu.append(time.process_time() - cpu_began)
            wall.append(time.perf_counter() - wall_began)
        table[f"{rate:g} Hz"] = {
            f"{kind}_{q}": round(percentile(values, q_value) * 1e3, 3)
            for kind, values in (("wall", wall), ("cpu", cpu))
            for q, q_value in (("p50", 50), ("p99", 99))
        }
    return table


def manifest_entry(metrics: dict[str, Any], latency: dict[str, Any], wall_s: float) -> dict[str, Any]:
    return {
        "name": ppg_hr.NAME,
        "version": ppg_hr.VERSION,
        "kind": "dsp",
        "file": None,
        "inputs": {
            "signal": "PPG (photoplethysmogram, any polarity, any unit), one channel",
            "fs_hz": "any rate >= 16 Hz (checked on real data at 25, 64, 125, 250, 500 Hz); resampled to 50 Hz",
            "window": {
                "seconds": ppg_hr.WINDOW_S,
                "min_seconds": ppg_hr.MIN_WINDOW_S,
                "hop_seconds": 1.0,
                "alignment": "causal: the window ends at the newest sample; longer windows are cut to the last 8 s",
            },
            "shape": "(n,) with n = round(8 * fs) samples (>= 4 s accepted)",
            "dtype": "float64 (anything numpy converts); NaN/inf dropouts up to 10 % are interpolated",
            "preprocessing": "none by the caller; the module detrends, resamples and band-passes 0.5-8 Hz itself",
            "api": "edge_agent.models.ppg_hr.PpgHeartRate(fs).update(window) once per second, "
            "or ppg_heart_rate(window, fs)",
        },
        "outputs": {
            "rate": "pulse rate in beats per minute (float, 0.1 resolution), or null when the window is "
            "not trustworthy (abstention)",
            "quality": "PPG signal quality in [0, 1], published as sqi.ppg: beat-morphology consistency x "
            "spectral/time-domain agreement, 0 when the pulse train is implausible; estimates below "
            f"{ppg_hr.MIN_QUALITY} are withheld",
            "range_per_min": [30, 220],
        },
        "training": {
            "fitted": "nothing: parameters from physiology and literature (Elgendi 2013 peak detector, "
            "Orphanidou 2015 feasibility rules and template correlation, 8 s IEEE SPC 2015 window)",
            "data": "BIDMC PPG and Respiration Dataset 1.0.0 (Pimentel et al. 2017), records 01-10 used only "
            "for evaluation",
            "records": [],
            "parameters": dict(ppg_hr.PARAMETERS),
            "parameters_sha256": ppg_hr.parameters_sha256(),
            "command": COMMAND,
            "seed": 0,
            "seed_use": "only the noise of the stress test",
            "wall_time_s": round(wall_s, 1),
            "wall_time_note": "evaluation and latency measurement on 2 shared CPU cores, other trainings running",
        },
        "metrics": {
            **{k: v for k, v in metrics.items() if k != "protocol"},
            "evaluation_protocol": metrics["protocol"],
            "latency_ms_per_window": {
                **latency,
                "machine": f"{platform.machine()} {platform.processor() or platform.system()}, "
                "single thread, numpy only, shared and busy",
            },
        },
        "card": "cards/ppg_hr.md",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="register the ppg_hr DSP model with its held-out metrics")
    parser.add_argument("--data", type=Path, default=None, help="PhysioNet data directory (default ../shared/data)")
    args = parser.parse_args(argv)
    data = data_dir(args.data)
    began = time.perf_counter()
    metrics = evaluate_records(data, log=sys.stderr)
    latency = latency_ms(data)
    entry = manifest_entry(metrics, latency, time.perf_counter() - began)
    write_entry(ROLE, entry)
    sys.stderr.write(f"latency ms per window: {json.dumps(latency)}\nwrote manifest entry {ROLE}\n")
    sys.stdout.write(json.dumps(entry["metrics"]) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
