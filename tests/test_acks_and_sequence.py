"""In-order acknowledgements and per-device sequence tracking."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stream_processor.acks import AckLedger
from stream_processor.sequence import SeqStatus, SeqTracker


def test_acks_wait_for_every_effect_and_keep_arrival_order() -> None:
    acked: list[int] = []
    ledger = AckLedger(acked.append)
    a = ledger.open(1, effects=1)
    b = ledger.open(2, effects=2)
    c = ledger.open(3, effects=0)
    ledger.settle(b)
    assert acked == []
    ledger.settle(a)
    assert acked == [1]
    ledger.settle(b)
    assert acked == [1, 2, 3]
    assert ledger.outstanding == 0
    assert c.pending == 0


def test_reset_forgets_tickets_and_ignores_their_late_settlements() -> None:
    acked: list[int] = []
    ledger = AckLedger(acked.append)
    old = ledger.open(7, effects=1)
    assert ledger.reset() == 1
    fresh = ledger.open(7, effects=1)
    ledger.settle(old)  # from before the reconnect: must not ack the new message 7
    assert acked == []
    ledger.settle(fresh)
    assert acked == [7]


@given(st.permutations(list(range(30))))
def test_any_settlement_order_acks_in_arrival_order(order: list[int]) -> None:
    acked: list[int] = []
    ledger = AckLedger(acked.append)
    tickets = [ledger.open(mid, effects=1) for mid in range(30)]
    for index in order:
        ledger.settle(tickets[index])
        assert acked == list(range(len(acked)))
    assert acked == list(range(30))


def test_sequence_gaps_late_duplicates_and_device_reset() -> None:
    tracker = SeqTracker()
    assert tracker.observe(10, ts_ms=10_000).status is SeqStatus.NEW
    verdict = tracker.observe(14, ts_ms=14_000)
    assert (verdict.status, verdict.gap) == (SeqStatus.NEW, 3)
    assert tracker.observe(12, ts_ms=12_000).status is SeqStatus.LATE
    assert tracker.observe(12, ts_ms=12_000).status is SeqStatus.DUPLICATE
    assert tracker.observe(14, ts_ms=14_000).status is SeqStatus.DUPLICATE
    assert sorted(tracker.missing) == [11, 13]
    # The device lost its counter: an old seq but a newer time than anything seen.
    assert tracker.observe(0, ts_ms=20_000).status is SeqStatus.RESET
    assert tracker.observe(1, ts_ms=21_000).status is SeqStatus.NEW


def test_huge_gap_keeps_memory_bounded() -> None:
    tracker = SeqTracker()
    tracker.observe(0, ts_ms=0)
    tracker.observe(10_000_000, ts_ms=1)
    assert tracker.skipped_total == 9_999_999
    assert len(tracker.missing) <= 4096
