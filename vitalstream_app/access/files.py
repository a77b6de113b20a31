"""``vitalstream access build``: the enrolment turned into the files a broker and its clients use.

One output directory (``var/access`` by default), private to its owner::

    secrets/{name}.password              one per identity, mode 0600; a client reads its own through
                                         VITALSTREAM_BROKER_PASSWORD_FILE (kept across builds)
    secrets/broker-health.mosquitto_sub  mosquitto_sub's options file for a broker health check, so the
                                         check's password is not on a command line
    mosquitto/dynamic-security.json      the dynamic-security plugin's file: roles, ACLs, password hashes
                                         (mode 0600); it seeds a new broker
    certs/                               the private CA and broker certificate (``vitalstream access certs``)

The plugin owns its file once the broker runs (it rewrites it after every change), so a running broker
learns of a new enrolment through ``vitalstream access apply``, not by a new file.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vitalstream.enrolment import Enrolment
from vitalstream_app.access.dynsec import render_config
from vitalstream_app.access.policy import HEALTH, Policy, build_policy
from vitalstream_app.access.secrets import Secret, ensure_secret, write_private

__all__ = ["AccessLayout", "Build", "build_access"]


@dataclass(frozen=True, slots=True)
class AccessLayout:
    """Where ``vitalstream access`` keeps its files under ``root``."""

    root: Path

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def dynsec(self) -> Path:
        return self.root / "mosquitto" / "dynamic-security.json"

    @property
    def certs(self) -> Path:
        return self.root / "certs"

    @property
    def health_options(self) -> Path:
        return self.secrets / f"{HEALTH}.mosquitto_sub"


@dataclass(frozen=True, slots=True)
class Build:
    policy: Policy
    secrets: dict[str, Secret]

    def summary(self) -> dict[str, Any]:
        """What was built, for the command's JSON line: identities and counts, never a password."""
        kinds = Counter(client.kind.value for client in self.policy.clients.values())
        return {
            "clients": dict(sorted(kinds.items())),
            "roles": len(self.policy.roles),
            "acls": sum(len(role.acls) for role in self.policy.roles.values()),
            "new_secrets": sorted(name for name, secret in self.secrets.items() if secret.created),
        }


def build_access(enrolment: Enrolment, layout: AccessLayout) -> Build:
    """Write the secrets (missing ones only) and the plugin's file for ``enrolment``; return what was built."""
    policy = build_policy(enrolment)
    secrets = {name: ensure_secret(layout.secrets, name) for name in policy.clients}
    document = render_config(policy, {name: secret.password for name, secret in secrets.items()})
    layout.dynsec.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(layout.dynsec, json.dumps(document, indent=1).encode() + b"\n")
    # mosquitto_sub reads "-option value" lines from $XDG_CONFIG_HOME/mosquitto_sub before its argv.
    health = secrets[HEALTH]
    write_private(layout.health_options, f"-u {HEALTH}\n-P {health.password}\n".encode())
    return Build(policy=policy, secrets=secrets)
