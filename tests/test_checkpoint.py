"""The core's checkpoint file: atomic replace, and a bad file refused without stopping the processor."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from stream_processor.checkpoint import Checkpoint
from stream_processor.core import ProcessorCore
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream.wire import VitalsReading

T0 = 1_790_000_000_000


def core_with_an_alert() -> ProcessorCore:
    core = ProcessorCore(limits=LimitsSettings(hr_delay_s=2), alerting=AlertingSettings(), ward_of=lambda _p: "icu")
    for seq in range(5):
        core.on_reading(VitalsReading("p-1", "d-1", seq, T0 + seq * 1000, {"hr": 170.0}), now_ms=T0 + seq * 1000)
    assert core.open_alerts()
    return core


def fresh_core() -> ProcessorCore:
    return ProcessorCore(limits=LimitsSettings(), alerting=AlertingSettings(), ward_of=lambda _p: "icu")


def test_round_trip(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path / "state" / "proc.checkpoint")  # the directory is created
    assert not checkpoint.restore(fresh_core().restore_state).found
    original = core_with_an_alert()
    checkpoint.save(original.export_state())
    restored = fresh_core()
    result = checkpoint.restore(restored.restore_state)
    assert (result.found, result.error, result.ok) == (True, None, True)
    assert [a.alert_id for a in restored.open_alerts()] == [a.alert_id for a in original.open_alerts()]
    assert sorted(p.name for p in checkpoint.path.parent.iterdir()) == ["proc.checkpoint"]  # no temporary left


@pytest.mark.parametrize("kept", ["nothing", "one byte", "half", "all but the last byte"])
def test_a_truncated_checkpoint_is_refused_without_raising(tmp_path: Path, kept: str) -> None:
    checkpoint = Checkpoint(tmp_path / "proc.checkpoint")
    blob = core_with_an_alert().export_state()
    length = {"nothing": 0, "one byte": 1, "half": len(blob) // 2, "all but the last byte": len(blob) - 1}[kept]
    checkpoint.path.write_bytes(blob[:length])
    core = fresh_core()
    result = checkpoint.restore(core.restore_state)
    assert result.found
    assert not result.ok
    assert result.error is not None
    assert core.patients == {}  # nothing half-restored: the processor starts fresh


def test_another_version_is_refused(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path / "proc.checkpoint")
    checkpoint.save(pickle.dumps({"version": 2, "patients": {}}))
    result = checkpoint.restore(fresh_core().restore_state)
    assert isinstance(result.error, ValueError)


def test_a_failed_write_leaves_the_old_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checkpoint = Checkpoint(tmp_path / "proc.checkpoint")
    original = core_with_an_alert()
    checkpoint.save(original.export_state())
    before = checkpoint.path.read_bytes()

    def disk_full(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        checkpoint.save(b"the new state, never completely written")
    monkeypatch.undo()
    assert checkpoint.path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proc.checkpoint"]  # the temporary file is gone
    restored = fresh_core()
    assert checkpoint.restore(restored.restore_state).ok
    assert [a.alert_id for a in restored.open_alerts()] == [a.alert_id for a in original.open_alerts()]
