"""Vectorised bitmask helpers: coalition sizes, membership, subset sums and the Möbius transform.

Arrays of length ``2**n`` are indexed by coalition bitmask (player ``k`` <-> bit ``k``).
Bit ``k`` of a mask splits the index as ``mask = a * 2**(k+1) + b * 2**k + c`` with ``c < 2**k``,
so ``arr.reshape(-1, 2, 2**k)[:, b, :]`` selects the coalitions without (``b=0``) or with
(``b=1``) player ``k``, paired so that row ``[:, 1, :]`` is row ``[:, 0, :]`` plus player ``k``.
"""

from __future__ import annotations

import numpy as np


def all_masks(n: int) -> np.ndarray:
    """Return the masks ``0 .. 2**n - 1`` as ``uint64``."""
    return np.arange(1 << n, dtype=np.uint64)


def popcount(masks: np.ndarray) -> np.ndarray:
    """Return ``|S|`` for every mask (as ``int64``)."""
    return np.bitwise_count(np.asarray(masks, dtype=np.uint64)).astype(np.int64)


def membership(masks: np.ndarray, n: int) -> np.ndarray:
    """Return the boolean matrix ``M[r, k] = (player k in masks[r])`` of shape ``(len, n)``."""
    m = np.asarray(masks, dtype=np.uint64)[:, None]
    bits = np.uint64(1) << np.arange(n, dtype=np.uint64)[None, :]
    return (m & bits) != 0


def with_player(arr: np.ndarray, k: int) -> np.ndarray:
    """View of ``arr`` at the coalitions that contain player ``k`` (shape ``(-1, 2**k)``)."""
    return arr.reshape(-1, 2, 1 << k)[:, 1, :]


def without_player(arr: np.ndarray, k: int) -> np.ndarray:
    """View of ``arr`` at the coalitions without player ``k``, aligned with :func:`with_player`."""
    return arr.reshape(-1, 2, 1 << k)[:, 0, :]


def subset_sums(per_player: np.ndarray) -> np.ndarray:
    """Return ``s[S] = sum_{k in S} a_k`` for every mask, in ``O(2**n)`` per player.

    Args:
        per_player: Vector ``a`` of length ``n``.
    """
    a = np.asarray(per_player, dtype=float)
    out = np.zeros(1 << len(a))
    for k, ak in enumerate(a):
        with_player(out, k)[...] += ak
    return out


def moebius(values: np.ndarray) -> np.ndarray:
    """Return the Harsanyi dividends ``d`` of ``v`` (the Möbius transform).

    ``d(S) = sum_{T ⊆ S} (-1)^{|S|-|T|} v(T)``, equivalently ``v(S) = sum_{T ⊆ S} d(T)``.
    Computed by the fast subset-difference transform: for each player ``k``,
    ``d[S ∪ k] -= d[S]`` for all ``S ∌ k`` — ``O(n 2**n)`` operations.

    Args:
        values: ``v`` indexed by mask (length ``2**n``).
    """
    d = np.array(values, dtype=float, copy=True)
    n = d.size.bit_length() - 1
    for k in range(n):
        with_player(d, k)[...] -= without_player(d, k)
    return d


def zeta(dividends: np.ndarray) -> np.ndarray:
    """Inverse of :func:`moebius`: ``v(S) = sum_{T ⊆ S} d(T)`` (fast subset-sum transform)."""
    v = np.array(dividends, dtype=float, copy=True)
    n = v.size.bit_length() - 1
    for k in range(n):
        with_player(v, k)[...] += without_player(v, k)
    return v
