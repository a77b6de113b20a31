"""``vitalstream bench influx``: points/s our writer sustains into a real InfluxDB, against a raw HTTP loop.

Measured, never asserted, in one run against one server (``--influx-url``, ``--influx-api``):

- **points_per_s**: the real write path. Vitals points of many simulated patients are submitted one
  reading at a time (as the processor does, each with its own token) to a
  :class:`~alerts.writer.BatchingWriter` in front of the sink the processor builds
  (:func:`alerts.influx.make_influx_sink`: v1 ``/write``, or the official client's v2 write API). The
  clock runs from the first submit until the last point is reported durable.
- **raw_points_per_s**: the ceiling. The same points, rendered to line protocol before the clock starts
  and cut into bodies of the same batch size, POSTed one after another over one keep-alive
  ``http.client`` connection to the same endpoint (``/write`` or ``/api/v2/write``).
- **ratio**: the median over rounds of writer/raw measured in the same round. The machine is shared
  and noisy, so only ratios within one run mean much; rounds alternate which path goes first.

Each path writes each round into its own fresh database (v2: the bucket of that name),
``vitalstream_bench_<round>w`` and ``..._<round>r``, so nothing overwrites anything and the user's own
database or bucket is never touched. Afterwards an InfluxQL ``count()`` per database checks that every
point landed exactly once, and the bench databases are dropped. They are made with InfluxQL
``CREATE DATABASE``, which InfluxDB 1.x answers (also 1.8+ serving the v2 API); InfluxDB 2.x/3.x cannot
create buckets that way, so there the bench stops with the server's refusal.

>>> [p.line()[:40] for p in vitals_points(points=2, patients=2)]
['vitals,device=d-00000,patient=p-00000 hr', 'vitals,device=d-00001,patient=p-00001 hr']
"""

from __future__ import annotations

import contextlib
import http.client
import random
import re
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
import urllib3

from alerts.influx import make_influx_sink
from alerts.influxql import ensure_database, query
from alerts.points import VitalsPoint
from alerts.sinks import SinkError, SinkUnavailable, classify_status
from alerts.writer import BatchingWriter
from vitalstream.settings import InfluxSettings
from vitalstream.wire import Rhythm, VitalsReading
from vitalstream_app.bench.machine import machine

__all__ = ["BENCH_DATABASE", "bench_influx", "vitals_points"]

BENCH_DATABASE = "vitalstream_bench"
_T0_MS = 1_790_000_000_000
_NAME = re.compile(r"[A-Za-z0-9_]+")


def vitals_points(*, points: int, patients: int = 500, seed: int = 11, t0_ms: int = _T0_MS) -> list[VitalsPoint]:
    """``points`` vitals points of ``patients`` patients at 1 Hz, in arrival order; (patient, time) never repeats.

    Each patient has a stable baseline with second-to-second noise; every third wears an ECG patch and
    also reports rhythm and beat counts, so the lines are as long as those the processor really writes.
    """
    rng = random.Random(seed)  # noqa: S311 -- simulated vitals, not cryptography
    ward = []
    for p in range(patients):
        baseline = {
            "hr": rng.uniform(55, 100),
            "spo2": rng.uniform(93, 99),
            "rr": rng.uniform(12, 20),
            "temp": rng.uniform(36.3, 37.4),
            "sbp": rng.uniform(105, 140),
            "dbp": rng.uniform(60, 90),
        }
        ward.append((f"p-{p:05d}", f"d-{p:05d}", baseline, p % 3 == 0))
    result: list[VitalsPoint] = []
    second = 0
    while len(result) < points:
        ts_ms = t0_ms + second * 1000
        for patient, device, baseline, ecg_patch in ward[: points - len(result)]:
            vitals = {key: round(value + rng.gauss(0, 0.8), 1) for key, value in baseline.items()}
            vitals["spo2"] = min(vitals["spo2"], 100.0)
            sqi = {"ecg": round(rng.uniform(0.8, 1.0), 2), "ppg": round(rng.uniform(0.7, 1.0), 2)}
            rhythm = Rhythm("N", round(rng.uniform(0.9, 1.0), 3)) if ecg_patch else None
            beats = {"N": round(vitals["hr"] / 60)} if ecg_patch else {}
            reading = VitalsReading(patient, device, second, ts_ms, vitals, sqi=sqi, rhythm=rhythm, beats=beats)
            result.append(VitalsPoint(reading))
        second += 1
    return result


def _auth_headers(settings: InfluxSettings) -> dict[str, str]:
    """The same credentials the sinks and ``alerts.influxql`` send."""
    if settings.username:
        return dict(urllib3.make_headers(basic_auth=f"{settings.username}:{settings.password or ''}"))
    if settings.token:
        return {"Authorization": f"Token {settings.token}"}
    return {}


@dataclass(frozen=True, slots=True)
class _Endpoint:
    """Where the raw loop POSTs: the write endpoint our sink uses for ``settings``, with the same auth."""

    scheme: str
    host: str
    port: int | None
    path: str
    headers: dict[str, str]

    @classmethod
    def for_settings(cls, settings: InfluxSettings) -> _Endpoint:
        url = urlsplit(settings.url)
        if settings.api == "v1":
            params = {"db": settings.db, "precision": "ms"}
            path = f"{url.path.rstrip('/')}/write?{urlencode(params)}"
        else:
            params = {"org": settings.org, "bucket": settings.bucket, "precision": "ms"}
            path = f"{url.path.rstrip('/')}/api/v2/write?{urlencode(params)}"
        headers = {"Content-Type": "text/plain; charset=utf-8", **_auth_headers(settings)}
        return cls(url.scheme, url.hostname or "127.0.0.1", url.port, path, headers)

    def connect(self, timeout_s: float) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        return kind(self.host, self.port, timeout=timeout_s)


def _raw_loop(endpoint: _Endpoint, bodies: Sequence[bytes], timeout_s: float) -> float:
    """POST every body in turn over one keep-alive connection; seconds from the first request to the last answer."""
    connection = endpoint.connect(timeout_s)
    try:
        start = time.perf_counter()
        for body in bodies:
            connection.request("POST", endpoint.path, body=body, headers=endpoint.headers)
            response = connection.getresponse()
            answer = response.read()
            if response.status != 204:
                raise classify_status(
                    response.status, answer.decode(errors="replace"), retry_after=response.getheader("Retry-After")
                )
        return time.perf_counter() - start
    except (OSError, http.client.HTTPException) as exc:
        raise SinkUnavailable(f"InfluxDB unreachable: {type(exc).__name__}") from exc
    finally:
        connection.close()


@dataclass(frozen=True, slots=True)
class _WriterRun:
    seconds: float
    sink: str
    batches: int
    retries: int
    rejected_points: int


def _writer_path(settings: InfluxSettings, points: Sequence[VitalsPoint], batch_size: int) -> _WriterRun:
    """Submit ``points`` one reading at a time; seconds from the first submit until all are reported durable."""
    sink = make_influx_sink(settings)
    durable = [0]

    def on_durable(tokens: list[object]) -> None:
        durable[0] += len(tokens)

    writer = BatchingWriter(
        sink, batch_size=batch_size, flush_interval_s=settings.flush_interval_s, on_durable=on_durable
    )
    writer.start()
    # Generous: a slow store makes a slow result, not a failure; only a store that stops taking points fails.
    timeout_s = max(60.0, len(points) / 1000)
    try:
        start = time.perf_counter()
        for token, point in enumerate(points):
            writer.submit((point,), token)
        # Returns once the queue is empty and the last batch's tokens have been reported durable.
        flushed = writer.flush(timeout_s)
        seconds = time.perf_counter() - start
    finally:
        writer.stop(timeout_s=1.0)
        sink.close()
    if not flushed or durable[0] != len(points):
        raise SinkUnavailable(
            f"the writer stored {durable[0]} of {len(points)} benchmark points within {timeout_s:.0f} s"
        )
    stats = writer.stats
    return _WriterRun(seconds, type(sink).__name__, stats.batches, stats.retries, stats.rejected_points)


def _post_statement(settings: InfluxSettings, statement: str) -> None:
    """An InfluxQL statement that changes something (``DROP DATABASE``), which InfluxDB wants as a POST."""
    url = f"{settings.url.rstrip('/')}/query?{urlencode({'q': statement})}"
    try:
        response = urllib3.request(
            "POST", url, headers=_auth_headers(settings), timeout=settings.timeout_s, retries=False
        )
    except urllib3.exceptions.HTTPError as exc:
        raise SinkUnavailable(f"InfluxDB unreachable: {type(exc).__name__}") from exc
    text = response.data.decode(errors="replace")
    if response.status != 200:
        raise classify_status(response.status, text, retry_after=response.headers.get("Retry-After"))
    for result in orjson.loads(response.data).get("results", []):
        if "error" in result:
            raise classify_status(400, str(result["error"]), retry_after=None)


def _fresh_database(settings: InfluxSettings, name: str) -> None:
    _post_statement(settings, f'DROP DATABASE "{name}"')  # what an interrupted run may have left
    ensure_database(replace(settings, db=name))


def _count(settings: InfluxSettings, database: str) -> int:
    rows = query(replace(settings, db=database), "SELECT count(seq) FROM vitals")
    return int(rows[0]["count"]) if rows else 0


def _server_version(settings: InfluxSettings) -> str | None:
    try:
        response = urllib3.request("GET", f"{settings.url.rstrip('/')}/ping", timeout=settings.timeout_s, retries=False)
    except urllib3.exceptions.HTTPError:
        return None
    version = response.headers.get("X-Influxdb-Version")
    return str(version) if version else None


def _round(
    r: int,
    settings: InfluxSettings,
    *,
    names: dict[str, str],
    data: Sequence[VitalsPoint],
    bodies: Sequence[bytes],
    batch_size: int,
) -> tuple[dict[str, Any], _WriterRun]:
    """One measurement of each path, into its own database; returns the round's rates and the writer's counters."""
    seconds: dict[str, float] = {}
    run: _WriterRun | None = None
    # Alternate which path goes first, so a drift of the shared machine favours neither.
    order = ("writer", "raw") if r % 2 == 0 else ("raw", "writer")
    for path in order:
        target = replace(settings, db=names[path], rp="", bucket=names[path])
        if path == "writer":
            run = _writer_path(target, data, batch_size)
            seconds[path] = run.seconds
        else:
            seconds[path] = _raw_loop(_Endpoint.for_settings(target), bodies, settings.timeout_s)
    assert run is not None
    writer_rate, raw_rate = len(data) / seconds["writer"], len(data) / seconds["raw"]
    rates = {
        "order": list(order),
        "points_per_s": round(writer_rate, 1),
        "raw_points_per_s": round(raw_rate, 1),
        "ratio": round(writer_rate / raw_rate, 3),
    }
    return rates, run


def bench_influx(
    settings: InfluxSettings,
    *,
    points: int = 100_000,
    batch_size: int | None = None,
    rounds: int = 3,
    patients: int = 500,
    database: str = BENCH_DATABASE,
    query_url: str | None = None,
    keep: bool = False,
) -> dict[str, Any]:
    """Run both paths ``rounds`` times (see the module docstring) and return the JSON-ready result.

    ``settings`` says where and how to write (url, api, credentials, org); its database and bucket are not
    written. ``batch_size`` defaults to the processor's (``settings.batch_size``). ``query_url`` is where
    InfluxQL (create, count, drop) goes if not to ``settings.url``, e.g. when a v2 gateway fronts a 1.x.
    """

    if not _NAME.fullmatch(database):
        raise ValueError(f"bench database name must match [A-Za-z0-9_]+, got {database!r}")
    if points < 1 or rounds < 1:
        raise ValueError(f"points and rounds must be positive, got points={points} rounds={rounds}")
    batch = batch_size or settings.batch_size
    influxql = replace(settings, url=query_url or settings.url, api="v1", rp="")
    names = [{"writer": f"{database}_{r}w", "raw": f"{database}_{r}r"} for r in range(rounds)]
    created: list[str] = []
    per_round: list[dict[str, Any]] = []
    runs: list[_WriterRun] = []
    try:
        # Before the points are made, so that a store that is down or refuses fails the bench at once.
        for name in (name for pair in names for name in pair.values()):
            _fresh_database(influxql, name)
            created.append(name)
        data = vitals_points(points=points, patients=patients)
        # Rendered before any clock starts and joined as the sinks join them: the raw loop sends the same bytes.
        bodies = ["\n".join(p.line() for p in data[i : i + batch]).encode() for i in range(0, points, batch)]
        for r in range(rounds):
            rates, run = _round(r, settings, names=names[r], data=data, bodies=bodies, batch_size=batch)
            per_round.append(rates)
            runs.append(run)
        counts = {path: [_count(influxql, pair[path]) for pair in names] for path in ("writer", "raw")}
    finally:
        if not keep:
            for name in created:
                # If the server went away this fails too; the next run drops leftovers before it starts.
                with contextlib.suppress(SinkError):
                    _post_statement(influxql, f'DROP DATABASE "{name}"')
    return {
        "points_per_s": round(statistics.median(r["points_per_s"] for r in per_round), 1),
        "raw_points_per_s": round(statistics.median(r["raw_points_per_s"] for r in per_round), 1),
        "ratio": round(statistics.median(r["ratio"] for r in per_round), 3),
        "target_ratio": 0.8,
        "rounds": per_round,
        "api": settings.api,
        "sink": runs[0].sink,
        "points": points,
        "batch_size": batch,
        "patients": min(patients, points),
        "bytes_per_point": round(sum(len(b) for b in bodies) / points, 1),
        "counts": counts,
        "all_landed": all(count == points for path in counts.values() for count in path),
        "writer": {
            "batches": sum(r.batches for r in runs),
            "retries": sum(r.retries for r in runs),
            "rejected_points": sum(r.rejected_points for r in runs),
        },
        "influxdb_version": _server_version(influxql),
        "machine": machine(),
    }
