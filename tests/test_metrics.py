"""The run summary by hand: a three-interval community, its equity quantities and their trajectory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from p2psim.metrics import summarise

ZERO = ("curtail_kw", "charge_kw", "discharge_kw", "shift_kw", "imbalance_import_kw", "imbalance_export_kw",
        "soc_kwh")


def _community(days: int = 1):
    # three 1-hour intervals; x: load 4 1 2; y: load 1 1 1, PV 4 3 0; z: the aggregator, nothing at all
    # t0: y's surplus 3 all to x through the pool, x imports 1     -> community net grid 1
    # t1: y's surplus 2: 1 to x, 1 exported                       -> community net grid -1
    # t2: x imports 2, y imports 1                                 -> community net grid 3
    rows = []
    for day in range(days):
        for t, (xl, yl, ypv, x_imp, y_imp, y_exp, pool) in enumerate(
                [(4, 1, 4, 1, 0, 0, 3), (1, 1, 3, 0, 0, 1, 1), (2, 1, 0, 2, 1, 0, 0)]):
            for pid, load, pv, imp, exp, buy, sell in (("x", xl, 0, x_imp, 0, pool, 0),
                                                       ("y", yl, ypv, y_imp, y_exp, 0, pool),
                                                       ("z", 0, 0, 0, 0, 0, 0)):
                rows.append({"day": day, "interval": t, "participant": pid, "load_kw": load, "pv_kw": pv,
                             "grid_import_kw": imp, "grid_export_kw": exp, "pool_buy_kw": buy,
                             "pool_sell_kw": sell, **dict.fromkeys(ZERO, 0.0)})
    dispatch = pd.DataFrame(rows).astype({c: float for c in rows[0] if c.endswith(("_kw", "_kwh"))})
    bills = pd.DataFrame({"day": np.repeat(np.arange(days), 3), "participant": ["x", "y", "z"] * days,
                          "bill": [2.0, -0.5, 1.0] * days, "standalone_bill": [3.0, -0.2, -4.0] * days,
                          "benefit": [1.0, 0.3, -5.0] * days, "peak_charge": [0.4, 0.2, 0.0] * days,
                          "need_cost": [5.0, 2.0, 0.0] * days})
    participants = pd.DataFrame({"participant": ["x", "y", "z"], "socio_class": ["low", "high", "community"],
                                 "income_per_year": [36_500.0, 73_000.0, 1e6], "charge_efficiency": 1.0})
    return dispatch, bills, participants


def test_summary_by_hand():
    dispatch, bills, participants = _community()
    summary, per, per_class, daily = summarise(dispatch, bills, participants, interval_hours=1.0, days=1,
                                               standalone_peak_kw=4.0)
    # raw community load 5, 2, 3 -> 5 kW; delivered grid peak 3 kW -> 1 - 3/5 = 40 %
    assert summary["raw_load_peak_kw"] == 5.0 and summary["peak_kw"] == 3.0
    assert summary["peak_reduction_pct"] == pytest.approx(40.0)
    assert summary["peak_reduction_vs_standalone_pct"] == pytest.approx(25.0)  # 1 - 3/4
    # consumption 10 kWh; grid origin: x 1 of its 4 kWh at t0 (the pool carries y's PV) + 2 at t2, y 1 at t2
    assert summary["self_sufficiency_pct"] == pytest.approx(60.0)
    # PV 7 kWh, 1 exported, none curtailed -> 6/7
    assert summary["solar_utilisation_pct"] == pytest.approx(600 / 7)
    assert summary["pool_energy_kwh"] == pytest.approx(4.0)
    # money: bills 2 - 0.5 + 1 = 2.5, stand-alone 3 - 0.2 - 4 = -1.2, gain 1 + 0.3 - 5 = -3.7
    assert summary["total_cost"] == pytest.approx(2.5)
    assert summary["standalone_total_cost"] == pytest.approx(-1.2)
    assert summary["cooperative_gain"] == pytest.approx(-3.7)
    # equity metrics leave the aggregator (class "community") out. Relative benefit = benefit / need:
    # r_x = 1 / 5, r_y = 0.3 / 2 (y's credit alone, -0.2, plays no part) -> Gini = 2 * 0.05 / (2 * 2 * 0.35) = 1/14
    per = per.set_index("participant")
    np.testing.assert_allclose(per.loc[["x", "y"], "relative_benefit"], [0.2, 0.15])
    assert summary["gini_relative_benefit"] == pytest.approx(1 / 14)
    assert summary["min_relative_saving_pct"] == pytest.approx(15.0)
    assert summary["losers_pct"] == 0.0
    # renewable access x 1 - 3/7, y 1 - 1/3 -> Gini 2 * (2/21) / (2 * 2 * 26/21) = 1/26, Jain 676/680
    assert per.loc["x", "renewable_access"] == pytest.approx(4 / 7)
    assert per.loc["y", "renewable_access"] == pytest.approx(2 / 3)
    assert summary["gini_renewable_access"] == pytest.approx(1 / 26)
    assert summary["jain_renewable_access"] == pytest.approx(676 / 680)
    # energy burden x 100 * 2 * 365 / 36,500 = 2 %; y is a net exporter: burden 0, earnings 0.5
    assert per.loc["x", "energy_burden_pct"] == pytest.approx(2.0)
    assert per.loc["y", "energy_burden_pct"] == 0.0 and per.loc["y", "earnings"] == pytest.approx(0.5)
    assert per.loc["x", "energy_burden_standalone_pct"] == pytest.approx(3.0)
    assert summary["gini_energy_burden"] == pytest.approx(0.5)  # (0.02, 0): 2 * 0.02 / (2 * 2 * 0.02)
    assert summary["gini_energy_burden_standalone"] == pytest.approx(0.5)
    classes = per_class.set_index("socio_class")
    assert set(classes.index) == {"low", "high"}
    assert classes.loc["low", "relative_saving_pct"] == pytest.approx(20.0)
    assert classes.loc["high", "energy_burden_pct"] == 0.0 and classes.loc["high", "earnings"] == pytest.approx(0.5)
    assert len(daily) == 1 and daily.gini_relative_benefit_cumulative.iloc[0] == pytest.approx(1 / 14)


def test_class_figures_are_group_totals():
    dispatch, bills, participants = _community()
    participants = participants.assign(socio_class=["low", "low", "community"])
    _, _, per_class, _ = summarise(dispatch, bills, participants, interval_hours=1.0, days=1, standalone_peak_kw=4.0)
    low = per_class.set_index("socio_class").loc["low"]
    # (1 + 0.3) / (5 + 2), not the mean of 20 % and 15 %; burden: what x pays, 2 * 365, over both incomes
    assert low.relative_saving_pct == pytest.approx(100 * 1.3 / 7)
    assert low.energy_burden_pct == pytest.approx(100 * 2 * 365 / 109_500)
    assert low.renewable_access_pct == pytest.approx(100 * (1 - 4 / 10))
    assert low.earnings == pytest.approx(0.5) and low.n == 2


def test_trajectory_daily_and_cumulative_by_hand():
    dispatch, bills, participants = _community(days=3)
    # day 1: y pays 1.5 instead of earning 0.5 (benefit -1.7): losers appear that day only
    bills.loc[(bills.day == 1) & (bills.participant == "y"), ["bill", "benefit"]] = [1.5, -1.7]
    summary, _, _, daily = summarise(dispatch, bills, participants, interval_hours=1.0, days=3,
                                     standalone_peak_kw=4.0)
    day = daily.set_index("day")
    # daily: day 1 relative benefits (0.2, -0.85) -> Gini 2 * 1.05 / (2 * 2 * 1.05) = 0.5
    assert day.loc[1, "gini_relative_benefit_daily"] == pytest.approx(0.5)
    assert day.loc[1, "losers_pct_daily"] == 50.0 and day.loc[2, "losers_pct_daily"] == 0.0
    # cumulative to day 1: x 2/10, y (0.3 - 1.7)/4 = -0.35 -> Gini 2 * 0.55 / (2 * 2 * 0.55) = 0.5
    assert day.loc[1, "gini_relative_benefit_cumulative"] == pytest.approx(0.5)
    # to day 2: x 0.2, y (0.6 - 1.7) / 6 = -11/60 -> |0.2 + 11/60| / (2 * (0.2 + 11/60)) = 0.5 still
    assert day.loc[2, "gini_relative_benefit_cumulative"] == pytest.approx(0.5)
    assert day.loc[2, "min_relative_saving_pct_cumulative"] == pytest.approx(-1100 / 60)
    # energy burden, cumulative to day 1: x 4 * 365/2 / 36,500 = 0.02, y (-0.5 + 1.5) * 365/2 / 73,000 = 0.0025
    assert day.loc[1, "gini_energy_burden_cumulative"] == pytest.approx(2 * 0.0175 / (2 * 2 * 0.0225))
    assert summary["gini_relative_benefit_daily_first"] == pytest.approx(1 / 14)
    assert summary["gini_relative_benefit_daily_last"] == pytest.approx(1 / 14)
    assert summary["gini_relative_benefit_cumulative_last"] == pytest.approx(summary["gini_relative_benefit"])
    # the daily series 1/14, 0.5, 1/14 has slope 0 (symmetric); its 95 % interval spans 0
    assert summary["gini_relative_benefit_daily_slope_per_day"] == pytest.approx(0.0, abs=1e-12)
    assert summary["gini_relative_benefit_daily_slope_ci95_low"] < 0 < summary[
        "gini_relative_benefit_daily_slope_ci95_high"]


def test_grid_charged_battery_keeps_self_sufficiency_and_access_in_range():
    # one home, two 1-hour intervals, lossless battery: t0 imports 3 (1 to the load, 2 into the battery),
    # t1 the battery covers the load. Import 3 kWh > consumption 2 kWh: the old share 1 - import/use was -50 %.
    rows = [{"day": 0, "interval": t, "participant": "h", "load_kw": 1.0, "pv_kw": 0.0, "grid_import_kw": imp,
             "grid_export_kw": 0.0, "pool_buy_kw": 0.0, "pool_sell_kw": 0.0, **dict.fromkeys(ZERO, 0.0),
             "charge_kw": ch, "discharge_kw": dis, "soc_kwh": soc}
            for t, (imp, ch, dis, soc) in enumerate([(3.0, 2.0, 0.0, 2.0), (0.0, 0.0, 1.0, 1.0)])]
    bills = pd.DataFrame({"day": [0], "participant": ["h"], "bill": [1.0], "standalone_bill": [1.0], "benefit": [0.0],
                          "peak_charge": [0.0], "need_cost": [0.6]})
    people = pd.DataFrame({"participant": ["h"], "socio_class": ["low"], "income_per_year": [20_000.0],
                           "charge_efficiency": [1.0]})
    summary, per, _, _ = summarise(pd.DataFrame(rows), bills, people, interval_hours=1.0, days=1, standalone_peak_kw=3)
    assert summary["self_sufficiency_pct"] == pytest.approx(0.0)
    assert per.renewable_access.iloc[0] == pytest.approx(0.0)
