"""Package hygiene: each package's ``__all__`` is sorted, complete and importable."""

from __future__ import annotations

import importlib
import inspect
import tomllib
from pathlib import Path

import pytest

PACKAGES = [
    "vitalstream.wire",
    "vitalstream.wire.codec",
    "vitalstream.schemas",
    "edge_agent",
    "stream_processor",
    "alerts",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    # isort order, as ruff keeps it: CONSTANTS, then Classes, then functions, each case-sensitively sorted.
    assert exported == sorted(exported, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))
    for symbol in exported:
        assert hasattr(module, symbol), f"{name}.{symbol} is in __all__ but missing"


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_every_public_name_the_package_imports(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and not inspect.ismodule(value)
        and getattr(value, "__module__", None) not in {"typing", "__future__"}
    }
    assert public <= set(module.__all__), f"{name} exports names missing from __all__: {public - set(module.__all__)}"


def test_the_wheel_ships_every_package_of_the_checkout() -> None:
    """``[tool.setuptools] packages`` is a list (the ONNX artefacts ship as ``vitalstream_models`` from ``models/``,
    a mapping ``packages.find`` cannot express), so this keeps the list complete: a new subpackage that is not in
    it would be missing from every install but the editable one."""
    root = Path(__file__).resolve().parent.parent
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    shipped = {"vitalstream", "edge_agent", "stream_processor", "alerts", "vitalstream_app"}
    on_disk = {
        ".".join(init.parent.relative_to(root).parts) for top in shipped for init in (root / top).rglob("__init__.py")
    }
    assert set(config["packages"]) == on_disk | {"vitalstream_models"}
    assert config["package-dir"] == {"vitalstream_models": "models"}
