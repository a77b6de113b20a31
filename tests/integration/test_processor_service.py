"""The processor service against real Mosquitto and InfluxDB: dead letters, commands, nothing lost."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.observation import Observation

from stream_processor.main import build_sink
from stream_processor.service import ProcessorService
from tests.mqtt_recorder import MqttRecorder
from tests.servers import InfluxServer, MosquittoServer, free_port
from vitalstream.settings import BrokerSettings, InfluxSettings, LimitsSettings, ProcessorSettings, Settings
from vitalstream.wire import (
    AlertAction,
    AlertCommand,
    AlertState,
    Transition,
    VitalsReading,
    decode_alert_event,
    decode_alert_state,
    decode_command_result,
    decode_deadletter,
    encode_command,
    encode_vitals,
)
from vitalstream.wire.topics import command_topic, vitals_topic

pytestmark = pytest.mark.integration


def _settings(
    broker: MosquittoServer,
    influx_url: str,
    db: str,
    *,
    state_dir: Path,
    client_id: str = "proc-it",
    spool_mb: float = 512.0,
    fhir_vitals_every_s: float = 60.0,
) -> Settings:
    return Settings(
        broker=BrokerSettings(url=broker.url),
        influx=InfluxSettings(
            url=influx_url, api="v1", db=db, flush_interval_s=0.1, timeout_s=2.0, spool_max_mb=spool_mb
        ),
        limits=LimitsSettings(hr_delay_s=3.0),
        processor=ProcessorSettings(
            client_id=client_id, state_dir=str(state_dir), fhir_vitals_every_s=fhir_vitals_every_s
        ),
    )


@contextmanager
def running(settings: Settings) -> Iterator[ProcessorService]:
    """A processor service on a thread, as ``vitalstream process`` runs it, stopped on exit."""
    sink = build_sink(settings)
    service = ProcessorService(settings=settings, sink=sink, shutdown_flush_s=2.0)
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


def _reading(seq: int, hr: float = 72.0, patient: str = "p-1", device: str = "d-1") -> VitalsReading:
    return VitalsReading(patient, device, seq, int(time.time() * 1000) - 30_000 + seq * 1000, {"hr": hr})


def _wait(predicate: object, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_bad_messages_are_dead_lettered_counted_and_do_not_stop_the_stream(
    tmp_path: Path, mosquitto: MosquittoServer, influxd: InfluxServer, influx_db: str
) -> None:
    recorder = MqttRecorder(mosquitto.port, ["deadletter/v1/#"]).start()
    topic = vitals_topic("p-1", "d-1")
    good = encode_vitals(_reading(0))
    obj = json.loads(good)
    bad = {
        "malformed_json": b'{"v": 1, "seq": ',
        "out_of_range": json.dumps(obj | {"vitals": {"spo2": 101}}).encode(),
        "topic_mismatch": json.dumps(obj | {"patient": "p-2"}).encode(),
        "too_large": json.dumps(obj | {"pad": "x" * 9000}).encode(),
        "not_finite": good.replace(b'"hr":72.0', b'"hr":NaN'),
        "missing_field": json.dumps({k: v for k, v in obj.items() if k != "seq"}).encode(),
    }
    with running(_settings(mosquitto, influxd.url, influx_db, state_dir=tmp_path)) as service:
        recorder.publish(topic, good)
        for payload in bad.values():
            recorder.publish(topic, payload)
        recorder.publish(topic, encode_vitals(_reading(1)))
        assert _wait(lambda: len(recorder.on("deadletter")) == len(bad))
        assert _wait(lambda: len(influxd.rows(influx_db, "SELECT seq FROM vitals")) == 2), service.stats()
        counts = dict(service.counts)
    recorder.stop()

    letters = [decode_deadletter(m.payload) for m in recorder.on("deadletter")]
    assert {m.topic for m in recorder.on("deadletter")} == {"deadletter/v1/vitals"}
    assert [letter.reason for letter in letters] == list(bad)
    assert [letter.payload for letter in letters] == list(bad.values())
    assert all(letter.topic == topic and letter.detail for letter in letters)
    assert {k: v for k, v in counts.items() if k.startswith("rejected_")} == {f"rejected_{r}": 1 for r in bad}
    assert counts["readings"] == 2


def test_clinician_commands_over_mqtt_change_the_alert_everywhere(
    tmp_path: Path, mosquitto: MosquittoServer, influxd: InfluxServer, influx_db: str
) -> None:
    recorder = MqttRecorder(
        mosquitto.port, ["alerts/v1/#", "alert-events/v1/#", "deadletter/v1/#", "command-results/v1/#"]
    ).start()
    with running(_settings(mosquitto, influxd.url, influx_db, state_dir=tmp_path)) as service:
        for seq in range(6):
            recorder.publish(vitals_topic("p-1", "d-1"), encode_vitals(_reading(seq, hr=170.0)))
        raised = recorder.wait_for(lambda m: m.topic.startswith("alert-events/"))
        assert raised, "no alert raised"
        alert = decode_alert_event(raised[0].payload).alert
        now = int(time.time() * 1000)
        ack = AlertCommand("c-1", AlertAction.ACKNOWLEDGE, alert.alert_id, "p-1", "nurse-7", now)
        recorder.publish(command_topic("ward-1", "p-1"), encode_command(ack))
        recorder.publish(command_topic("ward-1", "p-1"), encode_command(ack))  # repeated: harmless
        unknown = AlertCommand("c-2", AlertAction.RESOLVE, "a-unknown", "p-1", "nurse-7", now)
        recorder.publish(command_topic("ward-1", "p-1"), encode_command(unknown))
        recorder.publish(command_topic("ward-1", "p-1"), b'{"v": 1, "action": "silence"}')
        assert _wait(lambda: len(recorder.on("alert-events")) == 2)
        assert _wait(lambda: len(recorder.on("deadletter")) == 1)
        assert _wait(lambda: len(recorder.on("command-results")) == 3)
        assert _wait(lambda: len(influxd.rows(influx_db, "SELECT * FROM alert_events")) == 2)
        counts = dict(service.counts)

    recorder.stop()
    events = [decode_alert_event(m.payload) for m in recorder.on("alert-events")]
    assert [(e.transition, e.event_no, e.by) for e in events] == [
        (Transition.RAISED, 1, None),
        (Transition.ACKNOWLEDGED, 2, "nurse-7"),
    ]
    latest_state = decode_alert_state(next(m for m in reversed(recorder.on("alerts")) if m.payload).payload)
    assert [(a.alert_id, a.state, a.acknowledged_by) for a in latest_state.alerts] == [
        (alert.alert_id, AlertState.ACKNOWLEDGED, "nurse-7")
    ]
    stored = influxd.rows(influx_db, "SELECT * FROM alert_events")
    assert [(r["transition"], r["by"]) for r in stored] == [("raised", "processor"), ("acknowledged", "nurse-7")]
    alerts = influxd.rows(influx_db, "SELECT * FROM alerts")
    assert [(r["alert_id"], r["state"]) for r in alerts] == [(alert.alert_id, "acknowledged")]
    assert counts["commands_refused_unknown_alert"] == 1
    assert counts["rejected_missing_field"] == 1
    # Every well-formed command is answered on command-results/v1/{ward}/{patient}, in order.
    answers = [decode_command_result(m.payload) for m in recorder.on("command-results")]
    assert {m.topic for m in recorder.on("command-results")} == {"command-results/v1/ward-1/p-1"}
    assert [(a.command_id, a.status.value, a.reason) for a in answers] == [
        ("c-1", "applied", None),
        ("c-1", "duplicate", None),
        ("c-2", "refused", "unknown_alert"),
    ]
    assert answers[2].detail


def test_readings_not_stored_are_redelivered_to_the_next_run(
    tmp_path: Path, mosquitto: MosquittoServer, influxd: InfluxServer, influx_db: str
) -> None:
    """Without a disk spool the processor acks only stored readings: with the store down, nothing is
    acked, and the broker redelivers everything to the next run."""
    dead_store = f"http://127.0.0.1:{free_port()}"
    publisher = MqttRecorder(mosquitto.port, ["unused/#"], client_id="publisher").start()
    with running(_settings(mosquitto, dead_store, influx_db, state_dir=tmp_path, spool_mb=0)) as service:
        for seq in range(20):
            publisher.publish(vitals_topic("p-1", "d-1"), encode_vitals(_reading(seq)))
        assert _wait(lambda: service.counts["readings"] == 20)
        assert service.stats()["unacked"] == 20
    # Same client id, working store: the broker redelivers all 20 unacknowledged readings.
    with running(_settings(mosquitto, influxd.url, influx_db, state_dir=tmp_path, spool_mb=0)):
        assert _wait(lambda: len(influxd.rows(influx_db, "SELECT seq FROM vitals")) == 20, timeout_s=15)
    publisher.stop()
    seqs = [r["seq"] for r in influxd.rows(influx_db, "SELECT seq FROM vitals")]
    assert sorted(seqs) == list(range(20))


def test_with_the_store_down_readings_wait_in_the_disk_spool_across_a_restart(
    tmp_path: Path, mosquitto: MosquittoServer, influxd: InfluxServer, influx_db: str
) -> None:
    """With the disk spool (the default), readings are acked once on local disk; the next run drains them."""
    dead_store = f"http://127.0.0.1:{free_port()}"
    publisher = MqttRecorder(mosquitto.port, ["unused/#"], client_id="publisher").start()
    with running(_settings(mosquitto, dead_store, influx_db, state_dir=tmp_path)) as service:
        for seq in range(20):
            publisher.publish(vitals_topic("p-1", "d-1"), encode_vitals(_reading(seq)))
        assert _wait(lambda: service.stats()["spooled_points"] == 20)
        assert _wait(lambda: service.stats()["unacked"] == 0)
    with running(_settings(mosquitto, influxd.url, influx_db, state_dir=tmp_path)) as service:
        assert _wait(lambda: len(influxd.rows(influx_db, "SELECT seq FROM vitals")) == 20, timeout_s=15)
        assert _wait(lambda: service.stats()["spooled_points"] == 0)
        assert service.counts["readings"] == 0  # nothing was redelivered: it came from the spool
    publisher.stop()
    seqs = [r["seq"] for r in influxd.rows(influx_db, "SELECT seq FROM vitals")]
    assert sorted(seqs) == list(range(20))


def test_alerts_and_vitals_are_published_as_valid_fhir_r4b_resources(
    tmp_path: Path, mosquitto: MosquittoServer, influxd: InfluxServer, influx_db: str
) -> None:
    models: dict[str, type[Observation | DetectedIssue | Communication]] = {
        "Observation": Observation,
        "DetectedIssue": DetectedIssue,
        "Communication": Communication,
    }
    recorder = MqttRecorder(mosquitto.port, ["fhir/v1/#", "alert-events/v1/#"]).start()
    with running(_settings(mosquitto, influxd.url, influx_db, state_dir=tmp_path, fhir_vitals_every_s=5)):
        for seq in range(8):
            recorder.publish(vitals_topic("p-1", "d-1"), encode_vitals(_reading(seq, hr=170.0)))
        assert _wait(lambda: len(recorder.on("fhir")) >= 3)
        time.sleep(0.5)
    recorder.stop()
    published = recorder.on("fhir")
    resources = [json.loads(m.payload) for m in published]
    for message, resource in zip(published, resources, strict=True):
        assert message.topic == f"fhir/v1/ward-1/p-1/{resource['resourceType']}"
        models[resource["resourceType"]].model_validate(resource)  # raises on anything invalid
    kinds = [r["resourceType"] for r in resources]
    # Vitals once per period per device, at the device's own phase: 8 s of readings, a 5 s period.
    assert 1 <= kinds.count("Observation") <= 2
    observation = next(r for r in resources if r["resourceType"] == "Observation")
    assert observation["code"]["coding"][0]["code"] == "8867-4"
    assert observation["valueQuantity"]["value"] == 170.0
    # The raised alert: a DetectedIssue and the Communication that paged.
    (issue,) = [r for r in resources if r["resourceType"] == "DetectedIssue"]
    (page,) = [r for r in resources if r["resourceType"] == "Communication"]
    alert = decode_alert_event(recorder.on("alert-events")[0].payload).alert
    assert issue["id"] == alert.alert_id
    assert issue["severity"] == "high"
    assert page["about"][0]["reference"] == f"DetectedIssue/{alert.alert_id}"
