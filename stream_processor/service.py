"""The processor's I/O shell: MQTT in, the pure core, and the effects of each outcome out (store, MQTT).

Receive path: paho-mqtt with its network loop in one thread and ``manual_ack=True``. The core runs
inside the message callback (decode + rules take tens of microseconds; a queue hop would cost more
than it saves). Each message goes one way: the :class:`~stream_processor.handlers.MessageHandler`
decodes it, runs the core and makes one call to the pure
:class:`~stream_processor.effects.EffectsPlanner` for its effects (points, alert messages, FHIR);
this module executes them. The :class:`~stream_processor.acks.AckLedger` sends the PUBACK only when
every effect is durable. The session is persistent (MQTT 5, clean start off), so whatever was not
acknowledged when the process died is redelivered when it comes back.

One error policy for every message: a message that breaks the contract is dead-lettered with its
reason; one whose handling fails for any other reason (a bug) is logged with the traceback, counted
(``processing_failed``), dead-lettered with that reason and acknowledged. Either way the stream goes
on. Should anything still end paho's network thread, ``/healthz`` and ``/readyz`` report it.

Start-up, in this order: restore the last checkpoint (baselines, alert lifecycles, sequence numbers),
connect, read the retained alert states (``alerts/v1/+/+``, newer than any checkpoint) and adopt
them, and only then handle the readings the broker kept for us. Without that order, a backlog of
readings could re-raise an alert that is already open, under a new id.

Threads: the paho network thread (decode, core, publish), the writer thread (store), and the main
thread (a 1 s tick for silent devices and escalations, and periodic checkpoints). The core is
touched under one lock. The clock is read here and passed into the core.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from alerts.sinks import LineSink, PointSink
from alerts.spool import DiskSpool
from alerts.writer import BatchingWriter
from stream_processor.acks import AckLedger, Ticket
from stream_processor.checkpoint import Checkpoint
from stream_processor.core import ProcessorCore
from stream_processor.effects import Effects, EffectsPlanner
from stream_processor.handlers import MessageHandler
from stream_processor.metrics import Histogram, processor_metrics
from vitalstream.mqtt import connect_async, make_client
from vitalstream.settings import Settings
from vitalstream.wire import AlertEvent, RejectedMessage, RejectReason, decode_alert_state
from vitalstream.wire.topics import ALERTS_ALL, COMMANDS_ALL, EVENTS_ALL, OBSERVATIONS_ALL, VITALS_ALL

__all__ = ["ProcessorService"]

log = logging.getLogger(__name__)

_DATA_ROOTS = frozenset({"vitals", "commands", "observations", "events"})
# Retained alert states arrive right after the SUBACK; this is how long we wait for them.
_RECONCILE_S = 1.0


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class ProcessorService:
    """Runs the processor until ``stop`` is set; see the module docstring for the data flow.

    ``core`` replaces the core built from ``settings`` (tests inject one that fails on purpose).
    """

    def __init__(
        self,
        *,
        settings: Settings,
        sink: PointSink,
        clock_ms: Callable[[], int] = wall_clock_ms,
        shutdown_flush_s: float = 10.0,
        core: ProcessorCore | None = None,
    ) -> None:
        self._settings = settings
        # How long a shutdown waits for the store. Less than the usual 30 s container stop grace period;
        # what is not stored by then stays unacknowledged and is redelivered to the next run.
        self._shutdown_flush_s = shutdown_flush_s
        self._sink = sink
        self._clock_ms = clock_ms
        if core is None:
            core = ProcessorCore(
                limits=settings.limits,
                alerting=settings.alerting,
                ward_of=settings.processor.ward_of,
                horizon_s=settings.processor.retrospective_horizon_s,
            )
        self.core = core
        self._effects = EffectsPlanner(
            fhir=settings.processor.fhir,
            fhir_vitals_every_s=settings.processor.fhir_vitals_every_s,
            ward_of=settings.processor.ward_of,
        )
        # One lock around the core and the held messages; re-entrant because handlers run under it.
        self._core_lock = threading.RLock()
        self.counts: Counter[str] = Counter()
        self._handler = MessageHandler(
            core=self.core,
            lock=self._core_lock,
            planner=self._effects,
            counts=self.counts,
            clock_ms=clock_ms,
            log=log,
        )
        self._checkpoint = Checkpoint(Path(settings.processor.state_dir) / f"{settings.processor.client_id}.checkpoint")
        # (kind, priority, transition) -> how many; and the time each message takes, for /metrics.
        self.alert_counts: Counter[tuple[str, str, str]] = Counter()
        self.latency = Histogram()
        self.last_tick = time.monotonic()
        self.ready = threading.Event()
        self._reconciled = threading.Event()
        self._held: list[mqtt.MQTTMessage] = []
        self._draining = False
        self._client = make_client(
            settings.broker, client_id=settings.processor.client_id, persistent=True, manual_ack=True
        )
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_publish = self._on_publish
        self._client.on_subscribe = self._on_subscribe
        self._network_thread: threading.Thread | None = None
        self._ledger = AckLedger(self._send_ack)
        self._publish_tickets: dict[int, Ticket] = {}
        self._reconcile_mid: int | None = None
        self._data_mid: int | None = None
        spool = None
        if isinstance(sink, LineSink) and settings.influx.spool_max_mb > 0:
            spool = DiskSpool(
                Path(settings.processor.state_dir) / f"{settings.processor.client_id}.influx-spool.sqlite",
                max_bytes=int(settings.influx.spool_max_mb * 1024 * 1024),
            )
        self._writer = BatchingWriter(
            sink,
            batch_size=settings.influx.batch_size,
            flush_interval_s=settings.influx.flush_interval_s,
            on_durable=self._ledger.settle_many,
            reject_file=Path(settings.processor.state_dir) / "rejected-points.lp",
            spool=spool,
        )

    # ------------------------------------------------------------ lifecycle

    def run(self, stop: threading.Event, *, stats_every_s: float = 30.0) -> None:
        self._restore_checkpoint()
        self._writer.start()
        connect_async(self._client, self._settings.broker, persistent=True)
        self._client.loop_start()
        # paho's own thread, kept so health can see it end. We keep paho's threaded mode (loop_start) rather
        # than run loop_forever on a thread of ours: only that mode wakes the loop when the writer or tick
        # thread sends, and serialises their socket writes. paho names the thread only as ``_thread`` and
        # clears it when the thread ends, hence our own reference.
        self._network_thread = self._client._thread
        last_stats = last_checkpoint = time.monotonic()
        loop_reported = False
        try:
            while not stop.wait(1.0):
                self._tick()
                self.last_tick = time.monotonic()
                if self.network_loop_failed and not loop_reported:
                    log.error("mqtt network loop stopped; nothing is received until the processor restarts")
                    loop_reported = True
                now = time.monotonic()
                if now - last_checkpoint >= self._settings.processor.checkpoint_every_s:
                    self._save_checkpoint()
                    last_checkpoint = now
                if now - last_stats >= stats_every_s:
                    log.info("processor stats", extra=self.stats())
                    last_stats = now
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        # Stop taking new messages (they stay unacknowledged and come back next run), store what we
        # have, let the ledger send the acks, checkpoint, then leave.
        self._draining = True
        if not self._writer.flush(timeout_s=self._shutdown_flush_s):
            log.warning("store did not take every point before shutdown; the broker will redeliver them")
        deadline = time.monotonic() + 5.0
        while self._ledger.outstanding and time.monotonic() < deadline:
            time.sleep(0.02)
        self._save_checkpoint()
        self._client.disconnect()
        self._client.loop_stop()
        self._writer.stop(timeout_s=1.0)
        log.info("processor stopped", extra=self.stats())

    @property
    def network_loop_failed(self) -> bool:
        """True when paho's network thread has ended while the service runs: no message is received any more."""
        thread = self._network_thread
        return thread is not None and not thread.is_alive() and not self._draining

    def metrics_text(self) -> str:
        """Prometheus text format: what an operator graphs and alerts on."""
        gauges = {
            "write_queue_points": ("Points queued for the store.", self._writer.depth),
            "spool_points": ("Points waiting in the local disk spool for the store.", self._writer.spooled),
            "unacked_messages": ("MQTT messages received and not yet acknowledged.", self._ledger.outstanding),
            "patients": ("Patients with state in this processor.", len(self.core.patients)),
            "store_healthy": ("1 when the last write to the store succeeded.", int(self._writer.healthy)),
        }
        return processor_metrics(dict(self.counts), dict(self.alert_counts), gauges, self.latency)

    def stats(self) -> dict[str, Any]:
        return {
            **dict(sorted(self.counts.items())),
            "write_queue": self._writer.depth,
            "spooled_points": self._writer.spooled,
            "spooled_total": self._writer.stats.spooled_points,
            "drained_total": self._writer.stats.drained_points,
            "unacked": self._ledger.outstanding,
            "patients": len(self.core.patients),
        }

    # ------------------------------------------------------------ checkpoints

    def _restore_checkpoint(self) -> None:
        restored = self._checkpoint.restore(self.core.restore_state)
        if restored.error is not None:
            # A bad checkpoint must not stop monitoring: start with fresh state and say so loudly.
            log.error(
                "checkpoint unreadable; starting without it",
                exc_info=restored.error,
                extra={"error": str(restored.error)},
            )
        elif restored.found:
            log.info("checkpoint restored", extra={"patients": len(self.core.patients)})

    def _save_checkpoint(self) -> None:
        with self._core_lock:
            blob = self.core.export_state()
        self._checkpoint.save(blob)
        self.counts["checkpoints"] += 1

    # ------------------------------------------------------------ MQTT callbacks (network thread)

    def _on_connect(self, client: mqtt.Client, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.error("broker refused connection", extra={"reason": str(reason)})
            return
        if not self._reconciled.is_set():
            _, self._reconcile_mid = client.subscribe(ALERTS_ALL, qos=1)
        _, self._data_mid = client.subscribe(
            [(VITALS_ALL, 1), (COMMANDS_ALL, 1), (OBSERVATIONS_ALL, 1), (EVENTS_ALL, 1)]
        )

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, mid: int, _codes: Any, _p: Any) -> None:
        if mid == self._reconcile_mid:
            threading.Timer(_RECONCILE_S, self._finish_reconcile).start()
        elif mid == self._data_mid:
            # Ready means subscribed: from here on the broker keeps every reading for us.
            log.info("connected, subscribed", extra={"broker": self._settings.broker.display_url})
            self.ready.set()

    def _finish_reconcile(self) -> None:
        with self._core_lock:
            self._reconciled.set()
            held = len(self._held)
        self._client.unsubscribe(ALERTS_ALL)
        log.info("retained alert states adopted", extra={"held_messages": held})
        # The held messages are handled by the network thread (before the next message it receives)
        # or by the next tick, whichever comes first, always under the lock and in arrival order.

    def _drain_held(self) -> None:
        """Handle the messages held during start-up, oldest first. Call with the lock held."""
        while self._held:
            held, self._held = self._held, []
            for message in held:
                self._dispatch(message)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.ready.clear()
        dropped = self._ledger.reset()
        self._publish_tickets.clear()
        with self._core_lock:
            self._held.clear()  # unacknowledged: the broker sends them again
        if not self._draining:
            log.warning(
                "disconnected; unacknowledged messages will be redelivered",
                extra={"reason": str(reason), "unacked": dropped},
            )

    def _send_ack(self, mid: int) -> None:
        self._client.ack(mid, 1)

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, _reason: Any, _p: Any) -> None:
        ticket = self._publish_tickets.pop(mid, None)
        if ticket is not None:
            self._ledger.settle(ticket)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if self._draining:
            return
        root = message.topic.partition("/")[0]
        if root == "alerts":
            self._adopt_retained(message)
            return
        with self._core_lock:
            if root in _DATA_ROOTS and not self._reconciled.is_set():
                self._held.append(message)  # not acknowledged: handled once the retained state is in
                return
            if self._held:
                self._drain_held()  # older messages first: readings must reach the core in order
            self._dispatch(message)

    def _adopt_retained(self, message: mqtt.MQTTMessage) -> None:
        if message.retain and message.payload:
            try:
                snapshot = decode_alert_state(message.payload)
            except RejectedMessage as exc:
                log.warning("ignoring a bad retained alert state", extra={"reason": exc.reason.value})
            else:
                with self._core_lock:
                    self.counts["retained_adopted"] += self.core.adopt_retained(snapshot)
        self._execute(message, Effects())

    # ------------------------------------------------------------ one message: handle, then execute its effects

    def _dispatch(self, message: mqtt.MQTTMessage) -> None:
        started = time.perf_counter()
        now_ms = self._clock_ms()
        root = message.topic.partition("/")[0]
        try:
            effects = self._handler.handle(message.topic, message.payload, now_ms)
        except RejectedMessage as exc:
            self.counts[f"rejected_{exc.reason.value}"] += 1
            # The reason and field are logged, never the payload (it may hold anything).
            log.warning("message rejected", extra={"topic_root": root, "reason": exc.reason.value, "field": exc.field})
            effects = self._set_aside(message, exc.reason.value, exc.field, exc.detail, now_ms)
        # Anything else a handler or the core raises is a bug on one message. Escaping into paho's network
        # thread would end it, and with it every patient's monitoring; the message is set aside instead.
        except Exception as exc:  # the one error policy: log, count, dead-letter, acknowledge, continue
            reason, error = RejectReason.PROCESSING_FAILED.value, type(exc).__name__
            self.counts[reason] += 1
            log.exception("message processing failed", extra={"topic_root": root, "reason": reason, "error": error})
            detail = f"{error} while handling this message; the processor's log has the traceback"
            effects = self._set_aside(message, reason, None, detail, now_ms)
        self._execute(message, effects)
        self.latency.observe(time.perf_counter() - started)

    def _set_aside(
        self, message: mqtt.MQTTMessage, reason: str, field: str | None, detail: str, now_ms: int
    ) -> Effects:
        """The message's dead letter; the message is acknowledged once that is safely at the broker."""
        return self._effects.dead_letter(
            message.topic, message.payload, reason=reason, field=field, detail=detail, now_ms=now_ms
        )

    def _tick(self) -> None:
        with self._core_lock:
            if self._reconciled.is_set() and self._held:
                self._drain_held()
            outcomes = self.core.on_tick(self._clock_ms())
        for outcome in outcomes:
            self._execute(None, self._effects.tick(outcome))

    # ------------------------------------------------------------ executing effects

    def _execute(self, message: mqtt.MQTTMessage | None, effects: Effects) -> None:
        """Publish, count, store: ``message`` is acknowledged once every publish is at the broker and the
        points are durable (at once when there is neither)."""
        ticket = None
        if message is not None and message.qos > 0:
            pending = len(effects.publishes) + (0 if effects.points is None else 1)
            ticket = self._ledger.open(message.mid, effects=pending)
        for publish in effects.publishes:
            info = self._client.publish(publish.topic, publish.payload, qos=1, retain=publish.retain)
            if ticket is not None:
                self._publish_tickets[info.mid] = ticket
        self._count_alerts(effects.events)
        if effects.points is not None:
            self._writer.submit(effects.points, ticket)

    def _count_alerts(self, events: tuple[AlertEvent, ...]) -> None:
        for event in events:
            alert = event.alert
            self.counts[f"alerts_{event.transition.value}"] += 1
            self.alert_counts[(alert.kind, alert.priority.value, event.transition.value)] += 1
            # One canonical log line per alert decision: facts, no payloads, pseudonyms only.
            log.info(
                "alert %s",
                event.transition.value,
                extra={
                    "alert_id": alert.alert_id,
                    "patient": alert.patient,
                    "kind": alert.kind,
                    "priority": alert.priority.value,
                    "state": alert.state.value,
                    "by": event.by,
                    "retrospective": alert.retrospective,
                    "rule": alert.explanation.rule,
                    "value": alert.explanation.value,
                    "limit": alert.explanation.limit,
                },
            )
