"""Both write paths against the real InfluxDB 1.6.7: v1 /write directly, v2 write API through the proxy."""

from __future__ import annotations

import pytest

from alerts.influx import InfluxV1Sink, InfluxV2Sink
from alerts.influxql import ensure_database, query
from alerts.points import Point
from alerts.sinks import SinkRejected, SinkUnavailable
from tests.servers import InfluxServer, InfluxV2Proxy, free_port
from vitalstream.settings import InfluxSettings

pytestmark = pytest.mark.integration

T0 = 1_790_000_000_000


def _points(n: int) -> list[Point]:
    return [
        Point(
            "vitals",
            (("device", "d 1"), ("patient", "p,1")),
            (("hr", 60.0 + i), ("note", 'a "q"'), ("seq", i)),
            T0 + i * 1000,
        )
        for i in range(n)
    ]


def _check_stored(settings: InfluxSettings) -> None:
    rows = query(settings, "SELECT hr, note, seq FROM vitals")
    assert [(r["time"], r["hr"], r["seq"], r["note"]) for r in rows] == [
        (T0 + i * 1000, 60.0 + i, i, 'a "q"') for i in range(5)
    ]
    tags = query(settings, "SHOW TAG VALUES FROM vitals WITH KEY = patient")
    assert [t["value"] for t in tags] == ["p,1"]


def test_v1_sink_writes_and_rewrites_idempotently(influxd: InfluxServer, influx_db: str) -> None:
    settings = InfluxSettings(url=influxd.url, api="v1", db=influx_db)
    sink = InfluxV1Sink(settings)
    sink.write(_points(5))
    sink.write(_points(5))  # a redelivery lands on the same keys
    _check_stored(settings)
    sink.close()


def test_v2_sink_writes_through_the_official_client(
    influxd: InfluxServer, influx_db: str, influx_v2: InfluxV2Proxy
) -> None:
    settings = InfluxSettings(url=influx_v2.url, api="v2", bucket=f"{influx_db}/autogen", org="o", token="t")
    sink = InfluxV2Sink(settings)
    sink.write(_points(5))
    sink.close()
    _check_stored(InfluxSettings(url=influxd.url, api="v1", db=influx_db))
    assert influx_v2.writes == 1


def test_v2_back_pressure_is_reported_with_retry_after(influx_v2: InfluxV2Proxy, influx_db: str) -> None:
    influx_v2.fail_next(1, status=429, retry_after="3")
    sink = InfluxV2Sink(InfluxSettings(url=influx_v2.url, api="v2", bucket=influx_db, token="t"))
    with pytest.raises(SinkUnavailable) as caught:
        sink.write(_points(1))
    assert (caught.value.status, caught.value.retry_after_s) == (429, 3.0)
    sink.close()


def test_unknown_database_is_rejected_not_retried(influxd: InfluxServer) -> None:
    sink = InfluxV1Sink(InfluxSettings(url=influxd.url, api="v1", db="does_not_exist"))
    with pytest.raises(SinkRejected) as caught:
        sink.write(_points(1))
    assert caught.value.status == 404
    sink.close()


def test_unreachable_server_is_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for sink in (InfluxV1Sink(InfluxSettings(url=url, api="v1")), InfluxV2Sink(InfluxSettings(url=url, token="t"))):
        with pytest.raises(SinkUnavailable):
            sink.write(_points(1))
        sink.close()


def test_ensure_database_is_idempotent(influxd: InfluxServer) -> None:
    settings = InfluxSettings(url=influxd.url, api="v1", db="created_by_processor")
    ensure_database(settings)
    ensure_database(settings)
    names = [row["name"] for row in query(settings, "SHOW DATABASES")]
    assert "created_by_processor" in names
