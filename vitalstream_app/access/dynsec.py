"""A :class:`~vitalstream_app.access.policy.Policy` in the form Mosquitto's dynamic-security plugin speaks.

Two renderings of the same policy, both pure:

- :func:`render_config`: the plugin's JSON file (``plugin_opt_config_file``), with each password stored as
  the plugin stores it (PBKDF2-HMAC-SHA512, base64 hash and salt, the iteration count beside them), so a
  new broker starts with every identity already in place;
- :func:`reconcile`: the control-API commands (``$CONTROL/dynamic-security/v1``) that turn a running
  broker's state into the policy, so admitting a patient or enrolling a device needs no restart. Roles
  and role ACLs are compared as sets; clients the enrolment no longer names are deleted (the plugin
  disconnects them at once); a client's password is set only when it is new or its secret file was.

Why the dynamic-security plugin rather than a password file and an ACL file: its ACLs change at run time
over MQTT, its roles are shared (one ``station:{ward}`` role for every station of the ward, edited once per
admission), and it keeps the state it was given across restarts. What it lacks in 2.0 is ``%u``/``%c``
substitution (that exists only in ACL files), which the policy does not need: every rule is literal.

>>> from vitalstream_app.access.policy import Acl, AclType, Client, Kind, Policy, Role
>>> role = Role("r", (Acl(AclType.SEND, "a/b"),))
>>> policy = Policy(roles={"r": role}, clients={"u": Client("u", Kind.EDGE, ("r",))})
>>> state = BrokerState(roles={"r": frozenset()}, clients={"u": ()}, default_acl=DEFAULT_ACL_ACCESS)
>>> [c["command"] for c in reconcile(state, policy, passwords={"u": "x" * 24}, rotated=set())]
['addRoleACL', 'addClientRole']
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from vitalstream_app.access.policy import Acl, Policy

__all__ = [
    "DEFAULT_ACL_ACCESS",
    "HASH_ITERATIONS",
    "BrokerState",
    "hash_password",
    "parse_state",
    "reconcile",
    "render_config",
]

# Nothing is allowed that a role does not allow, receiving included (Mosquitto's own default lets every
# client receive whatever it may subscribe to). Unsubscribing from anything is harmless.
DEFAULT_ACL_ACCESS: Mapping[str, bool] = {
    "publishClientSend": False,
    "publishClientReceive": False,
    "subscribe": False,
    "unsubscribe": True,
}
# PBKDF2 rounds for the hashes written into the file (the broker recomputes one per connection: ~10 ms of
# CPU). Generated passwords carry 256 random bits, for which stretching adds nothing; it is there for a
# supplied password. Mosquitto 2.0 itself uses 101 for passwords set over the control API.
HASH_ITERATIONS = 10_000
_SALT_BYTES = 12  # as mosquitto_ctrl and the plugin make them


@dataclass(frozen=True, slots=True)
class BrokerState:
    """What a running broker's plugin holds: role -> ACLs, client -> roles, the default access."""

    # (acltype, topic, allow): a broker may hold denies or types this policy never writes; they are removed.
    roles: Mapping[str, frozenset[tuple[str, str, bool]]]
    clients: Mapping[str, tuple[str, ...]]
    default_acl: Mapping[str, bool]


def hash_password(
    password: str, *, iterations: int = HASH_ITERATIONS, salt: Callable[[int], bytes] = os.urandom
) -> dict[str, Any]:
    """The plugin's stored form of ``password``: ``{"password", "salt", "iterations"}`` (hash, salt base64)."""
    salt_bytes = salt(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt_bytes, iterations)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt_bytes).decode(),
        "iterations": iterations,
    }


def _acl_json(acl: Acl) -> dict[str, Any]:
    return {"acltype": acl.acltype.value, "topic": acl.topic, "priority": 0, "allow": True}


def render_config(
    policy: Policy,
    passwords: Mapping[str, str],
    *,
    salt: Callable[[int], bytes] = os.urandom,
    iterations: int = HASH_ITERATIONS,
) -> dict[str, Any]:
    """The plugin's JSON document for ``policy``; ``passwords`` holds one password per client."""
    return {
        "defaultACLAccess": dict(DEFAULT_ACL_ACCESS),
        "clients": [
            {
                "username": client.username,
                "textName": f"vitalstream {client.kind.value}",
                **hash_password(passwords[client.username], iterations=iterations, salt=salt),
                "roles": [{"rolename": role} for role in client.roles],
            }
            for client in policy.clients.values()
        ],
        "groups": [],
        "roles": [
            {"rolename": role.name, "acls": [_acl_json(acl) for acl in role.acls]} for role in policy.roles.values()
        ],
    }


def parse_state(
    roles: Iterable[Mapping[str, Any]], clients: Iterable[Mapping[str, Any]], default_acl: Iterable[Mapping[str, Any]]
) -> BrokerState:
    """Build a :class:`BrokerState` from the ``data`` of ``listRoles``/``listClients`` (verbose) and
    ``getDefaultACLAccess``."""
    return BrokerState(
        roles={
            role["rolename"]: frozenset(
                (str(acl["acltype"]), str(acl["topic"]), acl.get("allow") is True) for acl in role.get("acls", [])
            )
            for role in roles
        },
        clients={client["username"]: tuple(r["rolename"] for r in client.get("roles", [])) for client in clients},
        default_acl={entry["acltype"]: bool(entry["allow"]) for entry in default_acl},
    )


def reconcile(
    state: BrokerState, policy: Policy, *, passwords: Mapping[str, str], rotated: set[str]
) -> list[dict[str, Any]]:
    """The control commands, in a safe order, that make ``state`` equal to ``policy``.

    ``rotated`` names existing clients whose secret file is new, whose broker password must be replaced.
    Order: default access first (so nothing opens up in between), then roles, then clients; removals of
    clients before removals of the roles they held.
    """
    commands: list[dict[str, Any]] = []
    if dict(state.default_acl) != dict(DEFAULT_ACL_ACCESS):
        commands.append(
            {
                "command": "setDefaultACLAccess",
                "acls": [{"acltype": kind, "allow": allow} for kind, allow in DEFAULT_ACL_ACCESS.items()],
            }
        )
    for name, role in policy.roles.items():
        wanted = {(acl.acltype.value, acl.topic, True): acl for acl in role.acls}
        have = state.roles.get(name)
        if have is None:
            commands.append({"command": "createRole", "rolename": name})
            have = frozenset()
        commands += [
            {"command": "removeRoleACL", "rolename": name, "acltype": acltype, "topic": topic}
            for acltype, topic, _allow in sorted(have - wanted.keys())
        ]
        commands += [
            {"command": "addRoleACL", "rolename": name, **_acl_json(wanted[key])}
            for key in sorted(wanted.keys() - have)
        ]
    for username, client in policy.clients.items():
        held = state.clients.get(username)
        if held is None:
            commands.append(
                {
                    "command": "createClient",
                    "username": username,
                    "password": passwords[username],
                    "textname": f"vitalstream {client.kind.value}",
                    "roles": [{"rolename": role} for role in client.roles],
                }
            )
            continue
        if username in rotated:
            commands.append({"command": "setClientPassword", "username": username, "password": passwords[username]})
        commands += [
            {"command": "removeClientRole", "username": username, "rolename": role}
            for role in held
            if role not in client.roles
        ]
        commands += [
            {"command": "addClientRole", "username": username, "rolename": role}
            for role in client.roles
            if role not in held
        ]
    commands += [{"command": "deleteClient", "username": name} for name in state.clients if name not in policy.clients]
    commands += [{"command": "deleteRole", "rolename": name} for name in state.roles if name not in policy.roles]
    return commands
