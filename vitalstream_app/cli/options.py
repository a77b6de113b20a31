"""What every subcommand shares: the broker and InfluxDB option groups, the mapping of flags onto settings,
the "install this extra" check, signal handling and the JSON line printer."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from vitalstream.errors import MissingExtraError

if TYPE_CHECKING:
    # argparse has no public name for what add_subparsers() returns.
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["broker_options", "influx_options", "overrides", "print_json", "require", "stop_on_signals"]

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


def require(*modules: str, extra: str | None = None) -> None:
    """Raise :class:`MissingExtraError` naming the extra to install if any of ``modules`` is missing."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(extra=extra or _EXTRA_OF.get(module, "all"), module=module)


def broker_options(parser: argparse.ArgumentParser) -> None:
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


def influx_options(parser: argparse.ArgumentParser) -> None:
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


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
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


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: long-running commands stop cleanly on either."""
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def print_json(obj: object) -> None:
    """One JSON line on stdout, flushed: the output contract of every command that reports."""
    sys.stdout.write(orjson.dumps(obj).decode() + "\n")
    sys.stdout.flush()
