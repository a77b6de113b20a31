"""JSON Schemas (draft 2020-12) of wire contract v1, one per message type, shipped with the package.

They describe for device integrators and telemedicine platforms what :mod:`vitalstream.wire.codec`
enforces; the codec stays the source of truth, and the ``tests/test_schema_*.py`` modules check that
the two agree. Each schema's ``$id`` is ``urn:vitalstream:schema:v1:<name>``. ``alert_state`` and
``alert_event`` refer to ``alert`` by that id, so a validator needs all of them in its registry;
nothing is ever fetched from the network.

>>> load("vitals")["$id"]
'urn:vitalstream:schema:v1:vitals'
>>> load("alert_event")["properties"]["alert"]["$ref"]
'urn:vitalstream:schema:v1:alert'
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["NAMES", "load"]

NAMES: tuple[str, ...] = (
    "vitals",
    "event",
    "observation",
    "alert",
    "alert_state",
    "alert_event",
    "command",
    "command_result",
    "deadletter",
)


def load(name: str) -> dict[str, Any]:
    """Parse and return the schema ``name`` (one of :data:`NAMES`), a fresh dict on every call.

    Raises ``ValueError`` for any other name.
    """
    if name not in NAMES:
        raise ValueError(f"unknown schema {name!r} (known: {', '.join(NAMES)})")
    # importlib.resources, not a path next to __file__: it also works from a wheel or a zip import.
    text = resources.files(__name__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
