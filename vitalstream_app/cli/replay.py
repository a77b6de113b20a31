"""``vitalstream replay``: recorded or scripted streams through the edge and the processor on a virtual clock."""

from __future__ import annotations

import argparse
import time
from functools import cache
from typing import TYPE_CHECKING

from vitalstream.settings import Settings
from vitalstream_app.cli.options import print_json, require

if TYPE_CHECKING:
    from vitalstream_app.cli.options import Subparsers

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    replay = sub.add_parser(
        "replay",
        allow_abbrev=False,
        help="replay recorded or scripted streams through edge and processor on a virtual clock; JSON lines",
        description="Run recorded streams through the same edge pipeline and processor core in one process, on "
        "each stream's own event time, as fast as possible, and print one JSON line per raised alert "
        '({"record", "kind", "priority", "t", "onset_t", "cleared_t", "alert_id", "retrospective", "explanation"}; '
        "times in seconds from the record's start, cleared_t when the alert ended, by whatever transition, or "
        "null if still open at the end), then a summary line. PATH is a WFDB record (.hea; ECG picked by "
        "lead name, PLETH as PPG, any sampling rate), a BIDMC *_Signals.csv (its Numerics travel along), a "
        "directory of either, scenario:SPEC (simulated waveforms through the edge) or scenario-vitals:SPEC "
        "(a wearable's 1 Hz numbers); SPEC as for 'vitalstream edge --scenario', e.g. "
        "scenario:vf@120+20,athlete/motion@60+30.",
    )
    replay.add_argument("paths", nargs="+", metavar="PATH", help="records, directories or scenario:SPEC")
    replay.add_argument(
        "--until", type=float, metavar="SECONDS", help="stop each record at this event time (no peeking past it)"
    )
    replay.add_argument(
        "--seconds", type=int, metavar="N", help="scenario length (default: 2 minutes past the last episode)"
    )
    replay.add_argument("--seed", type=int, default=7, metavar="N", help="scenario seed (default 7)")
    replay.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    require("river", extra="processor")
    if any(not p.startswith("scenario-vitals:") for p in args.paths):
        require("numpy", "onnxruntime", extra="edge")
    if any(not p.startswith("scenario") and not p.endswith(".csv") for p in args.paths):
        require("wfdb", extra="data")
    # The edge and processor extras, imported once they are known to be there.
    from edge_agent.pipeline import EdgeModels  # noqa: PLC0415
    from stream_processor.replay import replay_stream  # noqa: PLC0415
    from vitalstream_app.replay_sources import streams_for  # noqa: PLC0415

    started = time.perf_counter()
    by_kind: dict[str, int] = {}
    records = seconds = 0
    streams = streams_for(
        args.paths, models=cache(EdgeModels.load), seconds=args.seconds, seed=args.seed, until_s=args.until
    )
    for stream in streams:
        records += 1
        seconds += stream.seconds if args.until is None else min(stream.seconds, int(args.until))
        for alert in replay_stream(stream, limits=settings.limits, alerting=settings.alerting, until_s=args.until):
            by_kind[alert.event.alert.kind] = by_kind.get(alert.event.alert.kind, 0) + 1
            print_json(alert.as_json())
    wall_s = time.perf_counter() - started
    print_json(
        {
            "summary": True,
            "records": records,
            "alerts": sum(by_kind.values()),
            "by_kind": dict(sorted(by_kind.items())),
            "replayed_s": seconds,
            "wall_s": round(wall_s, 2),
            "x_realtime": round(seconds / wall_s, 1) if wall_s > 0 else None,
        }
    )
    return 0
