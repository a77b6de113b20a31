"""Who may do what on the bus: an :class:`~vitalstream.enrolment.Enrolment` turned into roles and clients.

Pure (no I/O): the same enrolment always gives the same policy, which the dynamic-security renderer
(:mod:`vitalstream_app.access.dynsec`) writes for Mosquitto and the tests check rule by rule.

Every ACL is a *literal* topic filter (Mosquitto's dynamic-security plugin has no ``%u``/``%c``
substitution), so per-patient and per-device rules are spelled out, and admitting a patient or enrolling a
device changes a role at run time instead of a pattern. Nothing is allowed by default; each identity gets
exactly what the shipped programs use:

============  ====================================================================================
identity      may
============  ====================================================================================
edge          publish ``vitals/v1/{patient}/{device}`` and ``events/v1/{patient}/{device}`` for each of
              its devices, with that device's patient; read nothing
processor     read vitals, events, observations, commands and the retained alert states (all
              patients); publish alerts (retained), alert events, command results, FHIR, dead letters
station       read its ward's alerts, alert events and command results; read the vitals of its ward's
              patients only (it subscribes to ``vitals/v1/+/+`` and the broker drops the others);
              publish commands for its ward's patients only
integrator    read alert events and FHIR of the wards in its scope
access-admin  the dynamic-security control topics only (``vitalstream access apply``); no patient data
broker-health ``$SYS/broker/uptime`` only (a health check)
============  ====================================================================================

Nobody but the processor reads dead letters (nobody does) or publishes alert states and alert events;
nobody but the processor and a ward's stations reads vitals.

>>> from vitalstream.enrolment import Enrolment, EdgeEnrolment
>>> policy = build_policy(Enrolment(patients={"p-1": "w-1"}, edges=(EdgeEnrolment("e-1", {"d-1": "p-1"}),)))
>>> [acl.topic for acl in policy.roles["edge:e-1"].acls]
['events/v1/p-1/d-1', 'vitals/v1/p-1/d-1']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from vitalstream.enrolment import Enrolment
from vitalstream.wire.topics import (
    ALERT_EVENTS_ALL,
    ALERTS_ALL,
    COMMAND_RESULTS_ALL,
    COMMANDS_ALL,
    EVENTS_ALL,
    OBSERVATIONS_ALL,
    VITALS_ALL,
    command_topic,
    events_topic,
    vitals_topic,
)

__all__ = [
    "ADMIN",
    "CONTROL_TOPICS",
    "HEALTH",
    "HEALTH_TOPIC",
    "Acl",
    "AclType",
    "Client",
    "Kind",
    "Policy",
    "Role",
    "build_policy",
]

ADMIN = "access-admin"
HEALTH = "broker-health"
# The dynamic-security plugin's request and response topics (mosquitto_ctrl uses the same).
CONTROL_TOPICS = "$CONTROL/dynamic-security/#"
HEALTH_TOPIC = "$SYS/broker/uptime"


class AclType(StrEnum):
    """The dynamic-security plugin's ACL types (Mosquitto 2.0)."""

    SEND = "publishClientSend"  # the client may publish here
    RECEIVE = "publishClientReceive"  # the broker may deliver messages on these topics to the client
    SUBSCRIBE_LITERAL = "subscribeLiteral"  # the client may subscribe with exactly this filter
    SUBSCRIBE_PATTERN = "subscribePattern"  # ... with any filter inside this one


class Kind(StrEnum):
    EDGE = "edge"
    PROCESSOR = "processor"
    STATION = "station"
    INTEGRATOR = "integrator"
    ADMIN = "admin"
    HEALTH = "health"


@dataclass(frozen=True, slots=True, order=True)
class Acl:
    acltype: AclType
    topic: str


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    acls: tuple[Acl, ...]


@dataclass(frozen=True, slots=True)
class Client:
    username: str
    kind: Kind
    roles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    roles: Mapping[str, Role]
    clients: Mapping[str, Client]

    def acls_of(self, username: str) -> tuple[Acl, ...]:
        """Every ACL the client holds through its roles."""
        return tuple(acl for role in self.clients[username].roles for acl in self.roles[role].acls)


def _role(name: str, acls: Iterable[Acl]) -> Role:
    # Sorted and deduplicated, so the generated file and a broker's state compare as sets and diff cleanly.
    return Role(name=name, acls=tuple(sorted(set(acls))))


def _read(subscribe: AclType, *filters: str) -> list[Acl]:
    return [Acl(kind, topic) for topic in filters for kind in (subscribe, AclType.RECEIVE)]


def _processor_role() -> Role:
    inputs = (VITALS_ALL, EVENTS_ALL, OBSERVATIONS_ALL, COMMANDS_ALL, ALERTS_ALL)
    outputs = (ALERTS_ALL, ALERT_EVENTS_ALL, COMMAND_RESULTS_ALL, "fhir/v1/+/+/+", "deadletter/v1/+")
    return _role(
        "processor", [*_read(AclType.SUBSCRIBE_LITERAL, *inputs), *(Acl(AclType.SEND, topic) for topic in outputs)]
    )


def _station_role(ward: str, patients: Iterable[str]) -> Role:
    patients = tuple(patients)
    acls = _read(
        AclType.SUBSCRIBE_LITERAL, f"alerts/v1/{ward}/+", f"alert-events/v1/{ward}/+", f"command-results/v1/{ward}/+"
    )
    # Vitals topics are per patient, not per ward: the station subscribes to all of them (it cannot know who
    # will be admitted next) and the broker delivers only its ward's patients' readings.
    acls.append(Acl(AclType.SUBSCRIBE_LITERAL, VITALS_ALL))
    acls += [Acl(AclType.RECEIVE, f"vitals/v1/{patient}/+") for patient in patients]
    # Per patient, not commands/v1/{ward}/+: the processor acts on the patient named in the command, so a
    # ward-wide grant would let a station command another ward's patient under its own ward's prefix.
    acls += [Acl(AclType.SEND, command_topic(ward, patient)) for patient in patients]
    return _role(f"station:{ward}", acls)


def _integrator_role(ward: str) -> Role:
    return _role(
        f"integrator:{ward}", _read(AclType.SUBSCRIBE_PATTERN, f"alert-events/v1/{ward}/#", f"fhir/v1/{ward}/#")
    )


def build_policy(enrolment: Enrolment) -> Policy:
    """The roles and clients for ``enrolment``, plus the two built-in identities (admin, health)."""
    roles: dict[str, Role] = {
        ADMIN: _role(ADMIN, [Acl(AclType.SEND, CONTROL_TOPICS), *_read(AclType.SUBSCRIBE_PATTERN, CONTROL_TOPICS)]),
        HEALTH: _role(HEALTH, _read(AclType.SUBSCRIBE_LITERAL, HEALTH_TOPIC)),
    }
    clients: dict[str, Client] = {
        ADMIN: Client(ADMIN, Kind.ADMIN, (ADMIN,)),
        HEALTH: Client(HEALTH, Kind.HEALTH, (HEALTH,)),
    }
    for edge in enrolment.edges:
        role = _role(
            f"edge:{edge.name}",
            [
                Acl(AclType.SEND, topic(patient, device))
                for device, patient in edge.devices.items()
                for topic in (vitals_topic, events_topic)
            ],
        )
        roles[role.name] = role
        clients[edge.name] = Client(edge.name, Kind.EDGE, (role.name,))
    if enrolment.processors:
        roles["processor"] = _processor_role()
    for name in enrolment.processors:
        clients[name] = Client(name, Kind.PROCESSOR, ("processor",))
    for station in enrolment.stations:
        role = _station_role(station.ward, enrolment.patients_of(station.ward))
        roles[role.name] = role
        clients[station.name] = Client(station.name, Kind.STATION, (role.name,))
    for integrator in enrolment.integrators:
        for ward in integrator.wards:
            role = _integrator_role(ward)
            roles[role.name] = role
        clients[integrator.name] = Client(
            integrator.name, Kind.INTEGRATOR, tuple(f"integrator:{ward}" for ward in integrator.wards)
        )
    return Policy(roles=dict(sorted(roles.items())), clients=dict(sorted(clients.items())))
