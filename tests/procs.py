"""Run ``vitalstream`` subcommands as real child processes and watch their JSON logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.servers import REPO


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITALSTREAM_")}
    env["PYTHONPATH"] = str(REPO)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class CliProcess:
    """``python -m vitalstream --log-format json ARGS`` with stdout and stderr in files."""

    def __init__(self, args: list[str], workdir: Path, *, name: str, env: dict[str, str] | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.stdout_path = workdir / f"{name}.out"
        self.stderr_path = workdir / f"{name}.err"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "vitalstream", "--log-format", "json", *args],
                stdout=out,
                stderr=err,
                cwd=workdir,
                env=env or cli_env(),
                start_new_session=True,
            )

    def logs(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.stderr_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                lines.append({"event": line})
        return lines

    def wait_for_log(self, event: str, timeout_s: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in self.logs():
                if line.get("event") == event:
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{self.name} never logged {event!r}; stderr:\n{self.stderr_tail()}")

    def stderr_tail(self, lines: int = 40) -> str:
        return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])

    def wait(self, timeout_s: float) -> int:
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not exit in {timeout_s} s; stderr:\n{self.stderr_tail()}") from None

    def terminate(self, timeout_s: float = 30.0) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        return self.wait(timeout_s)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def last_json(self) -> dict[str, Any]:
        lines = [line for line in self.stdout_path.read_text().splitlines() if line.strip()]
        assert lines, f"{self.name} printed nothing on stdout; stderr:\n{self.stderr_tail()}"
        summary: dict[str, Any] = json.loads(lines[-1])
        return summary
