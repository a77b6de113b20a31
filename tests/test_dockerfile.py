"""Dockerfile and .dockerignore: build targets that compose uses, one extra per target, a non-root user,
no secrets baked in, a small build context that still holds every copied source.

The Dockerfile is parsed here (stages, instructions joined across line continuations); no Docker is needed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from tests.compose_reader import ROOT, load_compose, resolve

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    """The compose file's services, resolved as with no variables set."""
    compose = resolve(load_compose())
    assert isinstance(compose, dict)
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


# ------------------------------------------------------------------ Dockerfile helpers


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]]

    def args(self, instruction: str) -> list[str]:
        return [arg for name, arg in self.instructions if name == instruction]


def _dockerfile() -> tuple[dict[str, str], dict[str, Stage]]:
    """Global ``ARG`` defaults and the stages by name, instructions joined across line continuations."""
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pending += stripped.removesuffix("\\").strip() + " "
        if not stripped.endswith("\\"):
            logical.append(pending.strip())
            pending = ""
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in logical:
        instruction, _, arg = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            words = arg.split()
            base = words[0]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(stages))
            current = stages[name] = Stage(name=name, base=base, instructions=[])
        elif current is None:
            if instruction == "ARG":
                key, _, default = arg.partition("=")
                global_args[key] = default
        else:
            current.instructions.append((instruction, arg))
    return global_args, stages


def _ancestry(stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and the stages it is built FROM, root first."""
    chain = [stages[name]]
    while chain[0].base in stages:
        chain.insert(0, stages[chain[0].base])
    return chain


def _build_closure(stages: dict[str, Stage], name: str) -> list[Stage]:
    """Every stage whose work ends up in ``name``: its ancestry and, recursively, what it COPYs --from."""
    seen: dict[str, Stage] = {}
    todo = [name]
    while todo:
        for stage in _ancestry(stages, todo.pop()):
            if stage.name in seen:
                continue
            seen[stage.name] = stage
            for copy in stage.args("COPY"):
                source = re.search(r"--from=(\S+)", copy)
                if source and source.group(1) in stages:
                    todo.append(source.group(1))
    return list(seen.values())


def _installed_extras(stages: dict[str, Stage], target: str) -> set[str]:
    runs = [run for stage in _build_closure(stages, target) for run in stage.args("RUN")]
    return {
        extra
        for run in runs
        if "pip install" in run
        for group in re.findall(r"""["']?\.\[([\w,\s-]+)\]["']?""", run)
        for extra in re.split(r"[,\s]+", group.strip())
    }


# ------------------------------------------------------------------ tests: Dockerfile and .dockerignore


def test_compose_builds_the_matching_dockerfile_targets(services: dict[str, dict[str, Any]]) -> None:
    _, stages = _dockerfile()
    for service, target in (("processor", "processor"), ("edge-sim", "edge")):
        build = services[service]["build"]
        assert build["context"] == "."
        assert build.get("dockerfile", "Dockerfile") == "Dockerfile"
        assert build["target"] == target
        assert target in stages


@pytest.mark.parametrize(("target", "extra"), [("edge", "edge"), ("processor", "processor")])
def test_each_target_installs_only_its_extra(target: str, extra: str) -> None:
    _, stages = _dockerfile()
    assert _installed_extras(stages, target) == {extra}


@pytest.mark.parametrize("target", ["edge", "processor"])
def test_targets_run_vitalstream_as_a_non_root_user(target: str) -> None:
    global_args, stages = _dockerfile()
    chain = _ancestry(stages, target)
    users = [user for stage in chain for user in stage.args("USER")]
    assert users, f"{target} runs as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    entrypoints = [entry for stage in chain for entry in stage.args("ENTRYPOINT")]
    assert json.loads(entrypoints[-1]) == ["vitalstream"]

    base = re.sub(r"\$\{(\w+)\}", lambda m: global_args[m.group(1)], chain[0].base)
    assert re.fullmatch(r"python:3\.11\.\d+-slim(?:-\w+)?", base), base


def test_no_secrets_are_baked_into_the_images() -> None:
    global_args, stages = _dockerfile()
    settings = [*global_args, *(arg for stage in stages.values() for arg in stage.args("ENV") + stage.args("ARG"))]
    for setting in settings:
        assert not re.search(r"TOKEN|PASSWORD|SECRET|KEY", setting.upper()), setting


def test_dockerignore_keeps_the_context_small_but_not_the_sources() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip()[:1] not in {"", "#"}
    }
    assert {".venv", ".git", "tests", "var", ".env"} <= patterns
    assert {".mypy_cache", ".ruff_cache", ".pytest_cache"} <= patterns
    assert any("__pycache__" in pattern for pattern in patterns)

    _, stages = _dockerfile()
    sources = [
        word
        for stage in stages.values()
        for copy in stage.args("COPY")
        if "--from=" not in copy
        for word in copy.split()[:-1]
        if not word.startswith("--")
    ]
    assert "pyproject.toml" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert source.rstrip("/").split("/")[0] not in patterns, f"{source} is copied but .dockerignore drops it"
