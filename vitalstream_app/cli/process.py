"""``vitalstream process``: run the stream processor until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from vitalstream.settings import Settings
from vitalstream_app.cli.options import broker_options, influx_options, require, stop_on_signals

if TYPE_CHECKING:
    from vitalstream_app.cli.options import Subparsers

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    process = sub.add_parser(
        "process",
        allow_abbrev=False,
        help="run the stream processor: MQTT in, alerts out, store to InfluxDB",
        description="Run the stream processor until SIGTERM/SIGINT: subscribe to vitals and "
        "commands (QoS 1, persistent session), apply the clinical rules, publish "
        "alerts and store vitals and alerts in InfluxDB.",
    )
    broker_options(process)
    influx_options(process)
    process.add_argument(
        "--ward", metavar="WARD", help="ward for patients not mapped in [processor.wards] (default ward-1)"
    )
    process.add_argument(
        "--client-id",
        metavar="ID",
        help="MQTT client id; it names the persistent session (default vitalstream-processor)",
    )
    process.add_argument("--state-dir", metavar="DIR", help="directory for local state (default var/processor)")
    process.add_argument(
        "--sqlite", metavar="PATH", help="store to this SQLite file instead of InfluxDB (demos, benchmarks)"
    )
    process.add_argument(
        "--http-listen",
        metavar="HOST:PORT",
        help="serve /healthz, /readyz, /metrics and /api/alert-events (missed events from InfluxDB) here "
        "(default: off; port 0 = any free port, logged)",
    )
    process.set_defaults(run=run)


def run(settings: Settings, _args: argparse.Namespace) -> int:
    require("paho", "influxdb_client", "urllib3", extra="processor")
    from stream_processor.main import run_process  # noqa: PLC0415 -- the processor extra, once known to be there

    run_process(settings, stop=stop_on_signals())
    return 0
