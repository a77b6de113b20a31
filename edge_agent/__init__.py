"""The edge agent: reading sources (simulator, recordings, devices) and QoS 1 delivery over MQTT.

Installs with ``pip install 'vitalstream[edge]'`` and never imports River or InfluxDB code.
Submodules that need paho-mqtt (``publisher``, ``main``) are imported by the agent, not here.
"""

from edge_agent.agent import EdgeAgent, ReadingSource, RunSummary, is_alert_grade
from edge_agent.scenarios import EPISODES, PROFILES, Episode, Profile, Scenario, parse_scenarios
from edge_agent.simulator import SimulatedWard, device_id, patient_id

__all__ = [
    "EPISODES",
    "PROFILES",
    "EdgeAgent",
    "Episode",
    "Profile",
    "ReadingSource",
    "RunSummary",
    "Scenario",
    "SimulatedWard",
    "device_id",
    "is_alert_grade",
    "parse_scenarios",
    "patient_id",
]
