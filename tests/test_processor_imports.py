"""The stream_processor package imports its exports lazily, so its River-free modules work without River."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import stream_processor
from stream_processor import core
from tests.procs import cli_env


def test_every_exported_name_resolves_and_unknown_names_do_not() -> None:
    for name in stream_processor.__all__:
        assert getattr(stream_processor, name) is not None, name
        assert name in dir(stream_processor)
    # The lazy export is the defining module's object, not a copy.
    assert stream_processor.ProcessorCore is core.ProcessorCore
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = stream_processor.no_such_name


def test_news2_scores_a_line_without_river_installed() -> None:
    # A child interpreter in which River cannot be imported, as with only the base package installed.
    code = (
        "import sys, runpy, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'river':\n"
        "            raise ModuleNotFoundError(f'{name} is blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import stream_processor.news2\n"
        "assert stream_processor.news2.news2({'pulse': 120}).points['pulse'] == 2\n"
        "sys.argv = ['vitalstream', 'news2']\n"
        "try:\n"
        "    runpy.run_module('vitalstream', run_name='__main__')\n"
        "finally:\n"
        "    loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('river', 'stream_processor'))\n"
        "    print(loaded, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        input='{"respiration_rate": 22, "spo2": 95, "pulse": 112, "temperature": 38.4}\n',
        check=False,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    score = json.loads(line)
    assert (score["total"], score["band"]) == (6, "medium")
    assert result.stderr.strip().splitlines()[-1] == "['stream_processor', 'stream_processor.news2']"
