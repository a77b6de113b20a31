"""The nurse station end to end, in a real browser: edge -> Mosquitto -> processor -> station -> headless Chromium.

Everything runs as the operator would run it (``vitalstream edge|process|station`` child processes,
Mosquitto and InfluxDB 1.x on loopback). The page is opened before the patient deteriorates, so the
alert card must arrive live over Server-Sent Events. A click on Acknowledge must reach the processor
and come back everywhere: on the card (steady, no longer flashing), in InfluxDB ``alert_events`` with
the nurse's id, and in the retained MQTT alert state. Stopping the broker, then killing the station,
must raise the "connection lost" banner. Screenshots are kept in ``var/test-artifacts/``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.simulator import patient_id
from tests.conftest import IN_CI, require_binary
from tests.mqtt_recorder import MqttRecorder
from tests.procs import CliProcess, cli_env
from tests.servers import REPO, InfluxServer, MosquittoServer, free_port, wait_for_port
from vitalstream.wire import AlertState, decode_alert_state

pytestmark = pytest.mark.integration

WARD = "ward-1"
NURSE = "nurse-7"
SEED = 11
# Patient 0's heart rate climbs from t=1 s (over 150/min within a few seconds, ~165 at the plateau) and
# stays high for two minutes, so the alert is still open when the nurse acknowledges it; patient 1 is stable.
SCENARIO = "tachycardia@1+120,stable"
ARTIFACTS = REPO / "var" / "test-artifacts"


def _webdriver() -> Any:
    chromium = require_binary("chromium", "/usr/bin/chromium")
    chromedriver = require_binary("chromedriver", "/usr/bin/chromedriver")
    try:
        from selenium import webdriver  # noqa: PLC0415
        from selenium.webdriver.chrome.service import Service  # noqa: PLC0415
    except ImportError:
        message = "selenium is not installed (pip install -e '.[dev]')"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"):
        options.add_argument(flag)
    options.add_argument("--window-size=1200,800")
    return webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))


@pytest.fixture
def browser() -> Iterator[Any]:
    driver = _webdriver()
    yield driver
    driver.quit()


def _until(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _card_state(driver: Any) -> dict[str, Any] | None:
    """The first alert card as the browser renders it (None while there is none)."""
    state: dict[str, Any] | None = driver.execute_script(
        """
        const card = document.querySelector("#alerts .card");
        if (!card) return null;
        const indicator = getComputedStyle(card.querySelector(".indicator"));
        return {
            alert_id: card.dataset.alertId, priority: card.dataset.priority, state: card.dataset.state,
            patient: card.querySelector(".patient").textContent,
            summary: card.querySelector(".summary").textContent,
            animation: indicator.animationName, duration: indicator.animationDuration,
            result: card.querySelector(".result").textContent,
            http_status: card.querySelector(".result").dataset.status,
            answered_by: card.querySelector(".result").dataset.source,
            spark_points: (card.querySelector(".spark polyline") || {getAttribute: () => ""}).getAttribute("points"),
        };
        """
    )
    return state


def _shown_card(driver: Any) -> dict[str, Any]:
    """The first alert card, which must be there."""
    state = _card_state(driver)
    assert state is not None, "no alert card on the page"
    return state


def _save_screenshot(driver: Any, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    assert driver.save_screenshot(str(shot)), "screenshot failed"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / name)
    return shot


def test_nurse_acknowledges_a_live_alert_in_the_browser(
    tmp_path: Path, mosquitto: MosquittoServer, influxd: InfluxServer, influx_db: str, browser: Any
) -> None:
    sick = patient_id(SEED, 0)
    # A shorter condition delay than the ward default keeps the test fast; the rule is the same.
    processor = CliProcess(
        ["process", "--broker", mosquitto.url, "--influx-url", influxd.url, "--influx-api", "v1",
         "--influx-db", influx_db, "--client-id", "proc-station", "--state-dir", str(tmp_path / "state")],
        tmp_path, name="processor", env=cli_env(VITALSTREAM_LIMITS_HR_DELAY_S="2"),
    )  # fmt: skip
    http_port = free_port()
    station = CliProcess(
        ["station", "--broker", mosquitto.url, "--ward", WARD, "--http-port", str(http_port)], tmp_path, name="station"
    )
    edge: CliProcess | None = None
    try:
        station.wait_for_log("connected, subscribed")
        processor.wait_for_log("connected, subscribed")
        wait_for_port(http_port)

        # The page is open before anything happens: the alert must arrive without a reload.
        browser.get(f"http://127.0.0.1:{http_port}/")
        browser.execute_script("window.__notReloaded = true;")
        _until(lambda: browser.find_element("id", "banner").get_attribute("hidden") is not None, 10, "a live stream")
        assert browser.find_element("id", "empty").is_displayed()

        edge = CliProcess(
            ["edge", "--broker", mosquitto.url, "--source", "sim:vitals", "--patients", "2", "--duration", "90",
             "--scenario", SCENARIO, "--seed", str(SEED), "--spool", str(tmp_path / "edge.spool.sqlite")],
            tmp_path, name="edge",
        )  # fmt: skip

        card = _until(lambda: _card_state(browser), 30, "the alert card")
        assert browser.execute_script("return window.__notReloaded === true;"), "the page was reloaded"
        assert (card["patient"], card["priority"], card["state"]) == (sick, "high", "active")
        assert "above the hard limit of 150 /min" in card["summary"]
        # IEC 60601-1-8: an active high-priority alarm flashes at ~2 Hz (a 0.5 s cycle).
        assert (card["animation"], card["duration"]) == ("flash", "0.5s")
        # ... but not for someone who asked the system for less motion.
        browser.execute_cdp_cmd(
            "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]}
        )
        assert _shown_card(browser)["animation"] == "none"
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
        # The sparkline of the heart rate fills in from the trends the station keeps.
        _until(lambda: _shown_card(browser)["spark_points"], 15, "the heart-rate sparkline")

        browser.find_element("id", "staff").send_keys(NURSE)
        browser.find_element("css selector", '#alerts .card button[data-action="acknowledge"]').click()

        # (a) the card shows the acknowledgement and stops flashing, still without a reload.
        acked = _until(
            lambda: (c := _card_state(browser)) and c["state"] == "acknowledged" and c["result"] != "sending…" and c,
            15,
            "the acknowledged card",
        )
        assert acked["animation"] == "none"
        assert acked["alert_id"] == card["alert_id"]
        # The processor's own answer on command-results/v1 (not the station's fallback, which infers "applied"
        # from the alert event when no answer comes within 5 s, nor a 504).
        assert (acked["http_status"], acked["answered_by"], acked["result"]) == ("200", "command-result", "done")
        assert browser.execute_script("return window.__notReloaded === true;")
        _save_screenshot(browser, tmp_path, "station.png")

        # (b) InfluxDB holds the transition with who did it.
        rows = _until(
            lambda: influxd.rows(influx_db, "SELECT * FROM alert_events WHERE transition = 'acknowledged'"),
            15,
            "the acknowledged event in InfluxDB",
        )
        assert [(r["alert_id"], r["by"], r["patient"]) for r in rows] == [(card["alert_id"], NURSE, sick)]

        # (c) the retained state a reconnecting station would read says acknowledged, by whom.
        late = MqttRecorder(mosquitto.port, [f"alerts/v1/{WARD}/{sick}"], client_id="late-station").start()
        try:
            retained = late.wait_for(lambda m: m.retain and m.payload != b"")
        finally:
            late.stop()
        assert retained, "no retained alert state"
        snapshot = decode_alert_state(retained[-1].payload)
        (alert,) = [a for a in snapshot.alerts if a.alert_id == card["alert_id"]]
        assert (alert.state, alert.acknowledged_by) == (AlertState.ACKNOWLEDGED, NURSE)

        # Nothing about the nurse or any payload in the station's log; pseudonymous patient ids are fine.
        station_log = station.stderr_path.read_text()
        assert NURSE not in station_log
        assert '"vitals"' not in station_log

        # The broker goes away: the station says so in its stream, and the page shows the banner.
        mosquitto.stop()
        banner = browser.find_element("id", "banner")
        _until(banner.is_displayed, 10, "the broker-lost banner")
        assert "lost the message broker" in banner.text
        assert browser.find_element("css selector", '#alerts .card button[data-action="resolve"]').get_attribute(
            "disabled"
        ), "no commands while the station cannot send them"

        # (d) the station goes away: the page says so at once.
        station.kill()
        _until(lambda: "not answering" in banner.text, 10, "the connection-lost banner for the station")
        assert banner.is_displayed()
        assert "Connection lost" in banner.text
        _save_screenshot(browser, tmp_path, "station-connection-lost.png")
    finally:
        for proc in (edge, station, processor):
            if proc is not None:
                proc.kill()
    assert (ARTIFACTS / "station.png").stat().st_size > 10_000
