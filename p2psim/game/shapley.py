"""The Shapley value of a savings game, exact (enumeration) or sampled (with standard errors).

For a game ``(N, v)`` with ``n = |N|`` players the Shapley value is

    phi_i = sum_{S ⊆ N ∖ {i}} |S|! (n - |S| - 1)! / n! * (v(S ∪ {i}) - v(S)).

It is the unique allocation that is efficient (``sum_i phi_i = v(N)``), symmetric, gives null
players zero and is additive in ``v``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from p2psim.errors import GameError
from p2psim.game._validate import make_rng, validate_method
from p2psim.game.allocation import Allocation
from p2psim.game.cached import CachedGame, ValueFunction
from p2psim.game.shapley_exact import exact_shapley_from_values
from p2psim.game.shapley_sampling import antithetic_shapley, stratified_shapley

_SAMPLERS = {"stratified": stratified_shapley, "antithetic": antithetic_shapley}


def shapley_value(
    players: Sequence[str],
    value: ValueFunction | CachedGame,
    method: str = "exact",
    budget: int | None = None,
    seed: int | np.random.Generator | None = None,
    *,
    sampler: str = "stratified",
    baseline: np.ndarray | None = None,
    target_se: float | None = None,
) -> Allocation:
    """Return the Shapley value ``phi`` of the savings game ``(players, value)``.

    Args:
        players: Unique player names.
        value: Characteristic function ``v(frozenset) -> float`` with ``v(∅) = 0`` (or a
            :class:`CachedGame` to share its cache).
        method: ``"exact"`` enumerates all ``2**n`` coalitions once (``n <= 24``);
            ``"sampled"`` returns an unbiased Monte-Carlo estimate with standard errors.
        budget: For ``"sampled"``: the maximum number of value calls (required).
        seed: Seed or ``numpy.random.Generator`` for ``"sampled"``.
        sampler: ``"stratified"`` (position-stratified, Neyman-allocated chains; default) or
            ``"antithetic"`` (random orders paired with their reverses). See
            :mod:`p2psim.game.shapley_sampling`.
        baseline: ``"antithetic"`` only: a control-variate game's values at all ``2**n``
            coalitions; ``phi(b)`` is exact and only ``phi(v - b)`` is sampled.
        target_se: ``"antithetic"`` only: stop once every standard error is at most this.

    Returns:
        An :class:`Allocation` with ``method="shapley"``; for ``"sampled"`` ``exact=False``
        and ``std_error`` holds the per-player standard errors.

    Raises:
        GameError: On bad players / values, an unknown method, or a missing or too small budget.
    """
    validate_method(method, ("exact", "sampled"), "shapley_value")
    game, calls0 = CachedGame.open(players, value)
    if method == "exact":
        phi = exact_shapley_from_values(game.all_values("exact Shapley"))
        return Allocation.from_array(
            game.players,
            phi,
            method="shapley",
            exact=True,
            n_value_calls=game.n_value_calls - calls0,
        )
    validate_method(sampler, tuple(_SAMPLERS), "shapley_value sampler")
    extra = {k: v for k, v in (("baseline", baseline), ("target_se", target_se)) if v is not None}
    if extra and sampler != "antithetic":
        raise GameError(f"{' and '.join(extra)} need sampler='antithetic' (the {sampler} sampler has its own "
                        "control variates and budget allocation)")
    phi, se, meta = _SAMPLERS[sampler](game, budget, make_rng(seed), calls0, **extra)
    meta = {"sampler": sampler, "budget": budget, **meta}
    return Allocation.from_array(
        game.players,
        phi,
        method="shapley",
        exact=False,
        std_error=se,
        n_value_calls=game.n_value_calls - calls0,
        meta=meta,
    )
