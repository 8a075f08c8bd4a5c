"""Thin wrapper around ``scipy.optimize.linprog(method="highs")`` for the core LPs.

All core-type LPs share the coalition constraint block ``x(S) >= v(S) - eps``, written for
``linprog`` as ``-x(S) - eps <= -v(S)``, i.e. rows of ``-M`` (the membership matrix).
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from p2psim.errors import GameError
from p2psim.markets._lp_program import LPResult


def solve_lp(
    c: np.ndarray,
    a_ub: sp.spmatrix | np.ndarray | None,
    b_ub: np.ndarray | None,
    a_eq: sp.spmatrix | np.ndarray | None,
    b_eq: np.ndarray | None,
    bounds: list[tuple[float | None, float | None]],
    what: str,
) -> LPResult | None:
    """Solve ``min c^T z`` s.t. ``A_ub z <= b_ub``, ``A_eq z = b_eq``, bounds; HiGHS.

    Args:
        c: Objective vector.
        a_ub: Inequality matrix (or ``None``).
        b_ub: Inequality right-hand side.
        a_eq: Equality matrix (or ``None``).
        b_eq: Equality right-hand side.
        bounds: Per-variable ``(low, high)``; ``None`` means unbounded.
        what: Name of the LP for error messages.

    Returns:
        The solution as the project's one LP result type
        (:class:`p2psim.markets._lp_program.LPResult`; ``row_dual`` holds the inequality rows'
        duals as non-negative multipliers, one per row of ``a_ub``), or ``None`` if the LP is
        infeasible.

    Raises:
        GameError: If the LP is unbounded or the solver fails otherwise.
    """
    start = time.perf_counter()
    res = linprog(
        c,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=bounds,
        method="highs",
        options={"primal_feasibility_tolerance": 1e-9, "dual_feasibility_tolerance": 1e-9},
    )
    if res.status == 2:
        return None
    if res.status != 0:
        raise GameError(f"{what}: LP solver failed (status {res.status}: {res.message})")
    duals = np.zeros(0) if a_ub is None else -np.asarray(res.ineqlin.marginals, dtype=float)
    return LPResult(x=np.asarray(res.x, dtype=float), objective=float(res.fun), status="optimal", mip_gap=0.0,
                    solve_time_s=time.perf_counter() - start, backend="highs", row_dual=duals,
                    bound=float(res.fun))


def coalition_rows(masks: np.ndarray, n: int, extra_cols: int = 0, extra_value: float = 0.0):
    """Return the sparse matrix ``[-M | -extra_value * 1 ...]`` for the coalitions ``masks``.

    Row ``r`` has ``-1`` at the members of ``masks[r]`` and ``-extra_value`` in each of the
    ``extra_cols`` trailing columns (e.g. the ``eps`` column of a least-core LP).
    """
    masks = np.asarray(masks, dtype=np.uint64)
    bits = np.uint64(1) << np.arange(n, dtype=np.uint64)
    rows, cols = np.nonzero((masks[:, None] & bits[None, :]) != 0)
    data = -np.ones(rows.size)
    if extra_cols:
        er = np.repeat(np.arange(masks.size), extra_cols)
        ec = np.tile(np.arange(n, n + extra_cols), masks.size)
        rows = np.concatenate([rows, er])
        cols = np.concatenate([cols, ec])
        data = np.concatenate([data, np.full(er.size, -extra_value)])
    return sp.csr_matrix((data, (rows, cols)), shape=(masks.size, n + extra_cols))
