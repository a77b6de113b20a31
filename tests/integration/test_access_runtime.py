"""Enrolment changes reach a running broker through ``vitalstream access apply``: no restart, at once.

Admitting a patient widens its ward's stations to that patient's vitals and commands; enrolling a device
lets it publish for its patient; removing an edge disconnects it and keeps it out. The broker's process is
the same one throughout, and it saved the new state to its own file (a restart keeps it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.access_setup import ENROLMENT, add_observer, build_test_access, identity, password, start_shipped_broker
from tests.bus_identity import BusIdentity
from tests.procs import CliProcess, cli_env
from tests.servers import ShippedMosquitto
from vitalstream_app.access.files import AccessLayout
from vitalstream_app.access.policy import ADMIN

pytestmark = pytest.mark.integration

ACCEPTED = {"Success", "No matching subscribers"}
# Admit p-3 to ward-1 with a new edge and device, and discharge the edge of p-2 (its patient stays admitted).
CHANGED = (
    ENROLMENT.replace('p-9 = "ward-2"', 'p-9 = "ward-2"\np-3 = "ward-1"')
    .replace('[[edge]]\nname = "edge-2"\ndevices = { d-2 = "p-2" }\n', "")
    .replace("[[processor]]", '[[edge]]\nname = "edge-3"\ndevices = { d-3 = "p-3" }\n\n[[processor]]')
)


@pytest.fixture
def layout(tmp_path: Path) -> AccessLayout:
    return build_test_access(tmp_path / "access")


@pytest.fixture
def broker(tmp_path: Path, layout: AccessLayout) -> Iterator[ShippedMosquitto]:
    server = start_shipped_broker(tmp_path / "broker", layout)
    yield server
    server.stop()


def _apply(tmp_path: Path, broker: ShippedMosquitto, layout: AccessLayout, enrolment: str) -> dict[str, object]:
    """The real command, as an operator runs it: the admin password comes from the output directory."""
    file = tmp_path / "changed.toml"
    file.write_text(enrolment, encoding="utf-8")
    apply = CliProcess(
        ["access", "apply", str(file), "--out", str(layout.root), "--broker", broker.url, "--ca-file", broker.ca_file],
        tmp_path,
        name="apply",
        env=cli_env(),
    )
    assert apply.wait(60) == 0, apply.stderr_tail()
    assert password(layout, ADMIN) not in apply.stdout_path.read_text() + apply.stderr_path.read_text()
    return apply.last_json()


def test_an_enrolment_change_applies_to_the_running_broker(
    tmp_path: Path, broker: ShippedMosquitto, layout: AccessLayout
) -> None:
    assert 'p-3 = "ward-1"' in CHANGED
    assert 'name = "edge-3"' in CHANGED
    assert 'name = "edge-2"' not in CHANGED
    pid = broker.pid
    observer = add_observer(broker, layout)
    station = identity(broker, layout, "station-ward-1")
    assert station.subscribe("vitals/v1/+/+") == ["Granted QoS 1"]
    old_edge = identity(broker, layout, "edge-2")
    assert old_edge.publish("vitals/v1/p-2/d-2", b"before") in ACCEPTED
    assert not (layout.secrets / "edge-3.password").exists()

    summary = _apply(tmp_path, broker, layout, CHANGED)
    assert summary["new_secrets"] == ["edge-3"]
    applied = summary["applied"]
    assert isinstance(applied, dict)
    assert applied["createClient"] == 1  # edge-3
    assert applied["deleteClient"] == 2  # edge-2, and the test's own observer (not in the enrolment)
    assert applied["addRoleACL"] >= 4  # edge-3's two topics, p-3's vitals and commands for ward-1's stations

    # A removed identity is out at once and stays out.
    old_edge.wait_for(lambda _m: False, timeout_s=0.5)
    assert not old_edge.connected
    old_edge.close()
    again = BusIdentity(broker.port, broker.ca_file, "edge-2", password(layout, "edge-2"))
    assert again.connect() != "Success"
    again.close()
    # The plugin disconnects every client of a changed role, so that it reconnects under the new rules;
    # the shipped clients subscribe again on every connection, as this one does now.
    deadline = time.monotonic() + 5
    while station.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert station.disconnects == 1
    assert station.subscribe("vitals/v1/+/+") == ["Granted QoS 1"]
    # The new device publishes for its patient, and the ward's station now hears it.
    new_edge = identity(broker, layout, "edge-3")
    assert new_edge.publish("vitals/v1/p-3/d-3", b"admitted") in ACCEPTED
    assert new_edge.publish("vitals/v1/p-1/d-3", b"not its patient") == "Not authorized"
    heard = station.wait_for(lambda m: m.topic == "vitals/v1/p-3/d-3")
    assert [m.payload for m in heard] == [b"admitted"]
    # ... and may command the new patient.
    assert station.publish("commands/v1/ward-1/p-3", b"acknowledge") in ACCEPTED
    assert broker.pid == pid, "the broker was restarted"

    # The broker saved what it was told: its own file now holds edge-3 and no edge-2.
    saved = json.loads(broker.dynsec_file.read_text(encoding="utf-8"))
    usernames = {client["username"] for client in saved["clients"]}
    assert "edge-3" in usernames
    assert "edge-2" not in usernames
    for client in (observer, station, new_edge):
        client.close()


def test_applying_the_same_enrolment_twice_changes_nothing(
    tmp_path: Path, broker: ShippedMosquitto, layout: AccessLayout
) -> None:
    # The broker was seeded from the same enrolment, so there is nothing to do, and no password changes.
    before = {name: password(layout, name) for name in ("processor", "edge-1")}
    assert _apply(tmp_path, broker, layout, ENROLMENT)["applied"] == {}
    assert _apply(tmp_path, broker, layout, CHANGED)["applied"] != {}
    assert _apply(tmp_path, broker, layout, CHANGED)["applied"] == {}
    assert {name: password(layout, name) for name in before} == before
    identity(broker, layout, "processor").close()  # still logs in with the password it always had


def test_only_the_admin_identity_can_change_access(
    tmp_path: Path, broker: ShippedMosquitto, layout: AccessLayout
) -> None:
    file = tmp_path / "changed.toml"
    file.write_text(CHANGED, encoding="utf-8")
    env = cli_env(
        VITALSTREAM_BROKER_USERNAME="processor",
        VITALSTREAM_BROKER_PASSWORD_FILE=str(layout.secrets / "processor.password"),
    )
    apply = CliProcess(
        ["access", "apply", str(file), "--out", str(layout.root), "--broker", broker.url, "--ca-file", broker.ca_file],
        tmp_path,
        name="apply-as-processor",
        env=env,
    )
    assert apply.wait(60) == 1
    assert "processor may not use the control API" in apply.stderr_path.read_text()
    # Nothing changed on the broker: edge-3 does not exist there (its password file was made locally).
    intruder = BusIdentity(broker.port, broker.ca_file, "edge-3", password(layout, "edge-3"))
    assert intruder.connect() != "Success"
    intruder.close()
