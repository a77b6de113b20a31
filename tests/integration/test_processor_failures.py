"""The processor's failure policy against real Mosquitto and InfluxDB: a message whose handling fails is set
aside (logged, counted, dead-lettered, acknowledged) and the stream goes on; a dead network loop is reported."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from stream_processor.core import ProcessorCore, ReadingOutcome
from stream_processor.http_api import ProcessorHttp
from stream_processor.main import build_sink
from stream_processor.service import ProcessorService
from tests.mqtt_recorder import MqttRecorder
from tests.servers import InfluxServer, MosquittoServer
from vitalstream.settings import BrokerSettings, InfluxSettings, ProcessorSettings, Settings
from vitalstream.wire import VitalsReading, decode_deadletter, encode_vitals
from vitalstream.wire.topics import vitals_topic

pytestmark = pytest.mark.integration

BAD_SEQ = 3


class Crash(BaseException):
    """Gets past any ``except Exception``: what it takes to end paho's network thread now."""


class FailingCore(ProcessorCore):
    """A core with a bug that shows on one reading: ``failure`` is raised for sequence number ``BAD_SEQ``."""

    def __init__(self, settings: Settings, failure: BaseException) -> None:
        super().__init__(limits=settings.limits, alerting=settings.alerting, ward_of=settings.processor.ward_of)
        self.failure = failure

    def on_reading(self, reading: VitalsReading, *, now_ms: int) -> ReadingOutcome:
        if reading.seq == BAD_SEQ:
            raise self.failure
        return super().on_reading(reading, now_ms=now_ms)


def _settings(broker: MosquittoServer, influx_url: str, db: str, state_dir: Path) -> Settings:
    return Settings(
        broker=BrokerSettings(url=broker.url),
        influx=InfluxSettings(url=influx_url, api="v1", db=db, flush_interval_s=0.1, timeout_s=2.0),
        processor=ProcessorSettings(client_id="proc-failures", state_dir=str(state_dir)),
    )


@contextmanager
def running(settings: Settings, core: ProcessorCore | None = None) -> Iterator[ProcessorService]:
    sink = build_sink(settings)
    service = ProcessorService(settings=settings, sink=sink, shutdown_flush_s=2.0, core=core)
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    assert service.ready.wait(10), "processor did not connect"
    try:
        yield service
    finally:
        stop.set()
        thread.join(40)
        sink.close()
        assert not thread.is_alive()


def _reading(seq: int) -> bytes:
    return encode_vitals(VitalsReading("p-1", "d-1", seq, int(time.time() * 1000) - 30_000 + seq * 1000, {"hr": 72.0}))


def _wait(predicate: object, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:  # an HTTPError holds the connection open until closed
            return exc.code, json.loads(exc.read())


def test_a_message_whose_handling_fails_is_set_aside_and_the_stream_goes_on(
    tmp_path: Path,
    mosquitto: MosquittoServer,
    influxd: InfluxServer,
    influx_db: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = _settings(mosquitto, influxd.url, influx_db, tmp_path)
    recorder = MqttRecorder(mosquitto.port, ["deadletter/v1/#"]).start()
    topic = vitals_topic("p-1", "d-1")
    payloads = [_reading(seq) for seq in range(7)]
    caplog.set_level(logging.INFO, logger="stream_processor.service")
    with running(settings, FailingCore(settings, KeyError("p-1"))) as service:
        for payload in payloads:
            recorder.publish(topic, payload)
        assert _wait(lambda: len(recorder.on("deadletter")) == 1)

        def stored() -> list[int]:
            return sorted(r["seq"] for r in influxd.rows(influx_db, "SELECT seq FROM vitals"))

        assert _wait(lambda: stored() == [0, 1, 2, 4, 5, 6]), stored()
        assert _wait(lambda: service.stats()["unacked"] == 0), service.stats()
        counts = dict(service.counts)
        metrics = service.metrics_text()
    recorder.stop()

    (letter,) = [decode_deadletter(m.payload) for m in recorder.on("deadletter")]
    assert (letter.reason, letter.topic, letter.field) == ("processing_failed", topic, None)
    assert letter.payload == payloads[BAD_SEQ]
    assert "KeyError" in letter.detail
    assert counts["processing_failed"] == 1
    assert counts["readings"] == 6
    assert "vitalstream_processing_failed_total 1\n" in metrics
    (failure,) = [r for r in caplog.records if r.getMessage() == "message processing failed"]
    assert failure.levelno == logging.ERROR
    assert failure.exc_info is not None
    assert failure.exc_info[0] is KeyError  # the traceback is in the log
    facts = vars(failure)  # the log call's extra= fields are attributes of the record
    assert (facts["topic_root"], facts["reason"], facts["error"]) == ("vitals", "processing_failed", "KeyError")
    assert not [r for r in caplog.records if payloads[BAD_SEQ].decode() in r.getMessage()]

    # Acknowledged, not just skipped: the same client id gets nothing redelivered.
    with running(settings) as again:
        time.sleep(1.5)
        assert again.counts["readings"] == 0
        assert not again.counts["processing_failed"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_health_turns_unhealthy_when_the_network_loop_dies(
    tmp_path: Path, mosquitto: MosquittoServer, influxd: InfluxServer, influx_db: str
) -> None:
    settings = _settings(mosquitto, influxd.url, influx_db, tmp_path)
    publisher = MqttRecorder(mosquitto.port, ["unused/#"], client_id="publisher").start()
    with running(settings, FailingCore(settings, Crash())) as service:
        http = ProcessorHttp(service, "127.0.0.1:0", None).start()
        try:
            base = f"http://127.0.0.1:{http.port}"
            status, body = _get(f"{base}/healthz")
            assert (status, body["status"], body["reasons"]) == (200, "ok", [])
            assert _get(f"{base}/readyz")[0] == 200
            for seq in range(BAD_SEQ):
                publisher.publish(vitals_topic("p-1", "d-1"), _reading(seq))
            # Once these are through, start-up is over and the next message goes straight to the network thread.
            assert _wait(lambda: service.counts["readings"] == BAD_SEQ)
            publisher.publish(vitals_topic("p-1", "d-1"), _reading(BAD_SEQ))
            assert _wait(lambda: _get(f"{base}/healthz")[0] == 503)
            status, body = _get(f"{base}/healthz")
            assert body["status"] == "network_loop_stopped"
            assert body["reasons"] == ["MQTT network loop stopped: no messages are received"]
            assert body["last_tick_s"] < 5  # the main loop still ticks: only the network loop is gone
            status, body = _get(f"{base}/readyz")
            assert status == 503
            assert "MQTT network loop stopped: no messages are received" in body["reasons"]
        finally:
            http.stop()
    publisher.stop()
