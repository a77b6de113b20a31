"""The message types of wire contract v1, as frozen, validated-on-decode value objects.

Times are integer milliseconds since the Unix epoch (UTC) in memory and RFC 3339 strings with a
``Z`` suffix on the wire. Mappings inside messages are plain dicts typed as read-only ``Mapping``;
the codec builds them and nothing mutates them afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "SCHEMA_VERSION",
    "Alert",
    "AlertAction",
    "AlertCommand",
    "AlertEvent",
    "AlertExplanation",
    "AlertState",
    "CommandResult",
    "CommandStatus",
    "DeadLetter",
    "EdgeEvent",
    "Fault",
    "Observation",
    "PatientAlerts",
    "Priority",
    "Resolution",
    "Rhythm",
    "Transition",
    "VitalsReading",
    "Waveform",
]

SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Rhythm:
    """The edge's rhythm call for the last window: a label (``N``, ``AF``, ...) and its probability."""

    label: str
    p: float


class Fault(StrEnum):
    """Why a device withheld one of its derived outputs for one second (the reading's ``faults``).

    A technical status, not a physiological finding: the output is missing because the device could
    not compute it, not because the signal said nothing.
    """

    MODEL_ERROR = "model_error"  # the model failed on this second's window
    INPUT_GAP = "input_gap"  # its input has a gap left by a failed model (e.g. the beats behind hr, rhythm)


@dataclass(frozen=True, slots=True)
class VitalsReading:
    """One device's derived vitals for one second.

    ``vitals`` maps keys of :data:`vitalstream.wire.vitals.VITALS` to values in their fixed units;
    ``sqi`` maps a channel (``ecg``, ``ppg``, ...) to a signal quality in [0, 1]; ``beats`` counts
    beats by AAMI class since the previous reading; ``models`` maps an output (``hr``, ``rhythm``,
    ``beats``, ``sqi``) to the ``name@version`` of the model that produced it; ``faults`` maps an
    output the device withheld this second to the :class:`Fault` that made it do so (so a missing
    heart rate reads as "the detector failed", not as "no signal"). Old readers ignore ``faults``.
    """

    patient: str
    device: str
    seq: int
    ts_ms: int
    vitals: Mapping[str, float]
    sqi: Mapping[str, float] = field(default_factory=dict)
    rhythm: Rhythm | None = None
    beats: Mapping[str, int] = field(default_factory=dict)
    models: Mapping[str, str] = field(default_factory=dict)
    # Longest run of consecutive beats of a class (V, S) in this reading's second, e.g. {"V": 6}; at most 1000.
    runs: Mapping[str, int] = field(default_factory=dict)
    faults: Mapping[str, Fault] = field(default_factory=dict)


class Priority(StrEnum):
    """IEC 60601-1-8 alarm priorities."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for high, so sorting by rank puts the most urgent first."""
        return {"high": 0, "medium": 1, "low": 2}[self.value]


class AlertState(StrEnum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Resolution(StrEnum):
    """How a resolved alert ended: the condition cleared, a clinician resolved it, or it was a false alarm."""

    CLEARED = "cleared"
    RESOLVED = "resolved"
    FALSE_ALARM = "false_alarm"


class Transition(StrEnum):
    """Alert lifecycle transitions, as recorded in ``alert_events``."""

    RAISED = "raised"
    UPDATED = "updated"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    FALSE_ALARM = "false_alarm"


class AlertAction(StrEnum):
    """What a clinician can do to an alert."""

    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    FALSE_ALARM = "false_alarm"


@dataclass(frozen=True, slots=True)
class AlertExplanation:
    """Why an alert exists, in terms a nurse and an auditor can check.

    ``summary`` is one sentence for the screen; the other fields are the facts behind it: the rule
    or model, the vital and its value, the limit crossed, the patient's learned baseline (if any),
    the signal quality per channel and the models that produced the inputs.
    """

    rule: str
    summary: str
    vital: str | None = None
    value: float | None = None
    limit: float | None = None
    unit: str | None = None
    baseline: Mapping[str, float] = field(default_factory=dict)
    sqi: Mapping[str, float] = field(default_factory=dict)
    models: Mapping[str, str] = field(default_factory=dict)
    # What to do (for NEWS2: the RCP clinical response), and rule-specific facts (e.g. NEWS2 points).
    response: str | None = None
    detail: Mapping[str, float | str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: at most one is open per patient and kind; re-triggers update it."""

    alert_id: str
    patient: str
    ward: str
    device: str
    kind: str
    priority: Priority
    state: AlertState
    onset_ms: int
    raised_ms: int
    updated_ms: int
    explanation: AlertExplanation
    retrospective: bool = False
    escalated: bool = False
    acknowledged_by: str | None = None
    resolved_ms: int | None = None
    resolution: Resolution | None = None


@dataclass(frozen=True, slots=True)
class PatientAlerts:
    """The retained snapshot on ``alerts/v1/{ward}/{patient}``: every open alert of one patient."""

    ward: str
    patient: str
    updated_ms: int
    alerts: tuple[Alert, ...]
    # The number of the last alert event of this patient's stream: a subscriber that sees a
    # higher number than it has received knows it missed events.
    event_no: int = 0


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One lifecycle transition, numbered per patient stream so a subscriber can see a gap."""

    event_no: int
    transition: Transition
    ts_ms: int
    alert: Alert
    by: str | None = None


@dataclass(frozen=True, slots=True)
class AlertCommand:
    """A clinician's command on an alert. ``command_id`` makes a repeated command harmless."""

    command_id: str
    action: AlertAction
    alert_id: str
    patient: str
    by: str
    ts_ms: int
    note: str | None = None


class CommandStatus(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # this command_id was applied before: nothing changed now
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The processor's answer to one command, so a sender (a nurse station, an HTTP client) can tell a
    nurse at once why her click changed nothing. ``reason`` is a code (``unknown_alert``,
    ``transition_not_allowed``) when refused."""

    command_id: str
    action: AlertAction
    alert_id: str
    patient: str
    status: CommandStatus
    ts_ms: int
    reason: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected message, kept with its reason so that nothing is lost and the sender can be fixed."""

    topic: str
    reason: str
    field: str | None
    detail: str
    received_ms: int
    size: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Waveform:
    """A stretch of one signal: 16-bit counts (little-endian) at ``fs``, ``scale`` physical units per count.

    ``data`` holds the raw little-endian int16 bytes; ``kind`` is ``ecg`` or ``ppg``, ``unit`` ``mV`` for ECG.
    A count of -32768 is a missing sample (a dropout in the recording; WFDB's convention for 16-bit data).
    """

    kind: str
    lead: str
    fs: float
    start_ms: int
    scale: float
    unit: str
    data: bytes

    @property
    def count(self) -> int:
        return len(self.data) // 2


@dataclass(frozen=True, slots=True)
class EdgeEvent:
    """Something the edge saw (AF onset, a run of ventricular beats, signal loss) with the waveform around it.

    ``event_id`` is deterministic (device, kind, onset), so a redelivered event is recognisably the same.
    """

    event_id: str
    patient: str
    device: str
    kind: str
    ts_ms: int
    detail: Mapping[str, float | str] = field(default_factory=dict)
    models: Mapping[str, str] = field(default_factory=dict)
    waveforms: tuple[Waveform, ...] = ()


@dataclass(frozen=True, slots=True)
class Observation:
    """Observations a wearable cannot make, entered by a nurse or another device (NEWS2 inputs).

    ``values`` uses the NEWS2 keys: ``respiration_rate``, ``spo2``, ``spo2_scale`` (1 or 2: scale 2
    for a prescribed 88-92 % target), ``on_oxygen``, ``systolic_bp``, ``pulse``, ``consciousness``
    (ACVPU letter) and ``temperature``.
    """

    patient: str
    source: str
    ts_ms: int
    values: Mapping[str, float | str | bool]
    by: str | None = None
