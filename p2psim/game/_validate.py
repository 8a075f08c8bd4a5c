"""Input checks shared by the game library; every failure is a :class:`GameError`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from p2psim.errors import GameError

#: Absolute tolerance for ``v(empty) == 0`` and for LP feasibility checks.
VALUE_TOLERANCE = 1e-9


def validate_players(players: Sequence[str]) -> tuple[str, ...]:
    """Return ``players`` as a tuple after checking they are non-empty, unique, non-empty strings.

    Args:
        players: Player names.

    Returns:
        The names as a tuple, order kept.

    Raises:
        GameError: If the sequence is empty, a name is not a non-empty string, or a name repeats.
    """
    if isinstance(players, str):
        raise GameError("players must be a sequence of names, not a single string")
    names = tuple(players)
    if not names:
        raise GameError("a game needs at least one player")
    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise GameError(f"player names must be non-empty strings, got {name!r}")
        if name in seen:
            raise GameError(f"duplicate player name {name!r}")
        seen.add(name)
    return names


def validate_weights(
    players: Sequence[str], weights: Mapping[str, float] | Sequence[float] | np.ndarray
) -> np.ndarray:
    """Return one positive, finite weight per player as a float vector in player order.

    Args:
        players: Validated player names.
        weights: A mapping player -> weight, or a sequence aligned with ``players``.

    Returns:
        Weight vector ``w`` with ``w_i > 0``.

    Raises:
        GameError: On a missing / unknown player, wrong length, or a weight that is not a
            positive finite number (the message names the player and the value).
    """
    if isinstance(weights, Mapping):
        unknown = sorted(set(weights) - set(players))
        if unknown:
            raise GameError(f"weights given for unknown players {unknown}")
        missing = [p for p in players if p not in weights]
        if missing:
            raise GameError(f"no weight for players {missing}")
        raw = [weights[p] for p in players]
    else:
        raw = list(np.asarray(weights, dtype=object).ravel())
        if len(raw) != len(players):
            raise GameError(f"expected {len(players)} weights (one per player), got {len(raw)}")
    out = np.empty(len(players))
    for k, (player, w) in enumerate(zip(players, raw, strict=True)):
        try:
            wf = float(w)
        except (TypeError, ValueError):
            raise GameError(f"weight of player {player!r} is not a number: {w!r}") from None
        if not math.isfinite(wf) or wf <= 0.0:
            raise GameError(f"weight of player {player!r} must be positive and finite, got {w!r}")
        out[k] = wf
    return out


def validate_budget(budget: int | None, minimum: int, what: str) -> int:
    """Check a sampling budget (number of value calls).

    Args:
        budget: The requested number of characteristic-function calls.
        minimum: Smallest budget the sampler can work with.
        what: Name of the estimator, for the message.

    Returns:
        The budget as an int.

    Raises:
        GameError: If ``budget`` is missing, not an integer or below ``minimum``.
    """
    if budget is None:
        raise GameError(f"{what}: method='sampled' needs a budget (number of value calls)")
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer):
        raise GameError(f"{what}: budget must be an integer, got {budget!r}")
    if budget < minimum:
        raise GameError(f"{what}: budget {budget} is too small; need at least {minimum} calls")
    return int(budget)


def validate_method(method: str, allowed: Sequence[str], what: str) -> str:
    """Raise :class:`GameError` unless ``method`` is one of ``allowed``."""
    if method not in allowed:
        raise GameError(f"{what}: unknown method {method!r}; use one of {list(allowed)}")
    return method


def make_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Return a numpy ``Generator`` from a seed, an existing generator, or ``None`` (fresh)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)
