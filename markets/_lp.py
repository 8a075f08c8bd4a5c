"""A solver-neutral linear (mixed-integer) program and one ``solve`` for HiGHS and Gurobi.

The program is held in matrix form::

    minimise    c @ x + offset
    subject to  row_lower <= A @ x <= row_upper,   col_lower <= x <= col_upper,
                x[j] integer where integrality[j]

with ``A`` a ``scipy.sparse.csr_matrix``. Names are kept compactly as :class:`NameBlock` s (a
prefix and a shape per block of consecutive columns or rows), so a model of a million columns
names any of them on demand for diagnostics without ever building a million strings.

Backends: HiGHS (``highspy``, always available; the model goes in through the array form of
``passModel``) and Gurobi (``gurobipy`` matrix API, used for every program with
``backend="gurobi"`` and for mixed-integer programs with ``backend="auto"``, the default, when it
imports, is licensed and the model fits the size-limited pip licence of 2,000 variables and 2,000
constraints; otherwise HiGHS is used and the fallback is written in the record's note). ``auto``
keeps LPs on HiGHS (as fast on these sizes, with no licence start-up) and hands the small MILPs of
the binary repair to Gurobi (measured: 0.08-0.14 s against 0.46-0.98 s for HiGHS).
Statuses are mapped onto :data:`STATUSES`. A solve that hits its time limit returns its incumbent
flagged ``time_limit`` (with the gap) when ``options.on_time_limit == "incumbent"`` and raises
:class:`~p2psim.errors.ClearingError` otherwise. A solve stopped by Ctrl-C or SIGTERM (status
``interrupted``; Gurobi catches SIGINT itself) is never used: ``solve`` raises the signal's
``KeyboardInterrupt`` (:mod:`p2psim.outputs.interrupts`).
"""

from __future__ import annotations

import time

import numpy as np
from p2psim.markets._lp_program import LinearProgram, LPResult
from p2psim.markets.base import SolverOptions, SolverRecord

from p2psim.errors import ClearingError


def new_highs(options: SolverOptions):
    """Return a silent HiGHS instance configured from ``options``."""
    try:  # the private class skips the banner and the Python callback layer
        from highspy._core import _Highs as Highs
    except ImportError:  # pragma: no cover - layout of older highspy versions
        from highspy import Highs
    h = Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", int(options.threads))
    h.setOptionValue("time_limit", float(options.time_limit_s))
    h.setOptionValue("mip_rel_gap", float(options.mip_gap))
    return h


def pass_model(h, lp: LinearProgram) -> None:
    """Load ``lp`` into the HiGHS instance ``h`` through the array form of ``passModel``."""
    a = lp.A.tocsr()
    integrality = lp.integrality.astype(np.int32)
    status = h.passModel(
        lp.n_cols, lp.n_rows, int(a.nnz), 2, 1, float(lp.offset),  # 2 = row-wise, 1 = minimise
        lp.c.astype(np.float64), lp.col_lower.astype(np.float64), lp.col_upper.astype(np.float64),
        lp.row_lower.astype(np.float64), lp.row_upper.astype(np.float64),
        a.indptr.astype(np.int32), a.indices.astype(np.int32), a.data.astype(np.float64),
        integrality,
    )
    if int(status) < 0:
        raise ClearingError("HiGHS rejected the model", status="error")


_HIGHS_STATUS = {
    "kOptimal": "optimal", "kInfeasible": "infeasible", "kUnbounded": "unbounded",
    "kUnboundedOrInfeasible": "infeasible_or_unbounded", "kTimeLimit": "time_limit",
    "kIterationLimit": "time_limit", "kInterrupt": "interrupted", "kSolutionLimit": "time_limit",
}


def read_highs(h, lp: LinearProgram, elapsed_s: float) -> LPResult:
    """Read status, solution, gap and duals from a HiGHS instance after ``run``."""
    status = _HIGHS_STATUS.get(h.getModelStatus().name, "error")
    info = h.getInfo()
    has_x = int(info.primal_solution_status) == 2
    x = row_dual = col_dual = None
    objective = float("nan")
    if has_x:
        solution = h.getSolution()
        x = np.asarray(solution.col_value, dtype=float)
        objective = float(info.objective_function_value)
        if not lp.n_integers and solution.dual_valid:
            row_dual = np.asarray(solution.row_dual, dtype=float)
            col_dual = np.asarray(solution.col_dual, dtype=float)
    gap = float(info.mip_gap) if lp.n_integers and has_x else 0.0
    bound = float(info.mip_dual_bound) if lp.n_integers else (objective if status == "optimal" else -np.inf)
    return LPResult(x, objective, status, gap if np.isfinite(gap) else float("inf"), elapsed_s, "highs",
                    row_dual, col_dual, bound=bound)


def _solve_highs(lp: LinearProgram, options: SolverOptions, algorithm: str, start: np.ndarray | None = None
                 ) -> LPResult:
    h = new_highs(options)
    if algorithm != "auto":
        h.setOptionValue("solver", algorithm)
    pass_model(h, lp)
    if start is not None:
        h.setSolution(lp.n_cols, np.arange(lp.n_cols, dtype=np.int32), np.asarray(start, dtype=np.float64))
    start = time.perf_counter()
    h.run()
    return read_highs(h, lp, time.perf_counter() - start)


def solve(lp: LinearProgram, options: SolverOptions, *, build_time_s: float = 0.0, path: str = "lp",
          label: str = "the model", algorithm: str = "auto", start: np.ndarray | None = None) -> LPResult:
    """Solve ``lp`` with the backend chosen by ``options`` and attach a :class:`SolverRecord`.

    Args:
        lp: The program.
        options: Backend, time limit, MIP gap, threads and the time-limit policy.
        build_time_s: Assembly time, copied into the record.
        path: ``lp``, ``lp+binaries`` or ``milp``, copied into the record.
        label: What is being solved, for error messages (for example ``"day 3"``).
        algorithm: HiGHS ``solver`` option for continuous programs (``auto``, ``simplex``, ``ipm``).
        start: A feasible point handed to the MILP solver as its first incumbent (MIP start).

    Returns:
        The result; statuses other than ``optimal``/``time_limit`` are returned for the caller to
        diagnose (infeasibility needs the model, which only the caller can name).

    Raises:
        ClearingError: On a time limit without an incumbent, or with one when
            ``options.on_time_limit == "fail"``.
        KeyboardInterrupt: When a signal stopped the solve (status ``interrupted``).
    """
    from p2psim.markets._lp_gurobi import gurobi_problem, solve_gurobi

    note = ""
    result = None
    if options.backend == "gurobi" or (options.backend == "auto" and lp.n_integers):
        problem = gurobi_problem(lp)
        if problem is None:
            result = solve_gurobi(lp, options, start)
            if result is None:
                problem = "gurobi reported the size limit (error 10010)"
        if result is None:
            note = f"{options.backend}: used highs because {problem}"
    elif options.backend not in ("highs", "auto"):
        raise ClearingError(f"unknown solver backend {options.backend!r}; use highs, gurobi or auto",
                            status="error")
    if result is None:
        result = _solve_highs(lp, options, algorithm, start if lp.n_integers else None)
    result.record = SolverRecord(
        backend=result.backend, status=result.status, objective=result.objective, mip_gap=result.mip_gap,
        solve_time_s=result.solve_time_s, build_time_s=build_time_s, n_variables=lp.n_cols,
        n_constraints=lp.n_rows, n_binaries=lp.n_integers, path=path, note=note,
    )
    if result.status == "interrupted":  # Ctrl-C or SIGTERM during the solve: never a clearing
        from p2psim.outputs.interrupts import interrupted_by_signal

        stop = interrupted_by_signal()
        stop.add_note(f"{label}: the {result.backend} solve was interrupted after {result.solve_time_s:.1f} s "
                      "(status interrupted) and its partial solution discarded")
        raise stop
    if result.status == "time_limit":
        if not result.has_solution or result.x is None:
            raise ClearingError(f"{label}: the solver hit its time limit of {options.time_limit_s} s "
                                "without a feasible solution", status="time_limit",
                                diagnosis="raise SolverOptions.time_limit_s or simplify the model")
        if options.on_time_limit != "incumbent":
            raise ClearingError(f"{label}: the solver hit its time limit of {options.time_limit_s} s "
                                f"with a MIP gap of {result.mip_gap:.3%}", status="time_limit",
                                diagnosis="set SolverOptions.on_time_limit='incumbent' to accept the "
                                "flagged incumbent, or raise time_limit_s")
    return result
