"""What waveform sources hand to the edge pipeline: one second of raw signal per device.

A source (the simulator, a replayed recording, a real device adapter) produces
:class:`DeviceFrame` objects; :class:`edge_agent.pipeline.DevicePipeline` turns each into a 1 Hz
reading (and, now and then, an event). Vitals that come from other sensors (SpO2, temperature, a
blood-pressure cuff) travel in ``vitals`` as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from edge_agent.dsp import Array

__all__ = ["DeviceFrame", "FrameSource", "SignalChunk"]


@dataclass(frozen=True, slots=True)
class SignalChunk:
    """Consecutive samples of one channel: ``kind`` is ``ecg`` (mV) or ``ppg`` (arbitrary units)."""

    kind: str
    lead: str
    fs: float
    samples: Array


@dataclass(frozen=True, slots=True)
class DeviceFrame:
    """One device's second: ``ts_ms`` is the device time at the end of the chunk (the reading's time)."""

    patient: str
    device: str
    ts_ms: int
    vitals: Mapping[str, float] = field(default_factory=dict)
    chunks: tuple[SignalChunk, ...] = ()


class FrameSource(Protocol):
    def frames_until(self, now_ms: int) -> list[DeviceFrame]:
        """Frames whose time is at or before ``now_ms`` and were not returned before, in time order."""
        ...
