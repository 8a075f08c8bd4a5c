"""EqWM's objective and Rawlsian rows on top of the community day model (formulas in eqwm.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from p2psim.markets._community_lp import DayModel
from p2psim.markets._exactness import TOLERANCE_KW
from p2psim.markets._lp import solve
from p2psim.markets._lp_program import LinearProgram, LPResult
from p2psim.markets.base import EquityOptions, SolverOptions


@dataclass(frozen=True, eq=False)
class EqWMProgram:
    """The EqWM program and the indices needed to read it."""

    model: DayModel
    lp: LinearProgram
    participant_cost: sp.csr_matrix
    """P (n x lp columns): P @ x = each participant's energy bill (without the peak share)."""
    peak_col: int
    z_col: int
    """Column of z, or -1 when lambda = 0 (no Rawlsian rows)."""
    rawlsian_set: np.ndarray
    """Participants with a row z <= r_i."""
    pool_rows: np.ndarray


def eqwm_program(model: DayModel, standalone_cost: np.ndarray, shares: np.ndarray, p2p_per_kwh: np.ndarray,
                 weights: np.ndarray, equity: EquityOptions, *, individually_rational: bool = False) -> EqWMProgram:
    """Build  min cw K + alpha sum_i w_i C_i - lambda z - alpha sum_i w_i B_i  (+ z rows if lambda > 0).

    ``individually_rational`` adds C_i <= B_i for every participant (nobody worse off than alone).
    """
    base = model.lp
    book = model.book
    weights = np.asarray(weights, dtype=float)
    bills = model.participant_cost_matrix(p2p_per_kwh)
    peak_col = base.block("peak").start
    alpha, lam = float(equity.welfare_weight), float(equity.rawlsian_weight)
    c = equity.cost_weight * base.c + alpha * np.asarray(bills.T @ weights).ravel()
    c[peak_col] += alpha * book.peak_price_per_kw * float(weights @ shares)
    lp = LinearProgram(c=c, A=base.A, row_lower=base.row_lower, row_upper=base.row_upper,
                       col_lower=base.col_lower, col_upper=base.col_upper, integrality=base.integrality,
                       col_blocks=base.col_blocks,
                       row_blocks=base.row_blocks, offset=-alpha * float(weights @ standalone_cost))
    scale = np.maximum(np.abs(standalone_cost), equity.benefit_floor)
    rawls = np.flatnonzero(np.abs(standalone_cost) > equity.benefit_floor)
    z_col = -1
    if lam > 0 and len(rawls):
        z_col = lp.n_cols
        lp = lp.with_columns(c=np.array([-lam]), lower=np.array([-np.inf]), upper=np.array([np.inf]),
                             integer=False, prefix="z", shape=())
        peak_part = sp.csr_matrix((book.peak_price_per_kw * shares[rawls], (np.arange(len(rawls)),
                                   np.full(len(rawls), peak_col))), shape=(len(rawls), base.n_cols))
        z_part = sp.csr_matrix(scale[rawls][:, None])
        coef = sp.hstack([bills[rawls] + peak_part, z_part], format="csr")
        lp = lp.with_rows(coef=coef, lower=np.full(len(rawls), -np.inf), upper=standalone_cost[rawls],
                          prefix="rawlsian", shape=(len(rawls),))
    n = book.n_participants
    if individually_rational:
        peak_all = sp.csr_matrix((book.peak_price_per_kw * shares, (np.arange(n), np.full(n, peak_col))),
                                 shape=(n, base.n_cols))
        coef = sp.hstack([bills + peak_all, sp.csr_matrix((n, lp.n_cols - base.n_cols))], format="csr")
        lp = lp.with_rows(coef=coef, lower=np.full(n, -np.inf), upper=np.asarray(standalone_cost, float),
                          prefix="individual_rationality", shape=(n,))
    bills = sp.hstack([bills, sp.csr_matrix((n, lp.n_cols - base.n_cols))], format="csr")
    pool = base.block("pool", rows=True)
    return EqWMProgram(model, lp, bills, peak_col, z_col, rawls, pool.start + np.arange(pool.size))


def pool_duals(program: EqWMProgram, result: LPResult, x: np.ndarray, path: str, options: SolverOptions,
               label: str) -> tuple[np.ndarray, tuple]:
    """Duals of the pool balance rows (objective units per kW) at ``x``, and the records of extra solves.

    From the LP itself on the ``lp`` path; otherwise from the LP with every binary fixed at the
    value ``x`` implies (a battery that charges may not discharge, an importer may not export), whose
    optimum is ``x`` because ``x`` is optimal for the MILP.
    """
    if path == "lp" and result.row_dual is not None:
        return result.row_dual[program.pool_rows], ()
    model = program.model
    upper = program.lp.col_upper.copy()
    charging = x[model.index("ch")] > TOLERANCE_KW
    upper[np.where(charging, model.index("dis"), model.index("ch"))] = 0.0
    importing = x[model.index("imp")] > TOLERANCE_KW
    upper[np.where(importing, model.index("exp"), model.index("imp"))] = 0.0
    lp = program.lp
    lower = np.minimum(lp.col_lower, upper)
    integer = lp.integrality  # uninterruptible loads' start binaries: fixed at the optimum too
    lower[integer] = upper[integer] = np.round(x[: lp.n_cols][integer])
    fixed = LinearProgram(c=lp.c, A=lp.A, row_lower=lp.row_lower, row_upper=lp.row_upper,
                          col_lower=lower, col_upper=upper, col_blocks=lp.col_blocks,
                          row_blocks=lp.row_blocks, offset=lp.offset)
    again = solve(fixed, options, label=f"{label} (pool duals)", path="lp")
    record = replace(again.record, note="binaries fixed at the optimum, for the pool duals")
    if again.row_dual is None:
        return np.full(len(program.pool_rows), np.nan), (record,)
    return again.row_dual[program.pool_rows], (record,)
