"""``vitalstream bench edge``: model latency per window, and the agent's CPU, memory and bandwidth.

Two parts, both measured, never asserted (the tests do not time anything):

- **models**: each model's inference on real windows (MIT-BIH record 208 and BIDMC 01 when the
  data is there, the waveform simulator otherwise), one thread, p50/p99 per window over many runs.
  Windows: QRS = 1 s of samples pushed to the streaming detector; beats = one beat (features +
  ONNX); rhythm = 30 s of beat times; sqi = one ECG window; ppg_hr = one PPG window.
- **agent**: a real ``vitalstream edge`` process replaying a 360 Hz two-lead record in real time
  to a broker; CPU % of one core and peak RSS from ``/proc``, bytes published per second (topic +
  payload, counted by a subscriber) divided by the raw waveform bytes per second (2 leads x 360 Hz
  x 2 bytes, the 16-bit samples a device would otherwise stream).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt

from edge_agent.dsp import Array
from edge_agent.models import ppg_hr as ppg_module
from edge_agent.models import rhythm as rhythm_module
from edge_agent.models import sqi as sqi_module
from edge_agent.models.beats import beat_features
from edge_agent.models.qrs import StreamingQrsDetector, detect_qrs
from edge_agent.pipeline import EdgeModels
from edge_agent.records import read_bidmc_signals, read_record
from edge_agent.waveform_sim import EcgPpgGenerator
from vitalstream.mqtt import connect_async, make_client
from vitalstream.settings import BrokerSettings

__all__ = ["bench_agent", "bench_models"]


def _percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = np.asarray(samples_s) * 1000.0
    return {"p50_ms": round(float(np.percentile(ms, 50)), 4), "p99_ms": round(float(np.percentile(ms, 99)), 4)}


def _ecg_source(data: Path | None) -> tuple[Array, float, str]:
    if data is not None and (data / "mitdb" / "208.hea").exists():
        record = read_record(data / "mitdb" / "208")
        return record.channel(0)[: 360 * 300], record.fs, "mitdb/208 MLII"

    gen = EcgPpgGenerator(ecg_fs=360.0, ppg_fs=125.0, rng=random.Random(1))
    ecg = np.concatenate([gen.render_second(s, hr_bpm=80.0, pvc_every=5)[0] for s in range(300)])
    return ecg, 360.0, "simulated"


def _ppg_source(data: Path | None) -> tuple[Array, float, str]:
    signals = None if data is None else data / "bidmc" / "bidmc_csv" / "bidmc_01_Signals.csv"
    if signals is not None and signals.exists():
        record = read_bidmc_signals(signals)
        return record.channel(record.channels.index("PLETH")), record.fs, "bidmc_01 PLETH"

    gen = EcgPpgGenerator(ecg_fs=360.0, ppg_fs=125.0, rng=random.Random(2))
    return np.concatenate([gen.render_second(s, hr_bpm=80.0)[1] for s in range(120)]), 125.0, "simulated"


def bench_models(data: Path | None, *, repeats: int = 300) -> dict[str, Any]:
    """Latency per window for every edge model, one thread."""

    models = EdgeModels.load()
    ecg, fs, ecg_source = _ecg_source(data)
    ppg, ppg_fs, ppg_source = _ppg_source(data)
    peaks = detect_qrs(ecg, fs)
    results: dict[str, Any] = {}

    detector = StreamingQrsDetector(fs)
    timings = []
    chunk = int(fs)
    for start in range(0, len(ecg) - chunk, chunk):
        t = time.perf_counter()
        detector.push(ecg[start : start + chunk])
        timings.append(time.perf_counter() - t)
    results["qrs"] = _percentiles(timings)

    timings = []
    for i in range(repeats):
        target = 300 + (i % (len(peaks) - 302))
        lo = max(0, int(peaks[target]) - int(40 * fs))
        window = ecg[lo : int(peaks[target + 1]) + int(fs)]
        t = time.perf_counter()
        features = beat_features(window, fs, peaks - lo, np.asarray([target], dtype=np.int64))
        models.beats.predict_proba(features)
        timings.append(time.perf_counter() - t)
    results["beats"] = _percentiles(timings)

    timings = []
    times_s = peaks / fs
    for i in range(repeats):
        end = 40.0 + (i * 0.7) % (times_s[-1] - 45.0)
        window = times_s[(times_s > end - rhythm_module.WINDOW_S) & (times_s <= end)] - (end - rhythm_module.WINDOW_S)
        t = time.perf_counter()
        models.rhythm.predict(window, None)
        timings.append(time.perf_counter() - t)
    results["rhythm"] = _percentiles(timings)

    timings = []
    n = int(sqi_module.WINDOW_S * fs)
    for i in range(repeats):
        start = (i * int(fs)) % (len(ecg) - n)
        t = time.perf_counter()
        models.sqi.score(ecg[start : start + n], fs)
        timings.append(time.perf_counter() - t)
    results["sqi"] = _percentiles(timings)

    timings = []
    n = int(ppg_module.WINDOW_S * ppg_fs)
    for i in range(repeats):
        start = (i * int(ppg_fs)) % (len(ppg) - n)
        t = time.perf_counter()
        ppg_module.ppg_heart_rate(ppg[start : start + n], ppg_fs)
        timings.append(time.perf_counter() - t)
    results["ppg_hr"] = _percentiles(timings)
    return {"models": results, "inputs": {"ecg": ecg_source, "ppg": ppg_source}}


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def _proc_rss_mb(pid: int, key: str = "VmHWM") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _child_env(broker: BrokerSettings) -> dict[str, str]:
    """The agent's broker credentials go to the child in its environment, never on its command line."""
    env = dict(os.environ)
    given = {
        "USERNAME": broker.address.username,
        "PASSWORD": broker.address.password,
        "CA_FILE": broker.ca_file,
        "CERT_FILE": broker.cert_file,
        "KEY_FILE": broker.key_file,
    }
    for option, value in given.items():
        if value is not None:
            env.pop(f"VITALSTREAM_BROKER_{option}_FILE", None)
            env[f"VITALSTREAM_BROKER_{option}"] = value
    return env


def bench_agent(
    broker: BrokerSettings,
    data: Path | None,
    *,
    seconds: int = 60,
    warmup_s: int = 10,
    counter: BrokerSettings | None = None,
) -> dict[str, Any]:
    """Run a real edge agent streaming one 360 Hz two-lead record in real time; measure it from outside.

    ``counter`` is the identity that counts the published bytes (it must read vitals and events); by default
    the agent's own settings, which suits a broker without access control only.
    """

    record = None if data is None else data / "mitdb" / "208.hea"
    source = f"replay:{record}" if record is not None and record.exists() else "sim"
    counted = {"bytes": 0, "messages": 0}
    lock = threading.Lock()

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with lock:
            # What crosses the link: topic and payload (the fixed MQTT header adds a few bytes more).
            counted["bytes"] += len(message.topic) + len(message.payload)
            counted["messages"] += 1

    counter_settings = counter or broker
    client = make_client(counter_settings, client_id="bench-edge-counter", persistent=False)
    client.on_connect = lambda c, *_: c.subscribe([("vitals/v1/#", 1), ("events/v1/#", 1)])
    client.on_message = on_message
    connect_async(client, counter_settings, persistent=False)
    client.loop_start()
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            sys.executable,
            "-m",
            "vitalstream",
            "--log-level",
            "warning",
            "edge",
            "--broker",
            broker.display_url,
            "--source",
            source,
            "--patients",
            "1",
            "--duration",
            str(seconds + warmup_s),
            "--spool",
            str(Path(tmp) / "bench.spool.sqlite"),
            "--client-id",
            "bench-edge",
            "--mqtt-protocol",
            broker.protocol,
        ]
        agent = subprocess.Popen(  # noqa: S603 -- our own interpreter and module
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_child_env(broker)
        )
        time.sleep(warmup_s)
        cpu0, wall0 = _proc_cpu_s(agent.pid), time.monotonic()
        with lock:
            bytes0 = counted["bytes"]
        time.sleep(seconds)
        cpu1, wall1 = _proc_cpu_s(agent.pid), time.monotonic()
        rss = _proc_rss_mb(agent.pid)
        with lock:
            bytes1 = counted["bytes"]
        agent.wait(timeout=60)
    client.disconnect()
    client.loop_stop()
    raw_bytes_per_s = 2 * 360 * 2
    published_per_s = (bytes1 - bytes0) / (wall1 - wall0)
    return {
        "cpu_percent": round(100.0 * (cpu1 - cpu0) / (wall1 - wall0), 2),
        "rss_mb": round(rss, 1),
        "bytes_ratio": round(published_per_s / raw_bytes_per_s, 4),
        "published_bytes_per_s": round(published_per_s, 1),
        "raw_bytes_per_s": raw_bytes_per_s,
        "agent_source": source.split(":", 1)[0] + (" mitdb/208 (2 leads, 360 Hz)" if source != "sim" else ""),
        "seconds": seconds,
    }
