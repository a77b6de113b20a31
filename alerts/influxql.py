"""Read back with InfluxQL (``GET /query``), which InfluxDB 1.x, 2.x (v1 compatibility) and 3.x all answer.

Example: ``query(settings, "SELECT count(hr) FROM vitals GROUP BY device")``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
import urllib3

from alerts.sinks import SinkUnavailable, classify_status
from vitalstream.settings import InfluxSettings

__all__ = ["ensure_database", "query"]


def _headers(settings: InfluxSettings) -> dict[str, str]:
    if settings.username:
        return dict(urllib3.make_headers(basic_auth=f"{settings.username}:{settings.password or ''}"))
    if settings.token:
        return {"Authorization": f"Token {settings.token}"}
    return {}


def _request(settings: InfluxSettings, method: str, params: dict[str, str]) -> dict[str, Any]:
    url = f"{settings.url.rstrip('/')}/query?{urlencode(params)}"
    try:
        response = urllib3.request(method, url, headers=_headers(settings), timeout=settings.timeout_s, retries=False)
    except urllib3.exceptions.HTTPError as exc:
        raise SinkUnavailable(f"InfluxDB unreachable: {type(exc).__name__}") from exc
    if response.status != 200:
        raise classify_status(response.status, response.data.decode(errors="replace"), retry_after=None)
    document: dict[str, Any] = orjson.loads(response.data)
    for result in document.get("results", []):
        if "error" in result:
            raise classify_status(400, str(result["error"]), retry_after=None)
    return document


def query(settings: InfluxSettings, influxql: str) -> list[dict[str, Any]]:
    """Run one InfluxQL statement; returns rows as dicts, with the series' tags merged into each row."""
    database = settings.db if settings.api == "v1" else settings.bucket
    document = _request(settings, "GET", {"db": database, "q": influxql, "epoch": "ms"})
    rows: list[dict[str, Any]] = []
    for result in document.get("results", []):
        for series in result.get("series", []):
            tags = series.get("tags", {})
            columns = series["columns"]
            rows.extend({**tags, **dict(zip(columns, values, strict=True))} for values in series.get("values", []))
    return rows


def ensure_database(settings: InfluxSettings) -> None:
    """``CREATE DATABASE`` (idempotent) for InfluxDB 1.x; 2.x buckets are created by their own setup."""
    name = settings.db.replace('"', "")
    _request(settings, "POST", {"q": f'CREATE DATABASE "{name}"'})
