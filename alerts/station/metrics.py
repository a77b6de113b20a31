"""The station's numbers in the Prometheus text exposition format (version 0.0.4), without a client library.

>>> metrics = StationMetrics()
>>> metrics.commands["applied"] += 1
>>> "vitalstream_station_commands_total{result=\\"applied\\"} 1" in metrics.render(
...     sse_clients=0, alerts={}, connected=True, ready=True)
True
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["StationMetrics"]

_PRIORITIES = ("high", "medium", "low")
_STATES = ("active", "acknowledged")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass(slots=True)
class StationMetrics:
    """Counters the shell increments; gauges are passed in at render time from the live state."""

    commands: Counter[str] = field(default_factory=Counter)
    messages: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    mqtt_reconnects: int = 0

    def render(self, *, sse_clients: int, alerts: Mapping[tuple[str, str], int], connected: bool, ready: bool) -> str:
        lines: list[str] = []

        def metric(name: str, kind: str, text: str, samples: list[tuple[dict[str, str], float]]) -> None:
            lines.append(f"# HELP {name} {text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in samples:
                label_text = ",".join(f'{key}="{_escape(val)}"' for key, val in labels.items())
                lines.append(f"{name}{{{label_text}}} {value:g}" if label_text else f"{name} {value:g}")

        metric("vitalstream_station_sse_clients", "gauge", "Pages connected to the event stream.", [({}, sse_clients)])
        # Every priority and state is always present, so a dashboard shows 0 rather than "no data".
        metric(
            "vitalstream_station_alerts",
            "gauge",
            "Open alerts shown, by priority and state.",
            [({"priority": p, "state": s}, alerts.get((p, s), 0)) for p in _PRIORITIES for s in _STATES],
        )
        metric(
            "vitalstream_station_commands_total",
            "counter",
            "Commands sent from the page, by result (applied, duplicate, refused, no_answer, invalid).",
            [({"result": result}, count) for result, count in sorted(self.commands.items())],
        )
        metric(
            "vitalstream_station_mqtt_reconnects_total",
            "counter",
            "Broker connections after the first.",
            [({}, self.mqtt_reconnects)],
        )
        metric("vitalstream_station_mqtt_connected", "gauge", "1 while connected to the broker.", [({}, connected)])
        metric("vitalstream_station_ready", "gauge", "1 while connected and subscribed.", [({}, ready)])
        metric(
            "vitalstream_station_messages_total",
            "counter",
            "MQTT messages received, by topic root.",
            [({"root": root}, count) for root, count in sorted(self.messages.items())],
        )
        metric(
            "vitalstream_station_messages_rejected_total",
            "counter",
            "MQTT messages the station could not decode, by reason.",
            [({"reason": reason}, count) for reason, count in sorted(self.rejected.items())],
        )
        return "\n".join(lines) + "\n"
