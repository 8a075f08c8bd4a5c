"""Exact separation of an energy day game by enumeration with LP-dual bounds (n <= 20).

For an allocation x the largest excess is ``max_S e(S)``, ``e(S) = sum_{i in S} (c_i - x_i) - c(S)``
over the ``2^n - 2`` proper coalitions. Costing them all is ``2^n`` LPs; instead every coalition's
cost is bounded from below, and only coalitions whose bound could still beat the best known excess
are costed.

The bound (weak LP duality). Every coalition's model is the day's full model with the owned bounds
scaled by membership (the owner's data for members, 0 for non-members;
:class:`~p2psim.markets._coalition.CoalitionSolver`). The optimal duals of a costed coalition T,
projected onto the sign conditions of the rows and with the reduced costs recomputed exactly, stay
dual feasible for every coalition, and their dual objective is affine in the membership vector z
(:meth:`~p2psim.markets._coalition.CoalitionSolver.cut`):

    c(S) >= alpha_T + slope_T @ z_S        for every coalition S, with equality at S = T.

With the cuts of the coalitions costed so far, ``lb(S) = max_T (alpha_T + slope_T @ z_S)``
(``c(S)`` itself once S is costed) bounds every excess from above,
``e(S) <= ub(S) = sum_{i in S} (c_i - x_i) - lb(S)``, for all ``2^n`` coalitions at once (one matrix
product). The largest excess is found by costing the coalition of largest ``ub`` until the largest
bound of the coalitions not costed is at most the best costed excess plus ``slack`` (1e-9 x
max(1, |v(N)|), far below the core tolerance): that excess is then the maximum, proven by the bounds
of all the others. The cuts do not depend on x, so one instance serves a whole day -- row generation
of the equitable core and every rule's core check -- and every coalition costed makes later calls
cheaper.

Exactness: the values are the game's own ``c(S)`` (the day game's cache); the cuts only prune. They
are valid up to floating-point rounding (the tests compare every cut with the enumerated costs) and
a reduced cost of at most 1e-9 per unit on an unbounded column (see ``CoalitionSolver.cut``).
Infeasible coalitions (a feeder limit only others' storage relieved) cost ``inf``: excess ``-inf``.

Row generation (``separate(x)``, the :data:`p2psim.game.stable.Separation` protocol) stops early
when it has found ``max_cuts`` coalitions violated by more than a safe threshold (the argument of
:mod:`p2psim.energy_game.separation`: the caller's level is at most the largest excess of the
coalitions returned so far, plus its tolerance); otherwise it proves the maximum and returns the
coalitions of largest excess, the proven maximum first (``None`` when no excess exceeds the
tolerance).

The bounds also give a surrogate game (:meth:`DualBoundSeparation.surrogate_values`) close to v,
whose exact Shapley values make the control variate of the sampled estimators.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from p2psim.energy_game.separation import player_vector
from p2psim.errors import GameError

MAX_PLAYERS = 20
"""Largest game the bounds enumerate (2^20 coalitions: 160 MB of membership rows)."""


class DualBoundSeparation:
    """Largest excess and violated coalitions of an energy day game, proven by LP-dual bounds.

    Args:
        game: The :class:`~p2psim.energy_game.game.EnergyDayGame` of the day (``2 <= n <= MAX_PLAYERS``).
        tolerance: Excess at or below which no coalition counts as violated.
        max_cuts: Most coalitions returned per separation call (default ``n``).

    ``stats``: ``calls`` (separation), ``early`` (answered without a proof), ``excess_calls``,
    ``costed`` (coalitions costed by this oracle), ``cuts`` (cuts added), ``void_cuts``, ``seconds``.
    """

    def __init__(self, game, *, tolerance: float = 1e-7, max_cuts: int | None = None) -> None:
        n = self.n = len(game.players)
        if not 2 <= n <= MAX_PLAYERS:
            raise GameError(f"LP-dual bound enumeration needs 2 <= n <= {MAX_PLAYERS} players, got {n}")
        self.game = game
        self.full = (1 << n) - 1
        self.tolerance = float(tolerance)
        self.max_cuts = n if max_cuts is None else max(1, int(max_cuts))
        scale = max(1.0, abs(game.value_of_mask(self.full)))
        self.caller_tol = 1e-8 * scale  # p2psim.game.core.core_tolerance of the row generation
        self.margin = 1e-6 * scale
        self.slack = 1e-9 * scale
        self.masks = np.arange(1, self.full, dtype=np.int64)  # proper coalitions; index = mask - 1
        self.members = ((self.masks[:, None] >> np.arange(n)) & 1).astype(float)
        self.lower = np.full(self.masks.size, -np.inf)  # lower bounds on c(S) from the cuts
        self.cost = np.full(self.masks.size, np.nan)  # c(S) where costed
        self.included = np.zeros(self.masks.size, dtype=bool)  # returned to row generation (or singletons)
        self.included[(1 << np.arange(n)) - 1] = True
        self.level = 0.0
        self._seen = 0
        counts = ("calls", "early", "excess_calls", "costed", "cuts", "void_cuts")
        self.stats: dict[str, float] = {**dict.fromkeys(counts, 0), "seconds": 0.0}
        self._add_cut(self.full)  # the grand coalition's duals (the Owen allocation's)
        for k in range(n):  # the complements bound every share from above: x_i <= v(N) - v(N - i)
            self._price(self.full ^ (1 << k))

    # ---------------------------------------------------------------- bounds
    def _add_cut(self, mask: int) -> float:
        """Cost ``mask`` with the day game, raise every coalition's lower bound by its cut; its cost."""
        cost, cut = self.game.cost_and_cut(mask)
        if cut is None:
            self.stats["void_cuts"] += np.isfinite(cost)
        else:
            alpha, slope = cut
            np.maximum(self.lower, alpha + self.members @ slope, out=self.lower)
            self.stats["cuts"] += 1
        return cost

    def _price(self, mask: int) -> None:
        self.cost[mask - 1] = self._add_cut(mask)
        self.stats["costed"] += 1

    def _sync(self) -> None:
        """Take every coalition cost the day game knows (sampled orders, earlier calls) as exact."""
        known = self.game.cached_costs
        if len(known) == self._seen:
            return
        for mask in list(known)[self._seen:]:
            if 0 < mask < self.full:
                self.cost[mask - 1] = known[mask]
        self._seen = len(known)

    def _upper(self, x: np.ndarray) -> np.ndarray:
        """Upper bounds on every proper coalition's excess at ``x`` (exact where costed)."""
        bound = np.where(np.isnan(self.cost), self.lower, self.cost)
        return self.members @ (self.game.standalone_cost - x) - bound

    def _largest(self, x: np.ndarray, enough: Callable[[np.ndarray], bool] | None = None
                 ) -> tuple[np.ndarray, int, bool]:
        """Cost coalitions of largest bound until the best costed excess is proven (or ``enough(ub)``).

        Returns the bounds (exact where costed), the index of the best costed coalition and whether
        it is proven the maximum (up to ``slack``).
        """
        self._sync()
        while True:
            ub = self._upper(x)
            costed = ~np.isnan(self.cost)
            best = int(np.argmax(np.where(costed, ub, -np.inf)))
            k = int(np.argmax(np.where(costed, -np.inf, ub)))
            if costed[k] or ub[k] <= ub[best] + self.slack:
                return ub, best, True
            if enough is not None and enough(ub):
                return ub, best, False
            self._price(int(self.masks[k]))

    def _members_of(self, k: int) -> frozenset[str]:
        mask = int(self.masks[k])
        return frozenset(p for j, p in enumerate(self.game.players) if (mask >> j) & 1)

    # ---------------------------------------------------------------- the oracles
    def __call__(self, x: np.ndarray) -> list[tuple[frozenset[str], float]] | None:
        """Violated coalitions at ``x``, the most violated first (see the module docstring), or ``None``."""
        start = time.perf_counter()
        x = np.asarray(x, dtype=float)
        self.stats["calls"] += 1
        self._sync()
        self.level = max(self.level, float(self._upper(x)[self.included].max()))  # included: costed, exact
        threshold = self.level + 2 * self.caller_tol + self.margin

        def enough(ub: np.ndarray) -> bool:
            found = ~np.isnan(self.cost) & ~self.included & (ub > threshold)
            return int(np.count_nonzero(found)) >= self.max_cuts

        ub, _, proven = self._largest(x, enough)
        costed = ~np.isnan(self.cost)
        if proven:
            found = np.flatnonzero(costed & (ub > self.tolerance))
        else:
            self.stats["early"] += 1
            found = np.flatnonzero(costed & ~self.included & (ub > threshold))
        self.stats["seconds"] += time.perf_counter() - start
        if not found.size:
            return None
        found = found[np.argsort(-ub[found], kind="stable")][: self.max_cuts]
        self.included[found] = True
        return [(self._members_of(int(j)), float(ub[j])) for j in found]

    def max_excess(self, allocation) -> tuple[frozenset[str], float, float]:
        """The largest excess over proper coalitions, proven (a :data:`p2psim.game.core.ExcessOracle`).

        Args:
            allocation: Amount per player (mapping), or a vector in ``game.players`` order.

        Returns:
            ``(S, e, upper)``: a coalition of largest excess, its excess ``v(S) - x(S)`` (the game's
            values) and the proven upper bound on the largest excess, ``e + slack``.
        """
        start = time.perf_counter()
        x = player_vector(self.game.players, allocation)
        self.stats["excess_calls"] += 1
        ub, k, _ = self._largest(x)
        self.stats["seconds"] += time.perf_counter() - start
        excess = float(ub[k])
        return self._members_of(k), excess, excess + self.slack

    def surrogate_values(self) -> np.ndarray:
        """A surrogate savings game at all ``2^n`` coalitions: ``v(S)`` where costed, else the bound.

        ``b(S) = sum_{i in S} c_i - lb(S) >= v(S)`` where S is not costed (infeasible coalitions take
        their bound too); ``b(∅) = 0`` and ``b(N) = v(N)``. Fixed once taken, it is the control variate
        of the sampled Shapley estimators (:mod:`p2psim.game.shapley_sampling`).
        """
        self._sync()
        cost = np.where(np.isfinite(self.cost), self.cost, self.lower)
        out = np.zeros(self.full + 1)
        out[1:self.full] = self.members @ self.game.standalone_cost - cost
        out[self.full] = self.game.value_of_mask(self.full)
        return out


def dual_bound_separation(game, **options) -> DualBoundSeparation:
    """Return the day's exact oracle by LP-dual bound enumeration (see :class:`DualBoundSeparation`)."""
    return DualBoundSeparation(game, **options)
