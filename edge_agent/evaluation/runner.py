"""The command line of every evaluation module: ``python -m edge_agent.evaluation.<name> --data DIR``.

Each evaluation is one function, ``evaluate(data, *, log) -> dict``, that ``vitalstream eval`` calls;
this runs the same function from the module itself: it finds the data directory, sends the
per-record tables to stderr and prints the summary as one JSON line on stdout. JSON has no NaN, so
an undefined number in a summary is a bug to fix (write ``None``), not a token to print.

>>> import io
>>> def evaluate(data, *, log):
...     return {"records": 2, "data": data.name}
>>> out = io.StringIO()
>>> run_main(evaluate, ["--data", "."], stdout=out)
0
>>> out.getvalue()
'{"records": 2, "data": ""}\\n'
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

from edge_agent.records import data_dir

__all__ = ["Evaluation", "run_main"]


class Evaluation(Protocol):
    """What ``vitalstream eval`` and :func:`run_main` call: score on ``data``, tables to ``log``, return a summary."""

    def __call__(self, data: Path, *, log: TextIO) -> dict[str, Any]: ...


def _command(evaluate: Evaluation) -> str | None:
    """``python -m <module>`` for the usage line (argparse would say ``__main__.py`` for a package)."""
    module = getattr(evaluate, "__module__", None)
    if module == "__main__":  # the evaluation module itself was run with -m
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        module = None if spec is None else spec.name
    return None if module is None else f"python -m {module.removesuffix('.__main__')}"


def run_main(
    evaluate: Evaluation,
    argv: Sequence[str] | None = None,
    *,
    doc: str | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Parse ``--data``, run ``evaluate`` with its log on stderr, print the summary as one JSON line.

    ``doc`` is the evaluation's module docstring: its first line is the ``--help`` description.
    """
    parser = argparse.ArgumentParser(prog=_command(evaluate), description=doc.strip().splitlines()[0] if doc else None)
    parser.add_argument("--data", type=Path, default=None, help="PhysioNet data directory (default ../shared/data)")
    args = parser.parse_args(argv)
    summary = evaluate(data_dir(args.data), log=sys.stderr)
    out = sys.stdout if stdout is None else stdout
    out.write(json.dumps(summary, allow_nan=False) + "\n")
    out.flush()
    return 0
