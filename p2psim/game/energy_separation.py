"""Separation oracle of the energy game: the coalition that gains most by leaving, as one MILP.

Row generation for core allocations (:func:`p2psim.game.equitable_core_allocation`) needs, for an
allocation x of the savings game, the coalition S maximising the excess

    e(S) = v(S) - x(S) = sum_{i in S} (c_i - x_i) - c(S),      c_i = c({i}),

where c(S) = min { cost @ y : y feasible for the day model of S }. Because -min = max of the
negative, the inner LP merges with the choice of S into one mixed-integer program over membership
binaries z_i and the dispatch y of the grand model whose participant-owned bounds are scaled by z:

    min   cost @ y - sum_i (c_i - x_i) z_i
    s.t.  shared rows and columns of the day model unchanged (pool, peak, transformer, lines)
          L_r z_i <= A_r y <= U_r z_i        for every row r whose bounds are participant i's data
          l_j z_i <=  y_j  <= u_j z_i        for every column j of participant i (an infinite
                                              bound becomes a big-M bound, M_j in the model's units)
          1 <= sum_i z_i <= n - 1            (proper, non-empty coalitions)

so e(S*) = -(optimal value). With z fixed this is exactly c(S) (non-members are switched off as in
:class:`~p2psim.markets._coalition.CoalitionSolver`), which makes the oracle exact up to the MILP
gap (set to 0 here). One model per day is built; only the z costs change between calls.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from p2psim.game.stable import Separation
from p2psim.markets._lp import LinearProgram, new_highs, pass_model, read_highs


def _big_m(game) -> float:
    book = game.spec.book
    scale = (book.load_kw.max(initial=0) + book.pv_kw.max(initial=0)) * book.n_participants
    scale += book.max_charge_kw.sum() + book.max_discharge_kw.sum() + book.capacity_kwh.sum()
    return 10.0 * (scale + game.spec.feeder.transformer_limit_kw + 1.0)


def membership_program(game) -> tuple[LinearProgram, int]:
    """The separation MILP of an :class:`~p2psim.game.energy.EnergyDayGame` (z costs zero)."""
    lp = game.solver.model.lp
    row_owner = np.asarray(game.solver.model.row_owner)
    col_owner = np.asarray(game.solver.model.col_owner)
    n, m = len(game.players), lp.n_cols
    big = _big_m(game)
    a = lp.A.tocsr()
    blocks, lower, upper = [], [], []

    def z_block(rows: np.ndarray, owners: np.ndarray, coefficient: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix((-coefficient, (np.arange(rows.size), owners)), shape=(rows.size, n))

    shared = row_owner < 0
    blocks.append(sp.hstack([a[shared], sp.csr_matrix((int(shared.sum()), n))]))
    lower.append(lp.row_lower[shared])
    upper.append(lp.row_upper[shared])
    owned = np.flatnonzero(~shared)
    lo, up = lp.row_lower[owned], lp.row_upper[owned]
    equal = np.isfinite(lo) & (lo == up)
    for mask, bound, is_lower in (
        (equal, lo, None),
        (~equal & np.isfinite(lo), lo, True),
        (~equal & np.isfinite(up), up, False),
    ):
        rows = owned[mask]
        blocks.append(sp.hstack([a[rows], z_block(rows, row_owner[rows], bound[mask])]))
        lower.append(np.zeros(rows.size) if is_lower in (None, True) else np.full(rows.size, -np.inf))
        upper.append(np.zeros(rows.size) if is_lower in (None, False) else np.full(rows.size, np.inf))
    cols = np.flatnonzero(col_owner >= 0)
    eye = sp.identity(m, format="csr")[cols]
    col_lo = np.where(np.isfinite(lp.col_lower[cols]), lp.col_lower[cols], -big)
    col_up = np.where(np.isfinite(lp.col_upper[cols]), lp.col_upper[cols], big)
    for bound, is_lower in ((col_lo, True), (col_up, False)):
        keep = bound != 0  # a zero bound needs no z-row: the scaled bound is 0 either way
        blocks.append(sp.hstack([eye[keep], z_block(cols[keep], col_owner[cols][keep], bound[keep])]))
        lower.append(np.zeros(keep.sum()) if is_lower else np.full(keep.sum(), -np.inf))
        upper.append(np.full(keep.sum(), np.inf) if is_lower else np.zeros(keep.sum()))
    blocks.append(sp.hstack([sp.csr_matrix((1, m)), sp.csr_matrix(np.ones((1, n)))]))
    lower.append(np.array([1.0]))
    upper.append(np.array([n - 1.0]))
    col_lower = lp.col_lower.copy()
    col_upper = lp.col_upper.copy()
    col_lower[cols] = np.minimum(col_lo, 0.0)
    col_upper[cols] = np.maximum(col_up, 0.0)
    program = LinearProgram(
        c=np.concatenate([lp.c, np.zeros(n)]),
        A=sp.vstack(blocks).tocsr(),
        row_lower=np.concatenate(lower),
        row_upper=np.concatenate(upper),
        col_lower=np.concatenate([col_lower, np.zeros(n)]),
        col_upper=np.concatenate([col_upper, np.ones(n)]),
        integrality=np.concatenate([np.zeros(m, bool), np.ones(n, bool)]),
        offset=lp.offset,
    )
    return program, m


def membership_separation(game, *, tolerance: float = 1e-7) -> Separation:
    """Return ``separate(x) -> (S, excess) | None`` for the day game ``game`` (savings game)."""
    program, first_z = membership_program(game)
    options = replace(game.spec.solver, mip_gap=0.0)
    highs = new_highs(options)
    highs.setOptionValue("mip_abs_gap", 1e-9)
    pass_model(highs, program)
    n = len(game.players)
    z_index = np.arange(first_z, first_z + n, dtype=np.int32)
    counter = {"solves": 0}

    def separate(x: np.ndarray) -> tuple[frozenset[str], float] | None:
        highs.changeColsCost(n, z_index, -(game.standalone_cost - np.asarray(x, float)))
        highs.setOptionValue("time_limit", highs.getRunTime() + float(options.time_limit_s))
        highs.run()
        counter["solves"] += 1
        result = read_highs(highs, program, 0.0)
        if result.x is None:
            raise RuntimeError(f"separation MILP of day {game.spec.day} ended with status {result.status}")
        excess = -float(result.objective)
        if excess <= tolerance:
            return None
        members = frozenset(p for p, z in zip(game.players, result.x[first_z:], strict=True) if z > 0.5)
        return members, excess

    separate.counter = counter  # type: ignore[attr-defined]
    return separate
