"""Per-identity password files: created once with a random password, readable by their owner only.

A client reads its password through the existing settings, ``VITALSTREAM_BROKER_PASSWORD_FILE``, never from
the command line. A file that is already there is used as it is (so a password can be supplied, and
re-running ``vitalstream access build`` never changes a working client's password), but it must be
private (mode 0600, or 0640 to share it with one group such as a container's user) and long: Mosquitto 2.0
hashes passwords it is given over the control API with only 101 PBKDF2 rounds, which protects random
secrets, not words a person chose.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from vitalstream.errors import ConfigError

__all__ = ["MIN_PASSWORD_LENGTH", "Secret", "ensure_secret", "secret_path", "write_private"]

MIN_PASSWORD_LENGTH = 24
_GENERATED_BYTES = 32  # 256 bits: 43 URL-safe characters


@dataclass(frozen=True, slots=True)
class Secret:
    username: str
    path: Path
    # repr=False: a secret never reaches a log line or a traceback's locals through repr().
    password: str = field(repr=False)
    created: bool = False


def secret_path(directory: Path, username: str) -> Path:
    return directory / f"{username}.password"


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, mode 0600 from the first byte (never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def ensure_secret(directory: Path, username: str) -> Secret:
    """The password of ``username`` from ``directory``, generating the file if there is none."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.chmod(0o700)  # mkdir's mode is filtered by the umask; the directory must be private regardless
    path = secret_path(directory, username)
    if not path.exists():
        password = secrets.token_urlsafe(_GENERATED_BYTES)
        write_private(path, password.encode() + b"\n")
        return Secret(username, path, password, created=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o037:
        # 0640 is allowed: read access for one group is how a container user is given its file.
        raise ConfigError(f"is open to others (mode {mode:04o}); chmod 600 (or 640) it", source=str(path))
    try:
        password = path.read_text(encoding="utf-8").rstrip("\n")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source=str(path)) from None
    if len(password) < MIN_PASSWORD_LENGTH or any(c.isspace() for c in password):
        raise ConfigError(
            f"a broker password must be at least {MIN_PASSWORD_LENGTH} characters without spaces "
            "(delete the file to have one generated)",
            source=str(path),
        )
    return Secret(username, path, password)
