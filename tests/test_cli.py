"""The command line: every subcommand documents every option; missing extras are named."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.procs import cli_env
from vitalstream_app.cli import build_parser, main

SUBCOMMANDS = ["edge", "process", "station", "access", "demo", "replay", "eval", "classify", "news2", "bench"]


def test_all_contract_subcommands_exist() -> None:
    parser = build_parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    assert choices is not None
    assert set(SUBCOMMANDS) <= set(choices)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_option_has_help(command: str) -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]  # type: ignore[index]
    for action in sub._actions:
        assert action.help, f"{command} {action.option_strings or action.dest} has no help"


@pytest.mark.parametrize(
    ("command", "flags"),
    [
        ("edge", ["--broker", "--source", "--patients", "--duration"]),
        (
            "process",
            [
                "--broker",
                "--influx-url",
                "--influx-api",
                "--influx-db",
                "--influx-bucket",
                "--influx-org",
                "--influx-token",
            ],
        ),
        ("demo", ["--duration", "--influx-url"]),
        ("access", ["certs", "build", "apply"]),
    ],
)
def test_contract_flags_are_present(command: str, flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in flags:
        assert flag in text


def test_configuration_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["edge", "--broker", "http://nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "mqtt://" in err[0]


def test_abbreviated_flags_are_refused() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["edge", "--patient", "3"])
    assert exit_info.value.code == 2


def test_a_missing_extra_is_named_in_one_line() -> None:
    # Hide influxdb_client from a child interpreter, as if only the edge extra were installed.
    code = (
        "import sys, importlib.abc\n"
        "class Hide(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'influxdb_client': raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Hide())\n"
        "import importlib.util\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda n, *a: None if n == 'influxdb_client' else real(n, *a)\n"
        "from vitalstream_app.cli import main\n"
        "sys.exit(main(['process']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, env=cli_env(), timeout=60
    )
    assert result.returncode == 3
    assert result.stderr.strip() == (
        "vitalstream process: this command needs the 'processor' extra (module 'influxdb_client' is missing): "
        "pip install 'vitalstream[processor]'"
    )


def test_bench_influx_names_an_unreachable_store_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.servers import free_port  # noqa: PLC0415 -- only this test needs a port nobody listens on

    url = f"http://127.0.0.1:{free_port()}"
    assert main(["--log-format", "json", "bench", "influx", "--influx-url", url, "--influx-api", "v1"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("vitalstream bench: InfluxDB unreachable")


@pytest.mark.parametrize(
    ("action", "flags"),
    [
        ("certs", ["--out", "--host", "--client", "--days"]),
        ("build", ["--out"]),
        ("apply", ["--out", "--broker", "--ca-file"]),
    ],
)
def test_access_actions_document_their_options(
    action: str, flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    parser = build_parser()
    access = next(a for a in parser._actions if a.dest == "command").choices["access"]  # type: ignore[index]
    sub = next(a for a in access._actions if a.dest == "action").choices[action]
    for option in sub._actions:
        assert option.help, f"access {action} {option.option_strings or option.dest} has no help"
    with pytest.raises(SystemExit):
        main(["access", action, "--help"])
    text = capsys.readouterr().out
    for flag in flags:
        assert flag in text
