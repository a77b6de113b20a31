"""A private certificate authority and the broker's TLS certificate, for local and test use (``openssl``).

``vitalstream access certs`` writes, in one directory::

    ca.key  ca.crt            the CA (kept across runs: clients already trust it), key mode 0600
    server.key  server.crt    the broker's certificate for the given host names and addresses (re-issued)
    {name}.key  {name}.crt    client certificates, when asked for (TLS client authentication)

Keys are ECDSA P-256 (quick to make, accepted by Mosquitto, paho and Python's ssl). A hospital with its own
CA issues the broker certificate there instead and points ``ca_file`` at that CA. openssl is the one
dependency: the package stays free of a cryptography library for what a deployment does once.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from vitalstream.errors import ConfigError, VitalstreamError

__all__ = ["DEFAULT_HOSTS", "make_pki"]

# Every broker certificate also names the loopback forms, so local clients and health checks can verify it.
DEFAULT_HOSTS = ("localhost", "127.0.0.1")
_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(directory: Path, *args: str) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise VitalstreamError("openssl is not installed; it is needed to make certificates")
    result = subprocess.run([binary, *args], check=False, capture_output=True, cwd=directory)  # noqa: S603 -- fixed argv
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise VitalstreamError(f"openssl {args[0]} failed: {detail[0]}")


def _subject_alt_names(hosts: Sequence[str]) -> str:
    names = []
    for host in dict.fromkeys(hosts):  # ordered, deduplicated
        try:
            names.append(f"IP:{ipaddress.ip_address(host)}")
        except ValueError:
            if not host or any(c in host for c in ",= /"):
                raise ConfigError(f"{host!r} is not a host name or address", source="--host") from None
            names.append(f"DNS:{host}")
    return ",".join(names)


def _make_ca(directory: Path, *, days: int) -> None:
    _openssl(
        directory,
        "req",
        "-x509",
        *_KEY,
        "-days",
        str(days),
        "-subj",
        "/CN=VitalStream private CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    )


def _issue(directory: Path, name: str, *, subject: str, extensions: str, days: int) -> None:
    ext = directory / f".{name}.ext"
    ext.write_text(extensions)
    try:
        _openssl(directory, "req", *_KEY, "-subj", subject, "-keyout", f"{name}.key", "-out", f".{name}.csr")
        _openssl(
            directory,
            "x509",
            "-req",
            "-in",
            f".{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            str(days),
            "-extfile",
            ext.name,
            "-out",
            f"{name}.crt",
        )
    finally:
        ext.unlink(missing_ok=True)
        (directory / f".{name}.csr").unlink(missing_ok=True)
    (directory / f"{name}.key").chmod(0o600)


def make_pki(
    directory: Path,
    *,
    hosts: Sequence[str] = (),
    clients: Sequence[str] = (),
    days: int = 397,
    ca_days: int = 3650,
) -> dict[str, Path]:
    """Create (or keep) the CA in ``directory``, issue the server certificate and any client certificates.

    Returns the paths by file name (``ca.crt``, ``server.key``, ...).
    """
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)  # holds private keys
    if not (directory / "ca.key").exists():
        _make_ca(directory, days=ca_days)
    (directory / "ca.key").chmod(0o600)
    usage = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
    usage += "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
    names = _subject_alt_names([*hosts, *DEFAULT_HOSTS])
    _issue(
        directory,
        "server",
        subject="/CN=VitalStream broker",
        extensions=f"{usage}extendedKeyUsage=serverAuth\nsubjectAltName={names}\n",
        days=days,
    )
    for name in clients:
        if not name or any(c in name for c in ',=/+\\"') or name in {"ca", "server"}:
            raise ConfigError(f"{name!r} cannot name a client certificate", source="--client")
        _issue(directory, name, subject=f"/CN={name}", extensions=f"{usage}extendedKeyUsage=clientAuth\n", days=days)
    (directory / "ca.srl").unlink(missing_ok=True)
    files = ["ca.crt", "ca.key", "server.crt", "server.key", *(f"{n}.{s}" for n in clients for s in ("crt", "key"))]
    return {file: directory / file for file in files}
