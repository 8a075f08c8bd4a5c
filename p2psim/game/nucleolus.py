"""The nucleolus and the pre-nucleolus by the Maschler–Peleg–Shapley sequence of linear programs.

Both lexicographically minimise the vector of coalition excesses ``e(S, x) = v(S) - x(S)`` sorted
in decreasing order (Schmeidler 1969), over different sets:

- :func:`nucleolus`: over the *imputations* ``{x : x(N) = v(N), x_i >= v({i})}`` -- nobody gets
  less than alone. It exists whenever ``sum_i v({i}) <= v(N)`` and is unique;
- :func:`prenucleolus`: over all efficient ``x`` (``x(N) = v(N)``), with no individual bound.

They coincide whenever the core is non-empty (the pre-nucleolus then lies in the core, hence is
individually rational); with an empty core the pre-nucleolus may leave a player below ``v({i})``.
Stage ``k`` solves

    t_k = min t   s.t.  x(S) + t >= v(S)          for the free coalitions S,
                        x(S) = v(S) - t_j          for S fixed at stage j < k,
                        x(N) = v(N),   (and x_i >= v({i}) for the nucleolus)

then fixes the free coalitions whose dual multiplier is positive (by complementary slackness they
are tight, ``e(S, x) = t_k``, in every optimal solution) and frees no others; coalitions whose
indicator vector lies in the span of the fixed ones (and of ``N``) have a constant ``x(S)`` from
then on and are dropped. When the fixed vectors span ``R^n`` the allocation is unique and is the
nucleolus. Each stage fixes at least one coalition, so at most ``2**n`` stages run; in practice
``<= n``. The individual bounds are constraints of every stage, so complementary slackness still
marks exactly the coalitions tight in every optimal solution.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from p2psim.errors import GameError
from p2psim.game._bits import membership
from p2psim.game._lp import coalition_rows, solve_lp
from p2psim.game.allocation import Allocation
from p2psim.game.cached import CachedGame, ValueFunction
from p2psim.game.core import core_tolerance, enumerate_values, proper_masks

#: Duals above this (they sum to 1 over the free rows) mark coalitions fixed at a stage.
DUAL_TOLERANCE = 1e-7


def _orthonormal(vectors: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns) of the row space of ``vectors``."""
    u, s, _ = np.linalg.svd(vectors.T, full_matrices=False)
    rank = int(np.sum(s > 1e-9 * max(1.0, float(s.max(initial=0.0)))))
    return u[:, :rank]


def nucleolus(players: Sequence[str], value: ValueFunction | CachedGame) -> Allocation:
    """Return the nucleolus of ``(players, value)`` over the imputations (exact enumeration, ``n <= 16``).

    Args:
        players: Unique player names.
        value: Characteristic function with ``v(∅) = 0`` (or a shared :class:`CachedGame`).

    Returns:
        An :class:`Allocation` (``method="nucleolus"``) with ``x_i >= v({i})`` for every player,
        ``meta["epsilon"]`` (the first stage value: the least-core epsilon over the imputations),
        ``meta["stage_excesses"]`` (the ``t_k``) and ``meta["n_lp_solves"]``.

    Raises:
        GameError: On bad input, an empty imputation set (``sum_i v({i}) > v(N)``) or a solver
            failure.
    """
    return _lexicographic_centre(players, value, imputations=True)


def prenucleolus(players: Sequence[str], value: ValueFunction | CachedGame) -> Allocation:
    """Return the pre-nucleolus of ``(players, value)``: efficient, no individual bound (``n <= 16``).

    Equal to :func:`nucleolus` when the core is non-empty. ``meta`` as for :func:`nucleolus`
    (``epsilon`` is then the least-core epsilon of :func:`~p2psim.game.core.least_core`).
    """
    return _lexicographic_centre(players, value, imputations=False)


def _lexicographic_centre(
    players: Sequence[str], value: ValueFunction | CachedGame, *, imputations: bool
) -> Allocation:
    method = "nucleolus" if imputations else "prenucleolus"
    game, calls0 = CachedGame.open(players, value)
    values = enumerate_values(game, method)
    n = game.n
    grand = float(values[-1])
    alone = np.array([float(values[1 << k]) for k in range(n)])
    if imputations and alone.sum() > grand + core_tolerance(values):
        raise GameError(
            f"nucleolus: the imputation set is empty (players alone get {alone.sum():.6g} > v(N) = {grand:.6g}); "
            "use prenucleolus, which has no individual bound"
        )
    bounds = [(float(a), None) for a in alone] if imputations else [(None, None)] * n
    if n == 1:
        return Allocation.from_array(
            game.players,
            [grand],
            method=method,
            exact=True,
            n_value_calls=game.n_value_calls - calls0,
            meta={"epsilon": 0.0, "stage_excesses": [], "n_lp_solves": 0},
        )
    masks = proper_masks(n)
    v_masks = values[masks.astype(np.int64)]
    rows = membership(masks, n).astype(float)
    free = np.ones(masks.size, dtype=bool)
    fixed_idx: list[int] = []
    fixed_level: list[float] = []
    levels: list[float] = []
    x = np.full(n, grand / n)
    basis = _orthonormal(np.ones((1, n)))
    while basis.shape[1] < n:
        if len(levels) > masks.size:
            raise GameError(f"{method}: no progress in the LP sequence (numerical trouble)")
        idx = np.flatnonzero(free)
        a_ub = coalition_rows(masks[idx], n, extra_cols=1, extra_value=1.0)
        eq_rows = np.vstack([np.ones((1, n)), rows[fixed_idx]]) if fixed_idx else np.ones((1, n))
        b_eq = np.concatenate([[grand], v_masks[fixed_idx] - np.array(fixed_level)])
        a_eq = sp.csr_matrix(np.hstack([eq_rows, np.zeros((eq_rows.shape[0], 1))]))
        c = np.append(np.zeros(n), 1.0)
        res = solve_lp(c, a_ub, -v_masks[idx], a_eq, b_eq, [*bounds, (None, None)], f"{method} stage")
        if res is None:
            raise GameError(f"{method}: stage LP infeasible (numerical trouble)")
        t, x = float(res.x[n]), res.x[:n]
        levels.append(t)
        duals = res.row_dual
        tight = (
            idx[duals > DUAL_TOLERANCE]
            if np.any(duals > DUAL_TOLERANCE)
            else idx[[int(np.argmax(duals))]]
        )
        fixed_idx.extend(int(k) for k in tight)
        fixed_level.extend([t] * tight.size)
        free[tight] = False
        basis = _orthonormal(np.vstack([np.ones((1, n)), rows[fixed_idx]]))
        rest = np.flatnonzero(free)
        resid = rows[rest] - (rows[rest] @ basis) @ basis.T
        free[rest[np.linalg.norm(resid, axis=1) < 1e-9]] = False
    eq_rows = np.vstack([np.ones((1, n)), rows[fixed_idx]])
    b_eq = np.concatenate([[grand], v_masks[fixed_idx] - np.array(fixed_level)])
    x = np.linalg.lstsq(eq_rows, b_eq, rcond=None)[0]
    if imputations:  # the bounds hold at the LP solutions; lstsq may leave rounding noise below them
        x = np.where((x < alone) & (x > alone - 1e-7 * max(1.0, float(np.abs(values).max()))), alone, x)
    return Allocation.from_array(
        game.players,
        x,
        method=method,
        exact=True,
        n_value_calls=game.n_value_calls - calls0,
        meta={"epsilon": levels[0], "stage_excesses": levels, "n_lp_solves": len(levels)},
    )
