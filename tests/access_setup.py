"""A small hospital for the access-control tests: its enrolment, its generated access files, and the shipped
broker started with them (real Mosquitto, the shipped mosquitto.conf, the real ``vitalstream access`` code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bus_identity import BusIdentity
from tests.conftest import IN_CI, require_binary
from tests.servers import ShippedMosquitto, dynsec_plugin, make_test_pki
from vitalstream.enrolment import load_enrolment
from vitalstream.settings import BrokerSettings
from vitalstream_app.access.control import DynsecControl
from vitalstream_app.access.files import AccessLayout, build_access
from vitalstream_app.access.policy import ADMIN
from vitalstream_app.access.secrets import secret_path

# Two wards. p-1 and p-2 on ward-1 (one device each), p-9 on ward-2.
ENROLMENT = """
version = 1

[patients]
p-1 = "ward-1"
p-2 = "ward-1"
p-9 = "ward-2"

[[edge]]
name = "edge-1"
devices = { d-1 = "p-1" }

[[edge]]
name = "edge-2"
devices = { d-2 = "p-2" }

[[edge]]
name = "edge-9"
devices = { d-9 = "p-9" }

[[processor]]
name = "processor"

[[station]]
name = "station-ward-1"
ward = "ward-1"

[[station]]
name = "station-ward-2"
ward = "ward-2"

[[integrator]]
name = "telemed-1"
wards = ["ward-1"]
"""

OBSERVER = "test-observer"


def build_test_access(directory: Path, enrolment: str = ENROLMENT) -> AccessLayout:
    """Certificates and access files for ``enrolment``, as ``vitalstream access certs`` and ``build`` make them."""
    layout = AccessLayout(directory)
    make_test_pki(layout.certs)
    file = directory / "enrolment.toml"
    file.write_text(enrolment, encoding="utf-8")
    build_access(load_enrolment(file), layout)
    return layout


def password(layout: AccessLayout, name: str) -> str:
    return secret_path(layout.secrets, name).read_text(encoding="utf-8").strip()


def start_shipped_broker(workdir: Path, layout: AccessLayout) -> ShippedMosquitto:
    binary = require_binary("mosquitto", "/usr/sbin/mosquitto")
    plugin = dynsec_plugin()
    if plugin is None:
        message = "Mosquitto's dynamic-security plugin is not installed (Debian's mosquitto package ships it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return ShippedMosquitto(binary, workdir, access=layout.root, plugin=plugin).start()


def identity(broker: ShippedMosquitto, layout: AccessLayout, name: str, *, client_id: str = "") -> BusIdentity:
    """A connected client with ``name``'s generated credentials, over the broker's TLS listener."""
    client = BusIdentity(broker.port, broker.ca_file, name, password(layout, name), client_id=client_id)
    reason = client.connect()
    assert reason == "Success", f"{name} was refused: {reason}"
    return client


def admin_settings(broker: ShippedMosquitto, layout: AccessLayout) -> BrokerSettings:
    return BrokerSettings(url=broker.url, username=ADMIN, password=password(layout, ADMIN), ca_file=broker.ca_file)


def add_observer(broker: ShippedMosquitto, layout: AccessLayout) -> BusIdentity:
    """TEST-ONLY: an identity that reads every topic, created through the control API (as any later
    enrolment would be), to show what reaches *anyone*. It subscribes to ``#`` before returning."""
    secret = "observer-password-for-this-test-only"
    with DynsecControl(admin_settings(broker, layout)) as control:
        answers = control.run(
            [
                {"command": "createRole", "rolename": OBSERVER},
                *(
                    {"command": "addRoleACL", "rolename": OBSERVER, "acltype": kind, "topic": "#", "allow": True}
                    for kind in ("subscribePattern", "publishClientReceive")
                ),
                {
                    "command": "createClient",
                    "username": OBSERVER,
                    "password": secret,
                    "roles": [{"rolename": OBSERVER}],
                },
            ]
        )
    assert not [answer for answer in answers if "error" in answer], answers
    observer = BusIdentity(broker.port, broker.ca_file, OBSERVER, secret)
    assert observer.connect() == "Success"
    assert observer.subscribe("#") == ["Granted QoS 1"]
    return observer
