"""Exact MILP optimum from the LP relaxation: net out, check complementarity, add binaries where needed.

The day model needs two kinds of binaries for exactness (docs/model.md section 6):

- storage u_dt (per storage-like device d that can both charge and discharge): ch <= charge_max u,
  dis <= discharge_max (1 - u) (never charge and discharge at once);
- grid v_it: imp <= U v, exp <= V (1 - v), with U, V the column bounds of
  :mod:`p2psim.markets._community_lp` (so the big-Ms are exact): never import and export at once.

Simultaneous imp/exp in an interval with import price >= export price, and simultaneous buy/sell
with a fee >= 0, are removed by *netting* (lower both by their minimum): balances, pool, peak and
line flows are unchanged and every bill weakly falls, so every objective of EqWM weakly improves
and v is only needed in intervals where export pays more than import. The LP relaxation is then
checked; if a battery still charges and discharges (or a participant imports and exports where
netting is not allowed), the offending binaries are rounded and the LP re-solved (a complementary
incumbent, accepted when within the MIP gap of the LP bound); otherwise binaries are added for
exactly the offending participant-intervals and the model is re-solved as a MILP with that
incumbent as MIP start, repeating (at most ``MAX_ROUNDS`` times, then all binaries) until the
solution is complementary. A relaxation whose solution satisfies every left-out binary constraint is
optimal for the full MILP, so the result is exact (within the MIP gap).

Reselling (importing while selling to the pool, buying from the pool while exporting) needs no
binary: the community model meters the pool gross (pool sales come out of the participant's own
PV and discharge, pool purchases go into its own load and charging), a linear constraint.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import scipy.sparse as sp
from p2psim.markets._community_lp import DayModel
from p2psim.markets._lp import solve
from p2psim.markets._lp_program import LinearProgram, LPResult
from p2psim.markets.base import SolverOptions

from p2psim.errors import ClearingError

TOLERANCE_KW = 1e-6
MAX_ROUNDS = 4
FIX_ROUNDS = 10


def net_out(model: DayModel, x: np.ndarray) -> np.ndarray:
    """Return ``x`` with imp/exp netted where import price >= export price and buy/sell where fee >= 0."""
    x = x.copy()
    book = model.book
    pairs = [("imp", "exp", book.import_price_per_kwh >= book.export_price_per_kwh)]
    if not model.standalone:
        pairs.append(("buy", "sell", book.p2p_fee_per_kwh >= 0))
    for a, b, allowed in pairs:
        ia, ib = model.index(a), model.index(b)
        common = np.minimum(x[ia], x[ib]) * allowed[None, :]
        common = np.clip(common, 0, None)
        x[ia] -= common
        x[ib] -= common
    return x


def violations(model: DayModel, x: np.ndarray, tol: float = TOLERANCE_KW) -> tuple[np.ndarray, np.ndarray]:
    """Masks of storage (devices x T: ch and dis > tol) and grid (n x T: imp and exp > tol) breaks."""
    battery = (model.device_values(x, "ch") > tol) & (model.device_values(x, "dis") > tol)
    grid = (model.values(x, "imp") > tol) & (model.values(x, "exp") > tol)
    return battery, grid


def eligible(model: DayModel) -> tuple[np.ndarray, np.ndarray]:
    """Masks of device-intervals and participant-intervals where a direction binary can matter at all.

    Storage binaries for every device-interval that can both charge and discharge; grid binaries only
    where both flows can be positive and export pays more than import (elsewhere netting makes them
    redundant), as in docs/model.md section 6 ("where prices allow simultaneous import/export to pay").
    """
    lp = model.lp
    book = model.book
    battery = (lp.col_upper[model.index("ch")] > 0) & (lp.col_upper[model.index("dis")] > 0)
    grid = (lp.col_upper[model.index("imp")] > 0) & (lp.col_upper[model.index("exp")] > 0)
    grid &= (np.asarray(book.import_price_per_kwh) < np.asarray(book.export_price_per_kwh))[None, :]
    return battery, grid


def add_binaries(model: DayModel, battery: np.ndarray, grid: np.ndarray) -> LinearProgram:
    """Return the model's program with binaries (and their big-M rows) for the masked cells."""
    lp = model.lp
    ch, dis = model.index("ch")[battery], model.index("dis")[battery]
    imp, exp = model.index("imp")[grid], model.index("exp")[grid]
    n_u, n_y = len(ch), len(imp)
    if n_u + n_y == 0:
        return lp
    u_max, d_max = lp.col_upper[ch], lp.col_upper[dis]
    big_u, big_v = lp.col_upper[imp], lp.col_upper[exp]
    k = n_u + n_y
    out = lp.with_columns(c=np.zeros(k), lower=np.zeros(k), upper=np.ones(k), integer=True,
                          prefix="binary", shape=(k,))
    u = lp.n_cols + np.arange(n_u)
    y = lp.n_cols + n_u + np.arange(n_y)
    r_ch, r_dis = np.arange(n_u), n_u + np.arange(n_u)
    r_imp, r_exp = 2 * n_u + np.arange(n_y), 2 * n_u + n_y + np.arange(n_y)
    one_u, one_y = np.ones(n_u), np.ones(n_y)
    triplets = [  # ch - max_ch u <= 0; dis + max_dis u <= max_dis; imp - U v <= 0; exp + V v <= V
        (r_ch, ch, one_u), (r_ch, u, -u_max), (r_dis, dis, one_u), (r_dis, u, d_max),
        (r_imp, imp, one_y), (r_imp, y, -big_u), (r_exp, exp, one_y), (r_exp, y, big_v),
    ]
    rows, cols, vals = (np.concatenate(part) for part in zip(*triplets, strict=True))
    m = 2 * (n_u + n_y)
    coef = sp.csr_matrix((vals, (rows, cols)), shape=(m, out.n_cols))
    upper = np.concatenate([np.zeros(n_u), d_max, np.zeros(n_y), big_v])
    return out.with_rows(coef=coef, lower=np.full(m, -np.inf), upper=upper, prefix="binary_link", shape=(m,))


def _fix_upper(model: DayModel, upper: np.ndarray, x: np.ndarray, battery: np.ndarray, grid: np.ndarray) -> None:
    """Fix the direction of the masked cells in ``upper`` by their larger flow (u, v rounded)."""
    storage = model.book.storage
    ch, dis = x[model.index("ch")], x[model.index("dis")]
    charging = ch * storage.charge_efficiency >= dis / storage.discharge_efficiency[:, None]
    cells = battery
    upper[model.index("dis")[cells & charging]] = 0.0
    upper[model.index("ch")[cells & ~charging]] = 0.0
    importing = x[model.index("imp")] >= x[model.index("exp")]
    upper[model.index("exp")[grid & importing]] = 0.0
    upper[model.index("imp")[grid & ~importing]] = 0.0


def _start(model: DayModel, x: np.ndarray, battery: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """MIP start: ``x`` followed by the binaries it implies, in the order of :func:`add_binaries`."""
    u = model.device_values(x, "ch")[battery] > TOLERANCE_KW
    v = model.values(x, "imp")[grid] > TOLERANCE_KW
    return np.concatenate([x, u, v]).astype(float)


def solve_exact(model: DayModel, lp: LinearProgram, options: SolverOptions, mode: str, *, label: str,
                algorithm: str = "auto") -> tuple[LPResult, np.ndarray | None, str, list]:
    """Solve ``lp`` (``model``'s program, possibly with another objective or extra rows) exactly.

    ``auto``: LP relaxation; if it is not complementary, round the offending binaries (fix each
    cell's direction by its larger flow) and re-solve the LP, up to ``FIX_ROUNDS`` times, which
    gives a complementary incumbent; accept it if it is within the MIP gap of the LP bound, else
    solve MILPs with binaries on the offending cells only (the incumbent as MIP start) until the
    solution is complementary. The whole call shares ``options.time_limit_s``; on the limit the best
    complementary solution is returned flagged ``time_limit`` with its gap to the best bound (LP or
    MILP dual bound; every partial MILP is a relaxation of the full one, so its bound is valid) (or
    ClearingError when ``options.on_time_limit == "fail"``).

    Args:
        model: The day model whose per-participant blocks ``lp`` starts with.
        lp: The program to solve (its first columns and rows are ``model.lp``'s).
        options: Solver options.
        mode: ``auto``, ``always`` (full MILP) or ``never`` (LP only).
        label: What is solved, for messages.
        algorithm: HiGHS algorithm for the continuous solves.

    Returns:
        (last result, netted solution restricted to ``lp``'s columns or None, path, solver records).
    """
    deadline = time.perf_counter() + options.time_limit_s
    inner = replace(options, on_time_limit="incumbent")

    def budget() -> SolverOptions:
        return replace(inner, time_limit_s=max(deadline - time.perf_counter(), 0.5))

    records = []
    base = model.lp
    if mode == "always":
        battery, grid = eligible(model)
        result = solve(_with_extra(lp, add_binaries(model, battery, grid), base), options,
                       build_time_s=model.build_time_s, path="milp", label=label)
        records.append(result.record)
        x = net_out(model, result.x[: lp.n_cols]) if result.has_solution else None
        return result, x, "milp", records
    first = "lp+binaries" if lp.n_integers else "lp"  # uninterruptible loads carry their own binaries
    result = solve(lp, options, build_time_s=model.build_time_s, path=first, label=label, algorithm=algorithm)
    records.append(result.record)
    if not result.has_solution:
        return result, None, first, records
    x = net_out(model, result.x)
    battery, grid = violations(model, x)
    if mode == "never" or not (battery.any() or grid.any()):
        if battery.any() or grid.any():
            breaks = int(battery.sum() + grid.sum())
            records[-1] = replace(records[-1], note=f"{breaks} complementarity breaks kept (use_binaries=never)")
        return result, x, first, records
    bound = result.objective
    best, best_obj = None, np.inf
    upper = lp.col_upper.copy()
    y = x
    for _ in range(FIX_ROUNDS):
        _fix_upper(model, upper, y, *violations(model, y))
        fixed = solve(replace(lp, col_upper=upper), budget(), path="lp+binaries", label=label, algorithm=algorithm)
        records.append(replace(fixed.record, note="binaries rounded from the relaxation (fixed-direction LP)"))
        if not fixed.has_solution:
            break
        y = net_out(model, fixed.x)
        more_b, more_g = violations(model, y)
        battery, grid = battery | more_b, grid | more_g
        if not (more_b.any() or more_g.any()):
            best, best_obj = y, float(lp.c @ y + lp.offset)
            break
    if best is not None and best_obj - bound <= options.mip_gap * max(1.0, abs(best_obj)):
        return fixed, best, "lp+binaries", records
    result = None
    battery[battery.any(axis=1)] = True  # breaks move along a battery's day: bind its whole day at once
    for round_ in range(MAX_ROUNDS + 1):
        if round_ == MAX_ROUNDS:
            battery, grid = eligible(model)
        program = _with_extra(lp, add_binaries(model, battery, grid), base)
        start = _start(model, best, battery, grid) if best is not None else None
        result = solve(program, budget(), path="lp+binaries", label=label, start=start)
        records.append(result.record)
        if np.isfinite(result.bound):  # a bound of a relaxation of the full MILP is a valid bound
            bound = max(bound, result.bound)
        if not result.has_solution:
            if result.status != "time_limit":
                return result, None, "lp+binaries", records
            break
        y = net_out(model, result.x[: lp.n_cols])
        more_b, more_g = violations(model, y)
        if not (more_b.any() or more_g.any()):
            objective = float(lp.c @ y + lp.offset)
            if objective < best_obj:
                best, best_obj = y, objective
            if result.status == "optimal":
                return result, y, "lp+binaries", records
            break
        battery, grid = battery | more_b, grid | more_g
        if time.perf_counter() >= deadline:
            break
    gap = (best_obj - bound) / max(1.0, abs(best_obj)) if best is not None else float("inf")
    if best is None or options.on_time_limit != "incumbent":
        raise ClearingError(f"{label}: the solver hit its time limit of {options.time_limit_s} s with a gap of "
                            f"{gap:.3%} to the best bound", status="time_limit",
                            diagnosis="set SolverOptions.on_time_limit='incumbent' to accept the flagged "
                            "incumbent, raise time_limit_s or mip_gap, or use EquityOptions.use_binaries='never'")
    records[-1] = replace(records[-1], status="time_limit", objective=best_obj, mip_gap=gap,
                          note="best complementary solution at the time limit; gap to the best bound")
    flagged = LPResult(best, best_obj, "time_limit", gap, records[-1].solve_time_s, records[-1].backend)
    return flagged, best, "lp+binaries", records


def _with_extra(lp: LinearProgram, with_bin: LinearProgram, base: LinearProgram) -> LinearProgram:
    """Combine ``lp`` (base + extra columns/rows, e.g. z) with the binaries added to ``base``."""
    if lp is base:
        return with_bin
    extra_cols = lp.n_cols - base.n_cols
    n_bin = with_bin.n_cols - base.n_cols
    if n_bin == 0:
        return lp
    out = lp.with_columns(c=np.zeros(n_bin), lower=np.zeros(n_bin), upper=np.ones(n_bin), integer=True,
                          prefix="binary", shape=(n_bin,))
    links = with_bin.A[base.n_rows:]
    links = sp.hstack([links[:, : base.n_cols], sp.csr_matrix((links.shape[0], extra_cols)),
                       links[:, base.n_cols:]], format="csr")
    m = links.shape[0]
    return out.with_rows(coef=links, lower=with_bin.row_lower[base.n_rows:], upper=with_bin.row_upper[base.n_rows:],
                         prefix="binary_link", shape=(m,))
