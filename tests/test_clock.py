"""The timing contract: gate(d) -> deliver(d, 0..T-1) -> settle(d), and settle(d) before gate(d+1).

Simulated time is in hours from the first gate; day 0's gate is at 0, its delivery starts 12 hours
later, interval t is delivered at its end 12 + (t + 1) dt, and settlement follows the last delivery.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from p2psim.clock import DayAheadClock


def run_clock(days: int, intervals: int, dt: float, **kwargs):
    calls = []
    clock = DayAheadClock(days, intervals, dt, gate=lambda d: calls.append(("gate", d, -1)),
                          deliver=lambda d, t: calls.append(("deliver", d, t)),
                          settle=lambda d: calls.append(("settle", d, -1)))
    for time_h, label in kwargs.get("scheduled", ()):
        clock.schedule(time_h, lambda label=label: calls.append((label, -1, -1)))
    clock.run()
    return clock, calls


def expected_order(days: int, intervals: int):
    out = []
    for d in range(days):
        out += [("gate", d, -1), *[("deliver", d, t) for t in range(intervals)], ("settle", d, -1)]
    return out


def test_events_follow_the_contract():
    clock, calls = run_clock(days=3, intervals=4, dt=6.0)
    order = expected_order(3, 4)
    # callbacks are called in exactly the logged order, which is the contract
    assert calls == order
    assert [(phase, d, t) for _, phase, d, t in clock.events] == order


def test_day_zero_times():
    clock, _ = run_clock(days=1, intervals=4, dt=6.0)
    # gate at midnight; deliveries at the end of each 6-hour interval; settle at the last one (24 h)
    assert clock.events == [(0.0, "gate", 0, -1), (6.0, "deliver", 0, 0), (12.0, "deliver", 0, 1),
                            (18.0, "deliver", 0, 2), (24.0, "deliver", 0, 3), (24.0, "settle", 0, -1)]


def test_days_keep_calendar_time():
    clock, _ = run_clock(days=3, intervals=4, dt=6.0)
    gates = [e[0] for e in clock.events if e[1] == "gate"]
    assert gates == [0.0, 24.0, 48.0]  # no drift: day d starts at 24 d


def test_settle_precedes_next_gate_and_time_never_runs_back():
    clock, _ = run_clock(days=4, intervals=24, dt=1.0)
    times = [e[0] for e in clock.events]
    assert times == sorted(times)
    position = {(phase, d): k for k, (_, phase, d, t) in enumerate(clock.events) if t == -1}
    for d in range(3):
        assert position[("settle", d)] < position[("gate", d + 1)]
    # every day delivers T intervals one dt apart, starting at its gate
    for d in range(4):
        gate = next(e[0] for e in clock.events if e[1:3] == ("gate", d))
        deliveries = [e[0] for e in clock.events if e[1:3] == ("deliver", d)]
        np.testing.assert_allclose(deliveries, gate + np.arange(1, 25))


def test_scheduled_event_runs_at_its_time():
    _, calls = run_clock(days=1, intervals=4, dt=6.0, scheduled=[(8.0, "extra")])
    # 8 h lies between the delivery of interval 0 (6 h) and interval 1 (12 h)
    k = calls.index(("extra", -1, -1))
    assert calls[k - 1] == ("deliver", 0, 0) and calls[k + 1] == ("deliver", 0, 1)


def test_run_a_range_of_days():
    _, calls = run_clock(days=3, intervals=2, dt=12.0)
    assert {d for _, d, _ in calls} == {0, 1, 2}
    clock2 = DayAheadClock(5, 2, 12.0, gate=lambda d: None, deliver=lambda d, t: None, settle=lambda d: None)
    clock2.run(first_day=2, last_day=4)
    assert sorted({e[2] for e in clock2.events}) == [2, 3]


def _two_day_tiny(tiny_study):
    """The tiny study over two identical days (profiles tiled)."""
    community = tiny_study.community
    participants = tuple(replace(p, load_kw=np.tile(p.load_kw, 2), pv_kw=np.tile(p.pv_kw, 2))
                         for p in community.participants)
    return replace(tiny_study, days=2, community=replace(community, participants=participants))


def test_model_follows_the_contract_and_day_hooks_see_settled_bills(tiny_study, helpers):
    seen = []

    def hook(model, day, result):
        # the hook runs in settle(day): the last logged event is that settlement, no later gate yet
        assert model.clock.events[-1][1:3] == ("settle", day)
        assert not any(e[1] == "gate" and e[2] > day for e in model.clock.events)
        # and the day's bills are already in the ledger, equal to what the hook receives
        bills = model.ledger.bills
        assert sorted(bills.day.unique()) == list(range(day + 1))
        today = bills[bills.day == day].set_index("participant").bill
        np.testing.assert_allclose(today.to_numpy(), result["bills"]["bill"])
        seen.append((day, today.to_dict()))

    model = helpers.tiny_model(_two_day_tiny(tiny_study), day_hooks=(hook,))
    model.run()
    assert [d for d, _ in seen] == [0, 1]
    assert [(phase, d, t) for _, phase, d, t in model.clock.events] == expected_order(2, 4)
    # day 0 is the hand-checked tiny day under mid-market rate (see test_baseline_rules.py)
    assert seen[0][1] == pytest.approx({"hh-a": 16.34, "hh-b": -1.30, "hh-c": 9.06})


def test_progress_is_reported_after_each_settlement(tiny_study, helpers):
    model = helpers.tiny_model(_two_day_tiny(tiny_study))
    days = []
    model.run(progress=lambda day: days.append((day, len(model.ledger.bills))))
    assert days == [(0, 3), (1, 6)]


def test_a_rule_settled_day_is_complete_when_the_hooks_observe_it(tiny_study, helpers):
    # settled by a rule, day d's allocation is computed inside settle(d): the hook (the coordinator's place)
    # receives the rule's bills, already in the ledger, before day d + 1's gate opens
    seen = []

    def hook(model, day, result):
        assert not any(e[1] == "gate" and e[2] > day for e in model.clock.events)
        bills = model.ledger.bills
        today = bills[bills.day == day].set_index("participant")
        np.testing.assert_allclose(today.bill.to_numpy(), result["bills"]["bill"])
        assert result["settlement"]["day"] == day
        seen.append(today)

    model = helpers.tiny_model(replace(_two_day_tiny(tiny_study), settlement_rule="shapley"), day_hooks=(hook,))
    model.run()
    assert len(seen) == 2
    # day 0: the stand-alone bills minus the Shapley values (1.33, 3.49, 1.58) scaled to the realised gain 5.30
    # of the mid-market clearing (the game's value is 6.40; tests/test_settlement_rule.py derives both by hand)
    np.testing.assert_allclose(seen[0].bill, [17.70 - 1.33 * 5.3 / 6.4, 1.70 - 3.49 * 5.3 / 6.4,
                                              10.00 - 1.58 * 5.3 / 6.4])
    np.testing.assert_allclose(seen[0].market_bill, [16.34, -1.30, 9.06])
