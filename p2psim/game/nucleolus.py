"""The (pre-)nucleolus by the Maschler–Peleg–Shapley sequence of linear programs.

The nucleolus lexicographically minimises the vector of coalition excesses
``e(S, x) = v(S) - x(S)`` sorted in decreasing order, over efficient ``x`` (``x(N) = v(N)``).
Stage ``k`` solves

    t_k = min t   s.t.  x(S) + t >= v(S)          for the free coalitions S,
                        x(S) = v(S) - t_j          for S fixed at stage j < k,
                        x(N) = v(N),

then fixes the free coalitions whose dual multiplier is positive (by complementary slackness they
are tight, ``e(S, x) = t_k``, in every optimal solution) and frees no others; coalitions whose
indicator vector lies in the span of the fixed ones (and of ``N``) have a constant ``x(S)`` from
then on and are dropped. When the fixed vectors span ``R^n`` the allocation is unique and is the
nucleolus. Each stage fixes at least one coalition, so at most ``2**n`` stages run; in practice
``<= n``. Individual rationality is not imposed, so strictly this is the *pre*-nucleolus; it
equals the nucleolus whenever the core is non-empty (it then lies in the core, hence is
individually rational).
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
from p2psim.game.core import enumerate_values, proper_masks

#: Duals above this (they sum to 1 over the free rows) mark coalitions fixed at a stage.
DUAL_TOLERANCE = 1e-7


def _orthonormal(vectors: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns) of the row space of ``vectors``."""
    u, s, _ = np.linalg.svd(vectors.T, full_matrices=False)
    rank = int(np.sum(s > 1e-9 * max(1.0, float(s.max(initial=0.0)))))
    return u[:, :rank]


def nucleolus(players: Sequence[str], value: ValueFunction | CachedGame) -> Allocation:
    """Return the nucleolus of ``(players, value)`` (exact enumeration, ``n <= 16``).

    Args:
        players: Unique player names.
        value: Characteristic function with ``v(∅) = 0`` (or a shared :class:`CachedGame`).

    Returns:
        An :class:`Allocation` (``method="nucleolus"``) with ``meta["epsilon"]`` (the first
        stage value = least-core epsilon), ``meta["stage_excesses"]`` (the ``t_k``) and
        ``meta["n_lp_solves"]``.

    Raises:
        GameError: On bad input or a solver failure.
    """
    game, calls0 = CachedGame.open(players, value)
    values = enumerate_values(game, "nucleolus")
    n = game.n
    grand = float(values[-1])
    if n == 1:
        return Allocation.from_array(
            game.players,
            [grand],
            method="nucleolus",
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
            raise GameError("nucleolus: no progress in the LP sequence (numerical trouble)")
        idx = np.flatnonzero(free)
        a_ub = coalition_rows(masks[idx], n, extra_cols=1, extra_value=1.0)
        eq_rows = np.vstack([np.ones((1, n)), rows[fixed_idx]]) if fixed_idx else np.ones((1, n))
        b_eq = np.concatenate([[grand], v_masks[fixed_idx] - np.array(fixed_level)])
        a_eq = sp.csr_matrix(np.hstack([eq_rows, np.zeros((eq_rows.shape[0], 1))]))
        c = np.append(np.zeros(n), 1.0)
        res = solve_lp(
            c, a_ub, -v_masks[idx], a_eq, b_eq, [(None, None)] * (n + 1), "nucleolus stage"
        )
        if res is None:
            raise GameError("nucleolus: stage LP infeasible (numerical trouble)")
        t, x = float(res.x[n]), res.x[:n]
        levels.append(t)
        duals = res.ineq_duals
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
    return Allocation.from_array(
        game.players,
        x,
        method="nucleolus",
        exact=True,
        n_value_calls=game.n_value_calls - calls0,
        meta={"epsilon": levels[0], "stage_excesses": levels, "n_lp_solves": len(levels)},
    )
