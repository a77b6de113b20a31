"""``vitalstream access {certs,build,apply}``: the broker's identities, ACLs and TLS certificates.

``certs`` makes a private CA and the broker's certificate; ``build`` turns the enrolment file into per-client
password files and the dynamic-security plugin's file (which seeds a new broker); ``apply`` brings a running
broker to the enrolment over its control API, without a restart. Each prints one JSON line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from vitalstream.enrolment import load_enrolment
from vitalstream.settings import Settings
from vitalstream_app.access.files import AccessLayout, build_access
from vitalstream_app.access.pki import make_pki
from vitalstream_app.cli.options import broker_options, print_json, require

if TYPE_CHECKING:
    from vitalstream_app.cli.options import Subparsers

__all__ = ["add_parser", "run"]

DEFAULT_OUT = "var/access"


def add_parser(sub: Subparsers) -> None:
    access = sub.add_parser(
        "access",
        allow_abbrev=False,
        help="broker access control: certificates, per-client passwords and ACLs from the enrolment file",
        description="Least privilege on the bus. certs: a private CA and the broker's TLS certificate. build: "
        "password files (mode 0600, one per identity, kept across runs) and Mosquitto's dynamic-security file "
        "from the enrolment (devices and their patients, processors, stations and their ward, integrators and "
        "their wards). apply: the same enrolment onto a running broker through its control API, no restart.",
    )
    actions = access.add_subparsers(dest="action", metavar="ACTION", required=True, help="certs, build or apply")

    certs = actions.add_parser(
        "certs",
        allow_abbrev=False,
        help="make (or keep) a private CA and issue the broker's TLS certificate",
        description="Writes ca.crt/ca.key (kept if present), server.crt/server.key for --host names plus "
        "localhost and 127.0.0.1, and a certificate per --client, into OUT/certs. Keys are mode 0600.",
    )
    _out(certs)
    certs.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="NAME",
        help="a name or address clients use for the broker (repeatable; e.g. mosquitto, broker.ward.example)",
    )
    certs.add_argument(
        "--client",
        action="append",
        default=[],
        metavar="NAME",
        help="also issue a client certificate with this common name (repeatable)",
    )
    certs.add_argument("--days", type=int, default=397, metavar="N", help="certificate lifetime (default 397)")
    certs.set_defaults(run=run)

    build = actions.add_parser(
        "build",
        allow_abbrev=False,
        help="write per-client password files and the broker's dynamic-security file from the enrolment",
        description="Reads ENROLMENT (TOML, see vitalstream/enrolment.py) and writes OUT/secrets/NAME.password "
        "for every identity that has none yet and OUT/mosquitto/dynamic-security.json.",
    )
    _enrolment(build)
    _out(build)
    build.set_defaults(run=run)

    apply = actions.add_parser(
        "apply",
        allow_abbrev=False,
        help="build, then bring a running broker to the enrolment (no restart)",
        description="As build, then connects as access-admin (password from OUT/secrets/access-admin.password "
        "unless VITALSTREAM_BROKER_PASSWORD[_FILE] is set) and creates, changes or deletes clients and roles "
        "until the broker matches the enrolment. Deleted clients are disconnected at once.",
    )
    _enrolment(apply)
    _out(apply)
    broker_options(apply)
    apply.set_defaults(run=run)


def _out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="DIR", default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")


def _enrolment(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("enrolment", metavar="ENROLMENT", help="the enrolment file (TOML)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    layout = AccessLayout(Path(args.out))
    if args.action == "certs":
        files = make_pki(layout.certs, hosts=args.host, clients=args.client, days=args.days)
        print_json({"certs": {name: str(path) for name, path in files.items()}})
        return 0
    enrolment = load_enrolment(args.enrolment)
    if args.action == "build":
        print_json(
            {"dynsec": str(layout.dynsec), "secrets": str(layout.secrets), **build_access(enrolment, layout).summary()}
        )
        return 0
    require("paho", extra="edge")
    from vitalstream_app.access.control import apply_access  # noqa: PLC0415 -- paho, once known to be there

    applied = apply_access(enrolment, layout, settings.broker)
    print_json({"applied": applied.commands, **applied.build})
    return 0
