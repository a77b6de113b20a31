"""``vitalstream bench processor``: sustained throughput, the bare-subscriber ceiling, alert latency, state size.

Measured, never asserted, all against one real Mosquitto (``--broker``, or one started here):

- **ceiling**: a bare paho-mqtt subscriber (QoS 1, persistent session, auto-ack) drains a backlog of
  readings the broker queued for it while it was away; readings received per second.
- **readings_per_s**: the real ``vitalstream process`` (a separate process, storing to SQLite, acking
  only after each reading's points are stored) drains the same kind of backlog; readings stored per
  second. Draining a backlog is the processor's sustained maximum: it never waits for input.
- **p50/p99 latency** at half that load: simulated patients at 1 Hz (as many as half the sustained rate),
  a few of them alternating between normal and 170/min so that readings raise alerts at once (condition
  delay 0 for the benchmark); latency from the publish of the reading to the arrival of its alert event
  at a subscriber.
- **state_bytes_per_patient**: the pickled per-patient state after 15 simulated minutes (what a
  checkpoint holds).
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.scenarios import parse_scenarios
from edge_agent.simulator import SimulatedWard
from stream_processor.core import ProcessorCore
from vitalstream.settings import AlertingSettings, BrokerAddress, LimitsSettings, parse_broker_url
from vitalstream.wire import VitalsReading, encode_vitals, parse_ts
from vitalstream_app.bench.machine import machine

__all__ = ["bench_processor"]

_T0_MS = 1_790_000_000_000


def _reading_payload(patient: str, device: str, seq: int, ts_ms: int, hr: float) -> tuple[str, bytes]:

    reading = VitalsReading(
        patient, device, seq, ts_ms, {"hr": hr, "spo2": 97.0, "rr": 15.0, "temp": 36.8}, sqi={"ecg": 0.97, "ppg": 0.93}
    )
    return f"vitals/v1/{patient}/{device}", encode_vitals(reading)


def _client(address: BrokerAddress, client_id: str, *, persistent: bool = False) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    if address.username:
        client.username_pw_set(address.username, address.password)

    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.ReceiveMaximum = 65535
    if persistent:
        props.SessionExpiryInterval = 3600
    client.connect(address.host, address.port, clean_start=not persistent, properties=props)
    return client


def _publish_backlog(url: str, patients: int, seconds: int, start_seq: int) -> None:
    """Publish ``patients x seconds`` readings as fast as the broker takes them (before any timing starts)."""
    address = parse_broker_url(url)
    client = _client(address, f"bench-pub-{os.getpid()}")
    client.loop_start()
    infos = []
    for second in range(seconds):
        for p in range(patients):
            topic, payload = _reading_payload(f"b-{p}", f"bd-{p}", start_seq + second, _T0_MS + second * 1000, 72.0)
            infos.append(client.publish(topic, payload, qos=1))
        while len(infos) > 5000:
            infos.pop(0).wait_for_publish(30)
    for info in infos:
        info.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()


def _fill(url: str, patients: int, seconds: int, start_seq: int) -> None:
    _publish_backlog(url, patients, seconds, start_seq)


def _ceiling(url: str, patients: int, seconds: int) -> float:
    address = parse_broker_url(url)
    total = patients * seconds
    received = [0]
    done = threading.Event()
    first: list[float] = []

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        if not first:
            first.append(time.perf_counter())
        received[0] += 1
        if received[0] >= total:
            done.set()

    client = _client(address, "bench-ceiling", persistent=True)
    client.subscribe("vitals/v1/+/+", qos=1)
    client.loop_start()
    time.sleep(0.5)
    client.disconnect()
    client.loop_stop()
    _fill(url, patients, seconds, 0)
    client = _client(address, "bench-ceiling", persistent=True)
    client.on_message = on_message
    client.loop_start()
    done.wait(300)
    elapsed = time.perf_counter() - first[0] if first else float("inf")
    client.disconnect()
    client.loop_stop()
    return received[0] / elapsed


def _processor(url: str, workdir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "vitalstream",
        "--log-format",
        "json",
        "process",
        "--broker",
        url,
        "--client-id",
        "bench-processor",
        "--sqlite",
        str(workdir / "store.sqlite"),
        "--state-dir",
        str(workdir / "state"),
    ]
    log = (workdir / "processor.log").open("ab")
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log, env=env, cwd=workdir)  # noqa: S603


def _wait_for_log(workdir: Path, event: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = (workdir / "processor.log").read_text(errors="replace")
        if f'"event":"{event}"' in text:
            return
        time.sleep(0.05)
    raise RuntimeError(f"processor did not log {event!r}; see {workdir / 'processor.log'}")


def _stored(workdir: Path) -> int:
    try:
        with sqlite3.connect(workdir / "store.sqlite", timeout=5) as db:
            (count,) = db.execute("SELECT count(*) FROM points WHERE measurement = 'vitals'").fetchone()
    except sqlite3.Error:
        return 0
    return int(count)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def _sustained(url: str, workdir: Path, env: dict[str, str], patients: int, seconds: int) -> float:
    process = _processor(url, workdir, env)
    _wait_for_log(workdir, "connected, subscribed")
    _stop(process)  # the persistent session now exists: the broker queues for it
    _fill(url, patients, seconds, 0)
    total = patients * seconds
    process = _processor(url, workdir, env)
    # The clock starts when the processor starts handling readings (after start-up and the reconciliation
    # with the retained alert states), and stops when the last reading's point is stored.
    _wait_for_log(workdir, "retained alert states adopted")
    first = time.perf_counter()
    last = 0.0
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if _stored(workdir) >= total:
            last = time.perf_counter()
            break
        time.sleep(0.01)
    _stop(process)
    return total / (last - first) if last > first else 0.0


def _latency(url: str, workdir: Path, env: dict[str, str], rate_per_s: float, seconds: int) -> dict[str, Any]:
    patients = max(10, int(rate_per_s))
    togglers = max(5, patients // 100)
    address = parse_broker_url(url)
    sent: dict[tuple[str, int], float] = {}
    latencies: list[float] = []
    lock = threading.Lock()

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        arrived = time.time()
        event = orjson.loads(message.payload)
        if event["transition"] not in {"raised", "updated"}:
            return

        key = (event["alert"]["patient"], parse_ts(event["alert"]["updated"]))
        with lock:
            published = sent.get(key)
        if published is not None:
            latencies.append(arrived - published)

    station = _client(address, "bench-station")
    station.on_message = on_message
    station.subscribe("alert-events/v1/+/+", qos=1)
    station.loop_start()
    process = _processor(url, workdir, env)
    _wait_for_log(workdir, "connected, subscribed")
    time.sleep(2)
    publisher = _client(address, "bench-load")
    publisher.loop_start()
    start = time.time()
    seq0 = 10_000_000
    for second in range(seconds):
        tick = start + second
        ts_ms = _T0_MS + (seq0 + second) * 1000
        for p in range(patients):
            # Spread the patients over the second, like independent devices.
            target = tick + p / patients
            delay = target - time.time()
            if delay > 0.002:
                time.sleep(delay)
            toggler = p < togglers
            hr = 170.0 if toggler and (second // 4) % 2 == 1 else 72.0
            topic, payload = _reading_payload(f"b-{p}", f"bd-{p}", seq0 + second, ts_ms, hr)
            if toggler:
                with lock:
                    sent[(f"b-{p}", ts_ms)] = time.time()
            publisher.publish(topic, payload, qos=1)
    time.sleep(3)
    publisher.disconnect()
    publisher.loop_stop()
    station.disconnect()
    station.loop_stop()
    _stop(process)
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2) if ordered else float("nan")

    return {
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "latency_samples": len(ordered),
        "load_per_s": patients,
        "load_seconds": seconds,
    }


def _state_bytes() -> float:

    core = ProcessorCore(limits=LimitsSettings(), alerting=AlertingSettings(), ward_of=lambda _p: "ward-1")
    ward = SimulatedWard(parse_scenarios("mixed", patients=200), seed=3, start_ms=_T0_MS)
    for reading in ward.readings_until(_T0_MS + 15 * 60_000):
        core.on_reading(reading, now_ms=reading.ts_ms)
    sizes = [len(pickle.dumps(state, protocol=5)) for state in core.patients.values()]
    return round(sum(sizes) / len(sizes), 1)


def _local_broker(workdir: Path) -> tuple[str, subprocess.Popen[bytes]]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        raise RuntimeError("no --broker given and no mosquitto installed to start one")

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    policy = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto" / "conf.d"
    config = workdir / "mosquitto.conf"
    user = "root" if os.geteuid() == 0 else os.environ.get("USER", "nobody")
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nuser {user}\npersistence false\ninclude_dir {policy}\n"
    )
    command = [binary, "-c", str(config)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    return f"mqtt://127.0.0.1:{port}", process


def bench_processor(
    broker_url: str | None, *, patients: int = 500, seconds: int = 60, load_s: int = 30
) -> dict[str, Any]:
    """Run every measurement (see the module docstring) and return the JSON-ready result."""

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker = None
        url = broker_url
        if url is None:
            url, broker = _local_broker(workdir)
        env = {k: v for k, v in os.environ.items() if not k.startswith("VITALSTREAM_")}
        env.update(
            VITALSTREAM_LIMITS_HR_DELAY_S="0",
            VITALSTREAM_LIMITS_CLEAR_DELAY_S="0",
            VITALSTREAM_ALERTING_REOPEN_WITHIN_S="0",
            VITALSTREAM_PROCESSOR_CHECKPOINT_EVERY_S="30",
        )
        try:
            ceiling = _ceiling(url, patients, seconds)
            sustained = _sustained(url, workdir, env, patients, seconds)
            latency = _latency(url, workdir, env, sustained / 2, load_s)
        finally:
            if broker is not None:
                broker.terminate()
                broker.wait(10)
    return {
        "machine": machine(),
        "readings_per_s": round(sustained, 1),
        "ceiling_per_s": round(ceiling, 1),
        "ratio": round(sustained / ceiling, 3) if ceiling else None,
        **latency,
        "state_bytes_per_patient": _state_bytes(),
        "backlog": {"patients": patients, "seconds": seconds, "readings": patients * seconds},
        "receive_path": "paho-mqtt, manual ack after the reading's points are stored (SQLite) and alerts PUBACKed",
    }
