"""Everything the processor knows about one patient, small and picklable (it is checkpointed).

~4-8 KB per patient: four River baselines, the latest NEWS2 inputs, a few counters for the rhythm
rules, the alert lifecycles that are not idle, sequence trackers per device and the stream's event
number. ``bench processor`` measures the pickled size.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from stream_processor.alert_lifecycle import AlertLifecycle
from stream_processor.baselines import VitalBaseline
from stream_processor.sequence import SeqTracker
from vitalstream.wire import Alert

__all__ = ["BASELINE_VITALS", "DeviceSeen", "PatientState"]

# Vitals with a learned baseline. Blood pressure comes too rarely (a cuff) to learn a personal normal.
BASELINE_VITALS = ("hr", "spo2", "rr", "temp")


@dataclass(slots=True)
class DeviceSeen:
    """When a device was last heard of: by its own clock, and by ours (for ``no_data``)."""

    ts_ms: int
    arrived_ms: int


@dataclass(slots=True)
class PatientState:
    ward: str
    lifecycles: dict[str, AlertLifecycle] = field(default_factory=dict)
    devices: dict[str, SeqTracker] = field(default_factory=dict)
    seen: dict[str, DeviceSeen] = field(default_factory=dict)
    baselines: dict[str, VitalBaseline] = field(default_factory=dict)
    # NEWS2 inputs: parameter -> (value, event time). Vitals enter smoothed, observations as given.
    news2_inputs: dict[str, tuple[float | str | bool, int]] = field(default_factory=dict)
    spo2_scale: int = 1
    counters: dict[str, float] = field(default_factory=dict)
    feedback: dict[str, int] = field(default_factory=dict)  # false alarms per alert kind
    event_no: int = 0
    last_ts_ms: int = 0
    commands_seen: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def baseline(self, vital: str) -> VitalBaseline:
        found = self.baselines.get(vital)
        if found is None:
            found = self.baselines[vital] = VitalBaseline.for_vital(vital)
        return found

    def open_alerts(self) -> tuple[Alert, ...]:
        alerts = [lc.alert for lc in self.lifecycles.values() if lc.is_open and lc.alert is not None]
        return tuple(sorted(alerts, key=lambda a: (a.priority.rank, a.raised_ms)))

    def is_open(self, kind: str) -> bool:
        lifecycle = self.lifecycles.get(kind)
        return lifecycle is not None and lifecycle.is_open
