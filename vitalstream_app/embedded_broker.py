"""An MQTT 3.1.1 broker inside this process (amqtt), so the demo needs nothing installed but the package.

Only for the demo and the edge bench: production and the tests use Mosquitto (see ``deploy/mosquitto``).
Not anonymous either, though it listens on loopback only: each of its clients is a named user with a
password made for this run (256 random bits, never written anywhere, held by the broker as a SHA-256
digest), limited to the topics it needs (:class:`UserAcl`). A stray local process can neither read the
simulated ward nor publish into it.

>>> broker = EmbeddedBroker(users={"edge": UserAcl(publish=("vitals/v1/+/+",))})
>>> settings = broker.client_settings("edge", BrokerSettings())
>>> settings.username, len(settings.password or ""), settings.protocol
('edge', 43, '3.1.1')
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import secrets
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.plugins.topic_checking import TopicAccessControlListPlugin
from amqtt.session import Session

from vitalstream.settings import BrokerSettings

__all__ = ["EmbeddedBroker", "RunPasswordAuth", "RunTopicAcl", "UserAcl", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True, slots=True)
class UserAcl:
    """Topic filters a user may publish to and subscribe with (amqtt's matching: ``+`` and ``#``)."""

    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()


def _digest(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


class RunPasswordAuth(BaseAuthPlugin):  # type: ignore[misc]  # amqtt ships no type information
    """amqtt auth plugin: a known user name and its password for this run, nothing else (no anonymous)."""

    @dataclass
    class Config:
        # user name -> SHA-256 of the password (the passwords are random, so a fast hash is enough).
        digests: dict[str, str] = field(default_factory=dict)

    async def authenticate(self, *, session: Session) -> bool | None:
        config = self.context.config
        if not isinstance(config, RunPasswordAuth.Config) or not session.username or session.password is None:
            return False
        expected = config.digests.get(session.username)
        return expected is not None and hmac.compare_digest(expected, _digest(session.password))


class RunTopicAcl(BaseTopicPlugin):  # type: ignore[misc]  # amqtt ships no type information
    """amqtt topic plugin: each user publishes and subscribes only within its :class:`UserAcl`."""

    @dataclass
    class Config:
        publish: dict[str, list[str]] = field(default_factory=dict)
        subscribe: dict[str, list[str]] = field(default_factory=dict)

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool | None:
        config = self.context.config
        if not isinstance(config, RunTopicAcl.Config) or session is None or not session.username or topic is None:
            return False
        if action is Action.RECEIVE:
            return True  # what a client receives is bounded by what it may subscribe to
        table = config.publish if action is Action.PUBLISH else config.subscribe
        return any(TopicAccessControlListPlugin.topic_ac(topic, allowed) for allowed in table.get(session.username, []))


class EmbeddedBroker:
    """Runs an amqtt broker on its own event loop in a daemon thread, for the users in ``users``."""

    def __init__(self, *, users: Mapping[str, UserAcl], host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._users = dict(users)
        self._passwords = {user: secrets.token_urlsafe(32) for user in self._users}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="embedded-broker", daemon=True)

    @property
    def url(self) -> str:
        """The broker's address, without credentials (for logs and the console)."""
        return f"mqtt://{self.host}:{self.port}"

    def client_settings(self, user: str, base: BrokerSettings) -> BrokerSettings:
        """``base`` pointed at this broker as ``user`` (MQTT 3.1.1: amqtt does not speak MQTT 5)."""
        return dataclasses.replace(
            base, url=self.url, username=user, password=self._passwords[user], protocol="3.1.1", ca_file=None
        )

    def start(self, timeout_s: float = 10.0) -> EmbeddedBroker:
        self._thread.start()
        if not self._started.wait(timeout_s):
            raise TimeoutError("embedded broker did not start")
        if self._error is not None:
            raise RuntimeError(f"embedded broker failed to start: {self._error}") from self._error
        return self

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        broker = Broker(
            {
                "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
                # Only these two: amqtt's default set also allows anonymous clients and logs every packet.
                "plugins": {
                    f"{__name__}.RunPasswordAuth": {
                        "digests": {user: _digest(password) for user, password in self._passwords.items()}
                    },
                    f"{__name__}.RunTopicAcl": {
                        "publish": {user: list(acl.publish) for user, acl in self._users.items()},
                        "subscribe": {user: list(acl.subscribe) for user, acl in self._users.items()},
                    },
                },
            }
        )
        try:
            await broker.start()
        except Exception as exc:  # noqa: BLE001 -- reported to the starting thread, which raises it
            self._error = exc
            self._started.set()
            return
        self._started.set()
        await self._stopped.wait()
        await broker.shutdown()

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout=10.0)
