"""Coalition costs c(S) from ONE assembled day model, re-solved by changing bounds only.

c(S) is the minimum community cost of coalition S operating alone (docs/model.md section 5): the
community day model of :mod:`p2psim.markets._community_lp` with the cost objective (equal
weights, no Rawlsian term) and the coalition's own peak. Every participant's data sits only in
bounds: the right-hand sides of its rows (balance d - pv, initial SoC) and the bounds of its columns
(asset limits, U and V). A non-member is removed by setting all of those to zero, which leaves
its columns fixed at 0 and its rows trivially satisfied, so the model of S is the grand model with
non-members' bounds zeroed. One persistent HiGHS instance keeps its simplex basis between solves
(warm start); only the bounds of participants whose membership changed are touched.

c(S) is the LP value. The relaxation is exact whenever it is complementary, which the cost
objective with a positive fee and import price > export price makes the rule (see
:mod:`p2psim.markets._exactness`); it is the value of the Owen linear-production game either way.
Uninterruptible shiftable loads (the only binaries a book itself can carry) are relaxed here too:
c(S) lets such a load run split, so with them it is the cost of the relaxed (Owen) game.

The grand coalition's duals (:meth:`CoalitionSolver.grand_duals`) come with, for every row and
column, the participant whose data sets its bounds (-1 when shared: pool, peak, transformer, lines)
and the active bound, so the LP-dual (Owen) allocation is sum over owned rows and columns of
dual x bound; by strong duality these terms plus the shared ones add up to c(N).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from p2psim.markets._community_lp import DayModel, build_day_model
from p2psim.markets._lp import _HIGHS_STATUS, new_highs, pass_model, read_highs
from p2psim.markets.base import ClearingContext
from p2psim.markets.book import OrderBook

from p2psim.errors import ClearingError


@dataclass(frozen=True, eq=False)
class CoalitionDuals:
    """Duals of the grand-coalition cost LP with the owner and active bound of every constraint."""

    model: DayModel
    objective: float
    row_dual: np.ndarray
    row_owner: np.ndarray
    """Participant whose data is the row's bound (-1: shared)."""
    row_bound: np.ndarray
    """The bound the dual prices: lower if dual > 0, upper if dual < 0, 0 if dual = 0."""
    col_dual: np.ndarray
    """Reduced costs."""
    col_owner: np.ndarray
    col_bound: np.ndarray

    def row_name(self, k: int) -> str:
        """Readable name of row ``k`` (for example ``balance[hh-007,t=18]``)."""
        return self.model.lp.row_name(k)

    def col_name(self, k: int) -> str:
        """Readable name of column ``k``."""
        return self.model.lp.col_name(k)

    def owner_values(self) -> tuple[np.ndarray, float]:
        """Per participant sum of dual x bound over its rows and columns, and the shared remainder.

        The per-participant part is the Owen (LP-dual) allocation of the owned data; the parts add
        up to :attr:`objective` (strong duality).
        """
        n = self.model.book.n_participants
        row_terms = self.row_dual * self.row_bound
        col_terms = self.col_dual * self.col_bound
        out = np.zeros(n)
        for owner, terms in ((self.row_owner, row_terms), (self.col_owner, col_terms)):
            mine = owner >= 0
            out += np.bincount(owner[mine], weights=terms[mine], minlength=n)
        shared = float(row_terms[self.row_owner < 0].sum() + col_terms[self.col_owner < 0].sum())
        return out, shared


def _active(dual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    bound = np.where(dual > 0, lower, np.where(dual < 0, upper, 0.0))
    return np.where(np.isfinite(bound), bound, 0.0)


def _grouped(owner: np.ndarray, n: int) -> list[np.ndarray]:
    order = np.argsort(owner, kind="stable")
    cuts = np.searchsorted(owner[order], np.arange(n + 1))
    return [order[cuts[i]:cuts[i + 1]].astype(np.int32) for i in range(n)]


class CoalitionSolver:
    """c(S) for any coalition S of one day's participants (see module docstring).

    Args:
        book: The day's order book (the grand coalition).
        context: Feeder, solver options and rule options of the day.
    """

    def __init__(self, book: OrderBook, context: ClearingContext) -> None:
        self.book = book
        self.context = context
        self.model = build_day_model(book, context)
        lp = self.model.lp
        n = book.n_participants
        self._cols = _grouped(self.model.col_owner, n)
        self._rows = _grouped(self.model.row_owner, n)
        self._highs = new_highs(context.solver)
        self._highs.setOptionValue("solver", "simplex")
        pass_model(self._highs, replace(lp, integrality=np.zeros(lp.n_cols, dtype=bool)))
        self._mask = np.ones(n, dtype=bool)
        # for cut(): the rows' sign conditions, bounds with infinite sides read as 0, owned entries
        finite_lo, finite_up = np.isfinite(lp.row_lower), np.isfinite(lp.row_upper)
        self._one_sided = (finite_lo & ~finite_up, ~finite_lo & finite_up)
        self._row_lower0, self._row_upper0 = (np.where(np.isfinite(b), b, 0.0) for b in (lp.row_lower, lp.row_upper))
        self._col_lower0, self._col_upper0 = (np.where(np.isfinite(b), b, 0.0) for b in (lp.col_lower, lp.col_upper))
        self._no_col_lower, self._no_col_upper = ~np.isfinite(lp.col_lower), ~np.isfinite(lp.col_upper)
        self._owned_r, self._owned_c = self.model.row_owner >= 0, self.model.col_owner >= 0
        self._a_t = lp.A.T.tocsr()
        self.n_solves = 0
        """Number of LP solves so far."""

    def _set_members(self, mask: np.ndarray) -> None:
        lp = self.model.lp
        changed = np.flatnonzero(mask != self._mask)
        if not len(changed):
            return
        cols = np.concatenate([self._cols[i] for i in changed])
        rows = np.concatenate([self._rows[i] for i in changed])
        on_c = mask[self.model.col_owner[cols]]
        on_r = mask[self.model.row_owner[rows]]
        if len(cols):
            self._highs.changeColsBounds(len(cols), cols, np.where(on_c, lp.col_lower[cols], 0.0),
                                         np.where(on_c, lp.col_upper[cols], 0.0))
        if len(rows):
            self._highs.changeRowsBounds(len(rows), rows, np.where(on_r, lp.row_lower[rows], 0.0),
                                         np.where(on_r, lp.row_upper[rows], 0.0))
        self._mask = mask.copy()

    def _solve(self, members) -> None:
        n = self.book.n_participants
        members = np.asarray(members)
        mask = members if members.dtype == bool else np.isin(np.arange(n), members)
        if mask.shape != (n,):
            raise ValueError(f"members must be a mask of length {n} or participant indices")
        self._set_members(mask)
        # HiGHS counts time_limit against its cumulative run time over every solve of the instance
        self._highs.setOptionValue("time_limit", self._highs.getRunTime() + float(self.context.solver.time_limit_s))
        self._highs.run()
        self.n_solves += 1

    def _run(self, members) -> object:
        self._solve(members)
        return read_highs(self._highs, self.model.lp, 0.0)

    def cost(self, members) -> float:
        """c(S): minimum community cost (currency/day) of the coalition given by mask or indices.

        Returns ``inf`` when the coalition cannot operate alone (its members' loads break a feeder
        limit that only non-members' storage relieved).
        """
        self._solve(members)  # only status and objective are read: no solution or dual copies
        status = _HIGHS_STATUS.get(self._highs.getModelStatus().name, "error")
        if status == "optimal":
            return float(self._highs.getInfo().objective_function_value)
        if status in ("infeasible", "infeasible_or_unbounded"):
            return float("inf")
        raise ClearingError(f"day {self.context.day}: coalition LP ended with status {status}", status=status)

    def cut(self, members) -> tuple[float, tuple[float, np.ndarray] | None]:
        """c(S) of the coalition given by ``members``, and an affine lower bound on every coalition's cost.

        Weak duality: the model of any coalition T is this one with T's bounds, and only the bounds of
        owned rows and columns depend on T (the owner's data for members, 0 for non-members). Any
        duals ``(pi, d)`` with ``d = c - A^T pi`` and ``pi_r`` of the sign row r's finite bounds allow
        give ``c(T) >= offset + sum_r term(pi_r, bounds_r(T)) + sum_j term(d_j, bounds_j(T))``, where
        ``term(mu, [l, u]) = mu l`` if ``mu > 0`` else ``mu u``. The optimal duals of S, projected
        onto the sign conditions of the members' rows (a non-member's rows are fixed at 0, where any
        sign goes) and with ``d`` recomputed exactly, make that bound affine in T's membership
        vector z: ``c(T) >= alpha + slope @ z``, tight at S. Columns with an infinite bound must have
        no multiplier on it; a reduced cost below 1e-9 per unit there counts as 0 (at LP tolerance),
        a larger one voids the cut (``None``).

        Returns:
            ``(cost, (alpha, slope))``, or ``(cost, None)`` when S is infeasible (cost ``inf``) or
            the cut is void.
        """
        cost = self.cost(members)
        if not np.isfinite(cost):
            return cost, None
        lp = self.model.lp
        pi = np.asarray(self._highs.getSolution().row_dual, dtype=float)
        lower_only, upper_only = self._one_sided
        pi[lower_only] = np.maximum(pi[lower_only], 0.0)
        pi[upper_only] = np.minimum(pi[upper_only], 0.0)
        d = lp.c - self._a_t @ pi
        tiny = 1e-9 * (1.0 + np.abs(lp.c))
        wrong = ((d > tiny) & self._no_col_lower) | ((d < -tiny) & self._no_col_upper)
        if wrong.any():
            return cost, None
        row_term = np.where(pi > 0, pi * self._row_lower0, pi * self._row_upper0)
        col_term = np.where(d > 0, d * self._col_lower0, d * self._col_upper0)
        n = self.book.n_participants
        owner_r, owner_c = self.model.row_owner, self.model.col_owner
        slope = (np.bincount(owner_r[self._owned_r], weights=row_term[self._owned_r], minlength=n)
                 + np.bincount(owner_c[self._owned_c], weights=col_term[self._owned_c], minlength=n))
        alpha = float(lp.offset + row_term[~self._owned_r].sum() + col_term[~self._owned_c].sum())
        return cost, (alpha, slope)

    def grand_duals(self) -> CoalitionDuals:
        """Solve the grand coalition and return its duals with owners and active bounds."""
        result = self._run(np.ones(self.book.n_participants, dtype=bool))
        if result.status != "optimal" or result.row_dual is None:
            raise ClearingError(f"day {self.context.day}: the grand-coalition LP is {result.status}",
                                status=result.status)
        lp = self.model.lp
        return CoalitionDuals(
            model=self.model, objective=float(result.objective),
            row_dual=result.row_dual, row_owner=self.model.row_owner,
            row_bound=_active(result.row_dual, lp.row_lower, lp.row_upper),
            col_dual=result.col_dual, col_owner=self.model.col_owner,
            col_bound=_active(result.col_dual, lp.col_lower, lp.col_upper),
        )
