"""The stable allocation closest to a fair target: projection onto the (least) core.

Given a target ``t`` (by default the Shapley value, or the weighted Shapley value when weights
are given), return

    x* = argmin_x ||x - t||     s.t.  x(S) >= v(S) - eps  for all proper non-empty S,
                                      x(N) = v(N),

with ``eps = 0`` when the core is non-empty and ``eps = eps*`` (the least-core value) when it is
empty, and ``||.||`` the L1 norm (``sum_i |x_i - t_i|``) or the max norm
(``max_i |x_i - t_i|``), both linear programs. If ``t`` already lies in the core, ``x* = t``.

``method="exact"`` writes all ``2**n - 2`` coalition constraints (``n <= 16``).
``method="rowgen"`` starts from the singletons and adds, per round, the violated coalitions
returned by a *separation oracle* ``separation(x) -> (S, v(S) - x(S)) | [(S, excess), ...] | None``
(one or several coalitions of positive excess, or ``None`` only when no excess is positive) until
no coalition has an excess above ``eps``. The master LP lives in one HiGHS instance: new rows are
appended and the re-solve starts from the previous basis (dual simplex). ``time_limit_s`` stops
it between rounds; such a result is returned with ``exact=False`` (not proven).
An infeasible relaxation proves the core empty; ``eps*`` is then found by
row generation on the least-core LP. The default oracle is exhaustive search (``n <= 16``);
large games (e.g. energy communities, where the oracle is a MILP over coalition membership)
pass their own.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from p2psim.errors import GameError
from p2psim.game._bits import subset_sums
from p2psim.game._lp import coalition_rows, solve_lp
from p2psim.game._validate import validate_method
from p2psim.game.allocation import Allocation
from p2psim.game.cached import CachedGame, ValueFunction
from p2psim.game.core import (
    MAX_CORE_PLAYERS,
    allocation_vector,
    core_tolerance,
    enumerate_values,
    least_core_lp,
    proper_masks,
)
from p2psim.game.shapley import shapley_value
from p2psim.game.weighted import Weights, weighted_shapley_value

IN_OUT_WEIGHT = 0.5
"""Weight of the in-point in the in-out probe after a cut (see :func:`_rowgen`)."""

Separation = Callable[[np.ndarray], tuple[frozenset[str], float] | None]


def exhaustive_separation(game: CachedGame) -> Separation:
    """Return the default oracle: the proper coalition of largest excess, by enumeration."""
    if game.n > MAX_CORE_PLAYERS:
        raise GameError(
            f"row generation without a separation oracle enumerates 2^n coalitions; n={game.n} "
            f"exceeds {MAX_CORE_PLAYERS}: pass separation=..."
        )
    values = enumerate_values(game, "exhaustive separation")

    def separate(x: np.ndarray) -> tuple[frozenset[str], float] | None:
        excess = (values - subset_sums(x))[1:-1]
        k = int(np.argmax(excess))
        return (game.members(k + 1), float(excess[k])) if excess[k] > 0 else None

    return separate


def norm_distance(deviation: np.ndarray, norm: str) -> float:
    """``||deviation||``: the sum of absolute values (``"l1"``) or the largest one (``"max"``)."""
    d = np.abs(np.asarray(deviation, dtype=float))
    return float(d.sum() if norm == "l1" else d.max())


def deviation_columns(n: int, norm: str) -> sp.csr_matrix:
    """How the deviation variables bound ``|x_i - t_i|``: one per player (L1) or one for all (max)."""
    return sp.identity(n, format="csr") if norm == "l1" else sp.csr_matrix(np.ones((n, 1)))


def distance_lp(
    n: int, target: np.ndarray, masks: np.ndarray | None, lower: np.ndarray, grand: float, norm: str,
    members: sp.spmatrix | np.ndarray | None = None,
) -> np.ndarray | None:
    """Closest ``x`` to ``target`` with ``x(S) >= lower(S)`` for ``masks`` and ``x(N) = v(N)``.

    ``members`` (one 0/1 row per coalition) replaces ``masks`` when bit masks do not fit 64 bits.

    Returns:
        ``x``, or ``None`` if these constraints are infeasible.
    """
    dev = -deviation_columns(n, norm)
    extra = dev.shape[1]
    eye = sp.identity(n, format="csr")
    blocks = [sp.hstack([eye, dev]), sp.hstack([-eye, dev])]
    rows = -sp.csr_matrix(members) if members is not None else coalition_rows(masks, n) if masks.size else None
    if rows is not None and rows.shape[0]:
        blocks.append(sp.hstack([rows, sp.csr_matrix((rows.shape[0], extra))]))
    a_ub = sp.vstack(blocks, format="csr")
    b_ub = np.concatenate([target, -target, -lower])
    a_eq = sp.csr_matrix(np.concatenate([np.ones(n), np.zeros(extra)])[None, :])
    c = np.concatenate([np.zeros(n), np.ones(extra)])
    bounds = [(None, None)] * n + [(0.0, None)] * extra
    res = solve_lp(c, a_ub, b_ub, a_eq, np.array([grand]), bounds, "core projection")
    return None if res is None else res.x[:n]


def _default_target(game: CachedGame, weights: Weights | None) -> np.ndarray:
    if weights is None:
        return shapley_value(game.players, game).to_array()
    return weighted_shapley_value(game.players, game, weights).to_array()


def equitable_core_allocation(
    players: Sequence[str],
    value: ValueFunction | CachedGame,
    target: Mapping[str, float] | None = None,
    weights: Weights | None = None,
    norm: str = "l1",
    method: str = "exact",
    max_iterations: int = 1000,
    separation: Separation | None = None,
    time_limit_s: float | None = None,
    anchor: Mapping[str, float] | None = None,
    gap: float = 0.0,
) -> Allocation:
    """Return the core (or least-core) allocation closest to ``target``.

    Args:
        players: Unique player names.
        value: Characteristic function with ``v(∅) = 0`` (or a shared :class:`CachedGame`).
        target: Fair reference allocation; default: exact (weighted) Shapley value.
        weights: Weights of the default weighted-Shapley target (ignored if ``target`` given).
        norm: ``"l1"`` (sum of absolute deviations) or ``"max"`` (largest deviation).
        method: ``"exact"`` (all coalition constraints) or ``"rowgen"`` (row generation).
        max_iterations: Row generation: maximum number of separation calls.
        separation: Row generation: oracle ``x -> (S, excess) | [(S, excess), ...] | None``
            (default: exhaustive); a list adds several violated coalitions in one round.
        time_limit_s: Row generation: wall-clock limit in seconds (checked between rounds).
        anchor: Row generation: a candidate core point (e.g. the Owen allocation of an LP game).
            If the oracle finds no violated coalition at it, it becomes the *in-point* of in-out
            separation (see :func:`_rowgen`); otherwise its violated coalitions enter the LP.
        gap: Row generation with a core in-point: stop when the in-point's distance exceeds the
            master LP's (a lower bound on the optimum) by at most ``gap`` (units of the values) and
            return the in-point -- a proven core point within ``gap`` of the closest one. ``0``
            runs until the master's own solution is proven (the exact projection).

    Returns:
        An :class:`Allocation` (``method="equitable_core"``) whose ``meta`` holds ``target``,
        ``deviation`` (``x_i - t_i``), ``distance``, ``norm``, ``epsilon`` (0 when the core is
        non-empty), ``least_core_epsilon`` (``None`` when row generation never needed it),
        ``core_empty``, ``n_constraints`` (coalition constraints in the last LP),
        ``n_lp_solves``, ``n_separation_calls`` (rounds), ``seconds``, ``converged``,
        ``core_proven`` (the allocation is a proven (least-)core point: always when converged; also
        at a limit when an in-point was known), ``distance_lower_bound`` (row generation: the last
        master LP's distance, a lower bound on the closest (least-)core point's) and
        ``anchor_in_core`` (``None`` without an anchor).
        A row generation stopped by ``max_iterations`` is
        returned with ``exact=False`` and a warning, as is one stopped by ``time_limit_s``.
    """
    validate_method(norm, ("l1", "max"), "equitable_core_allocation norm")
    validate_method(method, ("exact", "rowgen"), "equitable_core_allocation")
    if (
        isinstance(max_iterations, bool)
        or not isinstance(max_iterations, int)
        or max_iterations < 1
    ):
        raise GameError(f"max_iterations must be a positive integer, got {max_iterations!r}")
    game, calls0 = CachedGame.open(players, value)
    n, grand = game.n, game.grand_value()
    t = (
        _default_target(game, weights)
        if target is None
        else allocation_vector(game.players, target)
    )
    if method == "exact" or n == 1:
        values = enumerate_values(game, "equitable_core_allocation")
        masks = proper_masks(n)
        v_masks = values[masks.astype(np.int64)]
        eps = least_core_lp(n, masks, v_masks, grand)[1] if n > 1 else 0.0
        tol = core_tolerance(values)
        eps_used = eps + tol if eps > tol else 0.0
        x = distance_lp(n, t, masks, v_masks - eps_used, grand, norm)
        stats = {"n_constraints": int(masks.size), "n_lp_solves": 2, "converged": True, "core_proven": True}
        core_empty = eps > tol
        least_core_epsilon = float(eps)
    else:
        if not np.isfinite(gap) or gap < 0:
            raise GameError(f"gap must be a finite number >= 0, got {gap!r}")
        start = None if anchor is None else allocation_vector(game.players, anchor)
        x, eps, core_empty, stats = _rowgen(game, t, grand, norm, max_iterations, separation, time_limit_s,
                                            start, float(gap))
        least_core_epsilon = float(eps) if core_empty else None
    if x is None:
        raise GameError("equitable_core_allocation: projection LP infeasible (numerical trouble)")
    deviation = x - t
    distance = norm_distance(deviation, norm)
    meta = {
        "target": dict(zip(game.players, t.tolist(), strict=True)),
        "deviation": dict(zip(game.players, deviation.tolist(), strict=True)),
        "distance": distance,
        "norm": norm,
        "solver": method,
        "epsilon": float(eps) if core_empty else 0.0,
        "core_empty": bool(core_empty),
        "least_core_epsilon": least_core_epsilon,
        **stats,
    }
    return Allocation.from_array(
        game.players,
        x,
        method="equitable_core",
        exact=bool(stats["converged"]),
        n_value_calls=game.n_value_calls - calls0,
        meta=meta,
    )


class _Master:
    """The row-generation master LP in one HiGHS instance: cuts are appended, the basis is kept.

    Columns: ``x`` (n, free), the deviations ``d`` (n for L1, 1 for the max norm, ``>= 0``) and
    ``e`` (the epsilon of the coalition rows). Rows: ``x_i + d >= t_i`` and ``x_i - d <= t_i``
    (so ``d >= |x_i - t_i|``),
    ``x(N) = v(N)`` and one row ``x(S) + e >= v(S)`` per coalition. ``project(eps)`` fixes
    ``e = eps`` and minimises the deviation (the projection LP); ``least()`` frees ``e`` and
    minimises it (the least-core LP). Adding rows keeps the basis, so each re-solve is a few dual
    simplex iterations.
    """

    def __init__(self, n: int, target: np.ndarray, grand: float, norm: str) -> None:
        try:  # the private class skips the banner and the Python callback layer
            from highspy._core import _Highs as Highs
        except ImportError:  # pragma: no cover - layout of older highspy versions
            from highspy import Highs
        h = self.highs = Highs()
        for option, value in (
            ("output_flag", False), ("presolve", "off"), ("threads", 1),
            ("primal_feasibility_tolerance", 1e-9), ("dual_feasibility_tolerance", 1e-9),
        ):
            h.setOptionValue(option, value)
        self.n = n
        n_dev = n if norm == "l1" else 1
        self.dev = np.arange(n, n + n_dev, dtype=np.int32)
        self.e_col = n + n_dev
        n_cols = self.e_col + 1
        inf = self._inf = np.inf
        lower = np.concatenate([np.full(n, -inf), np.zeros(n_dev), [0.0]])
        upper = np.concatenate([np.full(n, inf), np.full(n_dev, inf), [0.0]])
        h.addVars(n_cols, lower, upper)
        dev_of = np.arange(n) + n if norm == "l1" else np.full(n, n)
        for sign in (1.0, -1.0):  # t_i - d <= x_i <= t_i + d, as  x_i + d >= t_i  and  x_i - d <= t_i
            idx = np.stack([np.arange(n), dev_of], axis=1).astype(np.int32)
            starts = np.arange(0, 2 * n, 2, dtype=np.int32)
            vals = np.tile([1.0, sign], n)
            lo, up = (target, np.full(n, inf)) if sign > 0 else (np.full(n, -inf), target)
            h.addRows(n, lo, up, 2 * n, starts, idx.ravel(), vals)
        h.addRow(grand, grand, n, np.arange(n, dtype=np.int32), np.ones(n))
        self.n_cuts = 0

    def add(self, masks: Sequence[int], values: Sequence[float]) -> None:
        """Append the rows ``x(S) + e >= v(S)`` of the coalitions ``masks``."""
        if not len(masks):
            return
        starts, index, data = [], [], []
        for mask in masks:
            members = [k for k in range(self.n) if (int(mask) >> k) & 1]
            starts.append(len(index))
            index += [*members, self.e_col]
            data += [1.0] * (len(members) + 1)
        k = len(masks)
        self.highs.addRows(k, np.asarray(values, float), np.full(k, self._inf), len(index),
                           np.asarray(starts, np.int32), np.asarray(index, np.int32), np.asarray(data))
        self.n_cuts += k

    def _run(self) -> str:
        self.highs.run()
        return self.highs.getModelStatus().name

    def project(self, eps: float) -> np.ndarray | None:
        """The closest ``x`` to the target with every included ``x(S) >= v(S) - eps``, or ``None``."""
        h = self.highs
        h.changeColsCost(self.dev.size, self.dev, np.ones(self.dev.size))
        h.changeColCost(self.e_col, 0.0)
        h.changeColBounds(self.e_col, eps, eps)
        status = self._run()
        if status == "kInfeasible":
            return None
        if status != "kOptimal":
            raise GameError(f"core projection LP ended with status {status}")
        return np.asarray(h.getSolution().col_value[: self.n], dtype=float)

    def least(self) -> tuple[np.ndarray, float]:
        """A least-core point ``x`` and ``eps`` over the included coalitions."""
        h = self.highs
        h.changeColsCost(self.dev.size, self.dev, np.zeros(self.dev.size))
        h.changeColCost(self.e_col, 1.0)
        h.changeColBounds(self.e_col, -self._inf, self._inf)
        status = self._run()
        if status != "kOptimal":
            raise GameError(f"least core LP ended with status {status}")
        col = np.asarray(h.getSolution().col_value, dtype=float)
        return col[: self.n], float(col[self.e_col])


def _candidates(found) -> list[tuple[frozenset[str], float]]:
    """An oracle's answer as a list: ``None``, one ``(S, excess)`` or a sequence of them."""
    if found is None:
        return []
    if isinstance(found, tuple) and len(found) == 2 and isinstance(found[0], (frozenset, set)):
        return [found]
    return list(found)


def _rowgen(game, t, grand, norm, max_iterations, separation, time_limit_s=None, anchor=None, gap=0.0):
    """Row generation on the projection LP, with in-out separation once a core point is known.

    Plain: solve the master (the projection over the coalitions found so far; its distance is a
    lower bound ``lb`` on the optimum), ask the oracle for coalitions violated at its solution
    ``x``, add them, repeat until none is violated (``x`` is then the exact projection).

    In-out (Ben-Ameur and Neto 2007), when a proven core point ``y`` (the *in-point*) is known: the
    oracle is asked at ``s = x + w (y - x)`` instead (``w = 1/2`` after a cut). A coalition violated
    at ``s`` is violated at ``x`` too (excess is linear along the segment and ``y`` satisfies every
    constraint), so the cut still removes ``x``; it is deeper than one found at ``x``, whose many
    barely violated coalitions make the tail of plain row generation long. If nothing is violated at
    ``s``, ``s`` is a proven core point at least as close to the target as ``y`` (convexity of the
    norm) and becomes the in-point, and ``w`` halves (the probes approach ``x`` fast; below
    ``w = 1e-3`` the oracle is asked at ``x`` itself).
    The upper bound ``ub = ||y - t||`` and ``lb`` close from both sides; it stops when
    ``ub - lb <= gap`` (returning ``y``) or when ``x`` itself is proven.
    """
    start = time.perf_counter()
    deadline = np.inf if time_limit_s is None else start + float(time_limit_s)
    n = game.n
    oracle = separation if separation is not None else exhaustive_separation(game)
    masks = [1 << k for k in range(n)]
    values = {m: game.value_of_mask(m) for m in masks}
    tol = core_tolerance(np.append(list(values.values()), grand))
    master = _Master(n, t, grand, norm)
    master.add(masks, [values[m] for m in masks])
    eps, eps_star, core_empty, solves, calls = 0.0, 0.0, False, 0, 0

    def distance(z: np.ndarray) -> float:
        return norm_distance(z - t, norm)

    def violated(x, level) -> bool:
        """Add the oracle's violated coalitions to the master; ``False`` when there are none."""
        nonlocal calls
        calls += 1
        new, repeated = {}, None
        for coalition, _ in _candidates(oracle(x)):
            mask = game.mask_of(coalition)
            if mask in (0, game.full_mask):
                raise GameError("separation oracle returned the empty or the grand coalition")
            value = game.value_of_mask(mask)
            excess = value - float(sum(x[k] for k in range(n) if mask >> k & 1))
            if excess <= level + tol:
                continue
            if mask in values:
                repeated = coalition
            else:
                new[mask] = value
        if not new and repeated is not None:  # a repeated cut means the LP and the oracle disagree
            raise GameError(f"separation oracle repeated coalition {sorted(repeated)}")
        values.update(new)
        master.add(list(new), list(new.values()))
        return bool(new)

    inside, anchor_in_core = None, None
    if anchor is not None:
        if abs(float(anchor.sum()) - grand) > max(tol, 1e-9 * abs(grand)):
            raise GameError(f"anchor must distribute v(N) = {grand:.6g}, its shares sum to {float(anchor.sum()):.6g}; "
                            "pass an efficient allocation (e.g. the Owen allocation) or anchor=None")
        anchor_in_core = not violated(anchor, 0.0)
        inside = anchor if anchor_in_core else None

    def stats(converged: bool, lb: float) -> dict:
        return {"n_constraints": len(values), "n_lp_solves": solves, "n_separation_calls": calls,
                "converged": converged, "core_proven": converged or inside is not None,
                "seconds": time.perf_counter() - start, "distance_lower_bound": lb, "anchor_in_core": anchor_in_core}

    phase, x, lb, fresh, weight = "core", None, -np.inf, True, IN_OUT_WEIGHT
    while calls < max_iterations and (calls == 0 or time.perf_counter() < deadline):
        if phase == "core":
            if fresh:
                solves += 1
                x = master.project(eps)
                if x is None:  # even this relaxation has no core point: the core is empty
                    phase, inside = "least", None
                    continue
                lb, fresh = distance(x), False
            if inside is not None and distance(inside) - lb <= gap:
                return inside, eps_star, core_empty, stats(True, lb)
            probe = x if inside is None or weight < 1e-3 else x + weight * (inside - x)
            if violated(probe, eps):
                fresh, weight = True, IN_OUT_WEIGHT
            elif probe is x:
                return x, eps_star, core_empty, stats(True, lb)
            else:
                inside, weight = probe, 0.5 * weight
        else:
            solves += 1
            x, eps_relaxed = master.least()
            if not violated(x, eps_relaxed):  # eps_relaxed is the least-core value
                core_empty, eps_star = eps_relaxed > tol, eps_relaxed
                eps = eps_relaxed + tol if core_empty else tol  # slack keeps the LP feasible
                phase, fresh = "core", True
    why = f"{calls} iterations" if calls >= max_iterations else f"the time limit of {time_limit_s} s"
    proven = inside is not None
    warnings.warn(
        f"equitable_core_allocation: row generation stopped after {why}; "
        + ("returning the best proven core point, whose distance may exceed the optimum by "
           f"{distance(inside) - lb:.3g}" if proven else "the allocation may violate coalition constraints"),
        RuntimeWarning,
        stacklevel=3,
    )
    return (inside if proven else x), eps_star, core_empty, stats(False, lb)
