"""An MQTT 3.1.1 broker inside this process (amqtt), so the demo needs nothing installed but the package.

Only for the demo: production and the tests use Mosquitto (see ``deploy/mosquitto``).
"""

from __future__ import annotations

import asyncio
import socket
import threading

from amqtt.broker import Broker

__all__ = ["EmbeddedBroker", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class EmbeddedBroker:
    """Runs an amqtt broker on its own event loop in a daemon thread."""

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="embedded-broker", daemon=True)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

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
                # Only anonymous auth: the default set also logs every packet, which the demo does not want.
                "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
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
