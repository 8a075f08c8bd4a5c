"""The exact Shapley value of a game given at all its coalitions.

``phi_k = sum_{S not containing k} |S|! (n - |S| - 1)! / n! * (v(S + k) - v(S))`` (Shapley 1953),
vectorised over bitmask-indexed values. Used by :mod:`p2psim.game.shapley` (exact method) and by
:mod:`p2psim.game.shapley_sampling` (the exact part of a control-variate estimate).
"""

from __future__ import annotations

from math import comb

import numpy as np

from p2psim.game._bits import all_masks, popcount, with_player, without_player


def shapley_weights(n: int) -> np.ndarray:
    """Return ``w[s] = s! (n-s-1)! / n! = 1 / (n * C(n-1, s))`` for ``s = 0..n-1``."""
    return np.array([1.0 / (n * comb(n - 1, s)) for s in range(n)])


def exact_shapley_from_values(values: np.ndarray) -> np.ndarray:
    """Return the Shapley value from ``v`` at all ``2**n`` coalitions (indexed by bitmask).

    Vectorised: ``phi_k = sum_{S ∌ k} w[|S|] (v[S | 2**k] - v[S])`` over mask arrays,
    ``O(n 2**n)``.

    Args:
        values: ``v`` indexed by mask; ``values.size`` must be a power of two.
    """
    v = np.asarray(values, dtype=float)
    n = v.size.bit_length() - 1
    sizes = popcount(all_masks(n))
    w = np.append(shapley_weights(n), 0.0)[sizes]
    phi = np.empty(n)
    for k in range(n):
        gain = with_player(v, k) - without_player(v, k)
        phi[k] = float(np.sum(gain * without_player(w, k)))
    return phi
