"""The co-simulation end to end: the tiny day by hand, and ledger invariants on two rural days.

Tiny under mid_market_rate_v1 (hand check in test_baseline_rules.py): bills 16.34, -1.30, 9.06;
community total 24.1; peak 5 kW at 18-24.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from p2psim.runner import run
from p2psim.sim.settlement import FLOW_FIELDS

ATOL = 1e-6


@pytest.fixture(scope="module")
def tiny_run(tiny_study):
    return run(replace(tiny_study, market="mid_market_rate_v1"))


def test_tiny_bills_by_hand(tiny_run):
    bills = tiny_run.bills.set_index("participant")
    np.testing.assert_allclose(bills.loc[["hh-a", "hh-b", "hh-c"], "bill"], [16.34, -1.30, 9.06], atol=1e-9)
    np.testing.assert_allclose(bills.loc[["hh-a", "hh-b", "hh-c"], "peak_charge"], [1.5, 0.5, 0.5], atol=1e-9)
    # no imbalance with perfect forecasts
    np.testing.assert_allclose(bills.imbalance_cost, 0.0)
    # benefit is the stand-alone bill minus the bill
    np.testing.assert_allclose(bills.benefit, bills.standalone_bill - bills.bill, atol=1e-12)
    parts = bills[["energy_cost", "pool_cost", "fee_cost", "imbalance_cost", "peak_charge"]].sum(axis=1)
    np.testing.assert_allclose(bills.bill, parts, atol=1e-12)


def test_tiny_summary_by_hand(tiny_run):
    s = tiny_run.summary
    assert s["total_cost"] == pytest.approx(24.1)
    # raw community load 3, 4, 5, 5 kW; delivered grid import 3, 1, 1, 5 kW -> no peak reduction
    assert s["raw_load_peak_kw"] == pytest.approx(5.0) and s["peak_kw"] == pytest.approx(5.0)
    assert s["peak_reduction_pct"] == pytest.approx(0.0, abs=1e-9)
    # consumption 6 * 17 = 102 kWh, grid 6 * 10 = 60 kWh -> 42/102
    assert s["self_sufficiency_pct"] == pytest.approx(100 * 42 / 102)
    # 42 kWh of PV, none exported or curtailed
    assert s["solar_utilisation_pct"] == pytest.approx(100.0)
    # pool: 2 kW + 3 kW for 6 h
    assert s["pool_energy_kwh"] == pytest.approx(30.0)
    assert s["cooperative_gain"] == pytest.approx(s["standalone_total_cost"] - s["total_cost"])
    assert s["days"] == 1.0


def test_tiny_dispatch_is_the_hand_dispatch(tiny_run):
    d = tiny_run.dispatch
    assert len(d) == 3 * 4 and set(FLOW_FIELDS) <= set(d.columns)
    buy = d.pivot(index="participant", columns="interval", values="pool_buy_kw").loc[["hh-a", "hh-b", "hh-c"]]
    np.testing.assert_allclose(buy, [[0, 4 / 3, 1.5, 0], [0, 0, 0, 0], [0, 2 / 3, 1.5, 0]], atol=1e-12)
    np.testing.assert_allclose(d.pool_price_per_kwh.unique(), [0.20, 0.25])
    np.testing.assert_allclose(d.load_forecast_kw, d.load_kw)  # perfect forecasts
    assert str(d.timestamp.min()) == "2016-06-01 00:00:00" and str(d.timestamp.max()) == "2016-06-01 18:00:00"


def test_tiny_trades_attribute_the_pool(tiny_run):
    trades = tiny_run.trades
    assert list(trades.columns) == ["day", "interval", "buyer", "seller", "energy_kwh", "price_per_kwh",
                                    "distance_km"]
    # the only seller is hh-b: hh-a gets 8 + 9 = 17 kWh, hh-c 4 + 9 = 13 kWh
    assert set(trades.seller) == {"hh-b"}
    per_buyer = trades.groupby("buyer").energy_kwh.sum()
    assert per_buyer.to_dict() == pytest.approx({"hh-a": 17.0, "hh-c": 13.0})
    per_interval = trades.groupby("interval").energy_kwh.sum()
    assert per_interval.to_dict() == pytest.approx({1: 12.0, 2: 18.0})
    assert set(np.round(trades.price_per_kwh, 12)) == {0.20}
    # hh-b (b2) to hh-a (b1): line-2 = 0.1 km; hh-b to hh-c (b3): 0.1 + 0.1 + 0.2 = 0.4 km
    distance = trades.groupby("buyer").distance_km.first()
    assert distance.to_dict() == pytest.approx({"hh-a": 0.1, "hh-c": 0.4})


def test_rural_ledger_energy_balance(rural_two_days):
    d = rural_two_days.dispatch
    n = len(rural_two_days.scenario.participants)
    assert len(d) == 2 * 24 * n and d.day.nunique() == 2
    use = d.load_kw - d.pv_kw + d.curtail_kw + d.charge_kw - d.discharge_kw + d.shift_kw
    supply = (d.grid_import_kw - d.grid_export_kw + d.pool_buy_kw - d.pool_sell_kw
              + d.imbalance_import_kw - d.imbalance_export_kw)
    np.testing.assert_allclose(use, supply, atol=ATOL)
    for name in FLOW_FIELDS:
        if name != "shift_kw":
            assert d[name].min() >= -ATOL, name


def test_rural_pool_and_money_balance(rural_two_days):
    d = rural_two_days.dispatch
    per_interval = d.assign(pool_money=d.pool_price_per_kwh * (d.pool_buy_kw - d.pool_sell_kw)).groupby(
        ["day", "interval"])[["pool_buy_kw", "pool_sell_kw", "pool_money"]].sum()
    np.testing.assert_allclose(per_interval.pool_buy_kw, per_interval.pool_sell_kw, atol=ATOL)
    np.testing.assert_allclose(per_interval.pool_money, 0.0, atol=ATOL)
    # market bills add up from their parts (rural pays by the equitable core: bill is the rule's, and
    # the day's rule bills sum to the market bills) and the benefit is measured against the stand-alone bill
    b = rural_two_days.bills
    parts = b[["energy_cost", "pool_cost", "fee_cost", "imbalance_cost", "peak_charge"]].sum(axis=1)
    np.testing.assert_allclose(b.market_bill, parts, atol=1e-9)
    by_day = b.groupby("day")[["bill", "market_bill"]].sum()
    np.testing.assert_allclose(by_day.bill, by_day.market_bill, atol=1e-7)
    np.testing.assert_allclose(b.benefit, b.standalone_bill - b.bill, atol=1e-9)
    # trades attribute exactly the pool volume
    if len(rural_two_days.trades):
        traded = rural_two_days.trades.groupby(["day", "interval"]).energy_kwh.sum()
        pool = (per_interval.pool_buy_kw * rural_two_days.scenario.interval_hours).loc[traded.index]
        np.testing.assert_allclose(traded, pool, atol=ATOL)


def test_rural_battery_state_carries_over_days(rural_two_days):
    d = rural_two_days.dispatch
    specs = {p.id: p.battery for p in rural_two_days.scenario.participants if p.battery is not None}
    assert specs, "rural has home batteries and a community battery"
    dt = rural_two_days.scenario.interval_hours
    for pid, battery in specs.items():
        rows = d[d.participant == pid].sort_values(["day", "interval"])
        soc = rows.soc_kwh.to_numpy()
        previous = np.concatenate([[battery.initial_soc * battery.capacity_kwh], soc[:-1]])
        step = dt * (battery.charge_efficiency * rows.charge_kw.to_numpy()
                     - rows.discharge_kw.to_numpy() / battery.discharge_efficiency)
        # one continuous trajectory over both days: day 1 starts where day 0 ended
        np.testing.assert_allclose(soc, previous + step, atol=ATOL, err_msg=pid)
        assert soc.min() >= battery.min_soc * battery.capacity_kwh - ATOL
        assert soc.max() <= battery.max_soc * battery.capacity_kwh + ATOL


def test_rural_summary_is_consistent(rural_two_days):
    s = rural_two_days.summary
    bills = rural_two_days.bills
    assert s["total_cost"] == pytest.approx(bills.bill.sum())
    assert s["standalone_total_cost"] == pytest.approx(bills.standalone_bill.sum())
    assert 0 <= s["self_sufficiency_pct"] <= 100 and 0 <= s["solar_utilisation_pct"] <= 100
    assert s["days"] == 2.0
    per_class = rural_two_days.per_class.set_index("socio_class")
    assert set(per_class.index) == {"low", "middle", "high"}  # the aggregator is left out
    assert per_class.n.sum() == len(rural_two_days.scenario.participants) - 1


def test_rural_forecast_error_has_the_configured_size(rural_two_days):
    d = rural_two_days.dispatch
    loaded = d[d.load_kw > 0.05]
    relative = loaded.load_forecast_kw / loaded.load_kw - 1
    # unbiased noise with sigma 0.05 (several hundred samples)
    assert rural_two_days.study.forecast_error == 0.05
    assert abs(relative.mean()) < 0.01
    assert 0.04 < relative.std() < 0.06


@pytest.mark.parametrize("days", [1, 2])
def test_market_gain_is_the_games_gain_with_perfect_forecasts(tiny_study, days):
    # one demand-charge treatment: alone, a member pays for its own peak (c({i}) = B_i), so with perfect
    # forecasts and a cost-minimising clearing (EqWM, equal weights, no Rawlsian term) the settled gain
    # sum_i (B_i - bill_i) is the game's v(N), day by day (tiny: 29.4 - 23.0 = 6.4 on the first day; the
    # second day repeats the profiles but starts with hh-c's battery as the first day left it)
    from p2psim.energy_game.game import EnergyDayGame, day_specs

    community = tiny_study.community
    people = tuple(replace(p, load_kw=np.tile(p.load_kw, days), pv_kw=np.tile(p.pv_kw, days))
                   for p in community.participants)
    study = replace(tiny_study, market="eqwm_v1", forecast_error=0.0, days=days,
                    community=replace(community, participants=people))
    result = run(study)
    games = [EnergyDayGame(spec) for spec in day_specs(result)]
    gains = [g.value(frozenset(g.players)) for g in games]
    assert gains[0] == pytest.approx(6.4)
    assert result.summary["cooperative_gain"] == pytest.approx(sum(gains), abs=1e-6)
    for game in games:
        alone = result.bills[result.bills.day == game.spec.day].set_index("participant").standalone_bill
        np.testing.assert_allclose(alone.loc[list(game.players)], game.standalone_cost, atol=1e-6)


def test_alone_the_market_has_no_gain(tiny_study):
    # the stand-alone rule is its own counterfactual: every member pays for its own peak, benefit 0
    result = run(replace(tiny_study, market="grid_only_v1"))
    np.testing.assert_allclose(result.bills.benefit, 0.0, atol=1e-12)
    np.testing.assert_allclose(result.bills.bill, result.bills.standalone_bill)
