"""``vitalstream classify``: the edge models over recorded ECG files, one JSON line per window."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from vitalstream.settings import Settings
from vitalstream_app.cli.options import print_json, require

if TYPE_CHECKING:
    from vitalstream_app.cli.options import Subparsers

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    classify = sub.add_parser(
        "classify",
        allow_abbrev=False,
        help="run the edge models on recorded ECG files; one JSON line per window",
        description="Run the edge pipeline (QRS, beat classes, rhythm, signal quality) over WFDB records "
        "(.hea with .dat or .mat) or BIDMC *_Signals.csv files at any sampling rate, and print one JSON line "
        'per window: {"record", "t", "hr", "sqi", "rhythm": {"label", "p"}, "beats"}.',
    )
    classify.add_argument("records", nargs="+", metavar="RECORD", help="record paths (a .hea file or its stem)")
    classify.add_argument("--channel", type=int, metavar="N", help="ECG channel index (default: MLII/II/... by name)")
    classify.add_argument("--window", type=int, default=10, metavar="SECONDS", help="window length (default 10)")
    classify.set_defaults(run=run)


def run(_settings: Settings, args: argparse.Namespace) -> int:
    require("numpy", "onnxruntime", extra="edge")
    # The edge extra, imported once it is known to be there.
    from edge_agent.classify import classify_recording  # noqa: PLC0415
    from edge_agent.pipeline import EdgeModels  # noqa: PLC0415
    from edge_agent.recording_replay import find_recordings  # noqa: PLC0415

    models = EdgeModels.load()
    for record in args.records:
        for path in find_recordings(Path(record)):
            if path.suffix != ".csv":
                require("wfdb", extra="data")
            for line in classify_recording(path, channel=args.channel, window_s=args.window, models=models):
                print_json(line)
    return 0
