"""docker-compose.yml: pinned images, service wiring, volumes, health checks.

Nothing here needs Docker (this machine has no engine, and CI need not either): the file is parsed,
``${VAR:-default}`` is resolved the way compose resolves it with no variables set (a fresh checkout),
and the services' environment goes through the real settings loader and command-line parser, so a
misspelt ``VITALSTREAM_*`` name or flag fails here instead of being silently ignored at run time.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
import tomllib
import typing
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from edge_agent.scenarios import parse_scenarios
from tests.compose_reader import (
    COMPOSE_FILE,
    ROOT,
    depends_on,
    environment,
    interpolate,
    load_compose,
    local_secret_files,
    mount_at,
    mounts,
    resolve,
    strings,
)
from vitalstream.settings import Settings, load_settings
from vitalstream_app.cli import build_parser
from vitalstream_app.cli import main as cli_main

SERVICES = ("mosquitto", "influxdb", "processor", "edge-sim")
# The services others must wait for until they are healthy, not merely started.
INFRASTRUCTURE = ("mosquitto", "influxdb")

_VERSION_TAG = re.compile(r"^v?\d+\.\d+(?:\.\d+)*(?:[-_][\w.-]+)?$")


def _settings_variables() -> dict[str, tuple[str, str]]:
    """Every variable the settings loader reads: ``VITALSTREAM_{SECTION}_{OPTION}`` -> (section, option)."""
    sections = typing.get_type_hints(Settings)
    return {
        f"VITALSTREAM_{section}_{option.name}".upper(): (section, option.name)
        for section, cls in sections.items()
        for option in dataclasses.fields(cls)
    }


def _load_service_settings(env: dict[str, str], files: dict[str, Path] | None = None) -> Settings:
    """Load ``env`` through the real settings loader and check it read every ``VITALSTREAM_*`` variable.

    A ``..._FILE`` variable names a file in the container (a mounted secret); ``files`` maps those paths to
    local files (:func:`tests.compose_reader.local_secret_files`), whose content the option must then hold.
    """
    known = _settings_variables()
    ours = {name: value for name, value in env.items() if name.startswith("VITALSTREAM_")}
    unknown = sorted(name for name in ours if name not in known and name.removesuffix("_FILE") not in known)
    assert not unknown, f"the settings loader ignores {unknown}; it reads {sorted(known)}"
    local = {name: str((files or {}).get(value, value)) if name not in known else value for name, value in ours.items()}
    settings = load_settings(None, env={**env, **local})
    for name, value in local.items():
        section, option = known.get(name) or known[name.removesuffix("_FILE")]
        expected = value if name in known else Path(value).read_text(encoding="utf-8").rstrip("\n")
        assert str(getattr(getattr(settings, section), option)) == expected, name
    return settings


@pytest.fixture(scope="module")
def access_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What ``vitalstream access certs --host mosquitto`` and ``build deploy/access/enrolment.toml`` write
    (the real commands), standing for the compose file's ./var/access."""
    root = tmp_path_factory.mktemp("access")
    assert cli_main(["access", "certs", "--out", str(root), "--host", "mosquitto", "--days", "2"]) == 0
    assert cli_main(["access", "build", str(ROOT / "deploy" / "access" / "enrolment.toml"), "--out", str(root)]) == 0
    return root


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def compose(raw_compose: dict[str, Any]) -> dict[str, Any]:
    resolved = resolve(raw_compose)
    assert isinstance(resolved, dict)
    return resolved


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


@pytest.fixture
def in_empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``load_settings(None, ...)`` reads ./vitalstream.toml when present; keep a developer's file out of it."""
    monkeypatch.chdir(tmp_path)


# ------------------------------------------------------------------ tests: the compose file


def test_the_four_services_exist_and_the_obsolete_version_key_is_gone(raw_compose: dict[str, Any]) -> None:
    assert set(SERVICES) <= set(raw_compose["services"])
    assert "version" not in raw_compose


def test_every_variable_has_a_default_so_a_fresh_checkout_starts(raw_compose: dict[str, Any]) -> None:
    for text in strings(raw_compose):
        interpolate(text)  # raises for ${NAME} without a default, and for an unescaped $SYS
    assert interpolate("${A:-x} $${B} ${C-y}") == "x ${B} y"
    with pytest.raises(ValueError, match="no default"):
        interpolate("$SYS/broker/uptime")


def test_every_image_is_pinned_to_a_version(services: dict[str, dict[str, Any]]) -> None:
    images = {name: service["image"] for name, service in services.items() if "image" in service}
    assert {"mosquitto", "influxdb"} <= set(images)
    for name, image in images.items():
        reference = image.split("@", 1)[0]
        repository, _, tag = reference.rpartition(":")
        assert repository, f"{name}: image {image!r} has no tag"
        assert "/" not in tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest", f"{name}: image {image!r} floats"
        assert _VERSION_TAG.match(tag), f"{name}: tag {tag!r} is not a major.minor[.patch] version"
    assert images["mosquitto"].startswith("eclipse-mosquitto:2.0.")
    assert re.fullmatch(r"influxdb:2\.\d+\.\d+", images["influxdb"])


def test_built_images_are_tagged_with_the_project_version(services: dict[str, dict[str, Any]]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for name in ("processor", "edge-sim"):
        image = services[name].get("image")
        if image is not None:
            assert image.rpartition(":")[2] == project["version"], name


def test_processor_environment_points_at_the_compose_services(services: dict[str, dict[str, Any]]) -> None:
    env = environment(services["processor"])
    influx = environment(services["influxdb"])
    broker = urlsplit(env["VITALSTREAM_BROKER_URL"])
    assert (broker.scheme, broker.hostname, broker.port) == ("mqtts", "mosquitto", 8883)
    database = urlsplit(env["VITALSTREAM_INFLUX_URL"])
    assert (database.scheme, database.hostname, database.port) == ("http", "influxdb", 8086)
    assert env["VITALSTREAM_INFLUX_API"] == "v2"
    assert influx["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert env["VITALSTREAM_INFLUX_BUCKET"] == influx["DOCKER_INFLUXDB_INIT_BUCKET"] == "vitalstream"
    assert env["VITALSTREAM_INFLUX_ORG"] == influx["DOCKER_INFLUXDB_INIT_ORG"] == "vitalstream"
    assert env["VITALSTREAM_INFLUX_TOKEN"] == influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
    assert env["VITALSTREAM_INFLUX_TOKEN"]


def test_the_token_and_password_come_from_variables(raw_compose: dict[str, Any]) -> None:
    """Development defaults are fine for a trial, but each secret must be overridable without editing the file."""
    influx = environment(raw_compose["services"]["influxdb"])
    processor = environment(raw_compose["services"]["processor"])
    for value in (
        influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"],
        influx["DOCKER_INFLUXDB_INIT_PASSWORD"],
        processor["VITALSTREAM_INFLUX_TOKEN"],
    ):
        assert re.fullmatch(r"\$\{\w+:-[^}]+\}", value), value
    # The same variable feeds both ends, so overriding it cannot desynchronise them.
    assert influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"] == processor["VITALSTREAM_INFLUX_TOKEN"]
    # InfluxDB refuses setup with a password shorter than 8 characters.
    assert len(interpolate(influx["DOCKER_INFLUXDB_INIT_PASSWORD"])) >= 8


@pytest.mark.usefixtures("in_empty_dir")
def test_processor_environment_is_what_the_settings_loader_reads(
    compose: dict[str, Any], services: dict[str, dict[str, Any]], access_root: Path
) -> None:
    processor = services["processor"]
    influx = environment(services["influxdb"])
    settings = _load_service_settings(environment(processor), local_secret_files(compose, processor, access_root))
    assert settings.broker.address.host == "mosquitto"
    assert settings.broker.address.port == 8883
    assert settings.broker.address.tls
    assert settings.broker.address.username == "processor"
    assert settings.broker.address.password == (access_root / "secrets" / "processor.password").read_text().strip()
    assert settings.influx.url == "http://influxdb:8086"
    assert settings.influx.api == "v2"
    assert settings.influx.bucket == influx["DOCKER_INFLUXDB_INIT_BUCKET"]
    assert settings.influx.org == influx["DOCKER_INFLUXDB_INIT_ORG"]
    assert settings.influx.token == influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
    # The state directory is on a named volume, so checkpoints survive a container re-creation.
    mount = mount_at(processor, settings.processor.state_dir)
    assert mount.named
    assert mount.source in compose["volumes"]


def test_named_volumes_are_declared(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    declared = set(compose.get("volumes") or {})
    used = {mount.source for service in services.values() for mount in mounts(service) if mount.named}
    assert used
    assert used <= declared
    assert mount_at(services["influxdb"], "/var/lib/influxdb2").named


@pytest.mark.usefixtures("in_empty_dir")
def test_commands_parse_with_the_real_command_line(
    compose: dict[str, Any], services: dict[str, dict[str, Any]], access_root: Path
) -> None:
    parser = build_parser()
    process = parser.parse_args(services["processor"]["command"])
    assert process.command == "process"

    edge_service = services["edge-sim"]
    edge = parser.parse_args(edge_service["command"])
    assert (edge.command, edge.source, edge.patients, edge.scenario) == ("edge", "sim", 20, "mixed")
    assert len(parse_scenarios(edge.scenario, patients=edge.patients)) == 20
    settings = _load_service_settings(environment(edge_service), local_secret_files(compose, edge_service, access_root))
    assert (settings.broker.address.host, settings.broker.address.port) == ("mosquitto", 8883)


def test_dependencies_wait_for_healthy_infrastructure(services: dict[str, dict[str, Any]]) -> None:
    assert depends_on(services["processor"]) == {"mosquitto": "service_healthy", "influxdb": "service_healthy"}
    assert depends_on(services["edge-sim"])["mosquitto"] == "service_healthy"
    for name, service in services.items():
        for dependency, condition in depends_on(service).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            if dependency in INFRASTRUCTURE:
                assert condition == "service_healthy", f"{name} starts before {dependency} is healthy"
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits on {dependency}, which has no healthcheck"


def test_every_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name in SERVICES:
        check = services[name].get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert not check.get("disable", False)
        test = check["test"]
        if isinstance(test, list):
            assert test[0] in {"CMD", "CMD-SHELL"}, f"{name}: healthcheck test must start with CMD or CMD-SHELL"
        else:
            assert test.strip(), f"{name}: empty healthcheck"
    mosquitto = services["mosquitto"]["healthcheck"]["test"]
    assert mosquitto[1] == "mosquitto_sub"
    assert any(arg.startswith("$SYS/") for arg in mosquitto)  # escaped as $$SYS in the file
    assert services["influxdb"]["healthcheck"]["test"][1:3] == ["influx", "ping"]


@pytest.mark.parametrize(
    ("service", "cmdline", "state", "healthy"),
    [
        ("processor", ["/opt/venv/bin/python", "/opt/venv/bin/vitalstream", "process"], "S", True),
        ("processor", ["/opt/venv/bin/python", "/opt/venv/bin/vitalstream", "process"], "R", True),
        ("processor", ["/opt/venv/bin/python", "/opt/venv/bin/vitalstream", "process"], "Z", False),
        ("processor", ["/opt/venv/bin/python", "/opt/venv/bin/vitalstream", "process"], "T", False),
        ("processor", ["/opt/venv/bin/python", "/opt/venv/bin/vitalstream", "edge"], "S", False),
        ("edge-sim", ["/opt/venv/bin/python", "/opt/venv/bin/vitalstream", "edge", "--patients", "20"], "S", True),
        ("edge-sim", ["/opt/venv/bin/python", "/opt/venv/bin/vitalstream", "process"], "S", False),
    ],
)
def test_liveness_checks_judge_pid_1(
    services: dict[str, dict[str, Any]], tmp_path: Path, service: str, cmdline: list[str], state: str, healthy: bool
) -> None:
    """Run the healthcheck's Python against fake /proc/1 files: it must tell a live process from a dead one."""
    test = services[service]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    assert "/proc/1/" in test[3]
    (tmp_path / "cmdline").write_bytes(b"\0".join(arg.encode() for arg in cmdline) + b"\0")
    (tmp_path / "stat").write_text(f"1 (vitalstream) {state} 0 1 1 0 -1 4194560\n", encoding="utf-8")
    code = test[3].replace("/proc/1/", f"{tmp_path}/")
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, timeout=30)
    assert result.stderr == b""
    assert (result.returncode == 0) is healthy


def test_mosquitto_mounts_the_shipped_config(services: dict[str, dict[str, Any]]) -> None:
    mosquitto = services["mosquitto"]
    config = mount_at(mosquitto, "/mosquitto/config/mosquitto.conf")
    assert (ROOT / config.source).resolve() == ROOT / "deploy" / "mosquitto" / "mosquitto.conf"
    assert config.read_only
    conf_text = (ROOT / config.source).read_text(encoding="utf-8")
    directives = dict(
        line.split(None, 1) for line in conf_text.splitlines() if line.strip() and not line.startswith("#")
    )

    include = mount_at(mosquitto, directives["include_dir"])
    assert (ROOT / include.source).resolve() == ROOT / "deploy" / "mosquitto" / "conf.d"
    assert include.read_only
    assert (ROOT / include.source / "vitalstream.conf").is_file()

    data = mount_at(mosquitto, directives["persistence_location"])
    assert data.named, "broker sessions and queued readings must survive re-creating the container"


def test_no_docker_engine_or_cli_is_needed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """These checks stand in for ``docker compose config``; they must pass where no docker binary exists."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert shutil.which("docker") is None
    document = resolve(yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8")))
    assert isinstance(document, dict)
    assert set(SERVICES) <= set(document["services"])
