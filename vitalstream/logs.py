"""Logging, configured once in ``main()``: JSON lines when stderr is not a terminal, plain text otherwise.

Log calls pass facts as ``extra`` (``log.info("alert raised", extra={"patient": p, "kind": k})``);
the JSON formatter turns them into fields. Never log payloads or anything that identifies a person:
patient ids are pseudonyms, and that is all a log line may carry about a patient.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

import orjson

__all__ = ["configure_logging"]

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        line.update((key, value) for key, value in vars(record).items() if key not in _STANDARD)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        facts = " ".join(f"{key}={value}" for key, value in vars(record).items() if key not in _STANDARD)
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        text = f"{stamp} {record.levelname.lower():7} {record.name}: {record.getMessage()}"
        if facts:
            text += f"  {facts}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(*, level: int = logging.INFO, json: bool | None = None, stream: TextIO | None = None) -> None:
    """Route all logging to ``stream`` (stderr); ``json=None`` picks JSON unless it is a terminal."""
    target = stream or sys.stderr
    use_json = not target.isatty() if json is None else json
    handler = logging.StreamHandler(target)
    handler.setFormatter(JsonLinesFormatter() if use_json else ConsoleFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library chatter (amqtt logs every connection at INFO) would drown our own events.
    for noisy in ("amqtt", "transitions", "urllib3", "influxdb_client"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
