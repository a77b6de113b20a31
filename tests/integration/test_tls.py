"""TLS to the broker: edge and processor connect with mqtts:// and a CA file; without the CA they refuse."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.sinks import SqlitePointStore
from stream_processor.service import ProcessorService
from tests.conftest import require_binary
from tests.mqtt_recorder import MqttRecorder
from tests.procs import CliProcess
from tests.servers import MosquittoServer, make_test_pki
from vitalstream.settings import BrokerSettings, ProcessorSettings, Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[MosquittoServer]:
    binary = require_binary("mosquitto", "/usr/sbin/mosquitto")
    pki = make_test_pki(tmp_path / "pki")
    server = MosquittoServer(binary, tmp_path / "broker", pki=pki).start()
    server.pki = pki  # type: ignore[attr-defined]
    yield server
    server.stop()


def test_edge_and_processor_over_tls(tmp_path: Path, tls_broker: MosquittoServer) -> None:
    ca = str(tls_broker.pki["ca.crt"])  # type: ignore[attr-defined]
    url = f"mqtts://127.0.0.1:{tls_broker.tls_port}"
    recorder = MqttRecorder(tls_broker.port, ["vitals/v1/#"]).start()  # plain listener, to observe
    store = SqlitePointStore(tmp_path / "points.sqlite")
    settings = Settings(
        broker=BrokerSettings(url=url, ca_file=ca), processor=ProcessorSettings(state_dir=str(tmp_path / "state"))
    )
    service = ProcessorService(settings=settings, sink=store, shutdown_flush_s=2.0)
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert service.ready.wait(10), "processor could not connect over TLS"
        edge = CliProcess(
            ["edge", "--broker", url, "--ca-file", ca, "--source", "sim:vitals", "--patients", "2", "--duration", "3"],
            tmp_path,
            name="edge",
        )
        assert edge.wait(30) == 0, edge.stderr_tail()
        assert edge.last_json()["acknowledged"] == 6
    finally:
        stop.set()
        thread.join(30)
    recorder.stop()
    assert len(recorder.messages) == 6
    assert service.counts["readings"] == 6
    assert store.count("vitals") == 6
    store.close()


def test_an_unknown_server_certificate_is_refused(tmp_path: Path, tls_broker: MosquittoServer) -> None:
    url = f"mqtts://127.0.0.1:{tls_broker.tls_port}"
    # No --ca-file: the system trust store does not know our test CA, so no reading may be delivered.
    edge = CliProcess(
        ["edge", "--broker", url, "--source", "sim:vitals", "--patients", "1", "--duration", "2"], tmp_path, name="edge"
    )
    assert edge.wait(90) == 1
    summary = edge.last_json()
    assert summary["acknowledged"] == 0
    assert summary["unacknowledged"] == summary["readings"] == 2
