"""docker-compose.yml read the way compose reads it, without Docker: ``${VAR:-default}`` resolved as with
no variables set (a fresh checkout), environments, mounts and dependencies in their long form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"

# Compose interpolation: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, $NAME, $$.
_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<default>[^}]*))?\}|\$(?P<bare>[A-Za-z_]\w*)"
)


def interpolate(text: str) -> str:
    """Resolve ``text`` as compose does with no variables set; a variable without a default is an error."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        if match.group("op") in {":-", "-"}:
            return match.group("default")
        raise ValueError(
            f"${{{name}}} has no default, so a fresh checkout cannot start: use ${{{name}:-...}} ($$ is a literal $)"
        )

    return _VARIABLE.sub(replace, text)


def resolve(node: object) -> object:
    """Every string in a parsed document interpolated (see :func:`interpolate`)."""
    if isinstance(node, str):
        return interpolate(node)
    if isinstance(node, dict):
        return {key: resolve(value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item) for item in node]
    return node


def strings(node: object) -> Iterator[str]:
    """Every string in a parsed document, keys excepted."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's ``environment`` (mapping or ``KEY=value`` list) as strings, the way the container sees it."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in raw.items()}


@dataclass(frozen=True)
class Mount:
    """One volume of a service: a named volume or a bind mount of a path."""

    source: str
    target: str
    read_only: bool

    @property
    def named(self) -> bool:
        return not self.source.startswith((".", "/", "~"))


def mounts(service: dict[str, Any]) -> list[Mount]:
    """A service's ``volumes``, short (``source:target:ro``) or long form."""
    found = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            found.append(Mount(volume["source"], volume["target"], bool(volume.get("read_only", False))))
        else:
            source, target, *mode = volume.split(":")
            found.append(Mount(source, target, "ro" in ",".join(mode).split(",")))
    return found


def mount_at(service: dict[str, Any], target: str) -> Mount:
    found = [mount for mount in mounts(service) if mount.target.rstrip("/") == target.rstrip("/")]
    assert found, f"nothing is mounted at {target}"
    return found[0]


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Dependency -> condition (the short list form means ``service_started``)."""
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in raw.items()}


def load_compose() -> dict[str, Any]:
    """The compose file as written, variables unresolved."""
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def secret_mounts(service: dict[str, Any]) -> dict[str, str]:
    """A service's ``secrets``: path in the container -> the top-level secret's name."""
    found = {}
    for entry in service.get("secrets", []):
        source, target = (
            (entry, entry) if isinstance(entry, str) else (entry["source"], entry.get("target", entry["source"]))
        )
        found[target if target.startswith("/") else f"/run/secrets/{target}"] = source
    return found


def local_secret_files(compose: dict[str, Any], service: dict[str, Any], access_root: Path) -> dict[str, Path]:
    """Container path -> the local file it would be, with the compose file's ``./var/access`` standing for
    ``access_root`` (a directory ``vitalstream access certs`` and ``build`` wrote into)."""
    files = {}
    for path, name in secret_mounts(service).items():
        source = Path(compose["secrets"][name]["file"])  # ./var/access/... (Path drops the "./")
        files[path] = access_root / source.relative_to("var/access")
    return files
