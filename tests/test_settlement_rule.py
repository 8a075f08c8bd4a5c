"""Settlement by an allocation rule: bills by hand on tiny, money balance, individual rationality.

The tiny study's day-ahead game (studies/tiny.py; tariffs import 0.30, 0.40 from 18:00, feed-in
0.10, P2P fee 0.02, demand charge 0.50 per kW; 6-hour intervals, so 1 kW for an interval is 6 kWh):

- c(a) = 6 (0.3 + 0.6 + 0.6 + 1.2) + 0.5 * 3 = 17.70 (load 1, 2, 2, 3 kW; peak 3 kW);
- c(b) = 6 (0.3 + 0.4) - 6 * 0.1 * (2 + 3) + 0.5 * 1 = 1.70 (net 1, -2, -3, 1 kW);
- c(c) = 6 (0.3 * 4 + 0.4) - 6 * 0.1 + 0.5 * 2 = 10.00 (its 6 kWh battery moves 6 kWh from 0.30 to 0.40);
- c(ab) = 6 (0.3 * 2 - 0.1 * 1 + 0.4 * 4) + 0.02 * 24 + 0.5 * 4 = 15.08 (net 2, 0, -1, 4; a buys 24 kWh from b);
- c(ac) = 6 (0.3 * 9 + 0.4 * 4) - 0.6 + 0.5 * 4 = 27.20 (the battery's arbitrage; the 4 kW peak stays);
- c(bc) = 6 (0.3 * 2 - 0.1 + 0.4) + 0.02 * 24 + 0.5 * 2 = 6.88 (the battery fills from b's surplus);
- c(abc) = 6 * 3.4 + 0.02 * 30 + 0.5 * 4 = 23.00 (net 3, 2, 1, 4 kW; 30 kWh bought in the pool).

Savings v(S) = sum c({i}) - c(S): v(ab) = 4.32, v(ac) = 0.50, v(bc) = 4.82, v(abc) = 6.40. Shapley:
phi_a = 4.32/6 + 0.50/6 + (6.40 - 4.82)/3 = 1.33, phi_b = 4.32/6 + 4.82/6 + (6.40 - 0.50)/3 = 3.49,
phi_c = 0.50/6 + 4.82/6 + (6.40 - 4.32)/3 = 1.58.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psim.runner import run
from p2psim.settlement_rule import CORE_RULES, gap_shares, realised_shares, rule_bills, size_problem

ALONE = np.array([17.70, 1.70, 10.00])
SHAPLEY = np.array([1.33, 3.49, 1.58])
TOL = 1e-6


def days_of(study, days: int, **changes):
    """The tiny study over ``days`` identical days (its one-day profiles tiled; the battery carries over)."""
    community = study.community
    people = tuple(replace(p, load_kw=np.tile(p.load_kw, days), pv_kw=np.tile(p.pv_kw, days))
                   for p in community.participants)
    return replace(study, days=days, community=replace(community, participants=people), allocation=False,
                   explain=False, **changes)


def bills_of(result) -> pd.DataFrame:
    return result.bills.set_index(["day", "participant"])


# -- the formula -------------------------------------------------------------------------------------

money = st.floats(-50, 50, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(money, money, money), min_size=1, max_size=12))
def test_bills_sum_to_the_outside_payment_whatever_the_rule_gives(rows):
    alone, market, phi = (np.array(c) for c in zip(*rows, strict=True))
    bill = rule_bills(alone, market, phi)
    assert bill.sum() == pytest.approx(market.sum(), abs=1e-9)
    shares = gap_shares(phi)
    assert shares.sum() == pytest.approx(1.0) and (shares >= 0).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 50), st.floats(0, 20)), min_size=1, max_size=12), st.floats(0, 100))
def test_non_negative_shares_of_a_non_negative_gain_leave_nobody_above_alone(rows, gain):
    # a core rule (phi >= 0) and a realised gain G >= 0: x = phi G / sum(phi) >= 0, so bill <= stand-alone
    alone, phi = (np.array(c) for c in zip(*rows, strict=True))
    market = alone - gain / alone.size  # any market bills whose gain is G
    bill = rule_bills(alone, market, phi)
    assert (bill <= alone + 1e-9).all()
    if phi.sum() > TOL:
        np.testing.assert_allclose(alone - bill, phi * gain / phi.sum(), atol=1e-9)
    else:  # the rule gives nobody anything: the realised gain is split equally
        np.testing.assert_allclose(alone - bill, phi + (gain - phi.sum()) / phi.size, atol=1e-9)


def test_a_negative_share_keeps_its_amount_and_takes_no_part_of_the_gap():
    # phi = (3, 2, -1) allocates 4; the realised gain is 2, a gap of 2 shared 3/5 and 2/5 by the positive shares
    x = realised_shares(np.array([3.0, 2.0, -1.0]), 2.0)
    np.testing.assert_allclose(x, [3 - 2 * 0.6, 2 - 2 * 0.4, -1.0])


def test_size_limits_name_the_limit_and_the_alternative():
    from p2psim.allocate import AllocationOptions

    options = AllocationOptions()
    assert size_problem("nucleolus", 10, options) is None and size_problem("shapley", 10_000, options) is None
    text = size_problem("nucleolus", 100, options)
    assert "at most 10 members" in text and "has 100" in text and "settlement_rule=equitable_core" in text
    assert "at most 120" in size_problem("equitable_core", 121, options)


# -- tiny by hand --------------------------------------------------------------------------------------


def test_tiny_game_and_shapley_bills_by_hand(tiny_study):
    # perfect forecasts and a cost-minimising clearing (EqWM, equal weights): the realised gain is the game's
    # v(N) = 6.40, so every bill is B_i - phi_i of the (realised) game
    from p2psim.game.energy import EnergyDayGame, day_specs

    result = run(days_of(tiny_study, 1, market="eqwm_v1", settlement_rule="shapley"))
    game = EnergyDayGame(day_specs(result)[0])
    costs = {"hh-a": 17.70, "hh-b": 1.70, "hh-c": 10.00, "hh-a,hh-b": 15.08, "hh-a,hh-c": 27.20,
             "hh-b,hh-c": 6.88, "hh-a,hh-b,hh-c": 23.00}
    assert {k: game.cost(k.split(",")) for k in costs} == pytest.approx(costs)
    bills = bills_of(result).loc[0]
    np.testing.assert_allclose(bills.standalone_bill, ALONE)
    np.testing.assert_allclose(bills.rule_amount, SHAPLEY)
    np.testing.assert_allclose(bills.bill, ALONE - SHAPLEY)  # 16.37, -1.79, 8.42
    day = result.settlement_days.iloc[0]
    assert (day.game_value, day.realised_gain) == pytest.approx((6.40, 6.40))
    assert (day.dispatch_gap, day.forecast_gap) == pytest.approx((0.0, 0.0), abs=1e-9)


def test_tiny_mid_market_gap_is_the_dispatch_gap_shared_by_the_rules_proportions(tiny_study):
    # the mid-market rule's schedule costs 24.10 against the optimum 23.00: its gain is 5.30, not 6.40; the
    # 1.10 gap is shared in the Shapley proportions, x = phi * 5.30 / 6.40
    result = run(days_of(tiny_study, 1, settlement_rule="shapley"))
    bills = bills_of(result).loc[0]
    np.testing.assert_allclose(bills.market_bill, [16.34, -1.30, 9.06])
    np.testing.assert_allclose(bills.bill, ALONE - SHAPLEY * 5.30 / 6.40)
    assert bills.bill.sum() == pytest.approx(24.10)
    day = result.settlement_days.iloc[0]
    assert (day.dispatch_gap, day.forecast_gap, day.outside_payment) == pytest.approx((1.10, 0.0, 24.10), abs=1e-9)


def test_weighted_rules_pay_with_the_class_weights_in_force_that_day(tiny_study):
    # day 0 with the study's equal weights: weighted Shapley = Shapley. A hook (as the coordinator does) sets
    # low = 3 for day 1; by the Harsanyi dividends d(ab) = 4.32, d(ac) = 0.50, d(bc) = 4.82, d(abc) = -3.24,
    # phi_a = 3/4 4.32 + 3/4 0.50 - 3/5 3.24 = 1.671, phi_b = 1/4 4.32 + 1/2 4.82 - 1/5 3.24 = 2.842, phi_c = 1.887
    seen = []

    def coordinator(model, day, result):
        seen.append(result["bills"]["bill"].copy())  # what the hook observes: the rule's bills of day d
        model.class_weights = {**model.class_weights, "low": 3.0}

    result = run(days_of(tiny_study, 2, market="eqwm_v1", settlement_rule="weighted_shapley"),
                 day_hooks=(coordinator,))
    bills = bills_of(result)
    np.testing.assert_allclose(bills.loc[0].rule_amount, SHAPLEY)
    np.testing.assert_allclose(bills.loc[1].rule_amount, [1.671, 2.842, 1.887])
    np.testing.assert_allclose(seen[0], ALONE - SHAPLEY)
    np.testing.assert_allclose(seen[1], bills.loc[1].bill)


@pytest.mark.parametrize("rule", ["shapley", "weighted_shapley", "owen", "equitable_core", "nucleolus",
                                  "equal_split", "proportional"])
def test_the_rule_moves_money_not_energy(tiny_study, rule):
    # forecast errors (imbalance) and three days: dispatch, market bills and each day's total are the market's
    study = days_of(tiny_study, 3, forecast_error=0.2)
    market, settled = run(study), run(replace(study, settlement_rule=rule))
    pd.testing.assert_frame_equal(market.dispatch, settled.dispatch)
    paid, alone = bills_of(settled), bills_of(market)
    np.testing.assert_array_equal(paid.market_bill, alone.bill)
    np.testing.assert_allclose(paid.bill.groupby("day").sum(), alone.bill.groupby("day").sum(), atol=1e-9)
    days = settled.settlement_days
    np.testing.assert_allclose(days.game_value - days.dispatch_gap - days.forecast_gap, days.realised_gain)
    assert (days.dispatch_gap > -TOL).all()  # the mid-market schedule is never cheaper than the optimum
    if rule in CORE_RULES:  # individual rationality on every member-day (each day's realised gain is positive)
        assert (days.realised_gain > 0).all()
        assert (paid.bill <= paid.standalone_bill + 1e-9).all()
        np.testing.assert_allclose(paid.standalone_bill - paid.bill,
                                   paid.rule_amount * (days.realised_gain / days.allocated).to_numpy()
                                   [paid.index.get_level_values("day")], atol=1e-9)


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["shapley", "weighted_shapley", "owen", "equitable_core",
                                                     "nucleolus", "equal_split", "proportional"]),
       st.sampled_from(["mid_market_rate_v1", "eqwm_v1"]))
def test_money_balance_every_day_over_seeds(tiny_study, seed, rule, market):
    result = run(days_of(tiny_study, 2, forecast_error=0.3, seed=seed, market=market, settlement_rule=rule))
    bills = result.bills
    paid = bills.groupby("day").bill.sum()
    outside = bills[["energy_cost", "fee_cost", "imbalance_cost", "peak_charge"]].sum(axis=1).groupby(bills.day).sum()
    np.testing.assert_allclose(paid, outside, atol=1e-9)  # pool payments net to zero


def test_settled_bills_feed_every_equity_figure(tiny_study):
    # summary and per-class tables are computed on what members pay: the rule's bills, not the market's
    result = run(days_of(tiny_study, 1, settlement_rule="equal_split"))
    bills = result.bills
    assert result.summary["total_cost"] == pytest.approx(bills.bill.sum())
    assert result.summary["cooperative_gain"] == pytest.approx(5.30)
    per = result.participants.set_index("participant")
    np.testing.assert_allclose(per.bill, bills.set_index("participant").bill)
    np.testing.assert_allclose(per.benefit, [5.30 / 3] * 3)  # equal split of the realised gain
    assert result.summary["member_days_paying_more_than_alone"] == 0


def test_the_allocation_stage_reuses_the_settled_days(tiny_study):
    # the stage takes the day loop's allocations as they are: the settled rule's amounts are the bills' and
    # every other rule equals a market-settled run's stage (same dispatch, same game)
    from p2psim.allocate import AllocationOptions, allocate

    options = AllocationOptions(seed=0, workers=1)
    study = days_of(tiny_study, 2, forecast_error=0.2)
    settled = run(replace(study, settlement_rule="equitable_core"))
    assert set(settled.day_results[0]["settlement_allocation"]["allocations"]) == {"weighted_shapley",
                                                                                   "equitable_core"}
    tables = allocate(settled, options)
    daily = tables["daily"].set_index(["rule", "day", "participant"]).amount
    np.testing.assert_allclose(daily.loc["equitable_core"], bills_of(settled).rule_amount)
    reference = allocate(run(study), options)["daily"].set_index(["rule", "day", "participant"]).amount
    pd.testing.assert_series_equal(daily.drop("market", level="rule"), reference.drop("market", level="rule"),
                                   atol=1e-9)


def test_given_allocations_are_taken_not_recomputed(tiny_study):
    # a given (here: made-up) allocation is what the stage reports for its rule; other options are not reused
    from p2psim.allocate import AllocationOptions, _allocate_day, reusable
    from p2psim.game.allocation import Allocation
    from p2psim.game.energy import day_specs

    result = run(days_of(tiny_study, 1, settlement_rule="owen"))
    spec = day_specs(result)[0]
    made_up = Allocation({"hh-a": 1.0, "hh-b": 2.0, "hh-c": 3.4}, method="owen", exact=True)
    weights = dict.fromkeys(spec.book.participant_ids, 1.0)
    day = _allocate_day(spec, weights, ("hh-a",), AllocationOptions(seed=0), {"allocations": {"owen": made_up}})
    assert day["amounts"]["owen"] == {"hh-a": 1.0, "hh-b": 2.0, "hh-c": 3.4} and day["reused"] == ["owen"]
    assert reusable(result.day_results[0], AllocationOptions(seed=0, workers=7)) is not None
    assert reusable(result.day_results[0], AllocationOptions(seed=1)) is None


def test_the_explanation_explains_what_members_are_paid(tiny_study):
    # settled by a rule, the primary target is the benefit as paid (stand-alone bill minus the rule's bill);
    # settled by the market there is no such target (the market benefit is what members are paid)
    from p2psim.explain import explain

    result = run(days_of(tiny_study, 3, forecast_error=0.1, settlement_rule="equal_split"))
    exp = explain(result, seed=0)
    assert exp.primary.target == "settled" and list(exp.surrogates) == ["settled", "market", "normalised"]
    samples = exp.primary.samples.set_index(["day", "participant"])
    bills = result.bills.set_index(["day", "participant"]).loc[samples.index]
    np.testing.assert_allclose(samples.settled, bills.standalone_bill - bills.bill)
    np.testing.assert_allclose(samples.market, bills.standalone_bill - bills.market_bill)
    assert list(explain(run(days_of(tiny_study, 3, forecast_error=0.1)), seed=0).surrogates) == ["market",
                                                                                                 "normalised"]


def test_tiny_forecast_gap_by_hand_is_shared_by_the_rule(tiny_study, monkeypatch):
    # hh-b forecasts 0 kW for 18-24 h (it uses 1 kW). Day ahead (EqWM, cost-optimal): net 3, 2, 1, 3 kW (the
    # battery fills at 06-12 from b's surplus, empties at 18-24): c(N) = 6 (0.9 + 0.6 + 0.3 + 1.2) + 0.02 * 30
    # + 0.5 * 3 = 20.10; b alone on its forecast: 6 * 0.3 - 6 * 0.1 * 5 + 0.5 * 1 = -0.70, so
    # v(N) = 17.70 - 0.70 + 10.00 - 20.10 = 6.90. Delivered: b imports 6 kWh more at 0.40 (2.40, its own
    # imbalance, in its stand-alone bill too: B_b = 1.70) and lifts the community peak to 4 kW (+0.50, shared):
    # outside payment 23.00, realised gain G = 29.40 - 23.00 = 6.40, forecast gap 0.50. Equal split: phi = 2.30
    # each, x = 2.30 - 0.50 / 3, bill = B - x.
    from p2psim.agents import Household

    honest = Household.forecast

    def forecast(self, day, rng):
        profile = honest(self, day, rng)
        if self.spec.id != "hh-b":
            return profile
        return type(profile)(np.array([1.0, 1.0, 1.0, 0.0]), profile.pv_kw)

    monkeypatch.setattr(Household, "forecast", forecast)
    result = run(days_of(tiny_study, 1, market="eqwm_v1", settlement_rule="equal_split"))
    day = result.settlement_days.iloc[0]
    assert (day.game_value, day.realised_gain, day.outside_payment) == pytest.approx((6.90, 6.40, 23.00))
    assert (day.dispatch_gap, day.forecast_gap) == pytest.approx((0.0, 0.50), abs=1e-9)
    bills = bills_of(result).loc[0]
    np.testing.assert_allclose(bills.standalone_bill, ALONE)
    np.testing.assert_allclose(bills.rule_amount, [2.30, 2.30, 2.30])
    np.testing.assert_allclose(bills.bill, ALONE - (2.30 - 0.50 / 3))  # 15.57, -0.43, 7.87: they sum to 23.00


def test_sweep_rows_carry_the_cost_of_stability_of_a_core_settled_run(tiny_study):
    # day 0, equal weights: the Shapley value (1.33, 3.49, 1.58) is in the core, so the equitable core is it. Day 1,
    # low = 3: phi = (1.671, 2.842, 1.887) gives b and c 4.729 < v(bc) = 4.82; the closest core point caps
    # x_a at v(N) - v(bc) = 1.58, so the low class (hh-a) gives up 1.671 - 1.58 = 0.091 for stability
    from p2psim.sweep import run_row

    def coordinator(model, day, result):
        model.class_weights = {**model.class_weights, "low": 3.0}

    study = days_of(tiny_study, 2, market="eqwm_v1", settlement_rule="equitable_core")
    row = run_row(run(study, day_hooks=(coordinator,)))
    assert row["settled_cost_of_stability"] == pytest.approx(0.091, abs=1e-3)
    assert row["settled_cost_of_stability_exact"] == 1.0
    assert "settled_cost_of_stability" not in run_row(run(replace(study, settlement_rule="weighted_shapley")))
