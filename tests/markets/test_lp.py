"""The matrix LP layer: HiGHS and Gurobi backends, names, statuses, time-limit policy."""

from __future__ import annotations

import numpy as np
import p2psim.markets._lp as lpmod
import pytest
import scipy.sparse as sp
from p2psim.markets._lp import solve
from p2psim.markets._lp_program import LinearProgram, LPResult, NameBlock
from p2psim.markets.base import SolverOptions

from p2psim.errors import ClearingError


def small_lp(integer: bool = False) -> LinearProgram:
    # min x0 + 2 x1 + 3 x2  s.t.  x0 + x1 >= 2,  1 <= x0 + x2 <= 4,  x0 <= 1, x1 <= 5, x2 <= 5
    # optimum x = (1, 1, 0): x0 is cheapest and capped at 1, x1 covers the rest of row0; objective 3
    a = sp.csr_matrix(np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]]))
    lp = LinearProgram(
        c=np.array([1.0, 2.0, 3.0]), A=a, row_lower=np.array([2.0, 1.0]), row_upper=np.array([np.inf, 4.0]),
        col_lower=np.zeros(3), col_upper=np.array([1.0, 5.0, 5.0]),
        col_blocks=(NameBlock("x", 0, (3,)),), row_blocks=(NameBlock("cover", 0, (2,)),), offset=0.5,
    )
    if integer:
        lp.integrality = np.array([False, True, False])
        lp.col_upper[1] = 0.5  # x1 integer in [0, 0.5] -> 0, so x0 + x1 >= 2 is infeasible
    return lp


def test_highs_solves_lp_with_duals() -> None:
    result = solve(small_lp(), SolverOptions())
    assert result.status == "optimal"
    np.testing.assert_allclose(result.x, [1, 1, 0], atol=1e-9)
    assert result.objective == pytest.approx(3.5)  # 3 + offset 0.5
    # strong duality: c@x = sum(row dual * active row bound) + sum(reduced cost * active column bound);
    # row0 (at its lower bound 2) has dual 2: one more unit of cover costs one more x1.
    assert result.row_dual[0] == pytest.approx(2.0)
    row_bound = np.where(result.row_dual > 0, [2.0, 1.0], [np.inf, 4.0])
    total = result.row_dual @ np.where(result.row_dual != 0, row_bound, 0) + result.col_dual @ [1, 0, 0]
    assert total == pytest.approx(3.0)
    assert result.record is not None and result.record.backend == "highs" and result.record.n_variables == 3


def test_names_are_built_on_demand() -> None:
    lp = small_lp()
    assert lp.col_name(2) == "x[2]" and lp.row_name(1) == "cover[1]"
    block = NameBlock("balance", 10, (2, 3), (("p0", "p1"), None))
    assert block.name(10 + 4) == "balance[p1,t=1]"


def test_infeasible_milp_is_reported_not_raised() -> None:
    result = solve(small_lp(integer=True), SolverOptions())
    assert result.status == "infeasible" and not result.has_solution


def test_time_limit_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(lp, options, algorithm, start=None):
        return LPResult(np.ones(lp.n_cols), 7.0, "time_limit", 0.05, 1.0, "highs")

    monkeypatch.setattr(lpmod, "_solve_highs", fake)
    flagged = solve(small_lp(), SolverOptions(on_time_limit="incumbent"))
    assert flagged.status == "time_limit" and flagged.record.mip_gap == pytest.approx(0.05)
    with pytest.raises(ClearingError) as err:
        solve(small_lp(), SolverOptions(on_time_limit="fail"), label="day 4")
    assert err.value.status == "time_limit" and "day 4" in str(err.value) and "5.000%" in str(err.value)
    assert err.value.exit_status == 3


def test_time_limit_without_incumbent_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(lp, options, algorithm, start=None):
        return LPResult(None, np.nan, "time_limit", np.inf, 1, "highs")

    monkeypatch.setattr(lpmod, "_solve_highs", fake)
    with pytest.raises(ClearingError, match="without a feasible solution"):
        solve(small_lp(), SolverOptions(on_time_limit="incumbent"))


def test_unknown_backend_is_an_error() -> None:
    with pytest.raises(ClearingError, match="unknown solver backend"):
        solve(small_lp(), SolverOptions(backend="cplex"))


@pytest.mark.solver
def test_gurobi_agrees_with_highs() -> None:
    pytest.importorskip("gurobipy")
    from p2psim.markets._lp_gurobi import gurobi_problem

    if gurobi_problem(small_lp()) is not None:
        pytest.skip(gurobi_problem(small_lp()))
    highs, gurobi = solve(small_lp(), SolverOptions()), solve(small_lp(), SolverOptions(backend="gurobi"))
    assert gurobi.record.backend == "gurobi" and gurobi.record.note == ""
    assert gurobi.objective == pytest.approx(highs.objective)
    np.testing.assert_allclose(gurobi.x, highs.x, atol=1e-9)
    assert gurobi.row_dual @ [2.0, 1.0] + gurobi.col_dual @ [1, 0, 0] == pytest.approx(3.0)


@pytest.mark.solver
def test_gurobi_falls_back_when_the_model_is_too_large() -> None:
    pytest.importorskip("gurobipy")
    n = 2500
    lp = LinearProgram(c=np.ones(n), A=sp.csr_matrix(np.ones((1, n))), row_lower=np.array([1.0]),
                       row_upper=np.array([np.inf]), col_lower=np.zeros(n), col_upper=np.ones(n))
    result = solve(lp, SolverOptions(backend="gurobi"))
    assert result.record.backend == "highs" and "used highs" in result.record.note
    assert result.objective == pytest.approx(1.0)
