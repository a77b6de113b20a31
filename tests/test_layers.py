"""The floors of the house: the import contract in pyproject.toml holds, and names only the one shim.

``vitalstream`` (wire contract, settings, errors, logging, MQTT client set-up) imports nothing of ours;
``edge_agent`` and ``alerts`` are siblings above it that never import each other; ``stream_processor``
sits above both; the application (``vitalstream_app``) and the training scripts (``models``) are on top
and nothing imports them. Function-local imports count too.
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contract_holds(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)  # the training scripts (models/) are importable from the checkout only
    # lint_imports configures logging with dictConfig, which disables every logger that exists already
    # (ours included) for the rest of the session: put each one back as it was afterwards.
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            monkeypatch.setattr(logger, "disabled", logger.disabled)
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert code == 0, report
    assert "2 kept, 0 broken" in report


def test_the_only_exception_is_the_python_m_shim() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["id"] == "floors")
    assert contract["type"] == "layers"
    assert contract["ignore_imports"] == ["vitalstream.__main__ -> vitalstream_app.cli"]
    assert all("ignore_imports" not in c for c in config["contracts"] if c is not contract)
    # Every package of the project is on a floor.
    on_floors = {name.strip() for layer in contract["layers"] for name in layer.split("|")}
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name != "tests"}
    assert packages == on_floors == set(config["root_packages"])
