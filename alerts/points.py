"""The storage point model, its InfluxDB line protocol, and the points for vitals and alerts.

A point is identified by measurement + tags + timestamp; writing the same point again overwrites
it. All timestamps are device (event) times in milliseconds, so a redelivered reading or a
re-published alert lands on the same key and is stored once. Tags carry only low-cardinality keys
that queries group by; everything else is a field.

Schema (the README shows example queries)::

    vitals        tags patient, device          fields hr spo2 rr temp sbp dbp (float), seq (int),
                                                sqi_<channel>, rhythm, rhythm_p, beats_<class> (int),
                                                run_<class> (int), fault_<output> (the reason it was withheld)
    alerts        tags patient, ward, kind      fields alert_id, state, priority, resolution, rule,
                  time = raised                 summary, value, limit, onset_ms, retrospective, ...
    alert_events  tags patient, ward, kind,     fields alert_id, event_no, by, state, priority, summary
                  transition; time = event time
    observations  tags patient, source          fields the observed values (NEWS2 names), by
    edge_events   tags patient, device, kind    fields event_id, detail_*, model_*, <ecg|ppg>_{lead,fs,scale,
                                                start_ms,b64}: the waveform snippet; time = onset

>>> Point("vitals", (("device", "d 1"), ("patient", "p-1")), (("hr", 72.0), ("seq", 3)), 1_790_000_000_000).line()
'vitals,device=d\\\\ 1,patient=p-1 hr=72.0,seq=3i 1790000000000'
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from vitalstream.wire import Alert, AlertEvent, EdgeEvent, Observation, VitalsReading

__all__ = [
    "AnyPoint",
    "FieldValue",
    "Point",
    "VitalsPoint",
    "alert_event_point",
    "alert_point",
    "edge_event_point",
    "observation_point",
    "vitals_point",
]

FieldValue = float | int | str | bool


def _escape_key(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _escape_measurement(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ")


def _field(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    # Line protocol cannot carry a raw newline; a summary never needs one.
    text = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{text}"'


@dataclass(frozen=True, slots=True)
class Point:
    """One stored point. ``tags`` and ``fields`` are sorted (key, value) pairs; ``time_ms`` is event time."""

    measurement: str
    tags: tuple[tuple[str, str], ...]
    fields: tuple[tuple[str, FieldValue], ...]
    time_ms: int

    def line(self) -> str:
        """InfluxDB line protocol at millisecond precision."""
        head = _escape_measurement(self.measurement)
        if self.tags:
            head += "," + ",".join(f"{_escape_key(k)}={_escape_key(v)}" for k, v in self.tags if v)
        body = ",".join(f"{_escape_key(k)}={_field(v)}" for k, v in self.fields)
        return f"{head} {body} {self.time_ms}"


class VitalsPoint:
    """The ``vitals`` point of one reading, rendered only when written (10,000 of these a second).

    Same interface as :class:`Point`. Tag values need no escaping: patient and device ids are checked
    against ``[A-Za-z0-9][A-Za-z0-9_.-]*`` by the codec, which contains no line-protocol specials; so
    are the output names of ``faults`` (``[a-z][a-z0-9_]*``) and their codes (``model_error``, ...).
    """

    __slots__ = ("reading",)
    measurement = "vitals"

    def __init__(self, reading: VitalsReading) -> None:
        self.reading = reading

    @property
    def tags(self) -> tuple[tuple[str, str], ...]:
        return (("device", self.reading.device), ("patient", self.reading.patient))

    @property
    def time_ms(self) -> int:
        return self.reading.ts_ms

    @property
    def fields(self) -> tuple[tuple[str, FieldValue], ...]:
        r = self.reading
        fields: list[tuple[str, FieldValue]] = [(key, float(value)) for key, value in r.vitals.items()]
        fields.append(("seq", r.seq))
        fields.extend((f"sqi_{channel}", value) for channel, value in r.sqi.items())
        if r.rhythm is not None:
            fields.extend((("rhythm", r.rhythm.label), ("rhythm_p", r.rhythm.p)))
        fields.extend((f"beats_{beat_class}", count) for beat_class, count in r.beats.items())
        fields.extend((f"run_{beat_class}", length) for beat_class, length in r.runs.items())
        fields.extend((f"fault_{output}", str(fault)) for output, fault in r.faults.items())
        return tuple(sorted(fields))

    def line(self) -> str:
        r = self.reading
        body = [f"{key}={float(value)!r}" for key, value in r.vitals.items()]
        body.append(f"seq={r.seq}i")
        body.extend(f"sqi_{channel}={float(value)!r}" for channel, value in r.sqi.items())
        if r.rhythm is not None:
            body.append(f"rhythm={_field(r.rhythm.label)},rhythm_p={float(r.rhythm.p)!r}")
        body.extend(f"beats_{beat_class}={count}i" for beat_class, count in r.beats.items())
        body.extend(f"run_{beat_class}={length}i" for beat_class, length in r.runs.items())
        body.extend(f'fault_{output}="{fault}"' for output, fault in r.faults.items())
        return f"vitals,device={r.device},patient={r.patient} {','.join(body)} {r.ts_ms}"


def vitals_point(reading: VitalsReading) -> VitalsPoint:
    return VitalsPoint(reading)


def _alert_fields(alert: Alert) -> list[tuple[str, FieldValue]]:
    fields: list[tuple[str, FieldValue]] = [
        ("alert_id", alert.alert_id),
        ("state", alert.state.value),
        ("priority", alert.priority.value),
        ("summary", alert.explanation.summary),
        ("rule", alert.explanation.rule),
        ("retrospective", alert.retrospective),
    ]
    if alert.explanation.value is not None:
        fields.append(("value", alert.explanation.value))
    if alert.explanation.limit is not None:
        fields.append(("limit", alert.explanation.limit))
    return fields


def alert_point(alert: Alert) -> Point:
    """The alert's current state, keyed by its raise time: each update overwrites the same point."""
    fields = _alert_fields(alert)
    fields += [
        ("device", alert.device),
        ("onset_ms", alert.onset_ms),
        ("updated_ms", alert.updated_ms),
        ("escalated", alert.escalated),
    ]
    if alert.resolution is not None:
        fields.append(("resolution", alert.resolution.value))
    if alert.resolved_ms is not None:
        fields.append(("resolved_ms", alert.resolved_ms))
    if alert.acknowledged_by is not None:
        fields.append(("acknowledged_by", alert.acknowledged_by))
    return Point(
        "alerts",
        (("kind", alert.kind), ("patient", alert.patient), ("ward", alert.ward)),
        tuple(sorted(fields)),
        alert.raised_ms,
    )


def alert_event_point(event: AlertEvent) -> Point:
    """One lifecycle transition, with who caused it (``processor`` for automatic transitions)."""
    fields = _alert_fields(event.alert)
    fields += [("event_no", event.event_no), ("by", event.by or "processor")]
    return Point(
        "alert_events",
        (
            ("kind", event.alert.kind),
            ("patient", event.alert.patient),
            ("transition", event.transition.value),
            ("ward", event.alert.ward),
        ),
        tuple(sorted(fields)),
        event.ts_ms,
    )


def observation_point(observation: Observation) -> Point:
    """A nurse's (or device's) observation, as entered: the audit trail behind a NEWS2 score."""
    fields: list[tuple[str, FieldValue]] = []
    for key, value in observation.values.items():
        fields.append((key, value if isinstance(value, bool | str) else float(value)))
    if observation.by is not None:
        fields.append(("by", observation.by))
    return Point(
        "observations",
        (("patient", observation.patient), ("source", observation.source)),
        tuple(sorted(fields)),
        observation.ts_ms,
    )


def edge_event_point(event: EdgeEvent) -> Point:
    """An edge event with its waveform snippets (base64 int16, a few tens of kB), for review on a station."""
    fields: list[tuple[str, FieldValue]] = [("event_id", event.event_id)]
    fields.extend((f"detail_{k}", v if isinstance(v, str) else float(v)) for k, v in event.detail.items())
    fields.extend((f"model_{k}", v) for k, v in event.models.items())
    for wave in event.waveforms:
        prefix = wave.kind
        fields += [
            (f"{prefix}_lead", wave.lead),
            (f"{prefix}_fs", wave.fs),
            (f"{prefix}_scale", wave.scale),
            (f"{prefix}_start_ms", wave.start_ms),
            (f"{prefix}_b64", base64.b64encode(wave.data).decode("ascii")),
        ]
    return Point(
        "edge_events",
        (("device", event.device), ("kind", event.kind), ("patient", event.patient)),
        tuple(sorted(fields)),
        event.ts_ms,
    )


AnyPoint = Point | VitalsPoint
