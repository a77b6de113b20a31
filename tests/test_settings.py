"""Settings: defaults, TOML, environment and flags, in that order, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitalstream.errors import ConfigError
from vitalstream.settings import load_settings, parse_broker_url


def test_defaults_work_for_a_local_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, env={})
    assert settings.broker.address.host == "127.0.0.1"
    assert settings.broker.address.port == 1883
    assert settings.influx.url == "http://127.0.0.1:8086"
    assert settings.limits.spo2_low == 85.0
    assert (settings.limits.hr_low, settings.limits.hr_high) == (40.0, 150.0)
    assert (settings.limits.rr_low, settings.limits.rr_high) == (8.0, 30.0)


def test_precedence_file_then_environment_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "vs.toml"
    config.write_text(
        '[broker]\nurl = "mqtt://file-host:1884"\n[influx]\napi = "v1"\ndb = "from_file"\n'
        '[limits]\nhr_high = 140\n[processor.wards]\np-1 = "icu-2"\n'
    )
    env = {"VITALSTREAM_INFLUX_DB": "from_env", "VITALSTREAM_LIMITS_HR_HIGH": "145"}
    settings = load_settings(config, env=env, overrides={"limits": {"hr_high": 160.0, "hr_low": None}})
    assert settings.broker.address.host == "file-host"
    assert settings.influx.api == "v1"
    assert settings.influx.db == "from_env"
    assert settings.limits.hr_high == 160.0
    assert settings.limits.hr_low == 40.0
    assert settings.processor.ward_of("p-1") == "icu-2"
    assert settings.processor.ward_of("p-9") == "ward-1"


def test_config_file_from_environment_variable(tmp_path: Path) -> None:
    config = tmp_path / "vs.toml"
    config.write_text("[edge]\npatients = 9\n")
    assert load_settings(None, env={"VITALSTREAM_CONFIG": str(config)}).edge.patients == 9


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[brokr]\nurl = 'mqtt://x'\n", "unknown section [brokr]"),
        ("[broker]\nuri = 'mqtt://x'\n", "unknown option(s) uri"),
        ("[influx]\napi = 'v3'\n", "must be one of v1, v2"),
        ("[limits]\nhr_high = 'fast'\n", "must be a number"),
        ("[broker]\nurl = 'http://x'\n", "mqtt:// or mqtts://"),
        ("not toml = = =", "not valid TOML"),
    ],
)
def test_bad_configuration_is_explained(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={})
    assert message in str(caught.value)


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"limits.hr_high"):
        load_settings(None, env={"VITALSTREAM_LIMITS_HR_HIGH": "high"})


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "absent.toml", env={})


def test_broker_url_credentials_and_tls() -> None:
    address = parse_broker_url("mqtts://edge%2F7:p%40ss@broker.example")
    assert (address.host, address.port, address.tls, address.username, address.password) == (
        "broker.example",
        8883,
        True,
        "edge/7",
        "p@ss",
    )
    settings = load_settings(
        None, env={"VITALSTREAM_BROKER_URL": "mqtt://u:secret@h:1999", "VITALSTREAM_BROKER_PASSWORD": "other"}
    )
    assert settings.broker.address.password == "other"
    assert settings.broker.display_url == "mqtt://h:1999"


def test_secrets_stay_out_of_reprs() -> None:
    settings = load_settings(
        None, env={"VITALSTREAM_BROKER_URL": "mqtt://u:hunter2@h", "VITALSTREAM_INFLUX_TOKEN": "tok-123"}
    )
    assert "hunter2" not in repr(settings)
    assert "tok-123" not in repr(settings)


def test_unknown_environment_variable_is_an_error() -> None:
    with pytest.raises(ConfigError, match="VITALSTREAM_INFLUX_TOKN"):
        load_settings(None, env={"VITALSTREAM_INFLUX_TOKN": "x"})


def test_secret_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret-token\n")
    settings = load_settings(None, env={"VITALSTREAM_INFLUX_TOKEN_FILE": str(secret)})
    assert settings.influx.token == "s3cret-token"
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(None, env={"VITALSTREAM_INFLUX_TOKEN_FILE": str(tmp_path / "missing")})
