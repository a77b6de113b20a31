"""The error tree shared by every VitalStream package: its root, and the errors several packages raise.

The other subclasses are defined next to the code that raises them. The whole tree, with the module that
defines each class::

    VitalstreamError           vitalstream.errors
    ├── ConfigError            vitalstream.errors: bad configuration file, environment variable or flag (.source)
    ├── MissingExtraError      vitalstream.errors: an optional dependency is not installed (.extra, .module)
    ├── RejectedMessage        vitalstream.wire.errors (also exported by vitalstream.wire): a message failed
    │                          the wire contract (.reason, .field, .detail)
    ├── ModelIntegrityError    edge_agent.models.registry: a model file is missing or fails its sha256
    └── SinkError              alerts.sinks: a write to a point store did not happen (.status)
        ├── SinkUnavailable    alerts.sinks: retry later (.retry_after_s)
        └── SinkRejected       alerts.sinks: retrying cannot help
"""

from __future__ import annotations

__all__ = ["ConfigError", "MissingExtraError", "VitalstreamError"]


class VitalstreamError(Exception):
    """Base class of every error VitalStream raises on purpose."""


class ConfigError(VitalstreamError):
    """Configuration could not be read or does not make sense.

    ``source`` names where the bad value came from (a file path, an environment variable, a flag).
    """

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(f"{source}: {message}" if source else message)
        self.source = source


class MissingExtraError(VitalstreamError):
    """A command needs an optional dependency group that is not installed."""

    def __init__(self, *, extra: str, module: str) -> None:
        super().__init__(
            f"this command needs the '{extra}' extra (module '{module}' is missing): pip install 'vitalstream[{extra}]'"
        )
        self.extra = extra
        self.module = module
