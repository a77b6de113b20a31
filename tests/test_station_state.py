"""The nurse station's pure state: ordering, snapshot/event merge, resync, the page's JSON, trends."""

from __future__ import annotations

import importlib

import orjson
from hypothesis import given
from hypothesis import strategies as st

from alerts.station import StationState, TrendBook
from tests.station_alerts import T0, WARD, acknowledged, event, make_alert, resolved, snapshot
from vitalstream.wire import AlertState, Priority, Transition, VitalsReading

# ---------------------------------------------------------------- ordering


def test_alerts_are_ordered_by_priority_then_oldest_first() -> None:
    state = StationState(ward=WARD)
    state.apply_snapshot("p-1", snapshot("p-1", (make_alert(1, priority=Priority.LOW, raised_ms=T0),), 1))
    state.apply_snapshot(
        "p-2",
        snapshot(
            "p-2",
            (
                make_alert(2, patient="p-2", priority=Priority.HIGH, raised_ms=T0 + 5000),
                make_alert(3, patient="p-2", priority=Priority.MEDIUM, raised_ms=T0 + 1000),
            ),
            2,
        ),
    )
    state.apply_snapshot("p-3", snapshot("p-3", (acknowledged(make_alert(4, patient="p-3", raised_ms=T0)),), 3))
    # The acknowledged high alert is older than the active one: it stays in its place (priority, then age).
    assert [a.alert_id for a in state.open_alerts()] == ["a-4", "a-2", "a-3", "a-1"]
    assert state.counts_by_priority() == {
        ("high", "acknowledged"): 1,
        ("high", "active"): 1,
        ("medium", "active"): 1,
        ("low", "active"): 1,
    }


@given(
    st.lists(
        st.tuples(st.sampled_from(list(Priority)), st.integers(0, 10**6)),
        min_size=1,
        max_size=20,
    )
)
def test_ordering_never_puts_a_lower_priority_first(specs: list[tuple[Priority, int]]) -> None:
    state = StationState(ward=WARD)
    for n, (priority, offset) in enumerate(specs):
        patient = f"p-{n}"
        alert = make_alert(n, patient=patient, priority=priority, raised_ms=T0 + offset)
        state.apply_snapshot(patient, snapshot(patient, (alert,), 1))
    ordered = state.open_alerts()
    keys = [(a.priority.rank, a.raised_ms) for a in ordered]
    assert keys == sorted(keys)
    assert len(ordered) == len(specs)


# ---------------------------------------------------------------- snapshots and events


def test_snapshot_replaces_the_patients_alerts_and_an_empty_payload_clears_them() -> None:
    state = StationState(ward=WARD)
    assert state.apply_snapshot("p-1", snapshot("p-1", (make_alert(1), make_alert(2)), 2))
    assert state.apply_snapshot("p-1", snapshot("p-1", (make_alert(2),), 3))
    assert [a.alert_id for a in state.open_alerts()] == ["a-2"]
    assert not state.apply_snapshot("p-1", snapshot("p-1", (make_alert(2),), 3)), "same content: no change"
    assert state.apply_snapshot("p-1", None)
    assert state.open_alerts() == []
    assert state.patients() == []
    assert not state.apply_snapshot("p-1", None)


def test_an_event_newer_than_the_snapshot_applies_and_an_old_one_is_ignored() -> None:
    state = StationState(ward=WARD)
    raised = make_alert(1)
    state.apply_snapshot("p-1", snapshot("p-1", (raised,), 1))
    assert not state.apply_event(event(1, Transition.RAISED, raised)), "already in the snapshot"
    assert state.apply_event(event(2, Transition.ACKNOWLEDGED, acknowledged(raised), by="nurse-12"))
    (shown,) = state.open_alerts()
    assert shown.state is AlertState.ACKNOWLEDGED
    assert shown.acknowledged_by == "nurse-12"
    assert state.event_no("p-1") == 2
    # A redelivered older event does not roll the alert back.
    assert not state.apply_event(event(1, Transition.RAISED, raised))
    assert state.open_alerts()[0].state is AlertState.ACKNOWLEDGED
    # Resolution removes the alert from the open list.
    assert state.apply_event(event(3, Transition.RESOLVED, resolved(raised), by="nurse-12"))
    assert state.open_alerts() == []


def test_the_processor_order_event_then_snapshot_gives_one_change() -> None:
    """The processor publishes the event, then the retained snapshot that already contains it."""
    state = StationState(ward=WARD)
    raised = make_alert(1)
    assert state.apply_event(event(1, Transition.RAISED, raised))
    assert not state.apply_snapshot("p-1", snapshot("p-1", (raised,), 1))
    assert [a.alert_id for a in state.open_alerts()] == ["a-1"]


def test_a_gap_in_event_numbers_is_counted_and_the_next_snapshot_repairs_the_view() -> None:
    state = StationState(ward=WARD)
    first, second = make_alert(1), make_alert(2, raised_ms=T0 + 10)
    state.apply_event(event(1, Transition.RAISED, first))
    state.apply_event(event(4, Transition.RAISED, second))  # 2 and 3 were missed
    assert state.event_gaps == 2
    state.apply_snapshot("p-1", snapshot("p-1", (second,), 4))  # the missed events had closed the first
    assert [a.alert_id for a in state.open_alerts()] == ["a-2"]


def test_a_snapshot_wins_even_with_a_lower_event_number() -> None:
    """A processor that lost its numbering must not leave the station ignoring the patient."""
    state = StationState(ward=WARD)
    state.apply_event(event(50, Transition.RAISED, make_alert(1)))
    state.apply_snapshot("p-1", snapshot("p-1", (make_alert(2),), 1))
    assert [a.alert_id for a in state.open_alerts()] == ["a-2"]
    assert state.apply_event(event(2, Transition.RAISED, make_alert(3, raised_ms=T0 + 1)))
    assert [a.alert_id for a in state.open_alerts()] == ["a-2", "a-3"]


def test_resolved_alerts_in_a_snapshot_are_not_shown() -> None:
    state = StationState(ward=WARD)
    state.apply_snapshot("p-1", snapshot("p-1", (resolved(make_alert(1)),), 2))
    assert state.open_alerts() == []
    assert state.patients() == []


@given(st.permutations(range(4)))
def test_any_delivery_order_of_events_then_the_snapshot_shows_the_snapshot(order: list[int]) -> None:
    raised = make_alert(1)
    events = [
        event(1, Transition.RAISED, raised),
        event(2, Transition.RAISED, make_alert(2, raised_ms=T0 + 1)),
        event(3, Transition.ACKNOWLEDGED, acknowledged(raised), by="n-1"),
        event(4, Transition.RESOLVED, resolved(make_alert(2, raised_ms=T0 + 1))),
    ]
    state = StationState(ward=WARD)
    for index in order:
        state.apply_event(events[index])
    state.apply_snapshot("p-1", snapshot("p-1", (acknowledged(raised, "n-1"),), 4))
    assert [(a.alert_id, a.state) for a in state.open_alerts()] == [("a-1", AlertState.ACKNOWLEDGED)]


def test_resync_forgets_patients_whose_retained_state_vanished_while_away() -> None:
    state = StationState(ward=WARD)
    state.apply_snapshot("p-1", snapshot("p-1", (make_alert(1),), 1))
    state.apply_snapshot("p-2", snapshot("p-2", (make_alert(2, patient="p-2"),), 1))
    state.begin_resync()
    state.apply_snapshot("p-2", snapshot("p-2", (make_alert(2, patient="p-2"),), 1))  # p-1's was cleared
    assert state.finish_resync() == ["p-1"]
    assert [a.patient for a in state.open_alerts()] == ["p-2"]
    assert state.finish_resync() == [], "outside a resync nothing is dropped"


def test_snapshot_json_holds_what_a_card_shows_and_the_trend_of_the_alerting_vital() -> None:
    state = StationState(ward=WARD)
    for second in range(30):
        state.apply_vitals(VitalsReading("p-1", "d-1", second, T0 + second * 1000, {"hr": 100.0 + second, "spo2": 97}))
    state.apply_snapshot("p-1", snapshot("p-1", (make_alert(1), make_alert(2, vital=None)), 1))
    data = state.snapshot_json()
    assert data["ward"] == WARD
    card = data["alerts"][0]
    assert card["summary"].startswith("Heart rate 163")
    assert card["response"] == "Review within 15 min"
    assert (card["value"], card["limit"], card["unit"], card["vital"]) == (163.0, 150.0, "/min", "hr")
    assert "device" not in card
    hr = data["trends"]["p-1"]["hr"]
    assert hr[-1] == (T0 + 28_000, 129.0), "2 s buckets, the last value of the bucket"
    assert set(data["trends"]["p-1"]) == {"hr"}, "only the vital behind an alert travels"
    assert orjson.loads(orjson.dumps(data))["alerts"][1]["vital"] is None


# ---------------------------------------------------------------- trends


def test_trends_keep_the_window_and_ignore_late_readings() -> None:
    book = TrendBook(window_ms=60_000, step_ms=5_000)
    for second in range(120):
        book.add("p-1", T0 + second * 1000, {"hr": float(second), "bogus": 1.0})
    book.add("p-1", T0, {"hr": 999.0})  # late redelivery
    series = book.series("p-1", "hr")
    assert series[-1] == (T0 + 115_000, 119.0)
    assert series[0][0] > T0 + 119_000 - 60_000 - 5000
    assert all(value != 999.0 for _, value in series)
    assert book.series("p-1", "bogus") == []
    assert book.series("p-9", "hr") == []


def test_trends_of_patients_outside_the_ward_are_bounded_but_the_wards_are_kept() -> None:
    book = TrendBook(max_other_patients=3)
    book.keep("p-ward")
    for n in range(10):
        book.add(f"p-{n}", T0, {"hr": 70.0})
    book.add("p-ward", T0, {"hr": 70.0})
    assert len(book) == 4
    assert book.series("p-ward", "hr") == [(T0, 70.0)]
    assert book.series("p-9", "hr")
    assert not book.series("p-0", "hr"), "the least recently heard from went first"


# ---------------------------------------------------------------- the package


def test_station_package_all_is_sorted_and_complete() -> None:
    module = importlib.import_module("alerts.station")
    exported = list(module.__all__)
    assert exported == sorted(exported, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))
    assert all(hasattr(module, name) for name in exported)
