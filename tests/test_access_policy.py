"""The access policy, rule by rule, over generated hospitals; and its dynamic-security renderings.

The broker tests (tests/integration/test_access_*.py) show Mosquitto enforcing the policy; these show the
policy says what the README promises, for any enrolment, using paho's own topic matching.
"""

from __future__ import annotations

import base64
import hashlib

from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.client import topic_matches_sub

from vitalstream.enrolment import EdgeEnrolment, Enrolment, IntegratorEnrolment, StationEnrolment
from vitalstream_app.access.dynsec import (
    DEFAULT_ACL_ACCESS,
    HASH_ITERATIONS,
    BrokerState,
    parse_state,
    reconcile,
    render_config,
)
from vitalstream_app.access.policy import ADMIN, HEALTH, AclType, Kind, Policy, build_policy

WARDS = ["ward-a", "ward-b", "ward-c"]


@st.composite
def hospitals(draw: st.DrawFn) -> Enrolment:
    patients = {f"p-{i}": draw(st.sampled_from(WARDS)) for i in range(draw(st.integers(0, 6)))}
    devices = (
        {f"d-{i}": draw(st.sampled_from(sorted(patients))) for i in range(draw(st.integers(0, 6)))} if patients else {}
    )
    edges: list[EdgeEnrolment] = []
    names = sorted(devices)
    while names:
        take = draw(st.integers(1, len(names)))
        edges.append(EdgeEnrolment(f"edge-{len(edges)}", {d: devices[d] for d in names[:take]}))
        names = names[take:]
    stations = [StationEnrolment(f"station-{w}", w) for w in WARDS if draw(st.booleans())]
    scope = draw(st.lists(st.sampled_from(WARDS), min_size=1, max_size=3, unique=True))
    return Enrolment(
        patients=patients,
        edges=tuple(edges),
        processors=("processor",) if draw(st.booleans()) else (),
        stations=tuple(stations),
        integrators=(IntegratorEnrolment("telemed", tuple(scope)),),
    )


def _may(policy: Policy, user: str, kind: AclType, topic: str) -> bool:
    return any(acl.acltype == kind and topic_matches_sub(acl.topic, topic) for acl in policy.acls_of(user))


def _reads(policy: Policy, user: str, topic: str) -> bool:
    """What the broker delivers: a subscription it grants and a receive ACL that covers the message."""
    return _may(policy, user, AclType.RECEIVE, topic)


@given(hospitals())
def test_devices_publish_only_their_own_topics_and_read_nothing(enrolment: Enrolment) -> None:
    policy = build_policy(enrolment)
    for edge in enrolment.edges:
        acls = policy.acls_of(edge.name)
        expected = {f"{root}/v1/{p}/{d}" for d, p in edge.devices.items() for root in ("vitals", "events")}
        assert {acl.topic for acl in acls} == expected
        assert {acl.acltype for acl in acls} == {AclType.SEND}
        assert not any(c in acl.topic for acl in acls for c in "+#")


@given(hospitals())
def test_only_the_processor_writes_alert_states_events_results_fhir_and_dead_letters(enrolment: Enrolment) -> None:
    policy = build_policy(enrolment)
    outputs = ["alerts/v1/ward-a/p-0", "alert-events/v1/ward-a/p-0", "command-results/v1/ward-b/p-1"]
    outputs += ["fhir/v1/ward-a/p-0/DetectedIssue", "deadletter/v1/vitals"]
    for user, client in policy.clients.items():
        for topic in outputs:
            assert _may(policy, user, AclType.SEND, topic) == (client.kind is Kind.PROCESSOR), (user, topic)


@given(hospitals())
def test_vitals_reach_the_processor_and_the_patients_own_ward_only(enrolment: Enrolment) -> None:
    policy = build_policy(enrolment)
    stations = {s.name: s.ward for s in enrolment.stations}
    for patient, ward in enrolment.patients.items():
        topic = f"vitals/v1/{patient}/d-any"
        for user, client in policy.clients.items():
            expected = client.kind is Kind.PROCESSOR or stations.get(user) == ward
            assert _reads(policy, user, topic) == expected, (user, topic)
    # A patient nobody admitted: only the processor hears (and dead-letters or ignores) it.
    assert [u for u in policy.clients if _reads(policy, u, "vitals/v1/p-unknown/d-1")] == (
        ["processor"] if enrolment.processors else []
    )


@given(hospitals())
def test_stations_command_only_their_wards_patients(enrolment: Enrolment) -> None:
    policy = build_policy(enrolment)
    for station in enrolment.stations:
        for patient, ward in enrolment.patients.items():
            for topic_ward in WARDS:
                allowed = _may(policy, station.name, AclType.SEND, f"commands/v1/{topic_ward}/{patient}")
                assert allowed == (ward == station.ward == topic_ward)
    for user, client in policy.clients.items():
        if client.kind is not Kind.STATION:
            assert not _may(policy, user, AclType.SEND, "commands/v1/ward-a/p-0"), user


@given(hospitals())
def test_nobody_reads_dead_letters_and_integrators_read_events_and_fhir_of_their_scope(enrolment: Enrolment) -> None:
    policy = build_policy(enrolment)
    scope = set(enrolment.integrators[0].wards)
    for user in policy.clients:
        assert not _reads(policy, user, "deadletter/v1/vitals"), user
        assert all(acl.topic not in {"#", "+/#"} for acl in policy.acls_of(user)), user
    for ward in WARDS:
        for topic in (f"alert-events/v1/{ward}/p-0", f"fhir/v1/{ward}/p-0/Observation"):
            assert _reads(policy, "telemed", topic) == (ward in scope)
        assert not _reads(policy, "telemed", f"alerts/v1/{ward}/p-0")
        assert not _reads(policy, "telemed", "vitals/v1/p-0/d-0")


def test_the_built_in_identities_touch_no_patient_data() -> None:
    policy = build_policy(Enrolment(patients={"p-1": "w"}, edges=(EdgeEnrolment("e", {"d": "p-1"}),)))
    assert {acl.topic for acl in policy.acls_of(ADMIN)} == {"$CONTROL/dynamic-security/#"}
    assert {acl.topic for acl in policy.acls_of(HEALTH)} == {"$SYS/broker/uptime"}
    assert policy.clients[ADMIN].kind is Kind.ADMIN
    assert "processor" not in policy.roles  # no processor enrolled, no processor role


# ------------------------------------------------------------------------------- dynamic-security file


def _fixed_salt(size: int) -> bytes:
    return bytes(range(size))


def test_the_plugin_file_stores_passwords_as_mosquitto_hashes_them() -> None:
    enrolment = Enrolment(patients={"p-1": "w"}, edges=(EdgeEnrolment("e", {"d": "p-1"}),), processors=("proc",))
    policy = build_policy(enrolment)
    passwords = {name: f"{name}-secret-of-enough-length" for name in policy.clients}
    document = render_config(policy, passwords, salt=_fixed_salt)
    assert document["defaultACLAccess"] == dict(DEFAULT_ACL_ACCESS)
    assert document["defaultACLAccess"]["publishClientReceive"] is False
    for client in document["clients"]:
        salt = base64.b64decode(client["salt"])
        assert salt == bytes(range(12))
        assert client["iterations"] == HASH_ITERATIONS
        # What Mosquitto's dynamic-security plugin computes when the client logs in (PBKDF2-HMAC-SHA512).
        expected = hashlib.pbkdf2_hmac("sha512", passwords[client["username"]].encode(), salt, HASH_ITERATIONS)
        assert base64.b64decode(client["password"]) == expected
    text = repr(document)
    assert not [p for p in passwords.values() if p in text], "a plain password in the plugin's file"
    roles = {role["rolename"]: role["acls"] for role in document["roles"]}
    assert roles["edge:e"] == [
        {"acltype": "publishClientSend", "topic": t, "priority": 0, "allow": True}
        for t in ("events/v1/p-1/d", "vitals/v1/p-1/d")
    ]


def _state_of(document: dict[str, object]) -> BrokerState:
    """A broker's state as listRoles/listClients/getDefaultACLAccess report it after loading ``document``."""
    default = document["defaultACLAccess"]
    assert isinstance(default, dict)
    return parse_state(
        document["roles"],  # type: ignore[arg-type]
        document["clients"],  # type: ignore[arg-type]
        [{"acltype": kind, "allow": allow} for kind, allow in default.items()],
    )


@given(hospitals(), hospitals())
def test_reconcile_reaches_the_new_policy_and_is_then_idempotent(before: Enrolment, after: Enrolment) -> None:
    old, new = build_policy(before), build_policy(after)
    passwords = dict.fromkeys({*old.clients, *new.clients}, "p" * 30)
    state = _state_of(render_config(old, passwords, iterations=1))
    assert reconcile(state, old, passwords=passwords, rotated=set()) == []
    commands = reconcile(state, new, passwords=passwords, rotated=set())
    # Apply the commands to the state as the plugin would, and compare with the new policy.
    roles = {name: set(acls) for name, acls in state.roles.items()}
    clients = {name: list(held) for name, held in state.clients.items()}
    for command in commands:
        name = str(command.get("rolename"))
        match command["command"]:
            case "createRole":
                roles[name] = set()
            case "deleteRole":
                del roles[name]
            case "addRoleACL":
                roles[name].add((command["acltype"], command["topic"], True))
            case "removeRoleACL":
                roles[name] = {a for a in roles[name] if a[:2] != (command["acltype"], command["topic"])}
            case "createClient":
                assert all(r["rolename"] in roles for r in command["roles"]), "a client before its role"
                clients[command["username"]] = [r["rolename"] for r in command["roles"]]
            case "deleteClient":
                del clients[command["username"]]
            case "addClientRole":
                clients[command["username"]].append(name)
            case "removeClientRole":
                clients[command["username"]].remove(name)
    assert roles == {r.name: {(a.acltype.value, a.topic, True) for a in r.acls} for r in new.roles.values()}
    assert {u: sorted(r) for u, r in clients.items()} == {u: sorted(c.roles) for u, c in new.clients.items()}


def test_reconcile_closes_the_default_first_replaces_rotated_passwords_and_drops_foreign_acls() -> None:
    policy = build_policy(Enrolment(processors=("proc",)))
    passwords = dict.fromkeys(policy.clients, "x" * 30)
    state = _state_of(render_config(policy, passwords, iterations=1))
    open_default = {**DEFAULT_ACL_ACCESS, "publishClientReceive": True}
    foreign = {
        "processor": state.roles["processor"] | {("publishClientReceive", "#", True), ("subscribePattern", "x", False)}
    }
    state = BrokerState(roles={**state.roles, **foreign}, clients=state.clients, default_acl=open_default)
    commands = reconcile(state, policy, passwords=passwords, rotated={"proc"})
    assert commands[0]["command"] == "setDefaultACLAccess"
    removed = {(c["acltype"], c["topic"]) for c in commands if c["command"] == "removeRoleACL"}
    assert removed == {("publishClientReceive", "#"), ("subscribePattern", "x")}
    assert {"command": "setClientPassword", "username": "proc", "password": "x" * 30} in commands
