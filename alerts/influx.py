"""InfluxDB sinks: the v1 ``/write`` endpoint (InfluxDB 1.x) and the official client's v2 write API.

Both send the same line protocol at millisecond precision; only the endpoint and the auth differ.
Neither retries on its own: the :class:`~alerts.writer.BatchingWriter` owns retries and back-off,
so there is exactly one retry policy and it honours ``Retry-After``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urlencode

import urllib3

from alerts.points import AnyPoint
from alerts.sinks import SinkUnavailable, classify_status
from vitalstream.settings import InfluxSettings

__all__ = ["InfluxV1Sink", "InfluxV2Sink", "make_influx_sink"]

log = logging.getLogger(__name__)


def _body(points: Sequence[AnyPoint]) -> bytes:
    return "\n".join(point.line() for point in points).encode()


class InfluxV1Sink:
    """Writes to ``POST {url}/write?db=..&rp=..&precision=ms`` (InfluxDB 1.x, and 2.x/3.x v1 compatibility)."""

    def __init__(self, settings: InfluxSettings) -> None:
        query = {"db": settings.db, "precision": "ms"}
        if settings.rp:
            query["rp"] = settings.rp
        self._url = f"{settings.url.rstrip('/')}/write?{urlencode(query)}"
        self._headers = {"Content-Type": "text/plain; charset=utf-8"}
        if settings.username:
            self._headers |= urllib3.make_headers(basic_auth=f"{settings.username}:{settings.password or ''}")
        elif settings.token:
            self._headers["Authorization"] = f"Token {settings.token}"
        self._http = urllib3.PoolManager(timeout=urllib3.Timeout(total=settings.timeout_s), retries=False, maxsize=2)

    def write(self, points: Sequence[AnyPoint]) -> None:
        self.write_lines(_body(points))

    def write_lines(self, body: bytes) -> None:
        """Write ready line protocol (ms precision), e.g. a batch kept in the disk spool."""
        try:
            response = self._http.request("POST", self._url, body=body, headers=self._headers)
        except urllib3.exceptions.HTTPError as exc:
            raise SinkUnavailable(f"InfluxDB unreachable: {type(exc).__name__}") from exc
        if response.status != 204:
            raise classify_status(
                response.status, response.data.decode(errors="replace"), retry_after=response.headers.get("Retry-After")
            )

    def close(self) -> None:
        self._http.clear()


class InfluxV2Sink:
    """Writes through ``influxdb-client``'s synchronous v2 write API (InfluxDB 2.x, 3.x, 1.8+)."""

    def __init__(self, settings: InfluxSettings) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient  # noqa: PLC0415 -- processor-only dependency
        from influxdb_client.client.write_api import SYNCHRONOUS  # noqa: PLC0415

        self._bucket = f"{settings.bucket}"
        self._org = settings.org
        self._client = InfluxDBClient(
            url=settings.url,
            token=settings.token or "",
            org=settings.org,
            timeout=int(settings.timeout_s * 1000),
            retries=False,
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, points: Sequence[AnyPoint]) -> None:
        self.write_lines(_body(points))

    def write_lines(self, body: bytes) -> None:
        """Write ready line protocol (ms precision), e.g. a batch kept in the disk spool."""
        from influxdb_client.domain.write_precision import WritePrecision  # noqa: PLC0415
        from influxdb_client.rest import ApiException  # noqa: PLC0415

        try:
            self._api.write(bucket=self._bucket, org=self._org, record=body, write_precision=WritePrecision.MS)  # type: ignore[arg-type]  # its constants are plain str
        except ApiException as exc:
            headers: dict[str, str] = dict(exc.headers or {})
            raise classify_status(
                int(exc.status or 0), str(exc.body or exc.reason or ""), retry_after=headers.get("Retry-After")
            ) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise SinkUnavailable(f"InfluxDB unreachable: {type(exc).__name__}") from exc

    def close(self) -> None:
        # influxdb-client leaves these unannotated.
        self._api.close()  # type: ignore[no-untyped-call]
        self._client.close()  # type: ignore[no-untyped-call]


def make_influx_sink(settings: InfluxSettings) -> InfluxV1Sink | InfluxV2Sink:
    if settings.api == "v1":
        return InfluxV1Sink(settings)
    if not settings.token:
        log.warning("InfluxDB v2 API selected without a token; writes will be refused unless auth is off")
    return InfluxV2Sink(settings)
