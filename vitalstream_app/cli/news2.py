"""``vitalstream news2``: NEWS2 (RCP 2017) for JSON lines on stdin. Pure: needs no extra."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import orjson

from vitalstream.settings import Settings
from vitalstream_app.cli.options import print_json

if TYPE_CHECKING:
    from vitalstream_app.cli.options import Subparsers

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
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
    score.set_defaults(run=run)


def run(_settings: Settings, _args: argparse.Namespace) -> int:
    # Imported when scored, not when the command line starts: an edge agent never loads the processor's package.
    from stream_processor.news2 import News2Error, news2  # noqa: PLC0415

    def _parse(line: str) -> dict[str, object]:
        observations = orjson.loads(line)
        if not isinstance(observations, dict):
            raise News2Error("line", "expected a JSON object")
        return observations

    failures = 0
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            result = news2(_parse(line))
        except (orjson.JSONDecodeError, News2Error) as exc:
            failures += 1
            field = exc.field if isinstance(exc, News2Error) else None
            print_json({"error": str(exc), "field": field, "line": number})
            continue
        print_json(
            {
                "total": result.total,
                "band": result.band,
                "points": dict(result.points),
                "response": result.response,
                "missing": list(result.missing),
            }
        )
    return 1 if failures else 0
