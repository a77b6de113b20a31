"""Register the VF/flutter detector (DSP, no weights) in the manifest with its measured metrics.

python -m models.training.register_vf --data /work/shared/data
"""

from __future__ import annotations

import argparse
import sys
import time

from edge_agent.evaluation.vf import evaluate
from edge_agent.models.vf import NAME, VERSION, WINDOW_S
from edge_agent.records import data_dir
from models.training.manifest_tool import write_entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", help="PhysioNet data directory (default ../shared/data)")
    args = parser.parse_args()
    started = time.monotonic()
    metrics = evaluate(data_dir(args.data), log=sys.stderr)
    write_entry(
        "vf",
        {
            "name": NAME,
            "version": VERSION,
            "kind": "dsp",
            "file": None,
            "inputs": {
                "signal": "one ECG lead in mV, any rate >= 100 Hz",
                "window_s": WINDOW_S,
                "preprocessing": "resampled to 125 Hz, band-pass 1-30 Hz",
            },
            "outputs": {
                "vf": "boolean: the window looks like ventricular fibrillation or flutter",
                "features": ["concentration", "high_fraction", "quiet_fraction", "peak_to_peak_mv"],
            },
            "training": {
                "data": "none: thresholds set from physiology; checked on MIT-BIH 1.0.0 (PhysioNet)",
                "command": "python -m models.training.register_vf --data DIR",
                "wall_time_s": round(time.monotonic() - started, 1),
            },
            "metrics": metrics,
            "card": None,
        },
    )
    print(metrics)  # noqa: T201


if __name__ == "__main__":
    main()
