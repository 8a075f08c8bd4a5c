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

Speed (:class:`MembershipSeparation`). Row generation only needs *a* coalition violated by more
than the caller's threshold while one exists, and an exact proof when none does. So each call

1. checks the *pool*: every coalition whose cost the day game already knows (sampled Shapley
   orders, earlier cuts and their neighbours, MILP incumbents), vectorised, and returns the most
   violated one if it clears the safe threshold below;
2. runs a short *local search* (add/drop one member, each move one warm LP re-solve) from the
   pool's best coalitions, within a budget of LP solves;
3. only then solves the MILP, with a *cutoff* (HiGHS ``objective_bound``) at the exactness
   tolerance, so a MILP that finds nothing better is infeasible -- the proof that no coalition
   is violated, exact as before -- and an *early stop* (``objective_target``) as soon as an
   incumbent is violated by more than the safe threshold. Every improving incumbent is kept
   (``mip_improving_solution_save``) and enters the pool, so one MILP yields several cuts.

Safe threshold. The caller (``p2psim.game.stable._rowgen``) treats a returned coalition with
excess <= level + tol as "no violation", where level is the current epsilon (0, tol, or the
least-core value + tol) and tol = 1e-8 max(1, |v(N)|). The oracle cannot see level, but it is at
most R + tol, where R is the largest excess of any coalition already in the LP seen so far
(the least-core epsilon is the largest included excess at the least-core optimum). A heuristic
coalition is returned only if its excess exceeds R + 2 tol + margin; otherwise the MILP decides,
and the MILP's answer is the exact maximum (or a coalition above that threshold). So a ``None``
or a rejected answer never hides a violated coalition.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from p2psim.errors import GameError
from p2psim.markets._lp import new_highs, pass_model
from p2psim.markets._lp_program import LinearProgram

MILP_OPTIONS = {
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_heuristic_run_feasibility_jump": False,
    "mip_pscost_minreliable": 0,
}
"""HiGHS primal heuristics switched off for the separation MILP. Its root LP relaxation is nearly
integral (the z only scale bounds), so branching finds incumbents at once; the sub-MIP heuristics
(RINS, RENS) took 70-80 % of the time. Measured on the 14-player rural day, 11 separation MILPs:
19.9 s with HiGHS defaults, 4.7 s without RINS/RENS, 3.2 s with all four off (same answers)."""

PROOFS_KEPT = 32
"""Allocations whose proven upper bound on the largest excess the oracle keeps for reuse."""


def _big_m(game) -> float:
    book = game.spec.book
    scale = (book.load_kw.max(initial=0) + book.pv_kw.max(initial=0)) * book.n_participants
    storage = book.storage
    scale += storage.charge_max_kw.max(axis=1, initial=0).sum() + storage.discharge_max_kw.max(axis=1, initial=0).sum()
    scale += storage.energy_max_kwh.max(axis=1, initial=0).sum()
    scale += book.shiftable.power_max_kw.max(axis=1, initial=0).sum()
    return 10.0 * (scale + game.spec.feeder.transformer_limit_kw + 1.0)


def membership_program(game) -> tuple[LinearProgram, int]:
    """The separation MILP of an :class:`~p2psim.energy_game.game.EnergyDayGame` (z costs zero)."""
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



def player_vector(players, allocation) -> np.ndarray:
    """``allocation`` (a mapping by player, or a vector in ``players`` order) as a float vector."""
    if isinstance(allocation, Mapping):
        return np.array([float(allocation[p]) for p in players])
    return np.asarray(allocation, dtype=float)

class MembershipSeparation:
    r"""``separate(x) -> [(S, excess), ...] | None`` for an energy day game (see the module docstring).

    Args:
        game: The :class:`~p2psim.energy_game.game.EnergyDayGame` of the day.
        tolerance: Excess at or below which the MILP reports "no violation" (its cutoff).
        heuristics: Use the pool and the local search before the MILP (``False``: MILP only,
            solved to optimality every call -- the plain oracle).
        search_budget: LP solves allowed to the local search per call (default ``n``).
        early_stop: Stop the MILP at the first incumbent above the safe threshold.
        max_cuts: Most violated coalitions returned per call (default ``n``).
        seed_complements: Cost the ``n`` coalitions ``N \ {i}`` on the first call (into the pool);
            their rows bound every share from above (``x_i <= v(N) - v(N \ {i})``).
        relax: Before the local search and the MILP, solve the MILP's LP relaxation (warm) and cost
            its roundings (see :meth:`_relaxation`); a relaxation bound at or below ``tolerance``
            ends the call with a proof.
        max_enumerated: Fractional members of the relaxation up to which all completions are costed.

    ``stats`` counts the work: ``calls``, ``pool_hits``, ``search_hits``, ``milp_hits``,
    ``milp_solves``, ``milp_proofs`` (MILPs that ended "no violation"), ``milp_seconds``,
    ``search_lp_solves``, ``search_seconds`` and ``cuts`` (coalitions returned).
    """

    def __init__(
        self,
        game,
        *,
        tolerance: float = 1e-7,
        heuristics: bool = True,
        search_budget: int | None = None,
        early_stop: bool = True,
        max_cuts: int | None = None,
        seed_complements: bool = True,
        relax: bool = True,
        max_enumerated: int = 6,
    ) -> None:
        self.game = game
        self.tolerance = float(tolerance)
        self.heuristics = heuristics
        self.early_stop = early_stop
        n = self.n = len(game.players)
        self.search_budget = n if search_budget is None else int(search_budget)
        self.max_cuts = n if max_cuts is None else max(1, int(max_cuts))
        self.seed_complements = seed_complements
        self.relax = relax
        self.max_enumerated = int(max_enumerated)
        self._relax = None
        grand = game.value_of_mask((1 << n) - 1)
        self.caller_tol = 1e-8 * max(1.0, abs(grand))  # p2psim.game.core.core_tolerance of _rowgen
        self.margin = 1e-6 * max(1.0, abs(grand))
        self.full = (1 << n) - 1
        self.level = 0.0
        # pool of known coalitions: membership rows, savings v(S), masks; grown by doubling
        self._rows = np.zeros((max(64, 4 * n), n))
        self._v = np.zeros(self._rows.shape[0])
        self._in = np.zeros(self._rows.shape[0], dtype=bool)  # already returned (or a singleton)
        self._masks: list[int] = []
        self._where: dict[int, int] = {}
        self._pool_seen = 0
        self.included: set[int] = set()
        for k in range(n):
            self._include(1 << k)
        self._milp = None
        self.milp_upper_bound = np.inf
        self._proofs: dict[bytes, float] = {}  # recent proven upper bounds on the largest excess, by x
        counts = ("calls", "pool_hits", "search_hits", "milp_hits", "milp_solves", "milp_proofs", "search_lp_solves",
                  "milp_disagreements", "cuts", "relax_solves", "relax_hits", "relax_proofs", "excess_calls",
                  "excess_relax_proofs", "excess_milp_solves", "excess_reused_proofs")
        self.stats = dict.fromkeys(counts, 0)
        self.stats.update(milp_seconds=0.0, search_seconds=0.0, relax_seconds=0.0, excess_seconds=0.0)
        self.log: list[tuple[str, bool, float, int]] = []
        """Per MILP solve: status, early stop, seconds, branch-and-bound nodes."""

    # ---------------------------------------------------------------- pool of known coalitions
    def _sync_pool(self) -> None:
        known = self.game.cached_costs
        if len(known) == self._pool_seen:
            return
        keys = list(known)[self._pool_seen:]
        self._pool_seen = len(known)
        sa = self.game.standalone_cost
        for mask in keys:
            if mask in (0, self.full) or not np.isfinite(known[mask]) or mask in self._where:
                continue
            size = len(self._masks)
            if size == self._rows.shape[0]:
                self._rows = np.vstack([self._rows, np.zeros_like(self._rows)])
                self._v = np.concatenate([self._v, np.zeros_like(self._v)])
                self._in = np.concatenate([self._in, np.zeros_like(self._in)])
            row = self.game.members_of_mask(mask)
            self._rows[size] = row
            self._v[size] = float(sa[row].sum() - known[mask])
            self._in[size] = mask in self.included
            self._masks.append(mask)
            self._where[mask] = size

    def _include(self, mask: int) -> None:
        self.included.add(mask)
        if mask in self._where:
            self._in[self._where[mask]] = True

    def _pool_excess(self, x: np.ndarray) -> np.ndarray:
        self._sync_pool()
        size = len(self._masks)
        return self._v[:size] - self._rows[:size] @ x

    def _pool_cuts(self, x: np.ndarray, threshold: float) -> list[tuple[int, float]]:
        """Up to ``max_cuts`` known, not yet returned coalitions with excess above ``threshold``."""
        excess = self._pool_excess(x)
        free = np.flatnonzero((excess > threshold) & ~self._in[: excess.size])
        best = free[np.argsort(-excess[free])[: self.max_cuts]]
        return [(self._masks[k], float(excess[k])) for k in best]

    def _excess(self, mask: int, x: np.ndarray) -> float:
        return self.game.value_of_mask(mask) - float(x[self.game.members_of_mask(mask)].sum())

    # ---------------------------------------------------------------- local search
    def _search(self, x: np.ndarray, seeds: list[int], budget: int) -> None:
        """Best-improvement add/drop-one local search from ``seeds`` within ``budget`` LP solves.

        Every neighbour it costs enters the pool, so one search yields many candidate cuts.
        """
        start = time.perf_counter()
        solves0 = self.game.n_solves
        for seed in seeds:
            current, value = seed, self._excess(seed, x)
            while self.game.n_solves - solves0 < budget:
                # flips ordered by their first-order gain -x_j (add) or +x_j (drop): likeliest first
                flips = sorted(range(self.n), key=lambda j: x[j] if not (current >> j) & 1 else -x[j])
                best, best_value = current, value
                for j in flips:
                    if self.game.n_solves - solves0 >= budget:
                        break
                    other = current ^ (1 << j)
                    if other in (0, self.full):
                        continue
                    e = self._excess(other, x)
                    if e > best_value + 1e-12:
                        best, best_value = other, e
                if best == current:
                    break
                current, value = best, best_value
        self.stats["search_lp_solves"] += self.game.n_solves - solves0
        self.stats["search_seconds"] += time.perf_counter() - start

    # ---------------------------------------------------------------- LP relaxation
    def _relaxation(self, x: np.ndarray, explore: bool | None = None) -> float:
        """Solve the MILP's LP relaxation (z in [0, 1], warm basis); cost its roundings into the pool.

        The relaxation's optimum bounds the largest excess from above (so a bound at or below the
        tolerance proves that no coalition is violated). Its z is nearly integral (few fractional
        members): every completion of the fractional members (up to ``2**max_enumerated``; beyond,
        the threshold roundings) is costed, then a local search runs from the best of them -- when
        ``explore`` (default: only when the bound exceeds the tolerance).

        Returns:
            The upper bound on the largest excess.
        """
        start = time.perf_counter()
        if self._relax is None:
            program, first_z = membership_program(self.game)
            program = replace(program, integrality=np.zeros_like(program.integrality))
            highs = new_highs(self.game.spec.solver)
            pass_model(highs, program)
            self._relax = (highs, first_z)
        highs, first_z = self._relax
        n = self.n
        highs.changeColsCost(n, np.arange(first_z, first_z + n, dtype=np.int32),
                             -(self.game.standalone_cost - x))
        highs.run()
        self.stats["relax_solves"] += 1
        status = highs.getModelStatus().name
        if status != "kOptimal":
            raise GameError(f"separation LP relaxation of day {self.game.spec.day} ended with status {status}")
        bound = -float(highs.getInfo().objective_function_value)
        self._remember(x, bound)
        if bound > self.tolerance if explore is None else explore:
            z = np.asarray(highs.getSolution().col_value)[first_z:first_z + n]
            base = sum(1 << int(k) for k in np.flatnonzero(z >= 1 - 1e-6))
            fractional = np.flatnonzero((z > 1e-6) & (z < 1 - 1e-6))
            fractional = fractional[np.argsort(-z[fractional])]
            if fractional.size <= self.max_enumerated:
                masks = [base | sum(1 << int(fractional[b]) for b in range(fractional.size) if (pick >> b) & 1)
                         for pick in range(1 << fractional.size)]
            else:
                masks = [base | sum(1 << int(k) for k in fractional[:m]) for m in range(fractional.size + 1)]
            masks = [m for m in masks if m not in (0, self.full)]
            if masks:
                excess = [self._excess(m, x) for m in masks]
                if self.search_budget > 0:
                    self._search(x, [masks[int(np.argmax(excess))]], self.search_budget)
        self.stats["relax_seconds"] += time.perf_counter() - start
        return bound

    # ---------------------------------------------------------------- MILP
    def _milp_instance(self):
        if self._milp is None:
            program, first_z = membership_program(self.game)
            options = replace(self.game.spec.solver, mip_gap=0.0)
            highs = new_highs(options)
            highs.setOptionValue("mip_abs_gap", 1e-9)
            highs.setOptionValue("mip_improving_solution_save", True)
            for option, value in MILP_OPTIONS.items():
                highs.setOptionValue(option, value)
            pass_model(highs, program)
            self._milp = (highs, program, first_z, options)
        return self._milp

    def _solve_milp(
        self, x: np.ndarray, threshold: float, early: bool, cutoff: float | None = None
    ) -> tuple[list[tuple[int, float]], bool]:
        """Coalitions of the MILP's improving incumbents with their MILP excess (best first).

        Only coalitions with excess above ``cutoff`` (default: the exactness tolerance) are searched.
        Returns ``(candidates, proved)``: ``proved`` when the MILP ran to optimality (or proved that
        nothing beats the cutoff, ``candidates`` empty); then ``self.milp_upper_bound`` is the MILP's
        proven upper bound on the largest excess.
        """
        highs, _, first_z, options = self._milp_instance()
        n = self.n
        start = time.perf_counter()
        highs.clearSolver()  # a stale incumbent of another x would only mislead the cutoff
        highs.changeColsCost(n, np.arange(first_z, first_z + n, dtype=np.int32),
                             -(self.game.standalone_cost - np.asarray(x, float)))
        cutoff = min(self.tolerance, self.caller_tol) if cutoff is None else cutoff
        highs.setOptionValue("objective_bound", -cutoff)
        highs.setOptionValue("objective_target", -threshold if early else -np.inf)
        highs.setOptionValue("time_limit", highs.getRunTime() + float(options.time_limit_s))
        highs.run()
        self.stats["milp_solves"] += 1
        self.stats["milp_seconds"] += time.perf_counter() - start
        status = highs.getModelStatus().name
        self.log.append((status, early, time.perf_counter() - start, highs.getInfo().mip_node_count))
        if status == "kInfeasible":  # nothing beats the cutoff: no coalition has excess > cutoff
            self.milp_upper_bound = cutoff
            self._remember(x, cutoff)
            return [], True
        if status not in ("kOptimal", "kObjectiveTarget"):
            raise GameError(f"separation MILP of day {self.game.spec.day} ended with status {status}; on "
                            f"'kTimeLimit' raise the study's solver time_limit_s (now {options.time_limit_s} s)")
        self.milp_upper_bound = -float(highs.getInfo().mip_dual_bound) if status == "kOptimal" else np.inf
        self._remember(x, self.milp_upper_bound)
        found: dict[int, float] = {}
        solutions = [(s.col_value, s.objective) for s in highs.getSavedMipSolutions()]
        solutions.append((highs.getSolution().col_value, highs.getInfo().objective_function_value))
        for values, objective in solutions:
            z = np.asarray(values)[first_z:first_z + n]
            mask = sum(1 << int(k) for k in np.flatnonzero(z > 0.5))
            found[mask] = max(found.get(mask, -np.inf), -float(objective))
        return sorted(found.items(), key=lambda item: -item[1]), status == "kOptimal"

    # ---------------------------------------------------------------- the oracle
    def __call__(self, x: np.ndarray) -> list[tuple[frozenset[str], float]] | None:
        """Violated coalitions, most violated first (see the module docstring), or ``None`` if none is."""
        x = np.asarray(x, dtype=float)
        self.stats["calls"] += 1
        if self.stats["calls"] == 1 and self.heuristics and self.seed_complements:
            for k in range(self.n):
                self.game.cost_of_mask(self.full ^ (1 << k))
        excess = self._pool_excess(x)
        included = excess[self._in[: excess.size]]
        if included.size:
            self.level = max(self.level, float(included.max()))
        threshold = self.level + 2 * self.caller_tol + self.margin
        if self.heuristics:
            cuts = self._pool_cuts(x, threshold)
            if cuts:
                self.stats["pool_hits"] += 1
                return self._answer(cuts)
            if self.relax:
                bound = self._relaxation(x)
                if bound <= self.tolerance:
                    self.stats["relax_proofs"] += 1
                    return None
                cuts = self._pool_cuts(x, threshold)
                if cuts:
                    self.stats["relax_hits"] += 1
                    return self._answer(cuts)
            if self.search_budget > 0:
                excess = self._pool_excess(x)
                self._search(x, [self._masks[k] for k in np.argsort(-excess)[:3]], self.search_budget)
                cuts = self._pool_cuts(x, threshold)
                if cuts:
                    self.stats["search_hits"] += 1
                    return self._answer(cuts)
        answer = None
        for early in (True, False) if self.early_stop else (False,):
            candidates, proved = self._solve_milp(x, threshold, early)
            if not candidates:
                self.stats["milp_proofs"] += 1
                return None
            answer = None
            for mask, _ in candidates:  # the exact LP excess decides (the values row generation uses)
                if mask in (0, self.full) or mask in self.included:
                    continue
                e = self._excess(mask, x)
                if answer is None or e > answer[1]:
                    answer = (mask, e)
            if (answer is not None and answer[1] > threshold) or proved:
                break
        # here the answer clears the threshold, or the MILP was solved to optimality: the answer is
        # the coalition of largest excess (row generation compares it with its own level)
        if answer is None or answer[1] <= self.tolerance:
            self.stats["milp_proofs" if proved else "milp_disagreements"] += 1
            return None
        self.stats["milp_hits"] += 1
        cuts = [answer]
        if self.heuristics:  # the MILP's neighbours, its other incumbents and any other known violated coalition
            if self.search_budget > 0:
                self._search(x, [answer[0]], self.search_budget)
            cuts = self._pool_cuts(x, threshold) or cuts
        return self._answer(cuts)

    # ---------------------------------------------------------------- the exact largest excess
    def _remember(self, x: np.ndarray, upper: float) -> None:
        """Keep a proven upper bound on the largest excess at ``x`` (the last ``PROOFS_KEPT`` allocations)."""
        key = np.asarray(x, dtype=float).tobytes()
        upper = min(float(upper), self._proofs.pop(key, np.inf))
        self._proofs[key] = upper
        if len(self._proofs) > PROOFS_KEPT:
            del self._proofs[next(iter(self._proofs))]

    def _proven_bound(self, x: np.ndarray) -> float:
        """A proven upper bound on the largest excess at exactly this ``x``, if one was kept (else inf)."""
        return self._proofs.get(np.asarray(x, dtype=float).tobytes(), np.inf)

    def max_excess(self, allocation) -> tuple[frozenset[str], float, float]:
        """The largest excess ``max_S v(S) - x(S)`` over proper coalitions, proven (an ExcessOracle).

        Never a heuristic answer. The best coalition already costed (the pool, here grown by the
        relaxation's roundings and a local search from them) is a lower bound ``lo``, attained; the
        LP relaxation of the membership MILP is an upper bound. If they meet within ``gap`` the
        answer is proven. Otherwise the MILP is solved to optimality (relative gap 0, no early stop)
        with its cutoff at ``lo + gap``: infeasible proves that no coalition beats ``lo`` by more than
        ``gap``; optimal gives the largest excess, proven by its dual bound. The excess returned is
        the LP value ``v(S) - x(S)`` of the coalition returned (the values the game uses).

        Row generation's state (coalitions included, level) is not touched, so one instance serves a
        day's equitable core and every rule's core check, with one model each for the relaxation
        (warm basis) and the MILP; only the z costs change between calls. A proof already made at the
        same ``x`` (row generation's last call, at its own answer; kept for the last ``PROOFS_KEPT``
        allocations) is reused: its upper bound with the pool's best coalition closes the gap without
        another solve.

        Args:
            allocation: Amount per player (mapping), or a vector in ``game.players`` order.

        Returns:
            ``(S, e, upper)``: a coalition of largest excess, its excess and a proven upper bound
            with ``upper - e <= gap = max(tolerance, 1e-8 max(1, |v(N)|))`` (up to LP tolerances).
        """
        start = time.perf_counter()
        x = player_vector(self.game.players, allocation)
        self.stats["excess_calls"] += 1
        gap = max(self.tolerance, self.caller_tol)
        excess = self._pool_excess(x)
        upper = self._proven_bound(x)  # e.g. row generation's last proof, at its own answer
        reused = upper <= float(excess.max()) + gap
        if not reused:
            upper = self._relaxation(x, explore=True)
            excess = self._pool_excess(x)
        k = int(np.argmax(excess))
        mask, lower = self._masks[k], float(excess[k])
        if upper <= lower + gap:
            self.stats["excess_reused_proofs" if reused else "excess_relax_proofs"] += 1
        else:
            self.stats["excess_milp_solves"] += 1
            candidates, _ = self._solve_milp(x, -np.inf, early=False, cutoff=lower + gap)
            for other, _ in candidates:
                if other not in (0, self.full) and (e := self._excess(other, x)) > lower:
                    mask, lower = other, e
            upper = self.milp_upper_bound
        self.stats["excess_seconds"] += time.perf_counter() - start
        members = frozenset(p for j, p in enumerate(self.game.players) if (mask >> j) & 1)
        return members, lower, max(upper, lower)

    def _answer(self, cuts: list[tuple[int, float]]) -> list[tuple[frozenset[str], float]]:
        out = []
        for mask, excess in cuts:
            self._include(mask)
            out.append((frozenset(p for k, p in enumerate(self.game.players) if (mask >> k) & 1), excess))
        self.stats["cuts"] += len(out)
        return out


def membership_separation(game, *, tolerance: float = 1e-7, **options) -> MembershipSeparation:
    """Return the separation oracle ``separate(x) -> (S, excess) | None`` of the day game ``game``.

    See :class:`MembershipSeparation` for ``options`` (``heuristics=False`` gives the plain MILP
    oracle solved to optimality on every call).
    """
    return MembershipSeparation(game, tolerance=tolerance, **options)
