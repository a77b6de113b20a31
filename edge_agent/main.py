"""``vitalstream edge``: wire a reading source to the MQTT publisher and run until done or stopped."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from edge_agent.agent import EdgeAgent, ReadingSource
from edge_agent.numerics_replay import NumericsReplay
from edge_agent.pipeline import PipelineSource
from edge_agent.publisher import SpoolDelivery
from edge_agent.recording_replay import RecordingReplay, find_recordings
from edge_agent.scenarios import parse_scenarios
from edge_agent.simulator import SimulatedDevice, SimulatedWard, WaveformWard
from edge_agent.spool import Spool
from vitalstream.errors import ConfigError
from vitalstream.settings import Settings

__all__ = ["make_source", "run_edge"]

log = logging.getLogger(__name__)


def make_source(settings: Settings, *, start_ms: int) -> tuple[ReadingSource, list[dict[str, Any]]]:
    """The source named by ``settings.edge.source`` and a roster (patient, device, scenario) for the summary.

    ``sim``: simulated ward with ECG/PPG waveforms through the edge models; ``sim:vitals``: the light
    vitals-only simulator; ``replay:PATH``: BIDMC numerics CSVs (vitals), or WFDB records / BIDMC
    signals CSVs (waveforms through the edge models), a file or a directory.
    """
    edge = settings.edge
    kind, _, argument = edge.source.partition(":")
    if kind == "sim":
        scenarios = parse_scenarios(edge.scenario, patients=edge.patients)
        if argument == "vitals":
            ward = SimulatedWard(scenarios, seed=edge.seed, start_ms=start_ms)
            return ward, _roster(ward.devices)
        if argument:
            raise ConfigError(f"unknown simulator {argument!r}; use sim or sim:vitals", source="--source")

        waves = WaveformWard(scenarios, seed=edge.seed, start_ms=start_ms)
        return PipelineSource(waves), _roster(waves.devices)
    if kind == "replay" and argument:
        path = Path(argument)
        if path.name.endswith("_Numerics.csv") or (
            path.is_dir() and any(path.glob("*_Numerics.csv")) and not any(path.glob("*_Signals.csv"))
        ):
            replay = NumericsReplay(path, start_ms=start_ms)
            return replay, [{"patient": p, "device": f"{p}-mon", "scenario": "replay"} for p in replay.patients]

        recordings = RecordingReplay(find_recordings(path), start_ms=start_ms, speed=edge.speed)
        roster = [{"patient": p, "device": d, "scenario": "replay"} for p, d in recordings.devices]
        return PipelineSource(recordings), roster
    raise ConfigError(f"unknown source {edge.source!r}; use sim, sim:vitals or replay:PATH", source="--source")


def _roster(devices: list[SimulatedDevice]) -> list[dict[str, Any]]:
    return [
        {"patient": d.patient, "device": d.device, "scenario": d.scenario.name, "deteriorates": d.scenario.deteriorates}
        for d in devices
    ]


def run_edge(settings: Settings, *, stop: threading.Event) -> dict[str, Any]:
    """Spool and publish until the duration is over or ``stop`` is set; returns the run summary."""
    start_ms = (time.time_ns() // 1_000_000 // 1000 + 1) * 1000  # the next whole second
    source, roster = make_source(settings, start_ms=start_ms)
    edge = settings.edge
    spool = Spool(
        edge.spool_file(), max_bytes=int(edge.spool_max_mb * 1024 * 1024), max_age_s=edge.spool_max_age_h * 3600
    )
    backlog = spool.stats()
    if backlog.messages:
        log.info("spool holds readings from an earlier run; they go first", extra={"spooled": backlog.messages})
    delivery = SpoolDelivery(spool, settings.broker, client_id=edge.client_id)
    delivery.start()
    if not delivery.wait_connected(5.0):
        log.warning(
            "broker not reachable yet; readings are spooled and sent once it is",
            extra={"broker": settings.broker.display_url},
        )
    log.info("edge agent started", extra={"devices": len(roster), "source": edge.source.partition(":")[0]})
    agent = EdgeAgent(source=source, spool=spool, delivery=delivery, limits=settings.limits, rate_hz=edge.rate_hz)
    try:
        summary = agent.run(stop=stop, start_ms=start_ms, duration_s=edge.duration_s)
    finally:
        delivery.stop()
        spool.close()
    for entry in roster:
        entry["first_seq"] = summary.first_seq.get(entry["device"])
        entry["last_seq"] = summary.last_seq.get(entry["device"])
        entry["model_faults"] = summary.device_faults.get(entry["device"], {})
    return {
        "readings": summary.readings,
        "events": summary.events,
        "published": summary.delivery.published,
        "acknowledged": summary.delivery.acknowledged,
        "connects": summary.delivery.connects,
        "unacknowledged": summary.unacknowledged,
        # Readings on which a model failed and its output was withheld, by output (hr, sqi, ppg_hr, ...).
        "model_faults": summary.model_faults,
        "spool": {"messages": summary.spool.messages, "bytes": summary.spool.bytes, "dropped": summary.spool.dropped},
        "devices": roster,
    }
