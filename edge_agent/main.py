"""``vitalstream edge``: wire a reading source to the MQTT publisher and run until done or stopped."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any

from edge_agent.agent import EdgeAgent, ReadingSource
from edge_agent.publisher import MqttReadingPublisher
from edge_agent.scenarios import parse_scenarios
from edge_agent.simulator import SimulatedWard
from vitalstream.errors import ConfigError
from vitalstream.settings import Settings

__all__ = ["make_source", "run_edge"]

log = logging.getLogger(__name__)


def make_source(settings: Settings, *, start_ms: int) -> tuple[ReadingSource, list[dict[str, Any]]]:
    """The source named by ``settings.edge.source`` and a roster (patient, device, scenario) for the summary."""
    edge = settings.edge
    if edge.source == "sim":
        ward = SimulatedWard(parse_scenarios(edge.scenario, patients=edge.patients), seed=edge.seed, start_ms=start_ms)
        roster = [
            {
                "patient": d.patient,
                "device": d.device,
                "scenario": d.scenario.name,
                "deteriorates": d.scenario.deteriorates,
            }
            for d in ward.devices
        ]
        return ward, roster
    kind, _, path = edge.source.partition(":")
    if kind == "replay" and path:
        from edge_agent.numerics_replay import NumericsReplay  # noqa: PLC0415 -- only for replays

        replay = NumericsReplay(path, start_ms=start_ms)
        return replay, [{"patient": p, "device": f"{p}-mon", "scenario": "replay"} for p in replay.patients]
    raise ConfigError(f"unknown source {edge.source!r}; use sim or replay:PATH", source="--source")


def run_edge(settings: Settings, *, stop: threading.Event) -> dict[str, Any]:
    """Publish until the duration is over or ``stop`` is set; returns the run summary."""
    start_ms = (time.time_ns() // 1_000_000 // 1000 + 1) * 1000  # the next whole second
    source, roster = make_source(settings, start_ms=start_ms)
    publisher = MqttReadingPublisher(settings.broker, client_id=settings.edge.client_id)
    if not publisher.start(wait_s=5.0):
        log.warning(
            "broker not reachable yet; readings are queued and sent once it is",
            extra={"broker": settings.broker.display_url},
        )
    log.info("edge agent started", extra={"devices": len(roster), "source": settings.edge.source.partition(":")[0]})
    agent = EdgeAgent(source=source, publisher=publisher, rate_hz=settings.edge.rate_hz)
    try:
        summary = agent.run(stop=stop, start_ms=start_ms, duration_s=settings.edge.duration_s)
    finally:
        publisher.stop()
    for entry in roster:
        entry["first_seq"] = summary.first_seq.get(entry["device"])
        entry["last_seq"] = summary.last_seq.get(entry["device"])
    return {
        "readings": summary.readings,
        **dataclasses.asdict(summary.stats),
        "unacknowledged": summary.stats.unacknowledged,
        "devices": roster,
    }
