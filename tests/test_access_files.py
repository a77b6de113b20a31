"""``vitalstream access build`` and ``certs``: private files, passwords kept across runs, certificates that
verify (a real TLS handshake against them), and the command line around them."""

from __future__ import annotations

import json
import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest

from vitalstream.enrolment import EdgeEnrolment, Enrolment
from vitalstream.errors import ConfigError
from vitalstream_app.access.files import AccessLayout, build_access
from vitalstream_app.access.pki import make_pki
from vitalstream_app.access.secrets import MIN_PASSWORD_LENGTH, ensure_secret, secret_path
from vitalstream_app.cli import main

ENROLMENT = Enrolment(
    patients={"p-1": "ward-1"}, edges=(EdgeEnrolment("edge-1", {"d-1": "p-1"}),), processors=("proc",)
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_secret_is_generated_once_private_and_long(tmp_path: Path) -> None:
    directory = tmp_path / "secrets"
    first = ensure_secret(directory, "edge-1")
    assert first.created
    assert len(first.password) >= 43
    assert _mode(directory) == 0o700
    assert _mode(first.path) == 0o600
    assert first.password not in repr(first)
    again = ensure_secret(directory, "edge-1")
    assert (again.password, again.created) == (first.password, False)
    assert ensure_secret(directory, "edge-2").password != first.password


def test_a_supplied_secret_is_used_if_private_and_long_enough(tmp_path: Path) -> None:
    path = secret_path(tmp_path, "proc")
    path.write_text("s" * MIN_PASSWORD_LENGTH + "\n")
    path.chmod(0o640)  # shared with one group (a container's user): allowed
    assert ensure_secret(tmp_path, "proc").password == "s" * MIN_PASSWORD_LENGTH
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="open to others"):
        ensure_secret(tmp_path, "proc")
    path.chmod(0o600)
    path.write_text("short\n")
    with pytest.raises(ConfigError, match="at least"):
        ensure_secret(tmp_path, "proc")
    path.write_text("with a space in it, long enough anyway\n")
    with pytest.raises(ConfigError, match="without spaces"):
        ensure_secret(tmp_path, "proc")


def test_build_writes_the_plugin_file_and_the_health_options_privately(tmp_path: Path) -> None:
    layout = AccessLayout(tmp_path)
    build = build_access(ENROLMENT, layout)
    assert _mode(layout.dynsec) == 0o600
    document = json.loads(layout.dynsec.read_text())
    assert {c["username"] for c in document["clients"]} == {"access-admin", "broker-health", "edge-1", "proc"}
    health = build.secrets["broker-health"].password
    assert layout.health_options.read_text() == f"-u broker-health\n-P {health}\n"
    assert _mode(layout.health_options) == 0o600
    summary = build.summary()
    assert summary["new_secrets"] == ["access-admin", "broker-health", "edge-1", "proc"]
    assert summary["clients"] == {"admin": 1, "edge": 1, "health": 1, "processor": 1}
    assert not [s.password for s in build.secrets.values() if s.password in json.dumps(summary)]
    # A second build keeps every password (a running client keeps working) and creates none.
    again = build_access(ENROLMENT, layout)
    assert again.summary()["new_secrets"] == []
    assert {n: s.password for n, s in again.secrets.items()} == {n: s.password for n, s in build.secrets.items()}


def _handshake(pki: dict[str, Path], server_name: str) -> None:
    """A TLS handshake between a server holding the broker's certificate and a client trusting only the CA."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(pki["server.crt"], pki["server.key"])
    client_context = ssl.create_default_context(cafile=str(pki["ca.crt"]))
    left, right = socket.socketpair()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with server_context.wrap_socket(left, server_side=True) as tls:
                tls.recv(1)
        except (ssl.SSLError, OSError) as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client_context.wrap_socket(right, server_hostname=server_name) as tls:
            tls.sendall(b"x")
    finally:
        right.close()
        thread.join(10)
        left.close()


def test_certs_make_a_ca_and_a_broker_certificate_that_verifies_for_its_names(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "certs", hosts=["mosquitto"], clients=["edge-1"], days=2)
    for name in ("mosquitto", "localhost", "127.0.0.1"):
        _handshake(pki, name)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(pki, "elsewhere.example")
    for key in ("ca.key", "server.key", "edge-1.key"):
        assert _mode(pki[key]) == 0o600
    assert sorted(p.name for p in (tmp_path / "certs").iterdir()) == sorted(pki)
    # The CA survives a re-issue: clients that trust it keep working.
    ca = pki["ca.crt"].read_bytes()
    make_pki(tmp_path / "certs", hosts=["broker.example"], days=2)
    assert pki["ca.crt"].read_bytes() == ca
    with pytest.raises(ConfigError, match="not a host name"):
        make_pki(tmp_path / "certs", hosts=["bad name"])


def test_the_access_commands_print_one_json_line_and_never_a_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    enrolment = tmp_path / "enrolment.toml"
    enrolment.write_text('version = 1\n[[processor]]\nname = "proc"\n', encoding="utf-8")
    out = tmp_path / "access"
    assert main(["access", "certs", "--out", str(out), "--host", "mosquitto"]) == 0
    assert json.loads(capsys.readouterr().out)["certs"]["ca.crt"] == str(out / "certs" / "ca.crt")
    assert main(["access", "build", str(enrolment), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed)["clients"] == {"admin": 1, "health": 1, "processor": 1}
    assert (out / "secrets" / "proc.password").read_text().strip() not in printed
    enrolment.write_text('version = 1\n[[processor]]\nname = "a+b"\n', encoding="utf-8")
    assert main(["access", "build", str(enrolment), "--out", str(out)]) == 2
    assert "is not 1-64 characters" in capsys.readouterr().err


def test_apply_refuses_to_send_passwords_in_clear_over_a_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    enrolment = tmp_path / "enrolment.toml"
    enrolment.write_text("version = 1\n", encoding="utf-8")
    code = main(["access", "apply", str(enrolment), "--out", str(tmp_path), "--broker", "mqtt://broker.example"])
    assert code == 2
    assert "use mqtts://" in capsys.readouterr().err
    assert not (tmp_path / "secrets").exists()  # refused before anything was written
