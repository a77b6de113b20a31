"""The ``vitalstream`` command line. Subcommand names and their flags are a contract; keep them.

One module per subcommand, each with ``add_parser(sub)`` and ``run(settings, args)``. Each subcommand reads
the settings once (defaults < ``--config`` TOML < ``VITALSTREAM_*`` environment < flags), imports what it
runs only when it runs (so ``vitalstream edge`` works with the edge extra alone), and names the extra to
install when a dependency is missing.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from vitalstream import __version__
from vitalstream.errors import ConfigError, MissingExtraError, VitalstreamError
from vitalstream.logs import configure_logging
from vitalstream.settings import load_settings
from vitalstream_app.cli import access, bench, classify, demo, edge, evaluate, news2, process, replay, station
from vitalstream_app.cli.options import overrides

__all__ = ["build_parser", "main"]

# In the order ``vitalstream --help`` lists them.
_SUBCOMMANDS = (edge, process, station, access, demo, evaluate, classify, bench, news2, replay)


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
    for command in _SUBCOMMANDS:
        command.add_parser(sub)
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
        settings = load_settings(args.config, env=os.environ, overrides=overrides(args))
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
