"""Settings: defaults, then a TOML file, then ``VITALSTREAM_*`` environment variables, then flags.

Read once in ``main()`` into a frozen :class:`Settings`; nothing else reads the environment.
Every option has a default that works for a local run (broker and database on 127.0.0.1).

The file has one table per section, the environment one variable per option, named
``VITALSTREAM_{SECTION}_{OPTION}``::

    [broker]
    url = "mqtts://edge-17:secret@broker.example:8883"   # VITALSTREAM_BROKER_URL

    [influx]
    api = "v1"                                           # VITALSTREAM_INFLUX_API
    db = "vitalstream"                                   # VITALSTREAM_INFLUX_DB

    [processor.wards]                                    # patient -> ward (file only)
    p-3f2a = "icu-2"

>>> s = load_settings(None, env={"VITALSTREAM_LIMITS_HR_HIGH": "140"})
>>> s.limits.hr_high, s.broker.address.port
(140.0, 1883)
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints
from urllib.parse import unquote, urlsplit

from vitalstream.errors import ConfigError

__all__ = [
    "AlertingSettings",
    "BrokerAddress",
    "BrokerSettings",
    "EdgeSettings",
    "InfluxSettings",
    "LimitsSettings",
    "ProcessorSettings",
    "Settings",
    "StationSettings",
    "load_settings",
    "parse_broker_url",
]

DEFAULT_CONFIG_FILE = "vitalstream.toml"


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """A parsed broker URL. ``mqtts://`` turns TLS on and defaults to port 8883."""

    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None = field(repr=False)


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse ``mqtt://[user[:password]@]host[:port]`` or ``mqtts://...``.

    >>> parse_broker_url("mqtts://edge:s3cret@broker.example")
    BrokerAddress(host='broker.example', port=8883, tls=True, username='edge')
    """
    parts = urlsplit(url)
    if parts.scheme not in {"mqtt", "mqtts"}:
        raise ConfigError(f"broker URL must start with mqtt:// or mqtts:// (got {parts.scheme or 'no'} scheme)")
    if not parts.hostname:
        raise ConfigError("broker URL has no host")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise ConfigError("broker URL has an invalid port") from None
    return BrokerAddress(
        host=parts.hostname,
        port=port,
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """How to reach the MQTT broker. Credentials may be in the URL or given separately (these win)."""

    # repr=False: the URL may carry a password; log ``display_url`` instead.
    url: str = field(default="mqtt://127.0.0.1:1883", repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    # "5" by default; "3.1.1" for brokers without MQTT 5 (the demo's embedded broker).
    protocol: Literal["5", "3.1.1"] = "5"
    keepalive_s: int = 30

    @property
    def address(self) -> BrokerAddress:
        parsed = parse_broker_url(self.url)
        return dataclasses.replace(
            parsed,
            username=self.username or parsed.username,
            password=self.password or parsed.password,
        )

    @property
    def display_url(self) -> str:
        """The URL without credentials, for logs."""
        address = self.address
        return f"{'mqtts' if address.tls else 'mqtt'}://{address.host}:{address.port}"


@dataclass(frozen=True, slots=True)
class InfluxSettings:
    """Where vitals and alerts are stored. ``api = "v1"`` for InfluxDB 1.x, ``"v2"`` for 2.x/3.x (and 1.8+)."""

    url: str = "http://127.0.0.1:8086"
    api: Literal["v1", "v2"] = "v2"
    db: str = "vitalstream"
    rp: str = ""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    bucket: str = "vitalstream"
    org: str = "vitalstream"
    token: str | None = field(default=None, repr=False)
    batch_size: int = 5000
    flush_interval_s: float = 0.5
    timeout_s: float = 10.0
    # While the database is unreachable, batches wait on local disk (processor state_dir); 0 = no spool
    # (batches are then retried in place and MQTT acks stop, so the broker holds the backlog).
    spool_max_mb: float = 512.0


@dataclass(frozen=True, slots=True)
class LimitsSettings:
    """Hard clinical limits: crossing one always alarms, whatever a patient's baseline says.

    Defaults follow common adult ward practice (SpO2 < 85 %, HR < 40 or > 150, RR < 8 or > 30).
    Each limit has a separate clear threshold (hysteresis) and a condition delay in event time.
    """

    hr_high: float = 150.0
    hr_high_clear: float = 140.0
    hr_low: float = 40.0
    hr_low_clear: float = 45.0
    hr_delay_s: float = 6.0
    spo2_low: float = 85.0
    spo2_low_clear: float = 88.0
    spo2_delay_s: float = 10.0
    rr_high: float = 30.0
    rr_high_clear: float = 27.0
    rr_low: float = 8.0
    rr_low_clear: float = 10.0
    rr_delay_s: float = 15.0
    temp_high: float = 39.5
    temp_high_clear: float = 39.0
    temp_low: float = 35.0
    temp_low_clear: float = 35.5
    temp_delay_s: float = 60.0
    clear_delay_s: float = 5.0


@dataclass(frozen=True, slots=True)
class AlertingSettings:
    """How alerts are decided beyond the hard limits. Defaults are for an adult general ward.

    Soft limits are ward warning thresholds (low priority) that the patient's learned normal may
    silence when the value is usual *for that patient*; deviations alarm when a vital leaves the
    patient's own band even inside every limit. The ``use_*`` switches exist for the ablation in
    ``vitalstream eval alerts``; in production all are on.
    """

    soft_hr_high: float = 120.0
    soft_hr_low: float = 50.0
    soft_spo2_low: float = 92.0
    soft_rr_high: float = 24.0
    soft_rr_low: float = 10.0
    soft_temp_high: float = 38.5
    soft_delay_s: float = 600.0
    personal_band_sd: float = 3.0
    learn_max_z: float = 3.0
    baseline_min_s: float = 300.0
    deviation_z: float = 4.5
    deviation_clear_z: float = 2.5
    deviation_delay_s: float = 600.0
    sqi_min: float = 0.5
    technical_after_s: float = 60.0
    af_delay_s: float = 60.0
    news2_delay_s: float = 60.0
    news2_vitals_fresh_s: float = 300.0
    news2_observations_fresh_s: float = 12 * 3600.0
    escalate_after_s: float = 120.0
    reopen_within_s: float = 120.0
    no_data_after_s: float = 60.0
    feedback_step_sd: float = 0.5
    feedback_max_sd: float = 1.5
    use_baselines: bool = True
    use_sqi_gating: bool = True
    use_feedback: bool = True


@dataclass(frozen=True, slots=True)
class ProcessorSettings:
    client_id: str = "vitalstream-processor"
    ward: str = "ward-1"
    wards: Mapping[str, str] = field(default_factory=dict)
    # Readings older than this (event time vs. the processor's clock) are a backlog: recorded, not paged.
    retrospective_horizon_s: float = 300.0
    # Where durable local state lives (write spool, checkpoints).
    state_dir: str = "var/processor"
    checkpoint_every_s: float = 30.0
    # Store to this SQLite file instead of InfluxDB (demos, benchmarks, a laptop without a database).
    sqlite_path: str = ""
    # FHIR R4B on fhir/v1/{ward}/{patient}/{resourceType}: every alert transition (DetectedIssue, plus a
    # Communication when it pages), and each device's vitals as Observations at most this often
    # (0 = every reading, which costs about 50 us and four publishes per reading; < 0 = no vitals).
    fhir: bool = True
    fhir_vitals_every_s: float = 60.0
    # HOST:PORT for /healthz, /readyz, /metrics and /api/alert-events; empty = no HTTP (port 0 = any free).
    http_listen: str = ""

    def ward_of(self, patient: str) -> str:
        return self.wards.get(patient, self.ward)


@dataclass(frozen=True, slots=True)
class EdgeSettings:
    source: str = "sim"
    patients: int = 5
    duration_s: float | None = None
    seed: int = 7
    scenario: str = "mixed"
    rate_hz: float = 1.0
    client_id: str = "vitalstream-edge"
    # The durable outbox; empty = var/edge/{client_id}.spool.sqlite. One spool per agent.
    spool_path: str = ""
    spool_max_mb: float = 64.0
    # Routine readings older than this are dropped from a full or long-offline spool; events are kept.
    spool_max_age_h: float = 72.0
    # Replay speed for recorded sources: 1 = real time, 10 = ten times faster.
    speed: float = 1.0

    def spool_file(self) -> str:
        return self.spool_path or f"var/edge/{self.client_id}.spool.sqlite"


@dataclass(frozen=True, slots=True)
class StationSettings:
    """The nurse station (``vitalstream station``): the ward it shows and where it serves its page."""

    ward: str = "ward-1"
    # Loopback by default: the page has no login of its own; expose it through an authenticating proxy.
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # Empty: vitalstream-station-{ward}-{random}, so two stations never take over each other's connection.
    client_id: str = ""
    # How long a click waits for the processor's answer before the page is told "no answer".
    command_timeout_s: float = 5.0


@dataclass(frozen=True, slots=True)
class Settings:
    broker: BrokerSettings = field(default_factory=BrokerSettings)
    influx: InfluxSettings = field(default_factory=InfluxSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    alerting: AlertingSettings = field(default_factory=AlertingSettings)
    processor: ProcessorSettings = field(default_factory=ProcessorSettings)
    edge: EdgeSettings = field(default_factory=EdgeSettings)
    station: StationSettings = field(default_factory=StationSettings)


_SECTIONS: dict[str, type[Any]] = {
    "broker": BrokerSettings,
    "influx": InfluxSettings,
    "limits": LimitsSettings,
    "alerting": AlertingSettings,
    "processor": ProcessorSettings,
    "edge": EdgeSettings,
    "station": StationSettings,
}


# One branch per supported option type reads better than a dispatch table here.
def _coerce(value: object, hint: Any, where: str) -> object:  # noqa: ANN401, PLR0911, PLR0912
    """Convert a TOML or environment value to the option's declared type, or explain why not."""
    origin = get_origin(hint)
    if origin in {typing.Union, types.UnionType}:
        args = [arg for arg in get_args(hint) if arg is not type(None)]
        if value is None or (isinstance(value, str) and value == ""):
            return None
        return _coerce(value, args[0], where)
    if origin is Literal:
        allowed = [str(arg) for arg in get_args(hint)]
        if str(value) not in allowed:
            raise ConfigError(f"must be one of {', '.join(allowed)} (got {value!r})", source=where)
        return str(value)
    if origin is not None and issubclass(origin, Mapping):
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError("must be a table of strings", source=where)
        return dict(value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
            return value.lower() in {"1", "true", "yes", "on"}
        raise ConfigError(f"must be true or false (got {value!r})", source=where)
    if hint in {int, float}:
        if isinstance(value, bool):
            raise ConfigError(f"must be a number (got {value!r})", source=where)
        try:
            return hint(value)
        except (TypeError, ValueError):
            raise ConfigError(f"must be a number (got {value!r})", source=where) from None
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"must be a string (got {value!r})", source=where)
        return value
    raise ConfigError(f"unsupported option type {hint!r}", source=where)


def _section(cls: type[Any], values: Mapping[str, object], where: str) -> Any:  # noqa: ANN401 -- any section class
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}", source=where)
    kwargs = {key: _coerce(value, hints[key], f"{where}.{key}") for key, value in values.items()}
    return cls(**kwargs)


def _apply_environment(raw: dict[str, dict[str, object]], env: Mapping[str, str]) -> None:
    """``VITALSTREAM_{SECTION}_{OPTION}``, or ``..._FILE`` naming a file that holds the value (for secrets
    mounted by Docker or Kubernetes). An unknown ``VITALSTREAM_*`` name is an error: a misspelt
    variable silently ignored is how a production token ends up unused."""
    known: dict[str, tuple[str, str]] = {}
    for name, cls in _SECTIONS.items():
        for option in dataclasses.fields(cls):
            known[f"VITALSTREAM_{name}_{option.name}".upper()] = (name, option.name)
    for variable, value in env.items():
        if not variable.startswith("VITALSTREAM_") or variable == "VITALSTREAM_CONFIG":
            continue
        target = known.get(variable)
        if target is not None:
            raw[target[0]][target[1]] = value
            continue
        target = known.get(variable.removesuffix("_FILE"))
        if variable.endswith("_FILE") and target is not None:
            try:
                raw[target[0]][target[1]] = Path(value).read_text(encoding="utf-8").rstrip("\n")
            except OSError as exc:
                raise ConfigError(f"cannot read {value}: {exc.strerror}", source=variable) from None
            continue
        raise ConfigError("unknown setting; names are VITALSTREAM_{SECTION}_{OPTION}[_FILE]", source=variable)


def load_settings(
    path: str | Path | None,
    *,
    env: Mapping[str, str],
    overrides: Mapping[str, Mapping[str, object]] | None = None,
) -> Settings:
    """Build the settings from defaults, the TOML file at ``path``, ``env`` and explicit ``overrides``.

    ``path=None`` uses ``$VITALSTREAM_CONFIG`` or ``./vitalstream.toml`` when either exists.
    ``overrides`` maps section -> option -> value (command-line flags); ``None`` values are skipped.
    """
    raw: dict[str, dict[str, object]] = {name: {} for name in _SECTIONS}
    source = path if path is not None else env.get("VITALSTREAM_CONFIG")
    if source is None and Path(DEFAULT_CONFIG_FILE).is_file():
        source = DEFAULT_CONFIG_FILE
    if source is not None:
        file = Path(source)
        try:
            document = tomllib.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read: {exc.strerror}", source=str(file)) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"not valid TOML: {exc}", source=str(file)) from None
        for name, table in document.items():
            if name not in _SECTIONS or not isinstance(table, dict):
                raise ConfigError(f"unknown section [{name}]; known: {', '.join(_SECTIONS)}", source=str(file))
            raw[name].update(table)

    _apply_environment(raw, env)

    for name, values in (overrides or {}).items():
        raw[name].update({key: value for key, value in values.items() if value is not None})

    sections = {name: _section(cls, raw[name], name) for name, cls in _SECTIONS.items()}
    settings = Settings(**sections)
    settings.broker.address  # noqa: B018 -- parse the URL now so a bad one fails at start-up, not on first use
    return settings
