"""The stream processor: per-patient state, clinical rules and the alert lifecycle (pure core), and
the service that connects them to MQTT and the store (``stream_processor.service``).

The names below are imported on first use (PEP 562), not with the package: the core needs River
(the processor extra), and importing a River-free module such as ``stream_processor.news2`` (the
``vitalstream news2`` command) must not.
"""

from __future__ import annotations

import importlib
import typing

# For type checkers and readers; a module-level TYPE_CHECKING name would count as an export.
if typing.TYPE_CHECKING:
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

# Where each exported name lives.
_MODULE_OF = {
    "AckLedger": "stream_processor.acks",
    "AlertLifecycle": "stream_processor.alert_lifecycle",
    "AlertSubject": "stream_processor.alert_lifecycle",
    "CommandOutcome": "stream_processor.core",
    "CommandRefused": "stream_processor.alert_lifecycle",
    "LimitRule": "stream_processor.limits",
    "PatientState": "stream_processor.core",
    "ProcessorCore": "stream_processor.core",
    "ReadingOutcome": "stream_processor.core",
    "SeqStatus": "stream_processor.sequence",
    "SeqTracker": "stream_processor.sequence",
    "SeqVerdict": "stream_processor.sequence",
    "alert_id": "stream_processor.alert_lifecycle",
    "hard_limit_rules": "stream_processor.limits",
}


def __getattr__(name: str) -> object:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups find it directly
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
