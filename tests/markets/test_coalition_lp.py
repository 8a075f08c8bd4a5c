"""Coalition costs from one persistent model: equal to fresh models, singletons equal B_i, duals."""

from __future__ import annotations

import numpy as np
import pytest
from p2psim.markets._coalition import CoalitionSolver
from p2psim.markets._community_lp import build_day_model
from p2psim.markets._lp import solve
from p2psim.markets.grid_only import standalone_costs

from tests.markets._books import make_context, random_book


@pytest.mark.parametrize("seed", range(2))
def test_coalition_cost_equals_a_fresh_model(seed: int) -> None:
    book, feeder = random_book(seed, n=7, horizon=12)
    context = make_context(feeder)
    solver = CoalitionSolver(book, context)
    rng = np.random.default_rng(seed)
    for _ in range(6):
        mask = rng.random(7) < 0.5
        if not mask.any():
            continue
        fresh = solve(build_day_model(book.subset(mask), context).lp, context.solver).objective
        assert solver.cost(mask) == pytest.approx(fresh, abs=1e-7)
        assert solver.cost(np.flatnonzero(mask)) == pytest.approx(fresh, abs=1e-7)
    assert solver.cost(np.zeros(7, dtype=bool)) == pytest.approx(0.0)
    assert solver.n_solves >= 3


def test_singletons_are_stand_alone_costs_and_the_game_is_subadditive() -> None:
    book, feeder = random_book(5, n=6, horizon=12)
    context = make_context(feeder)
    solver = CoalitionSolver(book, context)
    singles = np.array([solver.cost(np.eye(6, dtype=bool)[i]) for i in range(6)])
    np.testing.assert_allclose(singles, standalone_costs(book, context), atol=1e-7)
    assert solver.cost(np.ones(6, dtype=bool)) <= singles.sum() + 1e-9


def test_grand_duals_decompose_the_grand_cost() -> None:
    book, feeder = random_book(8, n=6, horizon=12)
    solver = CoalitionSolver(book, make_context(feeder))
    duals = solver.grand_duals()
    owned, shared = duals.owner_values()
    assert owned.sum() + shared == pytest.approx(duals.objective, abs=1e-6)
    assert duals.objective == pytest.approx(solver.cost(np.ones(6, dtype=bool)))
    balance = duals.model.lp.block("balance", rows=True)
    assert duals.row_owner[balance.start] == 0 and duals.row_name(balance.start) == "balance[p0,t=0]"
    pool = duals.model.lp.block("pool", rows=True)
    assert duals.row_owner[pool.start] == -1
