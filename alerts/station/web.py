"""Just enough HTTP/1.1 for one page, a JSON API and an event stream, on ``asyncio`` streams.

Why not a framework: the station serves five routes to a handful of browsers on a ward network,
and the processor extra should not grow a web stack for that. What is supported: request line,
headers, a ``Content-Length`` body (no chunked uploads), keep-alive, and bounded sizes everywhere.

>>> reply(200, b"ok", "text/plain").split(b"\\r\\n")[0]
b'HTTP/1.1 200 OK'
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import unquote

__all__ = [
    "MAX_BODY",
    "MAX_HEAD",
    "HttpError",
    "Request",
    "event_stream_head",
    "read_request",
    "reply",
    "sse_message",
]

MAX_HEAD = 16 * 1024
MAX_BODY = 4 * 1024  # a command body is {"by": "..."}; nothing the station accepts is larger
_SECURITY_HEADERS = (
    # The page loads nothing from elsewhere and runs no inline script: a strict policy costs nothing.
    "Content-Security-Policy: default-src 'self'; img-src 'self' data:; frame-ancestors 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
)


class HttpError(Exception):
    """A request the station answers with an error status (and closes the connection after)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


async def read_request(reader: asyncio.StreamReader, *, idle_timeout_s: float = 60.0) -> Request | None:
    """The next request on a connection, or ``None`` when the client closed it (or stayed idle too long)."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), idle_timeout_s)
    except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
        return None
    except asyncio.LimitOverrunError:
        raise HttpError(431, "request head too large") from None
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
    except ValueError:
        raise HttpError(400, "malformed request line") from None
    if not version.startswith("HTTP/1."):
        raise HttpError(505, "HTTP/1.x only")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise HttpError(400, "malformed header")
        headers[name.strip().lower()] = value.strip()
    if "transfer-encoding" in headers:
        raise HttpError(501, "chunked request bodies are not supported")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise HttpError(400, "bad Content-Length") from None
    if not 0 <= length <= MAX_BODY:
        raise HttpError(413, "request body too large")
    try:
        body = await asyncio.wait_for(reader.readexactly(length), idle_timeout_s) if length else b""
    except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
        return None
    path = unquote(target.split("?", 1)[0])
    return Request(method.upper(), path, headers, body)


def reply(
    status: int,
    body: bytes,
    content_type: str,
    *,
    keep_alive: bool = True,
    extra_headers: str = "",
) -> bytes:
    """A complete response. ``extra_headers`` is raw ``Name: value\\r\\n`` lines."""
    phrase = HTTPStatus(status).phrase
    head = (
        f"HTTP/1.1 {status} {phrase}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Cache-Control: no-store\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n"
        f"{_SECURITY_HEADERS}{extra_headers}\r\n"
    )
    return head.encode("latin-1") + body


def event_stream_head() -> bytes:
    """The response head of a Server-Sent Events stream (no length: it lasts as long as the page)."""
    return (
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/event-stream; charset=utf-8\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: keep-alive\r\n"
        # Proxies (nginx) buffer responses by default, which would hold the events back.
        "X-Accel-Buffering: no\r\n"
        f"{_SECURITY_HEADERS}\r\n"
    ).encode("latin-1")


def sse_message(event: str, data: bytes) -> bytes:
    """One SSE message; ``data`` is single-line JSON (orjson never emits raw newlines)."""
    return b"event: " + event.encode("ascii") + b"\ndata: " + data + b"\n\n"
