"""The ``vitalstream`` command line. Subcommand names and the flags below are a contract; keep them.

Each subcommand reads the settings once (defaults < ``--config`` TOML < ``VITALSTREAM_*`` environment <
flags), imports only what it needs, and names the extra to install when a dependency is missing.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from vitalstream import __version__
from vitalstream.errors import ConfigError, MissingExtraError, VitalstreamError
from vitalstream.logs import configure_logging
from vitalstream.settings import Settings, load_settings

if TYPE_CHECKING:
    # argparse has no public name for what add_subparsers() returns.
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["main"]

log = logging.getLogger("vitalstream")


# Which extra provides which top-level module, for the "install this" message.
_EXTRA_OF = {
    "paho": "edge",
    "numpy": "edge",
    "onnxruntime": "edge",
    "river": "processor",
    "aiomqtt": "processor",
    "influxdb_client": "processor",
    "urllib3": "processor",
    "amqtt": "demo",
    "rich": "demo",
}


def _require(*modules: str, extra: str | None = None) -> None:
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(extra=extra or _EXTRA_OF.get(module, "all"), module=module)


# ------------------------------------------------------------------ options


def _broker_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("broker")
    group.add_argument(
        "--broker",
        metavar="URL",
        help="MQTT broker, mqtt://[user[:password]@]host[:port] or mqtts://... for TLS (default mqtt://127.0.0.1:1883)",
    )
    group.add_argument("--username", help="broker user name (overrides one in the URL)")
    group.add_argument("--password", help="broker password (prefer VITALSTREAM_BROKER_PASSWORD: flags show in ps)")
    group.add_argument("--ca-file", metavar="PEM", help="CA certificate to verify the broker's TLS certificate")
    group.add_argument("--cert-file", metavar="PEM", help="client certificate for TLS client authentication")
    group.add_argument("--key-file", metavar="PEM", help="private key of the client certificate")
    group.add_argument("--mqtt-protocol", choices=["5", "3.1.1"], help="MQTT protocol version (default 5)")


def _influx_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("InfluxDB")
    group.add_argument("--influx-url", metavar="URL", help="InfluxDB base URL (default http://127.0.0.1:8086)")
    group.add_argument(
        "--influx-api",
        choices=["v1", "v2"],
        help="v1: the /write endpoint of InfluxDB 1.x; v2: the v2 write API of InfluxDB 2.x/3.x/1.8+ (default v2)",
    )
    group.add_argument("--influx-db", metavar="NAME", help="v1 database (default vitalstream)")
    group.add_argument("--influx-rp", metavar="NAME", help="v1 retention policy (default: the database's default)")
    group.add_argument("--influx-username", metavar="USER", help="v1 user name, if authentication is on")
    group.add_argument("--influx-password", metavar="PASSWORD", help="v1 password (prefer VITALSTREAM_INFLUX_PASSWORD)")
    group.add_argument("--influx-bucket", metavar="NAME", help="v2 bucket (default vitalstream)")
    group.add_argument("--influx-org", metavar="NAME", help="v2 organisation (default vitalstream)")
    group.add_argument("--influx-token", metavar="TOKEN", help="v2 API token (prefer VITALSTREAM_INFLUX_TOKEN)")


def _overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    """Map the flags that were given onto settings sections (absent flags are ``None`` and skipped)."""
    get: Callable[[str], Any] = lambda name: getattr(args, name, None)  # noqa: E731 -- a local shorthand
    return {
        "broker": {
            "url": get("broker"),
            "username": get("username"),
            "password": get("password"),
            "ca_file": get("ca_file"),
            "cert_file": get("cert_file"),
            "key_file": get("key_file"),
            "protocol": get("mqtt_protocol"),
        },
        "influx": {
            "url": get("influx_url"),
            "api": get("influx_api"),
            "db": get("influx_db"),
            "rp": get("influx_rp"),
            "username": get("influx_username"),
            "password": get("influx_password"),
            "bucket": get("influx_bucket"),
            "org": get("influx_org"),
            "token": get("influx_token"),
        },
        "processor": {
            "sqlite_path": get("sqlite"),
            "ward": get("ward") if args.command != "station" else None,
            "client_id": get("client_id") if args.command == "process" else None,
            "state_dir": get("state_dir"),
            "http_listen": get("http_listen"),
        },
        "edge": {
            "source": get("source"),
            "patients": get("patients"),
            "duration_s": get("duration"),
            "seed": get("seed"),
            "scenario": get("scenario"),
            "client_id": get("client_id") if args.command == "edge" else None,
            "spool_path": get("spool"),
            "spool_max_mb": get("spool_max_mb"),
            "speed": get("speed"),
        },
        "station": {
            "ward": get("ward") if args.command == "station" else None,
            "http_host": get("http_host"),
            "http_port": get("http_port"),
        },
    }


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _print_json(obj: object) -> None:
    sys.stdout.write(orjson.dumps(obj).decode() + "\n")
    sys.stdout.flush()


# ------------------------------------------------------------------ commands


def _cmd_edge(settings: Settings, _args: argparse.Namespace) -> int:
    _require("paho", extra="edge")
    from edge_agent.main import run_edge  # noqa: PLC0415 -- keep start-up light and extras optional

    summary = run_edge(settings, stop=_stop_on_signals())
    _print_json(summary)
    return 0 if summary["unacknowledged"] == 0 else 1


def _cmd_process(settings: Settings, _args: argparse.Namespace) -> int:
    _require("paho", "influxdb_client", "urllib3", extra="processor")
    from stream_processor.main import run_process  # noqa: PLC0415

    run_process(settings, stop=_stop_on_signals())
    return 0


def _cmd_station(settings: Settings, _args: argparse.Namespace) -> int:
    _require("paho", extra="processor")
    from alerts.station.server import run_station  # noqa: PLC0415

    run_station(settings, stop=_stop_on_signals())
    return 0


def _cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    _require("paho", extra="edge")
    _require("influxdb_client", "urllib3", extra="processor")
    _require("amqtt", "rich", extra="demo")
    from vitalstream.demo import run_demo  # noqa: PLC0415

    summary = run_demo(
        settings,
        duration_s=args.duration,
        patients=args.patients,
        use_influx=args.influx_url is not None,
        view=args.view,
        stop=_stop_on_signals(),
    )
    _print_json(summary)
    return 0


_EVALUATIONS = {
    "qrs": "edge_agent.evaluation.qrs",
    "beats": "edge_agent.evaluation.beats",
    "rhythm": "edge_agent.evaluation.rhythm",
    "sqi": "edge_agent.evaluation.sqi",
    "ppg-hr": "edge_agent.evaluation.ppg_hr",
    "vf": "edge_agent.evaluation.vf",
    "alerts": "stream_processor.evaluation",
}


def _cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    _require("numpy", "onnxruntime", extra="edge")
    if args.target == "alerts":
        return _eval_alerts(settings, args)
    _require("wfdb", extra="data")
    from edge_agent.records import data_dir  # noqa: PLC0415

    module = importlib.import_module(_EVALUATIONS[args.target])
    result = module.evaluate(data_dir(args.data), log=sys.stderr)
    _print_json(result)
    return 0


def _eval_alerts(settings: Settings, args: argparse.Namespace) -> int:
    """The scripted library needs no data; the real MIT-BIH part runs when records and wfdb are there."""
    _require("river", extra="processor")
    from edge_agent.records import data_dir  # noqa: PLC0415
    from stream_processor.evaluation import MITDB_DEFAULT, evaluate  # noqa: PLC0415

    records = MITDB_DEFAULT if args.records is None else tuple(r for r in args.records.split(",") if r)
    data = None
    if records:
        try:
            _require("wfdb", extra="data")
            data = data_dir(args.data)
        except (ConfigError, MissingExtraError) as exc:
            if args.data is not None:
                raise
            sys.stderr.write(f"eval alerts: real recordings skipped ({exc})\n")
    result = evaluate(
        data, log=sys.stderr, seed=args.seed, days=args.days, records=records,
        limits=settings.limits, alerting=settings.alerting,
    )  # fmt: skip
    _print_json(result)
    return 0


def _cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    _require("river", extra="processor")
    if any(not p.startswith("scenario-vitals:") for p in args.paths):
        _require("numpy", "onnxruntime", extra="edge")
    if any(not p.startswith("scenario") and not p.endswith(".csv") for p in args.paths):
        _require("wfdb", extra="data")
    import time  # noqa: PLC0415
    from functools import cache  # noqa: PLC0415

    from edge_agent.pipeline import EdgeModels  # noqa: PLC0415
    from stream_processor.replay import replay_stream, streams_for  # noqa: PLC0415

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
            _print_json(alert.as_json())
    wall_s = time.perf_counter() - started
    _print_json(
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


def _cmd_classify(_settings: Settings, args: argparse.Namespace) -> int:
    _require("numpy", "onnxruntime", extra="edge")
    from pathlib import Path  # noqa: PLC0415

    from edge_agent.classify import classify_recording  # noqa: PLC0415
    from edge_agent.pipeline import EdgeModels  # noqa: PLC0415
    from edge_agent.recording_replay import find_recordings  # noqa: PLC0415

    models = EdgeModels.load()
    for record in args.records:
        for path in find_recordings(Path(record)):
            if path.suffix != ".csv":
                _require("wfdb", extra="data")
            for line in classify_recording(path, channel=args.channel, window_s=args.window, models=models):
                _print_json(line)
    return 0


def _cmd_bench(settings: Settings, args: argparse.Namespace) -> int:
    if args.target == "processor":
        _require("paho", "river", extra="processor")
        from stream_processor.bench import bench_processor  # noqa: PLC0415

        _print_json(bench_processor(args.broker and settings.broker.url, patients=args.patients, seconds=args.seconds))
        return 0
    if args.target == "influx":
        # numpy: edge_agent.bench.machine(), the machine description every bench reports.
        _require("urllib3", "influxdb_client", "numpy", extra="processor")
        from alerts.bench import bench_influx  # noqa: PLC0415

        _print_json(bench_influx(settings.influx))
        return 0
    _require("numpy", "onnxruntime", "paho", extra="edge")
    from edge_agent.bench import bench_agent, bench_models, machine  # noqa: PLC0415
    from edge_agent.records import data_dir  # noqa: PLC0415

    try:
        data = data_dir(args.data)
    except ConfigError:
        if args.data:
            raise
        data = None  # no local PhysioNet copy: simulated signals instead (reported in the output)
    result: dict[str, Any] = {"machine": machine(), **bench_models(data)}
    if args.broker:
        result |= bench_agent(settings.broker.url, data, seconds=args.seconds)
    else:
        _require("amqtt", extra="demo")
        from vitalstream.embedded_broker import EmbeddedBroker  # noqa: PLC0415

        broker = EmbeddedBroker().start()
        try:
            result |= bench_agent(broker.url, data, seconds=args.seconds, protocol="3.1.1")
        finally:
            broker.stop()
    _print_json(result)
    return 0


def _cmd_news2(_settings: Settings, _args: argparse.Namespace) -> int:
    from stream_processor.news2 import News2Error, news2  # noqa: PLC0415 -- pure, no extra needed

    def parse(line: str) -> dict[str, object]:
        observations = orjson.loads(line)
        if not isinstance(observations, dict):
            raise News2Error("line", "expected a JSON object")
        return observations

    failures = 0
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            result = news2(parse(line))
        except (orjson.JSONDecodeError, News2Error) as exc:
            failures += 1
            field = exc.field if isinstance(exc, News2Error) else None
            _print_json({"error": str(exc), "field": field, "line": number})
            continue
        _print_json(
            {
                "total": result.total,
                "band": result.band,
                "points": dict(result.points),
                "response": result.response,
                "missing": list(result.missing),
            }
        )
    return 1 if failures else 0


# ------------------------------------------------------------------ parser


def _add_edge(sub: Subparsers) -> None:
    edge = sub.add_parser(
        "edge",
        allow_abbrev=False,
        help="run an edge agent: read a source, publish 1 Hz vitals over MQTT",
        description="Run an edge agent that publishes 1 Hz vitals readings at QoS 1. Prints a "
        "JSON summary (readings, acknowledged, devices) as the last stdout line.",
    )
    _broker_options(edge)
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
    edge.set_defaults(run=_cmd_edge)


def _add_process(sub: Subparsers) -> None:
    process = sub.add_parser(
        "process",
        allow_abbrev=False,
        help="run the stream processor: MQTT in, alerts out, store to InfluxDB",
        description="Run the stream processor until SIGTERM/SIGINT: subscribe to vitals and "
        "commands (QoS 1, persistent session), apply the clinical rules, publish "
        "alerts and store vitals and alerts in InfluxDB.",
    )
    _broker_options(process)
    _influx_options(process)
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
    process.set_defaults(run=_cmd_process)


def _add_station(sub: Subparsers) -> None:
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
    _broker_options(station)
    station.add_argument("--ward", metavar="WARD", help="the ward to show (default ward-1)")
    station.add_argument("--http-host", metavar="HOST", help="address to serve the page on (default 127.0.0.1)")
    station.add_argument("--http-port", type=int, metavar="PORT", help="HTTP port (default 8080; 0 = any free port)")
    station.set_defaults(run=_cmd_station)


def _add_demo(sub: Subparsers) -> None:
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
    _influx_options(demo)
    demo.set_defaults(run=_cmd_demo)


def _add_eval(sub: Subparsers) -> None:
    evaluate = sub.add_parser(
        "eval",
        allow_abbrev=False,
        help="evaluate the edge models on held-out PhysioNet data, or the alerts on a scenario library; prints JSON",
        description="Evaluate one edge model on held-out PhysioNet data (MIT-BIH, NSTDB, BIDMC), or (alerts) "
        "the processor's alerts on a scripted scenario library plus real MIT-BIH records, with an ablation "
        "(static limits / + baselines / + SQI gating / + feedback). Per-record tables go to stderr; the last "
        "stdout line is one JSON object with fractions in [0, 1].",
    )
    evaluate.add_argument("target", choices=list(_EVALUATIONS), help="what to evaluate")
    evaluate.add_argument("--data", metavar="DIR", help="PhysioNet data directory (default ../shared/data)")
    alerts = evaluate.add_argument_group("alerts (the processor's scenario library)")
    alerts.add_argument("--days", type=int, default=8, metavar="N", help="simulated patient-days (default 8)")
    alerts.add_argument(
        "--records",
        metavar="LIST",
        help="comma-separated MIT-BIH records replayed as real cases ('' for none; default: 17 with VF, VT, AF "
        "or no arrhythmia)",
    )
    alerts.add_argument("--seed", type=int, default=7, metavar="N", help="library seed (default 7)")
    evaluate.set_defaults(run=_cmd_eval)


def _add_classify(sub: Subparsers) -> None:
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
    classify.set_defaults(run=_cmd_classify)


def _add_bench(sub: Subparsers) -> None:
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
    _broker_options(bench)
    _influx_options(bench)
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
    bench.set_defaults(run=_cmd_bench)


def _add_news2(sub: Subparsers) -> None:
    score = sub.add_parser(
        "news2",
        allow_abbrev=False,
        help="score NEWS2 (RCP 2017) for JSON lines on stdin",
        description="Read one JSON object per line on stdin (keys respiration_rate, spo2, spo2_scale (1 or 2), "
        "on_oxygen, systolic_bp, pulse, consciousness (A, C, V, P or U), temperature) and print one JSON line "
        "per input: total, band (low, low-medium, medium, high), points per parameter, the RCP clinical response "
        "and the missing parameters (scored as nothing, not as 0). A line that cannot be scored gives "
        '{"error": ..., "field": ...} in its place; the exit status is then 1.',
    )
    score.set_defaults(run=_cmd_news2)


def _add_replay(sub: Subparsers) -> None:
    replay = sub.add_parser(
        "replay",
        allow_abbrev=False,
        help="replay recorded or scripted streams through edge and processor on a virtual clock; JSON lines",
        description="Run recorded streams through the same edge pipeline and processor core in one process, on "
        "each stream's own event time, as fast as possible, and print one JSON line per raised alert "
        '({"record", "kind", "priority", "t", "onset_t", "alert_id", "retrospective", "explanation"}; t in '
        "seconds from the record's start), then a summary line. PATH is a WFDB record (.hea; ECG picked by "
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
    replay.set_defaults(run=_cmd_replay)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vitalstream",
        allow_abbrev=False,  # the flags are a contract; abbreviations must not become part of it
        description="VitalStream: wearable vitals -> edge inference -> stream processing -> explainable alerts.",
        epilog="Settings: defaults < --config TOML < VITALSTREAM_{SECTION}_{OPTION} environment < flags.",
    )
    parser.add_argument("--version", action="version", version=f"vitalstream {__version__}")
    parser.add_argument(
        "--config",
        metavar="TOML",
        help="settings file (default $VITALSTREAM_CONFIG, else ./vitalstream.toml if present)",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="log verbosity (default info; warning for the demo, whose view says what happens)",
    )
    parser.add_argument(
        "--log-format",
        default="auto",
        choices=["auto", "json", "console"],
        help="log lines on stderr: JSON, readable console, or auto (JSON unless a terminal)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _add_edge(sub)
    _add_process(sub)
    _add_station(sub)
    _add_demo(sub)
    _add_eval(sub)
    _add_classify(sub)
    _add_bench(sub)
    _add_news2(sub)
    _add_replay(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = args.log_level or ("warning" if args.command == "demo" else "info")
    configure_logging(
        level=getattr(logging, level.upper()),
        json=None if args.log_format == "auto" else args.log_format == "json",
    )
    try:
        settings = load_settings(args.config, env=os.environ, overrides=_overrides(args))
        code: int = args.run(settings, args)
    except ConfigError as exc:
        sys.stderr.write(f"vitalstream {args.command}: configuration error: {exc}\n")
        return 2
    except MissingExtraError as exc:
        sys.stderr.write(f"vitalstream {args.command}: {exc}\n")
        return 3
    except VitalstreamError as exc:
        sys.stderr.write(f"vitalstream {args.command}: {exc}\n")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
