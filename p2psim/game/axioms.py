"""Axiom checks of an allocation, as pure functions returning numbers or booleans.

:func:`check_axioms` bundles them into one dict for tables and benchmarks.

All ``*_violation`` functions return a non-negative number in the game's value unit (0 means
the axiom holds exactly); the ``is_*`` / ``in_core`` predicates compare it with a tolerance of
``tol * max(1, |v(N)|)``. Symmetry and null-player checks enumerate all coalitions (exact, small
``n``); individual rationality costs ``n`` value calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from p2psim.game._bits import with_player, without_player
from p2psim.game.cached import CachedGame, ValueFunction
from p2psim.game.core import MAX_CORE_PLAYERS, allocation_vector, max_core_excess

DEFAULT_TOLERANCE = 1e-6


def _scale(tol: float, grand: float) -> float:
    return tol * max(1.0, abs(grand))


def efficiency_gap(allocation: Mapping[str, float], grand_value: float) -> float:
    """Return ``x(N) - v(N)`` (0 for an efficient allocation)."""
    return float(sum(allocation.values())) - float(grand_value)


def is_efficient(
    allocation: Mapping[str, float], grand_value: float, tol: float = DEFAULT_TOLERANCE
) -> bool:
    """Return whether ``|x(N) - v(N)| <= tol * max(1, |v(N)|)``."""
    return abs(efficiency_gap(allocation, grand_value)) <= _scale(tol, grand_value)


def _contributions(game: CachedGame) -> tuple[np.ndarray, list[np.ndarray]]:
    values = game.all_values("axiom check")
    return values, [with_player(values, k) - without_player(values, k) for k in range(game.n)]


def null_players(
    players: Sequence[str], value: ValueFunction | CachedGame, tol: float = 1e-12
) -> list[str]:
    """Return the null players: ``v(S ∪ {i}) = v(S)`` for every ``S`` (within ``tol``)."""
    game = CachedGame.wrap(players, value)
    _, gains = _contributions(game)
    return [p for p, g in zip(game.players, gains, strict=True) if np.all(np.abs(g) <= tol)]


def symmetric_pairs(
    players: Sequence[str], value: ValueFunction | CachedGame, tol: float = 1e-12
) -> list[tuple[str, str]]:
    """Return pairs ``(i, j)`` with ``v(S ∪ {i}) = v(S ∪ {j})`` for all ``S ⊆ N ∖ {i, j}``."""
    game = CachedGame.wrap(players, value)
    values = game.all_values("axiom check")
    masks = np.arange(values.size)
    out = []
    for i in range(game.n):
        for j in range(i + 1, game.n):
            rest = masks[(masks >> i & 1 == 0) & (masks >> j & 1 == 0)]
            if np.all(np.abs(values[rest | 1 << i] - values[rest | 1 << j]) <= tol):
                out.append((game.players[i], game.players[j]))
    return out


def symmetry_violation(
    players: Sequence[str], value: ValueFunction | CachedGame, allocation: Mapping[str, float]
) -> float:
    """Return ``max |x_i - x_j|`` over symmetric pairs (0 if there are none)."""
    pairs = symmetric_pairs(players, value)
    return max((abs(allocation[i] - allocation[j]) for i, j in pairs), default=0.0)


def null_player_violation(
    players: Sequence[str], value: ValueFunction | CachedGame, allocation: Mapping[str, float]
) -> float:
    """Return ``max |x_i|`` over null players (0 if there are none)."""
    return max((abs(allocation[p]) for p in null_players(players, value)), default=0.0)


def individual_rationality_violation(
    players: Sequence[str], value: ValueFunction | CachedGame, allocation: Mapping[str, float]
) -> float:
    """Return ``max(0, max_i v({i}) - x_i)``: the largest shortfall against standing alone."""
    game = CachedGame.wrap(players, value)
    x = allocation_vector(game.players, allocation)
    alone = np.array([game.value_of_mask(1 << k) for k in range(game.n)])
    return float(max(0.0, np.max(alone - x)))


def is_individually_rational(
    players: Sequence[str],
    value: ValueFunction | CachedGame,
    allocation: Mapping[str, float],
    tol: float = DEFAULT_TOLERANCE,
) -> bool:
    """Return whether every player gets at least its stand-alone value ``v({i})``."""
    game = CachedGame.wrap(players, value)
    gap = individual_rationality_violation(game.players, game, allocation)
    return gap <= _scale(tol, game.grand_value())


def core_violation(
    players: Sequence[str], value: ValueFunction | CachedGame, allocation: Mapping[str, float]
) -> float:
    """Return ``max(0, max_S v(S) - x(S))`` over proper coalitions (exact enumeration)."""
    game = CachedGame.wrap(players, value)
    return max(0.0, max_core_excess(game.players, game, allocation).max_excess)


def in_core(
    players: Sequence[str],
    value: ValueFunction | CachedGame,
    allocation: Mapping[str, float],
    tol: float = DEFAULT_TOLERANCE,
) -> bool:
    """Return whether ``x`` is efficient and no coalition gains more than the tolerance."""
    game = CachedGame.wrap(players, value)
    grand = game.grand_value()
    return is_efficient(allocation, grand, tol) and core_violation(
        game.players, game, allocation
    ) <= _scale(tol, grand)


def relative_errors(
    estimate: Mapping[str, float], reference: Mapping[str, float]
) -> dict[str, float]:
    """Return ``|x_i - r_i| / |r_i|`` per player (``inf`` where ``r_i = 0 != x_i``)."""
    out = {}
    for p, r in reference.items():
        err = abs(estimate[p] - r)
        out[p] = err / abs(r) if r != 0 else (0.0 if err == 0 else float("inf"))
    return out


def max_relative_error(estimate: Mapping[str, float], reference: Mapping[str, float]) -> float:
    """Return ``max_i |x_i - r_i| / |r_i|``."""
    return max(relative_errors(estimate, reference).values())


def check_axioms(
    players: Sequence[str],
    value: ValueFunction | CachedGame,
    allocation: Mapping[str, float],
    tol: float = DEFAULT_TOLERANCE,
) -> dict[str, bool | None]:
    """Check the classic axioms for one allocation of a game.

    Args:
        players: Unique player names.
        value: Characteristic function (or a shared :class:`CachedGame`).
        allocation: Amount per player.
        tol: Relative tolerance (times ``max(1, |v(N)|)``).

    Returns:
        ``{"efficiency", "symmetry", "null_player", "individual_rationality", "core"}`` ->
        ``True``/``False``, or ``None`` when the axiom does not apply (no symmetric pair, no
        null player) or cannot be checked exactly (``symmetry``, ``null_player`` and ``core``
        enumerate all coalitions: ``None`` for more than 16 players).
    """
    game = CachedGame.wrap(players, value)
    grand = game.grand_value()
    limit = _scale(tol, grand)
    out: dict[str, bool | None] = {
        "efficiency": is_efficient(allocation, grand, tol),
        "individual_rationality": is_individually_rational(game.players, game, allocation, tol),
        "symmetry": None,
        "null_player": None,
        "core": None,
    }
    if game.n <= MAX_CORE_PLAYERS:
        pairs = symmetric_pairs(game.players, game)
        if pairs:
            out["symmetry"] = all(abs(allocation[i] - allocation[j]) <= limit for i, j in pairs)
        nulls = null_players(game.players, game)
        if nulls:
            out["null_player"] = all(abs(allocation[p]) <= limit for p in nulls)
        out["core"] = in_core(game.players, game, allocation, tol)
    return out
