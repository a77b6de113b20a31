"""``vitalstream edge``: run an edge agent that publishes 1 Hz readings at QoS 1."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from vitalstream.settings import Settings
from vitalstream_app.cli.options import broker_options, print_json, require, stop_on_signals

if TYPE_CHECKING:
    from vitalstream_app.cli.options import Subparsers

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    edge = sub.add_parser(
        "edge",
        allow_abbrev=False,
        help="run an edge agent: read a source, publish 1 Hz vitals over MQTT",
        description="Run an edge agent that publishes 1 Hz vitals readings at QoS 1. Prints a "
        "JSON summary (readings, acknowledged, devices) as the last stdout line.",
    )
    broker_options(edge)
    edge.add_argument(
        "--source",
        metavar="SRC",
        help="sim (simulated patients, default) or replay:PATH (a BIDMC *_Numerics.csv file or a "
        "directory of them, replayed in real time)",
    )
    edge.add_argument("--patients", type=int, metavar="N", help="simulated patients (default 5)")
    edge.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop after this much event time (default: run until stopped)"
    )
    edge.add_argument(
        "--scenario",
        metavar="SPEC",
        help="per-patient scripts, e.g. 'tachycardia@20,stable,desaturation@30+120' or 'mixed' "
        "(default); see edge_agent/scenarios.py",
    )
    edge.add_argument("--seed", type=int, help="simulation seed; the same seed gives the same readings (default 7)")
    edge.add_argument("--client-id", metavar="ID", help="MQTT client id (default vitalstream-edge)")
    edge.add_argument(
        "--spool",
        metavar="PATH",
        help="durable outbox (SQLite); readings wait here until the broker acknowledges them "
        "(default var/edge/CLIENT_ID.spool.sqlite)",
    )
    edge.add_argument("--spool-max-mb", type=float, metavar="MB", help="spool size bound (default 64)")
    edge.add_argument(
        "--speed", type=float, metavar="X", help="replay speed for recorded sources: 1 = real time (default), 10 = 10x"
    )
    edge.set_defaults(run=run)


def run(settings: Settings, _args: argparse.Namespace) -> int:
    require("paho", extra="edge")
    from edge_agent.main import run_edge  # noqa: PLC0415 -- the edge extra, imported once known to be there

    summary = run_edge(settings, stop=stop_on_signals())
    print_json(summary)
    return 0 if summary["unacknowledged"] == 0 else 1
