"""The MQTT topic scheme, v1.

One topic root per message type, so a subscriber, a broker ACL or a bridge can select a type by
the first level alone and the payload schema follows from the root::

    vitals/v1/{patient}/{device}          1 Hz vitals readings (edge -> processor), QoS 1
    events/v1/{patient}/{device}          edge-detected events with a waveform snippet, QoS 1
    observations/v1/{patient}/{source}    manual observations (BP, ACVPU, oxygen), QoS 1
    alerts/v1/{ward}/{patient}            the patient's current alerts, RETAINED; empty payload = none
    alert-events/v1/{ward}/{patient}      every alert lifecycle transition, numbered per patient stream
    commands/v1/{ward}/{patient}          acknowledge / resolve / false_alarm commands
    command-results/v1/{ward}/{patient}   the processor's answer to each command: applied, duplicate or
                                          refused with a reason
    deadletter/v1/{root}                  rejected messages with their reason, by the root they came on

Why ``alerts/v1/{ward}/{patient}`` holds *all* of a patient's alerts in one retained message rather
than one topic per alert: a station that subscribes to a ward receives exactly one retained message
per patient with an active alert, and it is cleared (empty retained payload) when the last alert
resolves, so nothing stale is left behind. The processor owns that state, so no read-modify-write
race exists. State *changes* go to their own root so that a telemedicine platform can follow the
numbered stream without the retained snapshots.

Identifiers (patient, device, ward, source) are pseudonyms: 1-64 characters from ``A-Za-z0-9_.-``,
starting with a letter or digit. That excludes the MQTT wildcards and separators by construction.

>>> vitals_topic("p-3f2a", "d-01")
'vitals/v1/p-3f2a/d-01'
>>> parse_vitals_topic("vitals/v1/p-3f2a/d-01")
('p-3f2a', 'd-01')
"""

from __future__ import annotations

import re

from vitalstream.wire.errors import RejectedMessage, RejectReason

__all__ = [
    "ALERTS_ALL",
    "ALERT_EVENTS_ALL",
    "COMMANDS_ALL",
    "COMMAND_RESULTS_ALL",
    "EVENTS_ALL",
    "OBSERVATIONS_ALL",
    "VITALS_ALL",
    "alert_events_topic",
    "alert_state_topic",
    "check_id",
    "command_result_topic",
    "command_topic",
    "deadletter_topic",
    "events_topic",
    "observations_topic",
    "parse_command_topic",
    "parse_events_topic",
    "parse_observations_topic",
    "parse_vitals_topic",
    "vitals_topic",
]

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

VITALS_ALL = "vitals/v1/+/+"
EVENTS_ALL = "events/v1/+/+"
OBSERVATIONS_ALL = "observations/v1/+/+"
ALERTS_ALL = "alerts/v1/+/+"
ALERT_EVENTS_ALL = "alert-events/v1/+/+"
COMMANDS_ALL = "commands/v1/+/+"
COMMAND_RESULTS_ALL = "command-results/v1/+/+"


def check_id(value: str, *, field: str) -> str:
    """Return ``value`` if it is a valid pseudonymous identifier, else raise ``RejectedMessage``."""
    if not _ID.fullmatch(value):
        raise RejectedMessage(
            RejectReason.BAD_ID, field, f"identifier must be 1-64 characters of A-Za-z0-9_.- (got {len(value)} chars)"
        )
    return value


def vitals_topic(patient: str, device: str) -> str:
    return f"vitals/v1/{patient}/{device}"


def events_topic(patient: str, device: str) -> str:
    return f"events/v1/{patient}/{device}"


def alert_state_topic(ward: str, patient: str) -> str:
    return f"alerts/v1/{ward}/{patient}"


def alert_events_topic(ward: str, patient: str) -> str:
    return f"alert-events/v1/{ward}/{patient}"


def command_topic(ward: str, patient: str) -> str:
    return f"commands/v1/{ward}/{patient}"


def command_result_topic(ward: str, patient: str) -> str:
    return f"command-results/v1/{ward}/{patient}"


def deadletter_topic(topic: str) -> str:
    """Dead letters are grouped by the root of the topic the bad message arrived on."""
    root = topic.split("/", 1)[0]
    return f"deadletter/v1/{root if _ID.fullmatch(root) else 'unknown'}"


def _two_ids(topic: str, root: str, first: str, second: str) -> tuple[str, str]:
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != root or parts[1] != "v1":
        raise RejectedMessage(RejectReason.BAD_TOPIC, None, f"expected {root}/v1/{{{first}}}/{{{second}}}")
    return check_id(parts[2], field=first), check_id(parts[3], field=second)


def parse_vitals_topic(topic: str) -> tuple[str, str]:
    """``vitals/v1/{patient}/{device}`` -> ``(patient, device)``."""
    return _two_ids(topic, "vitals", "patient", "device")


def parse_events_topic(topic: str) -> tuple[str, str]:
    """``events/v1/{patient}/{device}`` -> ``(patient, device)``."""
    return _two_ids(topic, "events", "patient", "device")


def parse_observations_topic(topic: str) -> tuple[str, str]:
    """``observations/v1/{patient}/{source}`` -> ``(patient, source)``."""
    return _two_ids(topic, "observations", "patient", "source")


def observations_topic(patient: str, source: str) -> str:
    return f"observations/v1/{patient}/{source}"


def parse_command_topic(topic: str) -> tuple[str, str]:
    """``commands/v1/{ward}/{patient}`` -> ``(ward, patient)``."""
    return _two_ids(topic, "commands", "ward", "patient")
