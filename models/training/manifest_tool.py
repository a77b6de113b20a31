"""Write one model's entry into ``models/onnx/manifest.json`` (file-locked: several trainings may finish at once).

Usage from a training script::

    from models.training.manifest_tool import write_entry
    write_entry("beats", {"name": "beats-aami", "version": "1.0.0", "kind": "onnx",
                          "file": "beats-aami-1.0.0.onnx", ...})   # sha256 is computed here
"""

from __future__ import annotations

import fcntl
import json
from pathlib import Path
from typing import Any

from edge_agent.models.registry import sha256_of

ONNX_DIR = Path(__file__).resolve().parents[1] / "onnx"
MANIFEST = ONNX_DIR / "manifest.json"


def write_entry(role: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Insert or replace ``role`` in the manifest; fills in ``sha256`` for ONNX models. Returns the entry."""
    entry = dict(entry)
    if entry.get("file"):
        entry["sha256"] = sha256_of(ONNX_DIR / entry["file"])
    lock_path = ONNX_DIR / ".manifest.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        document: dict[str, Any] = (
            json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {"manifest_version": 1, "models": {}}
        )
        models: dict[str, Any] = document["models"]
        models[role] = entry
        document["models"] = dict(sorted(models.items()))
        MANIFEST.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    return entry
