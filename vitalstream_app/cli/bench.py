"""``vitalstream bench {edge,processor,influx}``: benchmarks that print JSON and the machine they ran on."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from vitalstream.errors import ConfigError
from vitalstream.settings import Settings
from vitalstream_app.bench.machine import machine
from vitalstream_app.cli.options import broker_options, influx_options, print_json, require

if TYPE_CHECKING:
    from vitalstream_app.cli.options import Subparsers

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    bench = sub.add_parser(
        "bench",
        allow_abbrev=False,
        help="benchmarks that print JSON (and the machine they ran on)",
        description="Measure, never assert: the last stdout line is one JSON object. edge: model latency per "
        "window and a real agent's CPU, RSS and bandwidth while streaming a 360 Hz two-lead record. influx: "
        "points/s the processor's writer sustains into the InfluxDB of --influx-url/--influx-api against a raw "
        "line-protocol POST loop, median of 3 alternating rounds of 100,000 vitals points in the influx batch "
        "size, written to vitalstream_bench_* databases that are counted and dropped afterwards.",
    )
    bench.add_argument("target", choices=["edge", "processor", "influx"], help="what to measure")
    broker_options(bench)
    influx_options(bench)
    bench.add_argument("--data", metavar="DIR", help="PhysioNet data directory (default ../shared/data if present)")
    bench.add_argument(
        "--seconds",
        type=int,
        default=60,
        metavar="N",
        help="edge: measurement length; processor: seconds of backlog per patient (default 60)",
    )
    bench.add_argument(
        "--patients",
        type=int,
        default=500,
        metavar="N",
        help="processor: simulated patients in the backlog (default 500)",
    )
    bench.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    # Each bench imports what it measures once its extra is known to be there.
    if args.target == "processor":
        require("paho", "river", extra="processor")
        from vitalstream_app.bench.processor import bench_processor  # noqa: PLC0415

        print_json(bench_processor(args.broker and settings.broker.url, patients=args.patients, seconds=args.seconds))
        return 0
    if args.target == "influx":
        require("urllib3", "influxdb_client", extra="processor")
        from vitalstream_app.bench.influx import bench_influx  # noqa: PLC0415

        print_json(bench_influx(settings.influx))
        return 0
    return _edge(settings, args)


def _edge(settings: Settings, args: argparse.Namespace) -> int:
    require("numpy", "onnxruntime", "paho", extra="edge")
    from edge_agent.records import data_dir  # noqa: PLC0415
    from vitalstream_app.bench.edge import bench_agent, bench_models  # noqa: PLC0415

    try:
        data = data_dir(args.data)
    except ConfigError:
        if args.data:
            raise
        data = None  # no local PhysioNet copy: simulated signals instead (reported in the output)
    result: dict[str, Any] = {"machine": machine(), **bench_models(data)}
    if args.broker:
        result |= bench_agent(settings.broker, data, seconds=args.seconds)
    else:
        require("amqtt", extra="demo")
        from vitalstream_app.embedded_broker import EmbeddedBroker, UserAcl  # noqa: PLC0415

        users = {
            "bench-edge": UserAcl(publish=("vitals/v1/+/+", "events/v1/+/+")),
            "bench-counter": UserAcl(subscribe=("vitals/v1/#", "events/v1/#")),
        }
        broker = EmbeddedBroker(users=users).start()
        try:
            result |= bench_agent(
                broker.client_settings("bench-edge", settings.broker),
                data,
                seconds=args.seconds,
                counter=broker.client_settings("bench-counter", settings.broker),
            )
        finally:
            broker.stop()
    print_json(result)
    return 0
