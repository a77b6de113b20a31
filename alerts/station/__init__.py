"""The nurse station (``vitalstream station``): one live web page of a ward's open alerts.

A pure state (:class:`StationState`: retained snapshots and alert events merged, recent vitals
for sparklines; :class:`PendingCommands`: clicks waiting for the processor's answer) inside a
thin shell (:mod:`alerts.station.server`: HTTP, Server-Sent Events; :mod:`alerts.station.feed`:
MQTT). The shell modules need paho-mqtt and are not imported here.
"""

from alerts.station.commands import (
    CommandAnswer,
    PendingCommands,
    command_id_for,
    http_reply,
)
from alerts.station.metrics import StationMetrics
from alerts.station.state import StationState, alert_view, sort_key
from alerts.station.trends import TREND_VITALS, TrendBook

__all__ = [
    "TREND_VITALS",
    "CommandAnswer",
    "PendingCommands",
    "StationMetrics",
    "StationState",
    "TrendBook",
    "alert_view",
    "command_id_for",
    "http_reply",
    "sort_key",
]
