"""Metrics by hand: Gini, Jain, normalised benefit and the run summary of a three-interval community."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from p2psim.metrics import gini, jain, normalised_benefit, summarise


@pytest.mark.parametrize(("values", "g", "j"), [
    ([1, 1, 1], 0.0, 1.0),
    ([0, 0, 1], 2 / 3, 1 / 3),      # sum |xi - xj| = 4; 4 / (2 * 9 * 1/3) = 2/3; Jain 1 / (3 * 1)
    ([1, 3], 0.25, 0.8),            # 2 * 2 / (2 * 4 * 2) = 1/4; Jain 16 / (2 * 10)
    ([-1, 1, 3], 8 / 9, 9 / 33),    # diffs 2, 4, 2 twice = 16; 16 / (2 * 9 * 1); Jain 9 / (3 * 11)
    ([], 0.0, 1.0),
    ([0, 0], 0.0, 1.0),
])
def test_gini_and_jain_by_hand(values, g, j):
    assert gini(np.array(values)) == pytest.approx(g)
    assert jain(np.array(values)) == pytest.approx(j)


def test_gini_scale_invariant_and_jain_bounds():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 5, 20)
    assert gini(x) == pytest.approx(gini(7 * x))
    assert 1 / x.size <= jain(x) <= 1
    assert gini(np.array([-1.0, 1.0])) == float("inf")  # zero mean: undefined, reported as inf


def test_normalised_benefit_floor():
    # r = b / max(|B|, floor): 2 / 10, -1 / max(0.5, 1), 3 / |-4|, 1 / max(0, 1)
    r = normalised_benefit(np.array([2.0, -1.0, 3.0, 1.0]), np.array([10.0, 0.5, -4.0, 0.0]), floor=1.0)
    np.testing.assert_allclose(r, [0.2, -1.0, 0.75, 1.0])
    np.testing.assert_allclose(normalised_benefit(np.array([1.0]), np.array([0.5]), floor=0.25), [2.0])


def _community():
    # three 1-hour intervals; x: load 4 1 2; y: load 1 1 1, PV 4 3 0; z: the aggregator, nothing at all
    # t0: y's surplus 3 all to x through the pool, x imports 1     -> community net grid 1
    # t1: y's surplus 2: 1 to x, 1 exported                       -> community net grid -1
    # t2: x imports 2, y imports 1                                 -> community net grid 3
    rows = []
    for t, (xl, yl, ypv, x_imp, y_imp, y_exp, pool) in enumerate(
            [(4, 1, 4, 1, 0, 0, 3), (1, 1, 3, 0, 0, 1, 1), (2, 1, 0, 2, 1, 0, 0)]):
        for pid, load, pv, imp, exp, buy, sell in (("x", xl, 0, x_imp, 0, pool, 0),
                                                   ("y", yl, ypv, y_imp, y_exp, 0, pool),
                                                   ("z", 0, 0, 0, 0, 0, 0)):
            rows.append({"day": 0, "interval": t, "participant": pid, "load_kw": load, "pv_kw": pv,
                         "curtail_kw": 0.0, "grid_import_kw": imp, "grid_export_kw": exp, "pool_buy_kw": buy,
                         "pool_sell_kw": sell, "imbalance_import_kw": 0.0, "imbalance_export_kw": 0.0,
                         "shift_kw": 0.0})
    dispatch = pd.DataFrame(rows).astype({c: float for c in rows[0] if c.endswith("_kw")})
    bills = pd.DataFrame({"day": [0, 0, 0], "participant": ["x", "y", "z"], "bill": [2.0, -0.5, 1.0],
                          "standalone_bill": [3.0, -0.2, -4.0], "benefit": [1.0, 0.3, -5.0],
                          "peak_charge": [0.4, 0.2, 0.0]})
    participants = pd.DataFrame({"participant": ["x", "y", "z"], "socio_class": ["low", "high", "community"],
                                 "income_per_year": [36_500.0, 73_000.0, 1e6]})
    return dispatch, bills, participants


def test_summary_by_hand():
    dispatch, bills, participants = _community()
    summary, per, per_class = summarise(dispatch, bills, participants, interval_hours=1.0, days=1,
                                        standalone_peak_kw=4.0, benefit_floor=1.0)
    # raw community load 5, 2, 3 -> 5 kW; delivered grid peak 3 kW -> 1 - 3/5 = 40 %
    assert summary["raw_load_peak_kw"] == 5.0 and summary["peak_kw"] == 3.0
    assert summary["peak_reduction_pct"] == pytest.approx(40.0)
    assert summary["peak_reduction_vs_standalone_pct"] == pytest.approx(25.0)  # 1 - 3/4
    # consumption 10 kWh, grid import 1 + 0 + 3 = 4 kWh -> 60 %
    assert summary["self_sufficiency_pct"] == pytest.approx(60.0)
    # PV 7 kWh, 1 exported, none curtailed -> 6/7
    assert summary["solar_utilisation_pct"] == pytest.approx(600 / 7)
    assert summary["pool_energy_kwh"] == pytest.approx(4.0)
    # money: bills 2 - 0.5 + 1 = 2.5, stand-alone 3 - 0.2 - 4 = -1.2, gain 1 + 0.3 - 5 = -3.7
    assert summary["total_cost"] == pytest.approx(2.5)
    assert summary["standalone_total_cost"] == pytest.approx(-1.2)
    assert summary["cooperative_gain"] == pytest.approx(-3.7)
    # equity metrics leave the aggregator (class "community") out:
    # r_x = 1 / 3, r_y = 0.3 / max(0.2, 1) = 0.3 -> Gini = 2 * (1/30) / (2 * 4 * 19/60) = 1/38
    per = per.set_index("participant")
    np.testing.assert_allclose(per.loc[["x", "y"], "normalised_benefit"], [1 / 3, 0.3])
    assert summary["gini_benefit"] == pytest.approx(1 / 38)
    assert summary["min_relative_saving_pct"] == pytest.approx(30.0)
    assert summary["losers_pct"] == 0.0
    # renewable access: x 1 - 3/7, y 1 - 1/3; energy burden x 100 * 2 * 365 / 36,500 = 2 %
    assert per.loc["x", "renewable_access"] == pytest.approx(4 / 7)
    assert per.loc["y", "renewable_access"] == pytest.approx(2 / 3)
    assert per.loc["x", "energy_burden_pct"] == pytest.approx(2.0)
    assert per.loc["y", "energy_burden_pct"] == pytest.approx(-0.25)
    assert set(per_class.socio_class) == {"low", "high"}
    assert per_class.set_index("socio_class").loc["low", "relative_saving_pct"] == pytest.approx(100 / 3)


def test_summary_floor_scales_with_days():
    dispatch, bills, participants = _community()
    # with days=2 the floor is 2 per run: r_y = 0.3 / max(0.2, 2) = 0.15
    _, per, _ = summarise(dispatch, bills, participants, interval_hours=1.0, days=2, standalone_peak_kw=4.0)
    assert per.set_index("participant").loc["y", "normalised_benefit"] == pytest.approx(0.15)
