"""Acknowledge MQTT messages in arrival order, each only once all of its effects are durable.

A message's effects are its stored points and the alert messages it caused us to publish. Each
message gets a :class:`Ticket` that counts its outstanding effects; when the oldest tickets reach
zero, their packet ids are acknowledged, in order (MQTT requires PUBACKs in the order the PUBLISHes
arrived). If the connection drops, outstanding tickets are forgotten, never acknowledged: the
broker redelivers those messages on the resumed session, and the processor handles them again
(idempotently: same points, same alert ids).

>>> acked = []
>>> ledger = AckLedger(acked.append)
>>> first, second = ledger.open(11, effects=1), ledger.open(12, effects=1)
>>> ledger.settle(second); acked
[]
>>> ledger.settle(first); acked
[11, 12]
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable

__all__ = ["AckLedger", "Ticket"]


class Ticket:
    __slots__ = ("epoch", "mid", "pending")

    def __init__(self, mid: int, pending: int, epoch: int) -> None:
        self.mid = mid
        self.pending = pending
        self.epoch = epoch


class AckLedger:
    """Thread-safe: tickets are opened by the MQTT thread and settled by the writer and MQTT threads."""

    def __init__(self, ack: Callable[[int], object]) -> None:
        self._ack = ack
        self._tickets: deque[Ticket] = deque()
        self._lock = threading.Lock()
        self._epoch = 0
        self.acked = 0

    def open(self, mid: int, *, effects: int) -> Ticket:
        """Start tracking message ``mid`` with ``effects`` outstanding effects (may be 0)."""
        ticket = Ticket(mid, effects, self._epoch)
        with self._lock:
            self._tickets.append(ticket)
            if effects == 0:
                self._release()
        return ticket

    def add(self, ticket: Ticket, effects: int = 1) -> None:
        with self._lock:
            ticket.pending += effects

    def settle(self, ticket: Ticket) -> None:
        self.settle_many((ticket,))

    def settle_many(self, tickets: Iterable[object]) -> None:
        with self._lock:
            for ticket in tickets:
                if isinstance(ticket, Ticket) and ticket.epoch == self._epoch:
                    ticket.pending -= 1
            self._release()

    def _release(self) -> None:
        while self._tickets and self._tickets[0].pending <= 0:
            self._ack(self._tickets.popleft().mid)
            self.acked += 1

    def reset(self) -> int:
        """Forget every outstanding ticket (the connection dropped); returns how many were dropped."""
        with self._lock:
            dropped = len(self._tickets)
            self._tickets.clear()
            self._epoch += 1
            return dropped

    @property
    def outstanding(self) -> int:
        return len(self._tickets)
