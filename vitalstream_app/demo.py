"""``vitalstream demo``: the whole pipeline on one machine with nothing installed but the package.

An embedded MQTT broker (amqtt), a simulated ward (a few patients deteriorate), the real processor,
a SQLite store (or InfluxDB when ``--influx-url`` is given) and a nurse-station view that subscribes
to the alert topics like any other station would. Everything talks over real MQTT on loopback.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from rich.console import Console
from rich.live import Live
from rich.table import Table

from alerts.sinks import PointSink, SqlitePointStore
from alerts.ward_board import WardBoard
from edge_agent.agent import EdgeAgent
from edge_agent.pipeline import PipelineSource
from edge_agent.publisher import SpoolDelivery
from edge_agent.scenarios import parse_scenarios
from edge_agent.simulator import WaveformWard
from edge_agent.spool import Spool
from stream_processor.main import build_sink
from stream_processor.service import ProcessorService
from vitalstream.mqtt import connect_async, make_client
from vitalstream.settings import Settings
from vitalstream.wire import (
    AlertEvent,
    RejectedMessage,
    decode_alert_event,
    decode_alert_state,
    decode_vitals,
)
from vitalstream.wire.topics import (
    ALERT_EVENTS_ALL,
    ALERTS_ALL,
    COMMANDS_ALL,
    EVENTS_ALL,
    OBSERVATIONS_ALL,
    VITALS_ALL,
)
from vitalstream_app.embedded_broker import EmbeddedBroker, UserAcl

__all__ = ["run_demo"]

log = logging.getLogger(__name__)

# The demo's three clients, each with a password made for the run and only the topics it uses (the same
# split as the shipped broker's roles, vitalstream_app.access.policy, with the demo's single ward).
DEMO_USERS = {
    "demo-edge": UserAcl(publish=(VITALS_ALL, EVENTS_ALL)),
    "demo-processor": UserAcl(
        publish=("alerts/v1/#", "alert-events/v1/#", "command-results/v1/#", "fhir/v1/#", "deadletter/v1/#"),
        subscribe=(VITALS_ALL, EVENTS_ALL, OBSERVATIONS_ALL, COMMANDS_ALL, ALERTS_ALL),
    ),
    "demo-station": UserAcl(subscribe=(VITALS_ALL, ALERTS_ALL, ALERT_EVENTS_ALL)),
}


class StationFeed:
    """A nurse-station subscriber: retained alert states, alert events and vitals into a :class:`WardBoard`."""

    def __init__(self, settings: Settings, *, on_event: Callable[[AlertEvent], None] | None = None) -> None:
        self.board = WardBoard()
        self.events: list[AlertEvent] = []
        self._on_event = on_event
        self._lock = threading.Lock()
        self._client = make_client(settings.broker, client_id="vitalstream-demo-station", persistent=False)
        self._client.on_connect = lambda c, *_: c.subscribe([(VITALS_ALL, 0), (ALERTS_ALL, 1), (ALERT_EVENTS_ALL, 1)])
        self._client.on_message = self._on_message
        self._settings = settings

    def start(self) -> None:
        connect_async(self._client, self._settings.broker, persistent=False)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        root, _, rest = message.topic.partition("/")
        try:
            with self._lock:
                if root == "vitals":
                    self.board.on_vitals(decode_vitals(message.topic, message.payload))
                elif root == "alerts":
                    patient = rest.rsplit("/", 1)[-1]
                    snapshot = decode_alert_state(message.payload) if message.payload else None
                    self.board.on_alerts(patient, snapshot)
                elif root == "alert-events":
                    event = decode_alert_event(message.payload)
                    self.events.append(event)
                    if self._on_event is not None:
                        self._on_event(event)
        except RejectedMessage as exc:
            log.warning("station ignored a bad message", extra={"reason": exc.reason.value, "field": exc.field})

    def render(self) -> Table:
        with self._lock:
            return self.board.render_table(title=f"VitalStream demo ward - {len(self.board.rows)} patients")


def _event_line(event: AlertEvent) -> str:
    alert = event.alert
    return (
        f"ALERT {event.transition.value:<12} {alert.priority.value.upper():<6} {alert.kind:<10} "
        f"{alert.patient}  {alert.explanation.summary}"
    )


def _make_sink(settings: Settings, *, use_influx: bool) -> tuple[PointSink, str]:
    if use_influx:
        return build_sink(settings), f"InfluxDB {settings.influx.url} ({settings.influx.api})"
    path = Path(settings.processor.state_dir) / "demo.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    return SqlitePointStore(path), f"SQLite {path}"


def _make_console(view: str) -> tuple[Console, bool]:
    """The console and whether to draw a live table (a terminal) or print lines (logs, CI)."""

    console = Console()
    if not console.is_terminal:
        # Logs and CI capture: a wide table reads better than one wrapped at 80 columns.
        console = Console(width=140)
    return console, view == "live" or (view == "auto" and console.is_terminal)


def _start_processor(settings: Settings, sink: PointSink) -> tuple[ProcessorService, threading.Event, threading.Thread]:
    processor = ProcessorService(settings=settings, sink=sink)
    stop = threading.Event()
    thread = threading.Thread(
        target=processor.run, args=(stop,), kwargs={"stats_every_s": 3600}, name="processor", daemon=True
    )
    thread.start()
    if not processor.ready.wait(10):
        raise RuntimeError("the processor did not connect to the embedded broker")
    return processor, stop, thread


def run_demo(
    settings: Settings,
    *,
    duration_s: float | None,
    patients: int,
    use_influx: bool,
    view: str,
    stop: threading.Event,
) -> dict[str, Any]:
    """Run the demo until ``duration_s`` passes or ``stop`` is set; returns a summary."""

    broker = EmbeddedBroker(users=DEMO_USERS).start()
    given = settings.broker
    settings = dataclasses.replace(
        settings,
        broker=broker.client_settings("demo-processor", given),
        processor=dataclasses.replace(settings.processor, client_id="vitalstream-demo-processor"),
    )
    sink, store = _make_sink(settings, use_influx=use_influx)
    console, live_view = _make_console(view)

    def on_event(event: AlertEvent) -> None:
        if not live_view:
            console.print(_event_line(event), highlight=False, soft_wrap=True)

    processor, processor_stop, processor_thread = _start_processor(settings, sink)
    station = StationFeed(
        dataclasses.replace(settings, broker=broker.client_settings("demo-station", given)), on_event=on_event
    )
    station.start()

    start_ms = (time.time_ns() // 1_000_000 // 1000 + 1) * 1000
    # Waveforms through the real edge models, as on a device: heart rate, rhythm and signal quality are
    # measured from simulated ECG and PPG, not copied from the script.
    ward = WaveformWard(parse_scenarios("mixed", patients=patients), seed=settings.edge.seed, start_ms=start_ms)
    spool_path = Path(settings.processor.state_dir) / "demo-edge.spool.sqlite"
    for stale in spool_path.parent.glob(spool_path.name + "*"):
        stale.unlink()
    spool = Spool(spool_path)
    delivery = SpoolDelivery(spool, broker.client_settings("demo-edge", given), client_id="vitalstream-demo-edge")
    delivery.start()
    agent = EdgeAgent(source=PipelineSource(ward), spool=spool, delivery=delivery, limits=settings.limits)
    edge_thread = threading.Thread(
        target=agent.run,
        kwargs={"stop": stop, "start_ms": start_ms, "duration_s": duration_s, "flush_s": 5.0},
        name="edge",
        daemon=True,
    )
    until = f"Runs for {duration_s:g} s." if duration_s else "Ctrl-C to stop."
    console.print(f"VitalStream demo: {patients} simulated patients, broker {broker.url}, store {store}. {until}")
    deteriorating = [f"{d.patient} ({d.scenario.name})" for d in ward.devices if d.scenario.deteriorates]
    console.print("Scripted to deteriorate: " + ", ".join(deteriorating), highlight=False)
    edge_thread.start()

    try:
        if live_view:
            with Live(station.render(), console=console, refresh_per_second=2) as live:
                while edge_thread.is_alive():
                    edge_thread.join(0.5)
                    live.update(station.render())
        else:
            edge_thread.join()
    finally:
        stop.set()
        edge_thread.join(10)
        delivery.stop()
        spool.close()
        time.sleep(0.5)  # let the last alerts reach the station before it leaves
        station.stop()
        processor_stop.set()
        processor_thread.join(30)
        broker.stop()

    if not live_view:
        console.print(station.render())
    raised = [e for e in station.events if e.transition.value == "raised"]
    stored = sink.count("vitals") if isinstance(sink, SqlitePointStore) else None
    sink.close()
    return {
        "patients": patients,
        "readings_published": agent.readings,
        "vitals_stored": stored,
        "alerts_raised": len(raised),
        "alerts": [
            {
                "patient": e.alert.patient,
                "kind": e.alert.kind,
                "priority": e.alert.priority.value,
                "summary": e.alert.explanation.summary,
            }
            for e in raised
        ],
        "processor": processor.stats(),
    }
