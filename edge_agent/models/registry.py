"""The model manifest, integrity checks and ONNX Runtime sessions.

``models/onnx/manifest.json`` lists every model by role (``qrs``, ``beats``, ``rhythm``, ``sqi``,
``ppg_hr``) with its name, version, kind (``onnx`` or ``dsp`` for classical signal processing with
no weights file), file, sha256, input spec, outputs, training data and held-out metrics. A session
is only opened after the file's sha256 matches the manifest, and always with one intra-op thread:
the edge shares its core with everything else on the device.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vitalstream.errors import VitalstreamError

__all__ = ["ModelIntegrityError", "ModelSpec", "load_manifest", "models_dir", "open_session", "sha256_of"]


class ModelIntegrityError(VitalstreamError):
    """A model file is missing or does not match the sha256 in the manifest."""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    role: str
    name: str
    version: str
    kind: str  # "onnx" or "dsp"
    file: str | None
    sha256: str | None
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    card: str | None = None
    directory: Path = Path()

    @property
    def ref(self) -> str:
        """``name@version``, as it travels in readings and alerts."""
        return f"{self.name}@{self.version}"

    @property
    def path(self) -> Path | None:
        return None if self.file is None else self.directory / self.file


def models_dir() -> Path:
    """``models/onnx`` of the checkout, or of the installed ``vitalstream_models`` package."""
    checkout = Path(__file__).resolve().parents[2] / "models" / "onnx"
    if (checkout / "manifest.json").is_file():
        return checkout
    return Path(str(importlib.resources.files("vitalstream_models") / "onnx"))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_manifest(directory: Path | None = None) -> dict[str, ModelSpec]:
    """Every model in the manifest, by role."""
    base = directory or models_dir()
    document = json.loads((base / "manifest.json").read_text(encoding="utf-8"))
    specs = {}
    for role, entry in document["models"].items():
        specs[role] = ModelSpec(
            role=role,
            name=entry["name"],
            version=entry["version"],
            kind=entry["kind"],
            file=entry.get("file"),
            sha256=entry.get("sha256"),
            inputs=entry.get("inputs", {}),
            outputs=entry.get("outputs", {}),
            training=entry.get("training", {}),
            metrics=entry.get("metrics", {}),
            card=entry.get("card"),
            directory=base,
        )
    return specs


def open_session(spec: ModelSpec) -> Any:  # noqa: ANN401 -- onnxruntime.InferenceSession (untyped package)
    """An ONNX Runtime session for ``spec`` after checking its sha256; one thread, sequential execution."""
    import onnxruntime as ort  # noqa: PLC0415 -- the edge extra; not needed to read the manifest

    path = spec.path
    if path is None or not path.is_file():
        raise ModelIntegrityError(f"model {spec.ref}: file {path} is missing")
    actual = sha256_of(path)
    if actual != spec.sha256:
        raise ModelIntegrityError(f"model {spec.ref}: sha256 {actual[:12]}... does not match the manifest")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
