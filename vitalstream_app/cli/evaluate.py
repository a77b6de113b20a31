"""``vitalstream eval``: held-out evaluation of one edge model, of the alerts on a scenario library, or of the
whole system on the ICU alarms of the PhysioNet/CinC Challenge 2015."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import TYPE_CHECKING

from vitalstream.errors import ConfigError, MissingExtraError
from vitalstream.settings import Settings
from vitalstream_app.cli.options import print_json, require

if TYPE_CHECKING:
    from vitalstream_app.cli.options import Subparsers

__all__ = ["EVALUATIONS", "add_parser", "run"]

# Each target is a module with ``evaluate(data, *, log) -> dict``; imported by name so that one evaluation's
# dependencies (wfdb, scipy, River) are needed only when it runs.
EVALUATIONS = {
    "qrs": "edge_agent.evaluation.qrs",
    "beats": "edge_agent.evaluation.beats",
    "rhythm": "edge_agent.evaluation.rhythm",
    "sqi": "edge_agent.evaluation.sqi",
    "ppg-hr": "edge_agent.evaluation.ppg_hr",
    "vf": "edge_agent.evaluation.vf",
    "alerts": "vitalstream_app.evaluation.alerts",
    "alarms": "vitalstream_app.evaluation.alarms",
}


def add_parser(sub: Subparsers) -> None:
    evaluate = sub.add_parser(
        "eval",
        allow_abbrev=False,
        help="evaluate the edge models on held-out PhysioNet data, the alerts on a scenario library, or the ICU "
        "alarms of the PhysioNet/CinC Challenge 2015; prints JSON",
        description="Evaluate one edge model on held-out PhysioNet data (MIT-BIH, NSTDB, BIDMC), or (alerts) "
        "the processor's alerts on a scripted scenario library plus real MIT-BIH records, with an ablation "
        "(static limits / + baselines / + SQI gating / + feedback), or (alarms) edge and processor together on "
        "the bedside-monitor alarms of the PhysioNet/CinC Challenge 2015 (an ALARMS file and WFDB records; one "
        "JSON line per record, the challenge score; exit status 1 if a record's replay raised). Per-record "
        "tables go to stderr; the last stdout line is one JSON object with fractions in [0, 1].",
    )
    evaluate.add_argument("target", choices=list(EVALUATIONS), help="what to evaluate")
    evaluate.add_argument(
        "--data",
        metavar="DIR",
        help="PhysioNet data directory (default ../shared/data); for alarms a folder in the Challenge 2015 layout "
        "(ALARMS + records), or a data directory holding challenge2015-dev/",
    )
    alerts = evaluate.add_argument_group("alerts (the processor's scenario library)")
    alerts.add_argument("--days", type=int, default=8, metavar="N", help="simulated patient-days (default 8)")
    alerts.add_argument(
        "--records",
        metavar="LIST",
        help="comma-separated MIT-BIH records replayed as real cases ('' for none; default: 17 with VF, VT, AF "
        "or no arrhythmia)",
    )
    alerts.add_argument("--seed", type=int, default=7, metavar="N", help="library seed (default 7)")
    alarms = evaluate.add_argument_group("alarms (PhysioNet/CinC Challenge 2015 layout)")
    alarms.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="records replayed in parallel processes (default: the number of CPUs)",
    )
    evaluate.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    require("numpy", "onnxruntime", extra="edge")
    if args.target == "alerts":
        return _alerts(settings, args)
    if args.target == "alarms":
        return _alarms(settings, args)
    require("wfdb", extra="data")
    from edge_agent.records import data_dir  # noqa: PLC0415 -- the edge extra, imported once known to be there

    module = importlib.import_module(EVALUATIONS[args.target])
    print_json(module.evaluate(data_dir(args.data), log=sys.stderr))
    return 0


def _alerts(settings: Settings, args: argparse.Namespace) -> int:
    """The scripted library needs no data; the real MIT-BIH part runs when records and wfdb are there."""
    require("river", extra="processor")
    from edge_agent.records import data_dir  # noqa: PLC0415 -- the edge and processor extras, once known
    from vitalstream_app.evaluation.alerts import MITDB_DEFAULT, evaluate  # noqa: PLC0415

    records = MITDB_DEFAULT if args.records is None else tuple(r for r in args.records.split(",") if r)
    data = None
    if records:
        try:
            require("wfdb", extra="data")
            data = data_dir(args.data)
        except (ConfigError, MissingExtraError) as exc:
            if args.data is not None:
                raise
            sys.stderr.write(f"eval alerts: real recordings skipped ({exc})\n")
    result = evaluate(
        data, log=sys.stderr, seed=args.seed, days=args.days, records=records,
        limits=settings.limits, alerting=settings.alerting,
    )  # fmt: skip
    print_json(result)
    return 0


def _alarms(settings: Settings, args: argparse.Namespace) -> int:
    """Every record present in a Challenge 2015 folder through edge and processor; 1 if any record's replay raised."""
    require("river", extra="processor")
    require("wfdb", extra="data")
    from edge_agent.records import data_dir  # noqa: PLC0415 -- the edge, processor and data extras, once known
    from vitalstream_app.evaluation.alarms import evaluate  # noqa: PLC0415

    if args.jobs < 1:
        raise ConfigError("must be at least 1", source="--jobs")
    summary = evaluate(
        data_dir(args.data), emit=print_json, log=sys.stderr, jobs=args.jobs,
        limits=settings.limits, alerting=settings.alerting,
    )  # fmt: skip
    print_json(summary)
    return 1 if summary["errors"] else 0
