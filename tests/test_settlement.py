"""Settlement by hand: bill components, the demand-charge share, and the balance checks."""

from __future__ import annotations

import numpy as np
import pytest

from p2psim.errors import InvariantError
from p2psim.sim.settlement import (
    FLOW_FIELDS,
    Prices,
    check_energy_balance,
    check_money_balance,
    day_bills,
    interval_costs,
    need_costs,
    peak_shares,
)

IDS = ("p0", "p1", "p2")


def flows(**given) -> dict[str, np.ndarray]:
    """Flows of 3 participants x 2 intervals; fields not given are zero."""
    out = {name: np.zeros((3, 2)) for name in FLOW_FIELDS}
    out.update({k: np.asarray(v, dtype=float) for k, v in given.items()})
    return out


def prices(pool=(0.2, 0.2), peak=0.5) -> Prices:
    return Prices(import_price_per_kwh=np.array([0.3, 0.4]), export_price_per_kwh=np.array([0.1, 0.1]),
                  pool_price_per_kwh=np.array(pool), p2p_fee_per_kwh=np.array([0.02, 0.02]), peak_price_per_kw=peak)


def test_peak_share_by_hand():
    # delivered net grid import: p0 1, 4; p1 2, 2; p2 0, -1 (exports 1 kW in interval 1)
    # community: 3 then 4 + 2 - 1 = 5 -> peak 5 kW in interval 1, charge 0.5 * 5 = 2.5
    # shares by positive import in the peak interval: 4 : 2 : 0 -> 2.5 * 4/6 = 5/3, 2.5 * 2/6 = 5/6, 0
    f = flows(grid_import_kw=[[1, 4], [2, 2], [0, 0]], grid_export_kw=[[0, 0], [0, 0], [0, 1]])
    share, peak_kw, peak_t = peak_shares(f, 0.5)
    assert peak_kw == 5.0 and peak_t == 1
    np.testing.assert_allclose(share, [5 / 3, 5 / 6, 0.0])
    assert share.sum() == pytest.approx(0.5 * 5.0)


def test_peak_share_counts_imbalance():
    # p1's 3 kW imbalance import makes interval 0 the peak (1 + 0 + 3 + 0 = 4 > 1 + 1 + 0 = 2)
    f = flows(grid_import_kw=[[1, 1], [0, 1], [0, 0]], imbalance_import_kw=[[0, 0], [3, 0], [0, 0]])
    share, peak_kw, peak_t = peak_shares(f, 1.0)
    assert (peak_kw, peak_t) == (4.0, 0)
    np.testing.assert_allclose(share, [1.0, 3.0, 0.0])


def test_no_import_no_demand_charge():
    f = flows(grid_export_kw=[[1, 1], [2, 0], [0, 0]])
    share, peak_kw, _ = peak_shares(f, 0.5)
    assert peak_kw == 0.0
    np.testing.assert_array_equal(share, 0.0)


def test_day_bill_by_hand():
    # 1-hour intervals. p0 imports 1 kW at 0.3 and 0.4 and buys 1 kW from the pool in interval 1;
    # p1 sells that 1 kW; p2 exports 2 kW in interval 0 and has 0.5 kW imbalance import in interval 1.
    f = flows(grid_import_kw=[[1, 1], [0, 0], [0, 0]], grid_export_kw=[[0, 0], [0, 0], [2, 0]],
              pool_buy_kw=[[0, 1], [0, 0], [0, 0]], pool_sell_kw=[[0, 0], [0, 1], [0, 0]],
              imbalance_import_kw=[[0, 0], [0, 0], [0, 0.5]])
    bills = day_bills(f, prices(pool=(0.2, 0.25)), dt=1.0)
    # peak: interval 0 = 1 - 2 = -1, interval 1 = 1 + 0.5 = 1.5 -> 1.5 kW, shares 1 : 0 : 0.5 of 0.75
    np.testing.assert_allclose(bills["peak_charge"], [0.5, 0.0, 0.25])
    np.testing.assert_allclose(bills["energy_cost"], [0.7, 0.0, -0.2])
    np.testing.assert_allclose(bills["pool_cost"], [0.25, -0.25, 0.0])
    np.testing.assert_allclose(bills["fee_cost"], [0.02, 0.0, 0.0])
    np.testing.assert_allclose(bills["imbalance_cost"], [0.0, 0.0, 0.2])
    # p0: 0.7 + 0.25 + 0.02 + 0.5 = 1.47; p1: -0.25; p2: -0.2 + 0.2 + 0.25 = 0.25
    np.testing.assert_allclose(bills["bill"], [1.47, -0.25, 0.25])
    np.testing.assert_allclose(bills["community_peak_kw"], 1.5)
    # money: the sum of bills is what the grid, the network operator and the demand charge collect
    collected = (0.3 + 0.4) - 0.1 * 2 + 0.4 * 0.5 + 0.02 * 1 + 0.5 * 1.5
    assert bills["bill"].sum() == pytest.approx(collected)


def test_interval_length_scales_energy_but_not_the_demand_charge():
    f = flows(grid_import_kw=[[1, 1], [0, 0], [0, 0]])
    one = day_bills(f, prices(), dt=1.0)
    six = day_bills(f, prices(), dt=6.0)
    np.testing.assert_allclose(six["energy_cost"], 6 * one["energy_cost"])
    np.testing.assert_allclose(six["peak_charge"], one["peak_charge"])


def test_money_balance_holds_for_a_balanced_pool():
    f = flows(pool_buy_kw=[[1, 0], [1, 0], [0, 0]], pool_sell_kw=[[0, 0], [0, 0], [2, 0]])
    costs = interval_costs(f, prices(), dt=1.0)
    check_money_balance(costs, day=0, interval=0)


def test_money_balance_raises_on_a_corrupted_flow():
    # a buyer pays for 2 kW but the seller is credited 1 kW: 0.2 * (2 - 1) = 0.2 unaccounted
    f = flows(pool_buy_kw=[[2, 0], [0, 0], [0, 0]], pool_sell_kw=[[0, 0], [1, 0], [0, 0]])
    costs = interval_costs(f, prices(), dt=1.0)
    with pytest.raises(InvariantError, match=r"money balance broken on day 3, interval 0: pool payments net to "
                                             r"0\.2000") as info:
        check_money_balance(costs, day=3, interval=0)
    assert info.value.exit_status == 3
    check_money_balance(costs, day=3, interval=1)  # the other interval is fine


def test_energy_balance_names_the_participant():
    # p1 consumes 2 kW but only 1 kW is supplied
    f = flows(load_kw=[[1, 1], [2, 2], [0, 0]], grid_import_kw=[[1, 1], [1, 2], [0, 0]])
    with pytest.raises(InvariantError, match=r"day 2, interval 0, participant 'p1'.*2\.000000 kW != .*1\.000000"):
        check_energy_balance(f, IDS, day=2, interval=0)
    check_energy_balance(f, IDS, day=2, interval=1)


def test_energy_balance_with_every_term():
    # p0: load 3, pv 4, curtail 0.5, charge 1, discharge 0, shift 0.5 -> uses 1 kW, met by pool 0.5 + grid 0.5
    # p1: load 1, pv 2 -> surplus 1, 0.5 to the pool and 0.5 imbalance export
    f = flows(load_kw=[[3, 0], [1, 0], [0, 0]], pv_kw=[[4, 0], [2, 0], [0, 0]], curtail_kw=[[0.5, 0], [0, 0], [0, 0]],
              charge_kw=[[1, 0], [0, 0], [0, 0]], shift_kw=[[0.5, 0], [0, 0], [0, 0]],
              pool_buy_kw=[[0.5, 0], [0, 0], [0, 0]], grid_import_kw=[[0.5, 0], [0, 0], [0, 0]],
              pool_sell_kw=[[0, 0], [0.5, 0], [0, 0]], imbalance_export_kw=[[0, 0], [0.5, 0], [0, 0]])
    check_energy_balance(f, IDS, day=0, interval=0)


def test_unbalanced_pool_is_reported():
    f = flows(load_kw=[[1, 0], [0, 0], [0, 0]], pool_buy_kw=[[1, 0], [0, 0], [0, 0]])
    with pytest.raises(InvariantError, match=r"pool not balanced on day 0, interval 0: bought 1\.000000 kW, sold 0"):
        check_energy_balance(f, IDS, day=0, interval=0)


def test_alone_each_participant_pays_for_its_own_peak():
    # p0 imports 1 then 4 kW, p1 2 and 2, p2 exports 1 kW: own peaks 4, 2, 0 (never negative) -> 2.0, 1.0, 0
    # in the community they share the community peak 5 kW instead (test_peak_share_by_hand): 2.5 in total
    f = flows(grid_import_kw=[[1, 4], [2, 2], [0, 0]], grid_export_kw=[[0, 0], [0, 0], [0, 1]])
    alone = day_bills(f, prices(), dt=1.0, peak="own")
    np.testing.assert_allclose(alone["peak_charge"], [2.0, 1.0, 0.0])
    community = day_bills(f, prices(), dt=1.0)
    np.testing.assert_allclose(community["peak_charge"], [5 / 3, 5 / 6, 0.0])
    np.testing.assert_allclose(alone["bill"] - alone["peak_charge"], community["bill"] - community["peak_charge"])
    with pytest.raises(ValueError, match="peak='shared'"):
        day_bills(f, prices(), dt=1.0, peak="shared")


def test_need_cost_by_hand():
    # load 1 then 3 kW for 2-hour intervals at 0.3 and 0.4: 2 * (0.3 + 1.2) = 3.0, plus 0.5 * 3 kW own load peak
    need = need_costs(np.array([[1.0, 3.0], [0.0, 0.0]]), np.array([0.3, 0.4]), 0.5, 2.0)
    np.testing.assert_allclose(need, [4.5, 0.0])
