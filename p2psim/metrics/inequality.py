"""Inequality indices, each bounded in [0, 1] and defined on every vector it accepts (docs/model.md section 9).

- :func:`gini`: any real vector (benefits and bills can be negative). Raffinetti, Siletti & Vernizzi
  (2015) normalisation; on non-negative data it is the ordinary Gini.
- :func:`jain`: non-negative vectors only (a fairness index: 1 = equal; ``1 - jain`` is in [0, 1)).
- :func:`theil` (normalised by ``ln n``) and :func:`atkinson`: strictly positive vectors only.

An index asked about a vector outside its domain raises :class:`IndexDomainError` (a ``ValueError``)
naming the index, the offending entry and the index that is defined there; callers report such an
index only on quantities in its domain (or as ``NaN`` with the reason, see :func:`jain_or_nan`).
"""

from __future__ import annotations

import numpy as np


class IndexDomainError(ValueError):
    """An inequality index was asked about a vector on which it is not defined."""


def _finite(values, name: str) -> np.ndarray:
    x = np.asarray(values, dtype=float).reshape(-1)
    if not np.all(np.isfinite(x)):
        k = int(np.flatnonzero(~np.isfinite(x))[0])
        raise IndexDomainError(f"{name}: entry {k} is {float(x[k])!r}; every value must be finite")
    return x


def gini(values) -> float:
    """Gini coefficient of any real vector, in [0, 1]; 0 when all values are equal (or the vector is empty).

    Raffinetti, Siletti & Vernizzi (2015), "On the Gini coefficient normalization when attributes
    with negative values are considered", Statistical Methods & Applications 24(3):507-521,
    doi:10.1007/s10260-014-0293-4. With ``T+`` the sum of the positive values and ``T-`` the absolute
    sum of the negative ones,

        G = sum_i sum_j |x_i - x_j| / (2 n (T+ + T-))
          = sum_k (2k - n - 1) x_(k) / (n (T+ + T-))        (x_(1) <= ... <= x_(n), k = 1..n),

    the sorted form, computed in O(n log n) (the ranks sum to zero, so ``x_(k) - x_(1)`` replaces
    ``x_(k)`` in the numerator: equal values give exactly 0). Bounds: ``|x_i - x_j| <= |x_i| + |x_j|`` gives
    ``sum_ij |x_i - x_j| <= 2 (n - 1) (T+ + T-)``, so ``0 <= G <= (n - 1) / n < 1``; the maximum is the
    paper's "polarised" vector (all negative mass on one unit, all positive mass on another, zero
    elsewhere). On non-negative data ``T- = 0`` and ``T+ = n mean(x)``: G is the ordinary (population)
    Gini ``sum_ij |x_i - x_j| / (2 n^2 mean(x))``. It is invariant to positive rescaling and to
    permutation; an all-zero vector gives 0. This is the population form used by the authors' R
    package GiniWegNeg (normaliser ``(T+ + T-) / n``); the paper's finite-sample tables divide by
    ``n - 1`` instead of ``n`` (the polarised vector then scores exactly 1), i.e. ``n / (n - 1)``
    times this value.

    Raises:
        IndexDomainError: If a value is not finite.
    """
    x = np.sort(_finite(values, "gini"))
    n = x.size
    scale = float(np.abs(x).sum())
    if n < 2 or scale == 0.0:
        return 0.0
    rank = 2.0 * np.arange(1, n + 1) - n - 1
    g = float(rank @ (x - x[0])) / (n * scale)  # sum(rank) = 0: shifting by the minimum is exact (0 when equal)
    return min(max(g, 0.0), 1.0)  # rounding only: the bound holds exactly in real arithmetic


def jain(values) -> float:
    """Jain's fairness index ``(sum x)^2 / (n sum x^2)`` of a non-negative vector, in [1/n, 1]; 1 = equal.

    Defined for non-negative data only (with mixed signs the ratio measures cancellation, not
    fairness). An empty or all-zero vector scores 1.

    Raises:
        IndexDomainError: If a value is negative or not finite.
    """
    x = _finite(values, "jain")
    if np.any(x < 0):
        k = int(np.flatnonzero(x < 0)[0])
        raise IndexDomainError(f"jain: entry {k} is {x[k]:.6g} < 0; Jain's index is defined on non-negative "
                               "data only (use gini, which is defined on any real vector)")
    denominator = x.size * float((x**2).sum())
    return 1.0 if denominator == 0 else float(x.sum() ** 2 / denominator)


def jain_or_nan(values) -> tuple[float, str]:
    """``(jain(values), "")``, or ``(nan, reason)`` when some value is negative."""
    try:
        return jain(values), ""
    except IndexDomainError as exc:
        return float("nan"), str(exc)


def _positive(values, name: str) -> np.ndarray:
    x = _finite(values, name)
    if np.any(x <= 0):
        k = int(np.flatnonzero(x <= 0)[0])
        raise IndexDomainError(f"{name}: entry {k} is {x[k]:.6g} <= 0; {name} is defined on strictly positive "
                               "data only (use gini, which is defined on any real vector)")
    return x


def theil(values) -> float:
    """Normalised Theil index ``T / ln n`` of a strictly positive vector, in [0, 1]; 0 = equal.

    ``T = (1/n) sum_i (x_i / mean) ln(x_i / mean)`` lies in ``[0, ln n]`` (``ln n`` when one unit holds
    everything, approached but not reached with positive data); one value gives 0.

    Raises:
        IndexDomainError: If a value is zero, negative or not finite.
    """
    x = _positive(values, "theil")
    if x.size < 2:
        return 0.0
    share = x / x.mean()
    return min(max(float(np.mean(share * np.log(share))) / np.log(x.size), 0.0), 1.0)


def atkinson(values, epsilon: float = 0.5) -> float:
    """Atkinson index ``1 - (mean of x^(1-eps))^(1/(1-eps)) / mean`` (``eps = 1``: geometric mean), in [0, 1).

    ``epsilon > 0`` is the inequality aversion. Strictly positive data only.

    Raises:
        IndexDomainError: If a value is zero, negative or not finite, or ``epsilon <= 0``.
    """
    if not epsilon > 0:
        raise IndexDomainError(f"atkinson: epsilon = {epsilon!r}; the inequality aversion must be > 0")
    x = _positive(values, "atkinson")
    mean = x.mean()
    if epsilon == 1.0:
        ede = float(np.exp(np.mean(np.log(x))))
    else:
        ede = float(np.mean(x ** (1 - epsilon)) ** (1 / (1 - epsilon)))
    return min(max(1.0 - ede / mean, 0.0), 1.0)
