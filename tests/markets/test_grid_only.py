"""Grid only: every participant's stand-alone optimum in one block-diagonal LP."""

from __future__ import annotations

import numpy as np
import pytest
from p2psim.markets import GridOnly, make_market
from p2psim.markets.grid_only import standalone_costs, standalone_optimum

from p2psim.testing import check_clearing
from tests.markets._books import make_book, make_context, make_feeder, random_book


def test_stand_alone_by_hand() -> None:
    # A: load (1, 1), PV (3, 0): exports 2 at 0.10 and imports 1 at 0.40 -> B_A = -0.20 + 0.40 = 0.20.
    # B: load (1, 2), 2 kWh lossless battery: imports 1 + 2 (charging) at 0.30 and nothing at 0.40
    # -> B_B = 0.90 (charging at 0.30 to avoid 0.40 pays; the battery cannot hold more than 2 kWh).
    book = make_book([[1.0, 1.0], [1.0, 2.0]], [[3.0, 0.0], [0.0, 0.0]], capacity_kwh=[0, 2], power_kw=[0, 2],
                     import_price=[0.30, 0.40], export_price=0.10, fee=0.02)
    np.testing.assert_allclose(standalone_costs(book, make_context()), [0.20, 0.90], atol=1e-9)
    clearing = GridOnly().clear(book, make_context())
    check_clearing(book, clearing, "grid_only_v1")
    np.testing.assert_allclose(clearing.grid_import_kw, [[0, 1], [3, 0]], atol=1e-7)
    assert not clearing.pool_buy_kw.any() and not clearing.pool_sell_kw.any()
    assert clearing.solver_records and clearing.solver_records[0].backend == "highs"


def test_own_peak_is_charged_and_curtailment_used() -> None:
    # Demand charge 1 per kW on the participant's own peak: a 2 kWh battery flattens a (0, 4) kW load
    # to (2, 2) kW: energy 4 * 0.1 + peak 2 * 1.0 = 2.4. Negative export price: curtail instead.
    book = make_book([[0.0, 4.0], [0.0, 0.0]], [[0.0, 0.0], [2.0, 2.0]], capacity_kwh=[4, 0], power_kw=[2, 0],
                     soc_initial=[0, 0], import_price=0.1, export_price=-0.05, peak_price=1.0)
    alone = standalone_optimum(book, make_context())
    np.testing.assert_allclose(alone.peak_kw, [2.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(alone.cost, [2.4, 0.0], atol=1e-7)
    clearing = GridOnly().clear(book, make_context())
    np.testing.assert_allclose(clearing.curtail_kw[1], [2.0, 2.0], atol=1e-7)


@pytest.mark.parametrize("seed", range(3))
def test_block_diagonal_equals_one_solve_per_participant(seed: int) -> None:
    book, feeder = random_book(seed, n=5, horizon=12)
    context = make_context(feeder)
    together = standalone_costs(book, context)
    one_by_one = [standalone_costs(book.subset(np.array([i])), context)[0] for i in range(5)]
    np.testing.assert_allclose(together, one_by_one, atol=1e-7)
    check_clearing(book, make_market("grid_only").clear(book, context), "grid_only_v1")


def test_path_limits_apply_and_fall_back_when_infeasible() -> None:
    feeder = make_feeder(2, rating_kw=3.0)
    book = make_book([[2.0, 4.0]], capacity_kwh=[4], power_kw=[2], soc_initial=[0], bus_index=[1])
    alone = standalone_optimum(book, make_context(feeder))
    assert alone.model.values(alone.x, "imp").max() <= 3.0 + 1e-7  # charges early to stay under 3 kW
    too_much = make_book([[2.0, 4.0]], bus_index=[1])
    fallback = standalone_optimum(too_much, make_context(feeder))
    assert "without them" in fallback.records[-1].note
    assert fallback.cost[0] == pytest.approx(6 * 0.30)
