"""``vitalstream classify``: run the edge models over recorded files and print one JSON line per window.

The same :class:`~edge_agent.pipeline.DevicePipeline` as on a device, fed from the recording as fast
as possible (event time still advances one second per second of signal), so what ``classify``
prints is what the edge would have published.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from statistics import median
from typing import Any

from edge_agent.pipeline import DevicePipeline, EdgeModels
from edge_agent.recording_replay import RecordingReplay

__all__ = ["classify_recording"]


def classify_recording(
    path: Path, *, channel: int | None = None, window_s: int = 10, models: EdgeModels | None = None
) -> Iterator[dict[str, Any]]:
    """Yield ``{"record", "t", "hr", "sqi", "rhythm": {"label", "p"}, "beats"}`` per ``window_s`` seconds."""
    models = models or EdgeModels.load()
    replay = RecordingReplay([path], start_ms=0, speed=1e9, ecg_channel=channel)
    ((patient, device),) = replay.devices
    pipeline = DevicePipeline(patient, device)
    record = path.name.removesuffix(".hea").removesuffix("_Signals.csv")
    hrs: list[float] = []
    sqis: list[float] = []
    beats: dict[str, int] = {}
    rhythm: dict[str, Any] | None = None
    for second, frame in enumerate(replay.frames_until(10**15), start=1):
        reading, _events = pipeline.process(frame, models)
        if "hr" in reading.vitals:
            hrs.append(reading.vitals["hr"])
        if "ecg" in reading.sqi:
            sqis.append(reading.sqi["ecg"])
        for label, count in reading.beats.items():
            beats[label] = beats.get(label, 0) + count
        if reading.rhythm is not None:
            p = reading.rhythm.p
            other = "N" if reading.rhythm.label == "AF" else "AF"
            rhythm = {"label": reading.rhythm.label, "p": {reading.rhythm.label: p, other: round(1.0 - p, 3)}}
        if second % window_s == 0:
            yield {
                "record": record,
                "t": second,
                "hr": round(median(hrs), 1) if hrs else None,
                "sqi": round(sum(sqis) / len(sqis), 3) if sqis else None,
                "rhythm": rhythm,
                "beats": beats,
            }
            hrs, sqis, beats = [], [], {}
