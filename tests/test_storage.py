"""Points, line protocol, the batching writer (with a fake sink) and the SQLite store."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from alerts.points import AnyPoint, Point, alert_event_point, alert_point, vitals_point
from alerts.sinks import SinkRejected, SinkUnavailable, SqlitePointStore, classify_status
from alerts.spool import DiskSpool
from alerts.writer import BatchingWriter
from vitalstream.wire import (
    Alert,
    AlertEvent,
    AlertExplanation,
    AlertState,
    Fault,
    Priority,
    Rhythm,
    Transition,
    VitalsReading,
)

T0 = 1_790_000_000_000


def test_line_protocol_escapes_keys_tags_and_strings() -> None:
    point = Point(
        "alert events",
        (("patient", "p,1"), ("ward", "icu=2")),
        (("summary", 'HR "high"\nnow'), ("ok", True), ("n", 3), ("x", 1.5)),
        T0,
    )
    assert point.line() == (
        'alert\\ events,patient=p\\,1,ward=icu\\=2 summary="HR \\"high\\" now",ok=true,n=3i,x=1.5 1790000000000'
    )


def test_vitals_point_has_low_cardinality_tags_and_every_value_as_a_field() -> None:
    reading = VitalsReading("p-1", "d-1", 9, T0, {"hr": 72.0, "spo2": 97.0}, {"ecg": 0.9}, Rhythm("AF", 0.8), {"V": 2})
    point = vitals_point(reading)
    assert point.tags == (("device", "d-1"), ("patient", "p-1"))
    assert dict(point.fields) == {
        "hr": 72.0,
        "spo2": 97.0,
        "seq": 9,
        "sqi_ecg": 0.9,
        "rhythm": "AF",
        "rhythm_p": 0.8,
        "beats_V": 2,
    }
    assert point.time_ms == T0


def _alert(state: AlertState = AlertState.ACTIVE, priority: Priority = Priority.HIGH) -> Alert:
    return Alert(
        "a-1",
        "p-1",
        "icu",
        "d-1",
        "hr_high",
        priority,
        state,
        T0,
        T0 + 6000,
        T0 + 9000,
        AlertExplanation("hard_limit:hr_high", "HR high", "hr", 160.0, 150.0, "/min"),
    )


def test_alert_point_is_keyed_by_raise_time_so_updates_overwrite() -> None:
    active, acked = alert_point(_alert()), alert_point(_alert(AlertState.ACKNOWLEDGED, Priority.MEDIUM))
    assert (active.measurement, active.tags, active.time_ms) == (acked.measurement, acked.tags, acked.time_ms)
    assert dict(acked.fields)["state"] == "acknowledged"
    assert "priority" not in dict(active.tags)  # a priority change must not create a second series


def test_alert_event_point_records_who() -> None:
    point = alert_event_point(AlertEvent(4, Transition.ACKNOWLEDGED, T0 + 9000, _alert(), by="nurse-7"))
    assert dict(point.tags)["transition"] == "acknowledged"
    assert dict(point.fields)["by"] == "nurse-7"
    assert dict(point.fields)["event_no"] == 4


class FakeSink:
    """Records batches; can be told to fail. Only for unit tests of the writer."""

    def __init__(self) -> None:
        self.batches: list[list[AnyPoint]] = []
        self.failures: list[Exception] = []
        self.calls = 0

    def write(self, points: Sequence[AnyPoint]) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        self.batches.append(list(points))

    def close(self) -> None:
        return


def _points(n: int, offset: int = 0) -> list[Point]:
    return [Point("vitals", (("patient", "p"),), (("hr", 70.0),), T0 + offset + i) for i in range(n)]


def test_writer_batches_by_size_and_reports_tokens_in_order() -> None:
    sink = FakeSink()
    durable: list[object] = []
    writer = BatchingWriter(sink, batch_size=10, flush_interval_s=60, on_durable=durable.extend)
    writer.start()
    for i in range(25):
        writer.submit(_points(1, i), token=i)
    assert writer.stop(timeout_s=5)
    assert [len(b) for b in sink.batches] == [10, 10, 5]
    assert durable == list(range(25))


def test_writer_flushes_on_time() -> None:
    sink = FakeSink()
    writer = BatchingWriter(sink, batch_size=1000, flush_interval_s=0.05)
    writer.start()
    writer.submit(_points(3))
    deadline = time.monotonic() + 5
    while not sink.batches and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [len(b) for b in sink.batches] == [3]
    writer.stop()


def test_writer_retries_unavailable_and_honours_retry_after() -> None:
    sink = FakeSink()
    sink.failures = [SinkUnavailable("down"), SinkUnavailable("busy", status=429, retry_after_s=0.3)]
    durable: list[object] = []
    writer = BatchingWriter(sink, batch_size=5, flush_interval_s=0.01, on_durable=durable.extend)
    writer.start()
    started = time.monotonic()
    writer.submit(_points(5), token="t")
    assert writer.flush(timeout_s=10)
    assert time.monotonic() - started >= 0.3  # waited at least the server's Retry-After
    assert sink.calls == 3
    assert durable == ["t"]
    assert writer.stats.retries == 2
    writer.stop()


def test_tokens_are_not_reported_before_the_write_succeeds() -> None:
    sink = FakeSink()
    sink.failures = [SinkUnavailable("down")] * 1000
    durable: list[object] = []
    writer = BatchingWriter(sink, batch_size=1, flush_interval_s=0.01, on_durable=durable.extend, max_backoff_s=0.05)
    writer.start()
    writer.submit(_points(1), token="t")
    assert not writer.flush(timeout_s=0.5)
    assert durable == []
    writer.stop(timeout_s=0.1)
    assert durable == []  # stopped while the store was down: never claimed durable


def test_rejected_batches_are_kept_in_the_reject_file(tmp_path: Path) -> None:
    sink = FakeSink()
    sink.failures = [SinkRejected("field type conflict", status=400)]
    durable: list[object] = []
    reject_file = tmp_path / "rejected.lp"
    writer = BatchingWriter(
        sink, batch_size=2, flush_interval_s=0.01, on_durable=durable.extend, reject_file=reject_file
    )
    writer.start()
    writer.submit(_points(2), token="bad")
    writer.submit(_points(2, 100), token="good")
    assert writer.stop(timeout_s=5)
    assert reject_file.read_text().count("\n") == 2
    assert durable == ["bad", "good"]
    assert writer.stats.rejected_points == 2


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, SinkUnavailable),
        (503, SinkUnavailable),
        (500, SinkUnavailable),
        (400, SinkRejected),
        (401, SinkRejected),
        (404, SinkRejected),
    ],
)
def test_http_status_classification(status: int, kind: type) -> None:
    error = classify_status(status, "x", retry_after="2")
    assert isinstance(error, kind)
    if isinstance(error, SinkUnavailable):
        assert error.retry_after_s == 2.0


def test_sqlite_store_overwrites_same_key_like_influxdb(tmp_path: Path) -> None:
    store = SqlitePointStore(tmp_path / "s.sqlite")
    store.write(_points(5))
    store.write(_points(5))  # a redelivery: same keys
    store.write(_points(2, 1000))
    assert store.count("vitals") == 7
    store.close()


def test_writer_is_safe_with_many_submitting_threads() -> None:
    sink = FakeSink()
    durable: list[object] = []
    writer = BatchingWriter(sink, batch_size=50, flush_interval_s=0.01, on_durable=durable.extend)
    writer.start()

    def submit(base: int) -> None:
        for i in range(200):
            writer.submit(_points(1, base + i), token=base + i)

    threads = [threading.Thread(target=submit, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert writer.stop(timeout_s=10)
    assert sum(len(b) for b in sink.batches) == 800
    assert sorted(durable) == sorted(k * 1000 + i for k in range(4) for i in range(200))  # type: ignore[type-var]


def test_withheld_outputs_are_stored_with_their_reason_one_field_each() -> None:
    reading = VitalsReading(
        "p-1", "d-1", 9, T0, {"hr": 72.0}, faults={"ppg_hr": Fault.MODEL_ERROR, "rhythm": Fault.INPUT_GAP}
    )
    fields = dict(vitals_point(reading).fields)
    assert (fields["fault_ppg_hr"], fields["fault_rhythm"]) == ("model_error", "input_gap")
    assert 'fault_ppg_hr="model_error"' in vitals_point(reading).line().split(" ")[1].split(",")
    assert not any(key.startswith("fault_") for key, _ in vitals_point(VitalsReading("p", "d", 1, T0, {})).fields)


def test_fast_vitals_line_says_the_same_as_the_generic_one() -> None:
    reading = VitalsReading(
        "p-1",
        "d-1",
        9,
        T0,
        {"hr": 72.0, "pr": 70.5},
        {"ecg": 0.9},
        Rhythm("AF", 0.8),
        {"V": 2},
        runs={"V": 2},
        faults={"sqi": Fault.MODEL_ERROR},
    )
    fast = vitals_point(reading)
    generic = Point(fast.measurement, fast.tags, fast.fields, fast.time_ms).line()
    head_fast, body_fast, time_fast = fast.line().split(" ")
    head_generic, body_generic, time_generic = generic.split(" ")
    assert (head_fast, time_fast) == (head_generic, time_generic)
    assert sorted(body_fast.split(",")) == sorted(body_generic.split(","))


class FakeLineSink(FakeSink):
    """A fake sink that also takes line protocol (what the disk spool replays)."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []

    def write(self, points: Sequence[AnyPoint]) -> None:
        self.write_lines("\n".join(p.line() for p in points).encode())

    def write_lines(self, body: bytes) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        self.bodies.append(body)


def _times(sink: FakeLineSink) -> list[int]:
    return [int(line.rsplit(b" ", 1)[1]) for body in sink.bodies for line in body.split(b"\n")]


def test_an_unavailable_store_sends_batches_to_the_disk_spool_which_drains_them_in_order(tmp_path: Path) -> None:
    sink = FakeLineSink()
    sink.failures = [SinkUnavailable("down")] * 4  # the first write and three drain attempts
    durable: list[object] = []
    spool = DiskSpool(tmp_path / "spool.sqlite")
    writer = BatchingWriter(
        sink, batch_size=2, flush_interval_s=0.01, on_durable=durable.extend, spool=spool, max_backoff_s=0.05
    )
    writer.start()
    for i in range(6):
        writer.submit(_points(1, i), token=i)
        assert writer.flush(timeout_s=5)  # spooled counts as durable: the broker may be acked
    assert durable == list(range(6))
    deadline = time.monotonic() + 10
    while spool.batches and time.monotonic() < deadline:
        time.sleep(0.02)
    assert writer.stop(timeout_s=5)
    assert spool.batches == 0
    assert _times(sink) == [T0 + i for i in range(6)]  # every point once, oldest first
    assert writer.stats.spooled_points == writer.stats.drained_points == 6


def test_the_spool_survives_a_restart_and_drains_into_the_next_writer(tmp_path: Path) -> None:
    down = FakeLineSink()
    down.failures = [SinkUnavailable("down")] * 10_000
    first = BatchingWriter(down, batch_size=3, flush_interval_s=0.01, spool=DiskSpool(tmp_path / "s.sqlite"))
    first.start()
    first.submit(_points(3), token="a")
    assert first.flush(timeout_s=5)
    first.stop(timeout_s=0.5)
    assert first.spooled == 3

    up = FakeLineSink()
    second = BatchingWriter(up, batch_size=3, flush_interval_s=0.01, spool=DiskSpool(tmp_path / "s.sqlite"))
    second.start()
    deadline = time.monotonic() + 10
    while second.spooled and time.monotonic() < deadline:
        time.sleep(0.02)
    second.stop(timeout_s=5)
    assert _times(up) == [T0, T0 + 1, T0 + 2]


def test_a_full_spool_pushes_back_instead_of_dropping(tmp_path: Path) -> None:
    sink = FakeLineSink()
    sink.failures = [SinkUnavailable("down")] * 10_000
    durable: list[object] = []
    spool = DiskSpool(tmp_path / "spool.sqlite", max_bytes=1)  # full after the first batch
    writer = BatchingWriter(
        sink, batch_size=1, flush_interval_s=0.01, on_durable=durable.extend, spool=spool, max_backoff_s=0.05
    )
    writer.start()
    writer.submit(_points(1), token="spooled")
    writer.submit(_points(1, 1), token="waits")
    assert not writer.flush(timeout_s=0.5)
    assert durable == ["spooled"]  # the second is neither spooled nor claimed durable
    writer.stop(timeout_s=0.1)
    assert durable == ["spooled"]


def test_a_spool_needs_a_sink_that_takes_line_protocol(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="write_lines"):
        BatchingWriter(FakeSink(), spool=DiskSpool(tmp_path / "spool.sqlite"))
