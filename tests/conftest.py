"""Fixtures: real Mosquitto and InfluxDB servers on free loopback ports, and helpers to drive the CLI."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.servers import InfluxServer, InfluxV2Proxy, MosquittoServer, find_binary

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# These machines are shared and noisy: no per-example deadlines, and slow generation is not a failure.
settings.register_profile("vitalstream", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("vitalstream")


def require_binary(name: str, *candidates: str) -> str:
    found = find_binary(name, *candidates)
    if found is None:
        message = f"{name} is not installed (run `make test`, which installs it from Debian packages)"
        if IN_CI:
            pytest.fail(message)  # CI must never pass by skipping the real-server tests
        pytest.skip(message)
    return found


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoServer]:
    """A fresh Mosquitto for one test (it starts in ~50 ms; tests stop and restart it freely)."""
    server = MosquittoServer(require_binary("mosquitto", "/usr/sbin/mosquitto"), tmp_path / "mosquitto").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """One InfluxDB 1.x for the session; tests isolate themselves with their own database."""
    server = InfluxServer(require_binary("influxd", "/usr/bin/influxd"), tmp_path_factory.mktemp("influxd")).start()
    yield server
    server.stop()


@pytest.fixture
def influx_db(influxd: InfluxServer) -> str:
    """A new, empty database on the session's InfluxDB."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    influxd.create_database(name)
    return name


@pytest.fixture
def influx_v2(influxd: InfluxServer) -> Iterator[InfluxV2Proxy]:
    proxy = InfluxV2Proxy(influxd.http_port).start()
    yield proxy
    proxy.stop()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``main()`` configures logging for the process; undo it so later tests' capture is not disturbed."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
