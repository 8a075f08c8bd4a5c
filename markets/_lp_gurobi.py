"""Gurobi backend of :func:`p2psim.markets._lp.solve` through the gurobipy matrix API.

Used only when gurobipy imports, a licence starts an environment and the model fits the licence:
the size-limited pip licence allows 2,000 variables and 2,000 linear constraints (a ranged row
``lo <= a@x <= up`` counts twice here, as Gurobi receives it as two inequalities). A model that
passes the check but is still refused (error 10010) also falls back to HiGHS.
"""

from __future__ import annotations

import signal
import threading
import time
from functools import cache

import numpy as np
from p2psim.markets._lp_program import LinearProgram, LPResult
from p2psim.markets.base import SolverOptions

SIZE_LIMIT = 2000
_STATUS = {2: "optimal", 3: "infeasible", 4: "infeasible_or_unbounded", 5: "unbounded", 7: "time_limit",
           8: "time_limit", 9: "time_limit", 10: "time_limit", 11: "interrupted"}
"""Gurobi status codes (GRB.OPTIMAL = 2, ..., GRB.INTERRUPTED = 11: Ctrl-C, or a signal handled in the callback)."""


def _let_python_handle_signals(model, where) -> None:
    """Optimize callback: running Python code here lets a pending SIGTERM handler run during the solve.

    gurobipy swallows the exception the handler raises and stops the solve with status INTERRUPTED,
    which :func:`p2psim.markets._lp.solve` turns back into the signal's exception.
    """


def _reinstall_python_sigint_handler() -> None:
    """Give SIGINT back to Python exactly as it was before ``optimize``.

    Gurobi swaps in its own SIGINT handler during ``optimize`` and, restoring Python's, leaves it
    with SA_RESTART: a Ctrl-C would then no longer interrupt a wait on a lock (a process pool's
    results, for example) until that wait ended on its own. Setting the handler again through
    ``signal.signal`` restores Python's interrupting registration.
    """
    if threading.current_thread() is threading.main_thread():
        handler = signal.getsignal(signal.SIGINT)
        if handler is not None:
            signal.signal(signal.SIGINT, handler)


@cache
def _environment():
    """Return a silent started Gurobi environment, or the reason why there is none."""
    try:
        import gurobipy as gp
    except ImportError:
        return None, "gurobipy is not installed"
    try:
        env = gp.Env(empty=True)
        env.setParam("OutputFlag", 0)
        env.start()
    except gp.GurobiError as exc:  # no licence, expired licence
        return None, f"gurobi has no usable licence ({exc})"
    return env, ""


def _row_split(lp: LinearProgram) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, up = lp.row_lower, lp.row_upper
    eq = np.isfinite(lo) & (lo == up)
    le = np.isfinite(up) & ~eq
    ge = np.isfinite(lo) & ~eq
    return eq, le, ge


def gurobi_problem(lp: LinearProgram) -> str | None:
    """Return why Gurobi cannot take ``lp`` (no gurobipy, no licence, too large), or None."""
    env, reason = _environment()
    if env is None:
        return reason
    eq, le, ge = _row_split(lp)
    n_constraints = int(eq.sum() + le.sum() + ge.sum())
    if lp.n_cols > SIZE_LIMIT or n_constraints > SIZE_LIMIT:
        return (f"the model ({lp.n_cols} variables, {n_constraints} constraints) exceeds the size-limited "
                f"licence ({SIZE_LIMIT} each)")
    return None


def solve_gurobi(lp: LinearProgram, options: SolverOptions, start: np.ndarray | None = None) -> LPResult | None:
    """Solve ``lp`` with Gurobi; return None when Gurobi refuses it for its size (error 10010)."""
    import gurobipy as gp
    from gurobipy import GRB

    env, _ = _environment()
    a = lp.A.tocsr()
    big = GRB.INFINITY

    def finite(v: np.ndarray) -> np.ndarray:
        return np.clip(v, -big, big)

    eq, le, ge = _row_split(lp)
    try:
        with gp.Model(env=env) as model:
            model.Params.TimeLimit = float(options.time_limit_s)
            model.Params.MIPGap = float(options.mip_gap)
            model.Params.Threads = int(options.threads)
            vtype = np.where(lp.integrality, GRB.INTEGER, GRB.CONTINUOUS)
            x = model.addMVar(lp.n_cols, lb=finite(lp.col_lower), ub=finite(lp.col_upper), vtype=vtype)
            if start is not None and lp.n_integers:
                x.Start = np.asarray(start, dtype=float)
            groups = []
            for mask, sense, rhs in ((eq, "=", lp.row_lower), (le, "<", lp.row_upper), (ge, ">", lp.row_lower)):
                if mask.any():
                    groups.append((mask, model.addMConstr(a[mask], x, sense, rhs[mask])))
            model.setObjective(lp.c @ x + lp.offset, GRB.MINIMIZE)
            start = time.perf_counter()
            try:
                model.optimize(_let_python_handle_signals)
            finally:
                _reinstall_python_sigint_handler()
            elapsed = time.perf_counter() - start
            status = _STATUS.get(model.Status, "error")
            result = LPResult(None, float("nan"), status, 0.0, elapsed, "gurobi")
            if model.SolCount > 0:
                result.x = np.asarray(x.X, dtype=float)
                result.objective = float(model.ObjVal)
                result.mip_gap = float(model.MIPGap) if lp.n_integers else 0.0
                result.bound = float(model.ObjBound) if lp.n_integers else result.objective
                if not lp.n_integers and status == "optimal":
                    row_dual = np.zeros(lp.n_rows)
                    for mask, constrs in groups:
                        row_dual[mask] += np.asarray(constrs.Pi, dtype=float)
                    result.row_dual = row_dual
                    result.col_dual = np.asarray(x.RC, dtype=float)
            return result
    except gp.GurobiError as exc:
        if getattr(exc, "errno", None) == 10010:
            return None
        raise
