"""Access control in what ships: no anonymous access anywhere, TLS only, every compose client its own enrolled
identity with its password from a generated file mounted as a secret, and a broker that can read its files.

Static, as tests/test_compose.py (no Docker here); the same mosquitto.conf runs against a real broker in
tests/integration/test_access_*.py. The access files are made by the real ``vitalstream access`` commands.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any

import pytest

from edge_agent.simulator import device_id, patient_id
from tests.compose_reader import (
    COMPOSE_FILE,
    ROOT,
    environment,
    load_compose,
    local_secret_files,
    mount_at,
    resolve,
    secret_mounts,
)
from vitalstream.enrolment import Enrolment, load_enrolment
from vitalstream.settings import load_settings
from vitalstream_app.access.policy import HEALTH, Kind, build_policy
from vitalstream_app.cli import build_parser
from vitalstream_app.cli import main as cli_main

DEPLOY = ROOT / "deploy"
ENROLMENT_FILE = DEPLOY / "access" / "enrolment.toml"
# The compose services that talk MQTT, and what kind of identity each must be.
CLIENTS = {"processor": Kind.PROCESSOR, "edge-sim": Kind.EDGE, "station": Kind.STATION}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = resolve(load_compose())
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def enrolment() -> Enrolment:
    return load_enrolment(ENROLMENT_FILE)


@pytest.fixture(scope="module")
def access_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("access")
    assert cli_main(["access", "certs", "--out", str(root), "--host", "mosquitto", "--days", "2"]) == 0
    assert cli_main(["access", "build", str(ENROLMENT_FILE), "--out", str(root)]) == 0
    return root


@pytest.fixture
def in_empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``load_settings(None, ...)`` reads ./vitalstream.toml when present; keep a developer's file out of it."""
    monkeypatch.chdir(tmp_path)


def _directives(path: Path) -> list[tuple[str, str]]:
    found = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            found.append((key, value.strip()))
    return found


def test_no_shipped_configuration_allows_anonymous_clients() -> None:
    shipped = [DEPLOY / "mosquitto" / "mosquitto.conf", *sorted((DEPLOY / "mosquitto" / "conf.d").glob("*.conf"))]
    for path in [*shipped, COMPOSE_FILE]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*allow_anonymous\s+true", text, re.MULTILINE), path
        assert not re.search(r"^\s*(password_file|acl_file)\b", text, re.MULTILINE), f"{path}: a second auth source"
    directives = _directives(DEPLOY / "mosquitto" / "mosquitto.conf")
    assert ("per_listener_settings", "false") in directives  # so allow_anonymous below covers every listener
    assert ("allow_anonymous", "false") in directives
    assert ("use_username_as_clientid", "true") in directives
    assert dict(directives)["plugin"].endswith("/mosquitto_dynamic_security.so")
    # The plugin's file is on the data volume: the broker rewrites it after every `vitalstream access apply`.
    assert dict(directives)["plugin_opt_config_file"].startswith(dict(directives)["persistence_location"])


def test_every_listener_is_tls(compose: dict[str, Any]) -> None:
    directives = _directives(DEPLOY / "mosquitto" / "mosquitto.conf")
    listeners = [i for i, (key, _) in enumerate(directives) if key == "listener"]
    assert [directives[i][1] for i in listeners] == ["8883"]
    after = dict(directives[listeners[0] :])
    assert {"certfile", "keyfile"} <= set(after)
    for conf in (DEPLOY / "mosquitto" / "conf.d").glob("*.conf"):
        assert not any(key in {"listener", "port"} for key, _ in _directives(conf)), conf
    assert compose["services"]["mosquitto"]["ports"] == ["127.0.0.1:8883:8883"]


def test_the_broker_gets_its_key_and_access_seed_where_its_own_user_can_read_them(compose: dict[str, Any]) -> None:
    mosquitto = compose["services"]["mosquitto"]
    assert mosquitto["entrypoint"] == ["/bin/sh", "/mosquitto/config/start.sh"]
    script_mount = mount_at(mosquitto, "/mosquitto/config/start.sh")
    assert (ROOT / script_mount.source).resolve() == DEPLOY / "mosquitto" / "start.sh"
    assert script_mount.read_only
    script = (DEPLOY / "mosquitto" / "start.sh").read_text(encoding="utf-8")
    mounted = secret_mounts(mosquitto)
    for path in re.findall(r"/run/secrets/[\w.-]+", script):
        assert path in mounted, f"start.sh reads {path}, which compose does not mount"
    directives = dict(_directives(DEPLOY / "mosquitto" / "mosquitto.conf"))
    for option in ("certfile", "keyfile"):
        assert directives[option].startswith("/mosquitto/secrets/")
        assert directives[option] in script, f"start.sh does not install {directives[option]}"
    assert directives["plugin_opt_config_file"] in script
    assert "/mosquitto/secrets" in mosquitto["tmpfs"]
    assert (
        script.rstrip().splitlines()[-1]
        == "exec /docker-entrypoint.sh /usr/sbin/mosquitto -c /mosquitto/config/mosquitto.conf"
    )


def test_the_health_check_logs_in_without_a_password_on_its_command_line(
    compose: dict[str, Any], access_root: Path
) -> None:
    mosquitto = compose["services"]["mosquitto"]
    test = mosquitto["healthcheck"]["test"]
    assert test[:2] == ["CMD", "mosquitto_sub"]
    assert not {"-u", "-P", "--pw", "--username"} & set(test)
    assert test[test.index("-p") + 1] == "8883"
    assert test[test.index("--cafile") + 1] == "/run/secrets/mqtt-ca"
    # mosquitto_sub reads $XDG_CONFIG_HOME/mosquitto_sub: broker-health's user name and password.
    options_path = f"{environment(mosquitto)['XDG_CONFIG_HOME']}/mosquitto_sub"
    local = local_secret_files(compose, mosquitto, access_root)[options_path]
    password = (access_root / "secrets" / f"{HEALTH}.password").read_text().strip()
    assert local.read_text() == f"-u {HEALTH}\n-P {password}\n"
    assert test[test.index("-t") + 1] == "$SYS/broker/uptime"  # the one topic broker-health may read


def test_every_secret_is_a_private_file_the_access_commands_write(compose: dict[str, Any], access_root: Path) -> None:
    for name, secret in compose["secrets"].items():
        assert secret["file"].startswith("./var/access/"), name
    for service in compose["services"].values():
        for path, local in local_secret_files(compose, service, access_root).items():
            assert local.is_file(), f"{path}: {local} is not written by vitalstream access"
            if local.name.endswith((".password", ".key", ".json", ".mosquitto_sub")):
                assert stat.S_IMODE(local.stat().st_mode) == 0o600, local
    # Generated secrets stay out of git and out of every image's build context.
    assert "/var/" in (ROOT / ".gitignore").read_text().splitlines()
    assert "var" in (ROOT / ".dockerignore").read_text().splitlines()


@pytest.mark.usefixtures("in_empty_dir")
def test_each_client_is_its_own_enrolled_identity_over_tls(
    compose: dict[str, Any], enrolment: Enrolment, access_root: Path
) -> None:
    policy = build_policy(enrolment)
    usernames = []
    for name, kind in CLIENTS.items():
        service = compose["services"][name]
        files = local_secret_files(compose, service, access_root)
        env = environment(service)
        local = {k: str(files[v]) if k.endswith("_FILE") else v for k, v in env.items() if k.startswith("VITALSTREAM_")}
        broker = load_settings(None, env=local).broker
        address = broker.address
        assert address.username is not None, name
        assert (address.tls, address.host, address.port) == (True, "mosquitto", 8883), name
        assert broker.ca_file == str(files["/run/secrets/mqtt-ca"])
        assert "VITALSTREAM_BROKER_PASSWORD" not in env, f"{name}: a password in the environment"
        assert address.password == (access_root / "secrets" / f"{address.username}.password").read_text().strip()
        assert policy.clients[address.username].kind is kind, name
        usernames.append(address.username)
    assert len(set(usernames)) == len(usernames), "two services share an identity (they would kick each other out)"


@pytest.mark.usefixtures("in_empty_dir")
def test_the_compose_enrolment_is_the_simulated_ward_and_the_stations_ward(
    compose: dict[str, Any], enrolment: Enrolment
) -> None:
    parser = build_parser()
    edge_args = parser.parse_args(compose["services"]["edge-sim"]["command"])
    seed = edge_args.seed if edge_args.seed is not None else load_settings(None, env={}).edge.seed
    (edge,) = [
        e
        for e in enrolment.edges
        if e.name == environment(compose["services"]["edge-sim"])["VITALSTREAM_BROKER_USERNAME"]
    ]
    assert dict(edge.devices) == {device_id(seed, i): patient_id(seed, i) for i in range(edge_args.patients)}
    station_args = parser.parse_args(compose["services"]["station"]["command"])
    processor_ward = load_settings(None, env={}).processor.ward  # compose sets no ward map: all on the default
    assert set(enrolment.patients.values()) == {station_args.ward} == {processor_ward}
    (station,) = enrolment.stations
    assert station.ward == station_args.ward
