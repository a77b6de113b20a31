"""The edge spool: durable, ordered, bounded with routine readings dropped first, sequence numbers kept."""

from __future__ import annotations

from pathlib import Path

from edge_agent.spool import PRIORITY, ROUTINE, Spool


def test_messages_come_back_in_order_and_leave_only_when_deleted(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite")
    spool.put([(f"t/{i}", bytes([i]), ROUTINE) for i in range(5)], now_ms=0)
    rows = spool.peek(after_id=0, limit=3)
    assert [r.topic for r in rows] == ["t/0", "t/1", "t/2"]
    assert [r.topic for r in spool.peek(after_id=rows[-1].id, limit=10)] == ["t/3", "t/4"]
    spool.delete([rows[0].id, rows[1].id])
    assert [r.topic for r in spool.peek(after_id=0, limit=10)] == ["t/2", "t/3", "t/4"]
    assert spool.stats().messages == 3
    assert spool.stats().bytes == 3


def test_everything_survives_a_reopen_including_sequence_numbers(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    spool = Spool(path)
    assert spool.allocate_seqs(["d1", "d1", "d2"]) == [0, 1, 0]
    spool.put([("a", b"x", ROUTINE)], now_ms=0)
    spool.close()
    reopened = Spool(path)
    assert [r.topic for r in reopened.peek(after_id=0, limit=10)] == ["a"]
    assert reopened.allocate_seqs(["d1", "d2", "d3"]) == [2, 1, 0]


def test_when_full_the_oldest_routine_readings_go_first_and_events_stay(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", max_bytes=1000)
    spool.put([("event", b"e" * 300, PRIORITY)], now_ms=0)
    for i in range(10):
        spool.put([(f"r{i}", b"r" * 100, ROUTINE)], now_ms=i)
    topics = [r.topic for r in spool.peek(after_id=0, limit=100)]
    assert topics[0] == "event"
    assert topics[1:] == [f"r{i}" for i in range(3, 10)]
    stats = spool.stats()
    assert stats.bytes <= 1000
    assert stats.dropped == {"dropped_routine_full": 3}


def test_events_are_dropped_only_when_nothing_routine_is_left(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", max_bytes=500)
    for i in range(4):
        spool.put([(f"e{i}", b"e" * 200, PRIORITY)], now_ms=i)
    assert [r.topic for r in spool.peek(after_id=0, limit=10)] == ["e2", "e3"]
    assert spool.stats().dropped == {"dropped_priority_full": 2}


def test_old_routine_readings_expire_but_events_do_not(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", max_age_s=60)
    spool.put([("old", b"x", ROUTINE), ("old-event", b"y", PRIORITY)], now_ms=0)
    spool.put([("new", b"z", ROUTINE)], now_ms=61_000)
    assert [r.topic for r in spool.peek(after_id=0, limit=10)] == ["old-event", "new"]
    assert spool.stats().dropped == {"dropped_routine_age": 1}


def test_drop_counters_persist(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    spool = Spool(path, max_bytes=10)
    spool.put([("a", b"x" * 20, ROUTINE)], now_ms=0)
    spool.close()
    assert Spool(path).stats().dropped == {"dropped_routine_full": 1}
