"""``vitalstream access apply``: change a running broker's identities and ACLs, no restart.

Connects as ``access-admin`` (the one identity allowed on ``$CONTROL/dynamic-security/#``), reads the
plugin's state, and sends the commands :func:`~vitalstream_app.access.dynsec.reconcile` derives from the
enrolment. The plugin applies each at once (a changed role governs the next message of every client that
holds it; a deleted client is disconnected) and saves its file. Commands carry passwords, so they travel
only over the connection's TLS and never reach a log: errors name the command and the identity only.
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import paho.mqtt.client as mqtt

from vitalstream.enrolment import Enrolment
from vitalstream.errors import ConfigError, VitalstreamError
from vitalstream.mqtt import connect_async, make_client
from vitalstream.settings import BrokerSettings
from vitalstream_app.access.dynsec import BrokerState, parse_state, reconcile
from vitalstream_app.access.files import AccessLayout, build_access
from vitalstream_app.access.policy import ADMIN

__all__ = ["AccessError", "Applied", "DynsecControl", "apply_access"]

_REQUEST = "$CONTROL/dynamic-security/v1"
_RESPONSE = "$CONTROL/dynamic-security/v1/response"
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
# Commands per control message: keeps each request far below the broker's message size limit.
_BATCH = 100


class AccessError(VitalstreamError):
    """The broker refused the admin identity or some control commands (``.failures``: command, name, error)."""

    def __init__(self, message: str, failures: Sequence[tuple[str, str, str]] = ()) -> None:
        super().__init__(message)
        self.failures = tuple(failures)


def _target(command: dict[str, Any]) -> str:
    return str(command.get("username") or command.get("rolename") or "")


class DynsecControl:
    """A control-API session: ``with DynsecControl(settings) as control: control.run(commands)``."""

    def __init__(self, settings: BrokerSettings, *, timeout_s: float = 10.0) -> None:
        self._settings = settings
        self._timeout = timeout_s
        self._responses: queue.Queue[dict[str, Any]] = queue.Queue()
        self._ready = threading.Event()
        self._refused: str | None = None
        self._ids = itertools.count()
        self._client = make_client(settings, client_id=ADMIN, persistent=False)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def __enter__(self) -> DynsecControl:
        connect_async(self._client, self._settings, persistent=False)
        self._client.loop_start()
        if not self._ready.wait(self._timeout) or self._refused:
            self.close()
            reason = self._refused or f"no answer in {self._timeout:g} s"
            raise AccessError(f"cannot reach the broker's access control at {self._settings.display_url}: {reason}")
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:  # noqa: ANN401
        if reason.is_failure:
            self._refused = str(reason)
            self._ready.set()
            return
        client.subscribe(_RESPONSE, qos=1)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, codes: Any, _p: Any) -> None:  # noqa: ANN401
        if any(code.is_failure for code in codes):
            user = self._settings.address.username
            self._refused = f"{user} may not use the control API (run it as {ADMIN})"
        self._ready.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:  # noqa: ANN401
        try:
            document = json.loads(message.payload)
        except ValueError:
            return
        if isinstance(document, dict):
            self._responses.put(document)

    def run(self, commands: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send ``commands`` (in batches, in order) and return the plugin's response to each."""
        answers: list[dict[str, Any]] = []
        for start in range(0, len(commands), _BATCH):
            batch = [dict(command) for command in commands[start : start + _BATCH]]
            tag = f"vitalstream-{next(self._ids)}"
            batch[0]["correlationData"] = tag
            info = self._client.publish(_REQUEST, json.dumps({"commands": batch}), qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise AccessError("lost the broker while sending control commands")
            answers += self._await(tag, len(batch))
        return answers

    def _await(self, tag: str, count: int) -> list[dict[str, Any]]:
        while True:
            try:
                document = self._responses.get(timeout=self._timeout)
            except queue.Empty:
                raise AccessError(f"the broker did not answer control commands in {self._timeout:g} s") from None
            responses = document.get("responses")
            if isinstance(responses, list) and responses and responses[0].get("correlationData") == tag:
                if len(responses) != count:
                    raise AccessError(f"the broker answered {len(responses)} of {count} control commands")
                return [r if isinstance(r, dict) else {} for r in responses]

    def state(self) -> BrokerState:
        """The plugin's roles (with ACLs), clients (with roles) and default access."""
        roles, clients, default = self.run(
            [
                {"command": "listRoles", "verbose": True},
                {"command": "listClients", "verbose": True},
                {"command": "getDefaultACLAccess"},
            ]
        )
        for answer in (roles, clients, default):
            if "error" in answer:
                raise AccessError(f"{answer.get('command')}: {answer['error']}")
        return parse_state(roles["data"]["roles"], clients["data"]["clients"], default["data"]["acls"])


@dataclass(frozen=True, slots=True)
class Applied:
    commands: dict[str, int]
    build: dict[str, Any]


def apply_access(enrolment: Enrolment, layout: AccessLayout, settings: BrokerSettings) -> Applied:
    """Build the files, then bring the running broker to the enrolment. Raises :class:`AccessError`.

    Control commands carry new clients' passwords, so they go over TLS, or over loopback at most.
    """
    address = settings.address
    if not address.tls and address.host not in _LOOPBACK:
        raise ConfigError("vitalstream access apply sends passwords: use mqtts:// (TLS)", source="--broker")
    build = build_access(enrolment, layout)
    admin = replace(
        settings,
        username=settings.address.username or ADMIN,
        password=settings.address.password or build.secrets[ADMIN].password,
    )
    with DynsecControl(admin) as control:
        state = control.state()
        passwords = {name: secret.password for name, secret in build.secrets.items()}
        rotated = {name for name, secret in build.secrets.items() if secret.created and name in state.clients}
        commands = reconcile(state, build.policy, passwords=passwords, rotated=rotated)
        answers = control.run(commands)
    failures = [
        (str(command["command"]), _target(command), str(answer["error"]))
        for command, answer in zip(commands, answers, strict=True)
        if "error" in answer
    ]
    if failures:
        listed = "; ".join(f"{command} {name}: {error}" for command, name, error in failures[:5])
        raise AccessError(f"{len(failures)} of {len(commands)} control commands failed: {listed}", failures)
    counts: dict[str, int] = {}
    for command in commands:
        counts[command["command"]] = counts.get(command["command"], 0) + 1
    return Applied(commands=dict(sorted(counts.items())), build=build.summary())
