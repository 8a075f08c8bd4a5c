"""The Kalai–Samet weighted Shapley value (one weight class, positive weights).

With positive weights ``w_i`` and Harsanyi dividends ``d(S)`` of ``v``
(``v(S) = sum_{T ⊆ S} d(T)``), each dividend is split in proportion to the weights of its
members:

    phi^w_i = sum_{S ∋ i} (w_i / w(S)) d(S),      w(S) = sum_{j in S} w_j.

Equivalently ``phi^w_i`` is the expected marginal contribution ``v(P_i ∪ {i}) - v(P_i)`` of
``i`` to its predecessors in a random order built *backwards*: the last player is drawn from
all players with probability ``w_i / w(N)``, the one before it from the rest with probability
proportional to weight, and so on. Equal weights give the Shapley value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from p2psim.errors import GameError
from p2psim.game._bits import moebius, subset_sums, with_player
from p2psim.game._validate import make_rng, validate_budget, validate_method, validate_weights
from p2psim.game.allocation import Allocation
from p2psim.game.cached import CachedGame, ValueFunction
from p2psim.game.shapley_sampling import check_baseline, order_contributions, precise_enough

Weights = Mapping[str, float] | Sequence[float] | np.ndarray


def exact_weighted_shapley_from_values(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Return ``phi^w`` from ``v`` at all ``2**n`` coalitions (indexed by bitmask).

    Dividends by the fast Möbius transform, then ``phi_k = w_k sum_{S ∋ k} d(S) / w(S)``;
    ``O(n 2**n)`` in total.

    Args:
        values: ``v`` indexed by mask.
        weights: Positive weight per player (bit order).
    """
    dividends = moebius(values)
    coalition_weight = subset_sums(weights)
    coalition_weight[0] = 1.0  # d(∅) = 0 is split among nobody
    ratio = dividends / coalition_weight
    ratio[0] = 0.0
    return np.array([w * float(np.sum(with_player(ratio, k))) for k, w in enumerate(weights)])


def weighted_random_orders(weights: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``m`` orders (rows, first to last) with the backward weight-proportional law.

    Uses the keys ``log(U_i) / w_i``: the largest key is the last player, and among the
    remaining players the largest key is again drawn with probability ``w_i / w(remaining)``
    (Efraimidis–Spirakis), so sorting the keys in ascending order gives the order.
    """
    keys = np.log(rng.random((m, weights.size))) / weights[None, :]
    return np.argsort(keys, axis=1)


def weighted_min_budget(n: int) -> int:
    """Smallest budget of the sampled weighted Shapley value: two random orders."""
    return 2 + 2 * max(n - 1, 1)


def _sampled(
    game: CachedGame, w: np.ndarray, budget: int | None, rng: np.random.Generator, start: int,
    baseline: np.ndarray | None = None, target_se: float | None = None,
) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    n = game.n
    budget = validate_budget(budget, weighted_min_budget(n), "sampled weighted Shapley")
    limit = start + budget
    baseline = check_baseline(baseline, game)
    game.grand_value()
    draws: list[np.ndarray] = []
    while len(draws) < budget and game.n_value_calls + (n - 1) <= limit:
        draws.append(order_contributions(game, weighted_random_orders(w, 1, rng)[0], baseline))
        if precise_enough(draws, target_se):
            break
    sample = np.array(draws)
    m = sample.shape[0]
    phi = sample.mean(axis=0)
    if baseline is not None:
        phi = phi + exact_weighted_shapley_from_values(baseline, w)
    return phi, sample.std(axis=0, ddof=1) / math.sqrt(m), m, np.cov(sample, rowvar=False) / m


def weighted_shapley_value(
    players: Sequence[str],
    value: ValueFunction | CachedGame,
    weights: Weights,
    method: str = "exact",
    budget: int | None = None,
    seed: int | np.random.Generator | None = None,
    *,
    baseline: np.ndarray | None = None,
    target_se: float | None = None,
) -> Allocation:
    """Return the Kalai–Samet weighted Shapley value ``phi^w`` of ``(players, value)``.

    Args:
        players: Unique player names.
        value: Characteristic function with ``v(∅) = 0`` (or a shared :class:`CachedGame`).
        weights: Positive finite weight per player (mapping, or sequence in player order).
        method: ``"exact"`` (Möbius transform over all ``2**n`` coalitions, ``n <= 24``) or
            ``"sampled"`` (mean marginal contribution over weight-proportional random orders).
        budget: For ``"sampled"``: maximum number of value calls (required).
        seed: Seed or generator for ``"sampled"``.
        baseline: For ``"sampled"``: a control-variate game's values at all ``2**n`` coalitions
            (:mod:`p2psim.game.shapley_sampling`); ``phi^w(b)`` is exact, ``phi^w(v - b)`` sampled.
        target_se: For ``"sampled"``: stop once every standard error is at most this.

    Returns:
        An :class:`Allocation` with ``method="weighted_shapley"`` and ``meta["weights"]``; sampled
        results carry ``exact=False``, per-player standard errors and ``meta["covariance"]``, the
        estimated covariance matrix of the estimate (players' order; the sample covariance of the
        orders' marginal contributions over their number ``m``), so the standard error of any group's
        total ``sum_{i in G} phi_i`` is ``sqrt(1_G' C 1_G)`` (:func:`group_std_error`).

    Raises:
        GameError: On bad players, values or weights, an unknown method or a bad budget.
    """
    validate_method(method, ("exact", "sampled"), "weighted_shapley_value")
    game, calls0 = CachedGame.open(players, value)
    w = validate_weights(game.players, weights)
    meta = {"weights": dict(zip(game.players, w.tolist(), strict=True))}
    if method == "exact":
        phi = exact_weighted_shapley_from_values(game.all_values("exact weighted Shapley"), w)
        return Allocation.from_array(
            game.players,
            phi,
            method="weighted_shapley",
            exact=True,
            n_value_calls=game.n_value_calls - calls0,
            meta=meta,
        )
    phi, se, m, covariance = _sampled(game, w, budget, make_rng(seed), calls0, baseline, target_se)
    meta.update(budget=budget, orders=m, covariance=covariance, control_variate=baseline is not None)
    return Allocation.from_array(
        game.players,
        phi,
        method="weighted_shapley",
        exact=False,
        std_error=se,
        n_value_calls=game.n_value_calls - calls0,
        meta=meta,
    )


def group_std_error(allocation: Allocation, group: Sequence[str]) -> float:
    """Standard error of a group's total ``sum_{i in group} x_i`` under a sampled allocation.

    ``sqrt(1_G' C 1_G)`` with ``C = allocation.meta["covariance"]`` (the estimate's covariance, as the
    sampled weighted Shapley value carries it); 0 for an exact allocation. The members' correlations
    count (the orders' marginal contributions of a group's members are negatively correlated, so
    this is usually below the sum of their standard errors, which only bounds it).

    Raises:
        GameError: A sampled allocation without ``meta["covariance"]``.
    """
    if allocation.exact:
        return 0.0
    covariance = allocation.meta.get("covariance")
    if covariance is None:
        raise GameError(f"{allocation.method} estimate carries no covariance: the standard error of a group's "
                        "total is not available (only the sum of the members' standard errors bounds it)")
    index = {p: k for k, p in enumerate(allocation.players)}
    members = np.array([index[p] for p in group], dtype=int)
    return float(np.sqrt(max(np.asarray(covariance)[np.ix_(members, members)].sum(), 0.0)))
