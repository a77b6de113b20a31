"""The processor core's state on disk: one file, replaced atomically, read back once at start-up.

A checkpoint spares a restarted processor relearning every baseline and re-raising open alerts. It
must never make things worse: a crash while writing leaves the previous file (write a temporary
file in the same directory, fsync it, then rename it over the old one), and a file that cannot be
read (truncated, another version, not ours) is refused so the processor starts fresh instead of
not starting. The caller logs what happened; this module only reads and writes.

>>> import tempfile
>>> from pathlib import Path
>>> checkpoint = Checkpoint(Path(tempfile.mkdtemp()) / "proc.checkpoint")
>>> checkpoint.load() is None
True
>>> checkpoint.save(b"state")
>>> checkpoint.load()
b'state'
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Checkpoint", "Restored"]


@dataclass(frozen=True, slots=True)
class Restored:
    """What :meth:`Checkpoint.restore` found: ``found`` a file; ``error`` why it was refused (else ``None``)."""

    found: bool
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.found and self.error is None


class Checkpoint:
    """The checkpoint file at ``path`` (its directory is created on the first save)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, blob: bytes) -> None:
        """Replace the checkpoint with ``blob``: afterwards the file holds the old bytes or the new, never part."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        try:
            with temporary.open("wb") as handle:
                handle.write(blob)
                handle.flush()
                os.fsync(handle.fileno())
            temporary.replace(self.path)  # atomic: a crash leaves the old or the new file, never half
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            raise
        _fsync_directory(self.path.parent)  # the rename itself survives a power cut

    def load(self) -> bytes | None:
        """The checkpoint's bytes, or ``None`` when there is none."""
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def restore(self, restore_state: Callable[[bytes], object]) -> Restored:
        """Feed the checkpoint to ``restore_state`` (e.g. ``ProcessorCore.restore_state``); never raises for a
        bad file: an unreadable or refused checkpoint comes back as ``Restored(found=True, error=...)``."""
        try:
            blob = self.load()
        except OSError as exc:
            return Restored(found=True, error=exc)
        if blob is None:
            return Restored(found=False)
        try:
            restore_state(blob)
        # A truncated pickle raises UnpicklingError or EOFError, another version ValueError, a file that is
        # not ours almost anything: whatever it is, monitoring must start, from fresh state.
        except Exception as exc:  # noqa: BLE001 -- refused and reported to the caller, who logs it
            return Restored(found=True, error=exc)
        return Restored(found=True)


def _fsync_directory(directory: Path) -> None:
    if not hasattr(os, "O_DIRECTORY"):
        return  # not POSIX: the rename is as durable as the platform makes it
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
