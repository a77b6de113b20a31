"""``vitalstream demo``: the whole pipeline in one process, with a live view."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from vitalstream.settings import Settings
from vitalstream_app.cli.options import influx_options, print_json, require, stop_on_signals

if TYPE_CHECKING:
    from vitalstream_app.cli.options import Subparsers

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    demo = sub.add_parser(
        "demo",
        allow_abbrev=False,
        help="the whole pipeline in one process: embedded broker and store, live view",
        description="Run an embedded MQTT broker, simulated patients (a few deteriorate), the "
        "processor and a SQLite store (or InfluxDB with --influx-url), with a live "
        "terminal view of patients and alerts.",
    )
    demo.add_argument("--duration", type=float, metavar="SECONDS", help="exit after this long (default: until Ctrl-C)")
    demo.add_argument("--patients", type=int, default=12, metavar="N", help="simulated patients (default 12)")
    demo.add_argument(
        "--view",
        choices=["auto", "live", "lines"],
        default="auto",
        help="live table (terminal), plain lines (logs/CI) or auto",
    )
    influx_options(demo)
    demo.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    require("paho", extra="edge")
    require("influxdb_client", "urllib3", extra="processor")
    require("amqtt", "rich", extra="demo")
    from vitalstream_app.demo import run_demo  # noqa: PLC0415 -- every extra, imported once known to be there

    summary = run_demo(
        settings,
        duration_s=args.duration,
        patients=args.patients,
        use_influx=args.influx_url is not None,
        view=args.view,
        stop=stop_on_signals(),
    )
    print_json(summary)
    return 0
