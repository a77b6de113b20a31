"""The stream processor: per-patient state, clinical rules and the alert lifecycle (pure core), and
the service that connects them to MQTT and the store (``stream_processor.service``)."""

from stream_processor.acks import AckLedger
from stream_processor.alert_lifecycle import AlertLifecycle, AlertSubject, CommandRefused, alert_id
from stream_processor.core import CommandOutcome, PatientState, ProcessorCore, ReadingOutcome
from stream_processor.limits import LimitRule, hard_limit_rules
from stream_processor.sequence import SeqStatus, SeqTracker, SeqVerdict

__all__ = [
    "AckLedger",
    "AlertLifecycle",
    "AlertSubject",
    "CommandOutcome",
    "CommandRefused",
    "LimitRule",
    "PatientState",
    "ProcessorCore",
    "ReadingOutcome",
    "SeqStatus",
    "SeqTracker",
    "SeqVerdict",
    "alert_id",
    "hard_limit_rules",
]
