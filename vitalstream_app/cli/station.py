"""``vitalstream station``: the nurse-station web page of one ward."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from vitalstream.settings import Settings
from vitalstream_app.cli.options import broker_options, require, stop_on_signals

if TYPE_CHECKING:
    from vitalstream_app.cli.options import Subparsers

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    station = sub.add_parser(
        "station",
        allow_abbrev=False,
        help="run the nurse station: one web page of a ward's alerts, with acknowledge / resolve / false alarm",
        description="Subscribe to a ward's alerts, alert events, command results and the vitals (MQTT, QoS 1) and "
        "serve a live page of the open alerts, most urgent first, over HTTP (GET / ; /events is the "
        'Server-Sent Events stream; /api/alerts; POST /api/alerts/ID/ACTION with {"by": "STAFF-ID"}; '
        "/healthz, /readyz, /metrics). The page has no login: keep it on loopback or behind an "
        "authenticating proxy.",
    )
    broker_options(station)
    station.add_argument("--ward", metavar="WARD", help="the ward to show (default ward-1)")
    station.add_argument("--http-host", metavar="HOST", help="address to serve the page on (default 127.0.0.1)")
    station.add_argument("--http-port", type=int, metavar="PORT", help="HTTP port (default 8080; 0 = any free port)")
    station.set_defaults(run=run)


def run(settings: Settings, _args: argparse.Namespace) -> int:
    require("paho", extra="processor")
    from alerts.station.server import run_station  # noqa: PLC0415 -- paho, imported once known to be there

    run_station(settings, stop=stop_on_signals())
    return 0
