"""Textbook cooperative games as ``(players, value)`` pairs for tests and benchmarks.

Every constructor returns a :class:`TextbookGame` — a named pair that unpacks straight into the
solution concepts: ``shapley_value(*glove_game(["l1"], ["r1", "r2"]))``. All are savings
(gain) games with ``v(∅) = 0``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from p2psim.errors import GameError
from p2psim.game._validate import make_rng, validate_players


class TextbookGame(NamedTuple):
    """Players and characteristic function; unpack with ``*`` into any solution concept."""

    players: tuple[str, ...]
    value: Callable[[frozenset[str]], float]


def _amounts(amounts: Mapping[str, float], what: str, positive: bool = False) -> dict[str, float]:
    players = validate_players(list(amounts))
    out = {p: float(amounts[p]) for p in players}
    for p, a in out.items():
        if not np.isfinite(a) or (positive and a <= 0) or a < 0:
            raise GameError(
                f"{what} of player {p!r} must be {'positive' if positive else '>= 0'}"
                f" and finite, got {a!r}"
            )
    return out


def glove_game(left: Sequence[str], right: Sequence[str]) -> TextbookGame:
    """Glove game: ``v(S) = min(|S ∩ L|, |S ∩ R|)`` (pairs of left and right gloves).

    With ``|L| < |R|`` the core is the single point giving 1 to each left-glove owner and 0 to
    each right-glove owner (the scarce side gets everything).
    """
    players = validate_players([*left, *right])
    lefts, rights = frozenset(left), frozenset(right)
    return TextbookGame(players, lambda s: float(min(len(s & lefts), len(s & rights))))


def unanimity_game(
    players: Sequence[str], carrier: Collection[str], scale: float = 1.0
) -> TextbookGame:
    """Unanimity game ``u_T``: ``v(S) = scale`` if ``T ⊆ S`` else 0.

    Its Shapley value is ``scale / |T|`` for members of ``T`` and 0 otherwise; its weighted
    Shapley value is ``scale * w_i / w(T)`` for members.
    """
    names = validate_players(players)
    t = frozenset(carrier)
    if not t or not t <= set(names):
        raise GameError(f"carrier must be a non-empty subset of the players, got {sorted(t)}")
    return TextbookGame(names, lambda s: float(scale) if t <= s else 0.0)


def weighted_majority_game(weights: Mapping[str, float], quota: float) -> TextbookGame:
    """Weighted voting game ``[q; w]``: ``v(S) = 1`` if ``w(S) >= q`` else 0 (``q > 0``)."""
    w = _amounts(weights, "voting weight")
    if not quota > 0:
        raise GameError(f"quota must be positive, got {quota!r}")
    return TextbookGame(tuple(w), lambda s: 1.0 if sum(w[p] for p in s) >= quota else 0.0)


def airport_game(runway_cost: Mapping[str, float]) -> TextbookGame:
    """Airport game as savings: ``v(S) = sum_{i in S} c_i - max_{i in S} c_i``.

    The cost game ``c(S) = max_{i in S} c_i`` (a runway long enough for the largest plane) is
    turned into the savings of sharing one runway instead of building one each. The Shapley
    value of the cost game is the Littlewood–Owen sequential split of the cost increments.
    """
    c = _amounts(runway_cost, "runway cost")
    return TextbookGame(
        tuple(c), lambda s: sum(c[p] for p in s) - max(c[p] for p in s) if s else 0.0
    )


def bankruptcy_game(claims: Mapping[str, float], estate: float) -> TextbookGame:
    """Bankruptcy game ``v(S) = max(0, E - d(N ∖ S))`` (Aumann & Maschler 1985).

    Its nucleolus is the Talmud rule, e.g. claims (100, 200, 300): ``E = 100 -> (33⅓, 33⅓,
    33⅓)``, ``E = 200 -> (50, 75, 75)``, ``E = 300 -> (50, 100, 150)``. Requires
    ``0 <= E <= d(N)``.
    """
    d = _amounts(claims, "claim")
    total = sum(d.values())
    if not 0 <= estate <= total:
        raise GameError(f"estate must lie in [0, {total}], got {estate!r}")
    return TextbookGame(tuple(d), lambda s: max(0.0, estate - (total - sum(d[p] for p in s))))


def additive_game(amounts: Mapping[str, float]) -> TextbookGame:
    """Additive (inessential) game ``v(S) = sum_{i in S} a_i``; every solution gives ``a``."""
    a = {p: float(x) for p, x in amounts.items()}
    players = validate_players(list(a))
    return TextbookGame(players, lambda s: float(sum(a[p] for p in s)))


class DividendValue:
    """Characteristic function ``v(S) = sum_{T ⊆ S} d(T)``; ``dividends`` keeps the ``d(T)``."""

    def __init__(self, dividends: Mapping[frozenset[str], float]) -> None:
        self.dividends = {frozenset(t): float(d) for t, d in dividends.items() if t}

    def __call__(self, s: frozenset[str]) -> float:
        """Return ``v(S)``."""
        return float(sum(d for t, d in self.dividends.items() if t <= s))


def dividend_game(
    players: Sequence[str], dividends: Mapping[frozenset[str], float]
) -> TextbookGame:
    """Game from Harsanyi dividends: ``v(S) = sum_{T ⊆ S} d(T)`` (a sum of unanimity games)."""
    names = validate_players(players)
    value = DividendValue(dividends)
    for t in value.dividends:
        if not t <= set(names):
            raise GameError(f"dividend coalition {sorted(t)} has unknown players")
    return TextbookGame(names, value)


def _names(players: Sequence[str] | int) -> tuple[str, ...]:
    if isinstance(players, int) and not isinstance(players, bool):
        if players < 1:
            raise GameError(f"a game needs at least one player, got n={players}")
        return tuple(f"p{k}" for k in range(players))
    return validate_players(players)


def _table_value(table: dict[frozenset[str], float]) -> Callable[[frozenset[str]], float]:
    def value(s: frozenset[str]) -> float:
        return table[frozenset(s)]

    return value


def random_convex_game(
    players: Sequence[str] | int,
    seed: int | np.random.Generator | None = None,
    n_terms: int = 12,
    max_size: int = 3,
) -> TextbookGame:
    """Random convex (supermodular) game: non-negative dividends on random small coalitions.

    ``v = sum_T d(T) u_T`` with ``d(T) ~ U(0, 1)`` on ``n_terms`` random coalitions of at most
    ``max_size`` players: every unanimity game with a non-negative weight is convex, and so is
    their sum; so the core is non-empty and contains the Shapley value (Shapley 1971).

    Args:
        players: Player names, or a number ``n`` of players named ``p0 .. p{n-1}``.
        seed: Seed or generator.
        n_terms: Number of random dividend coalitions.
        max_size: Largest dividend coalition.

    Returns:
        The game; ``game.value.dividends`` holds the dividends (for closed-form checks).
    """
    names, rng = _names(players), make_rng(seed)
    n = len(names)
    dividends: dict[frozenset[str], float] = {}
    for _ in range(n_terms):
        size = int(rng.integers(1, min(max_size, n) + 1))
        t = frozenset(names[k] for k in rng.choice(n, size=size, replace=False))
        dividends[t] = dividends.get(t, 0.0) + float(rng.random())
    return TextbookGame(names, DividendValue(dividends))


def random_table_game(
    players: Sequence[str] | int,
    seed: int | np.random.Generator | None = None,
    synergy: float = 1.0,
) -> TextbookGame:
    """Random savings game with a value table: ``v(S) = synergy * u_S * (|S| - 1)`` for ``|S|>1``.

    ``u_S ~ U(0, 1)`` independently per coalition and ``v`` of singletons is 0; the core is
    usually empty. For tests of the core algorithms on unstructured games (small ``n`` only).

    Args:
        players: Player names, or a number of players.
        seed: Seed or generator.
        synergy: Scale of the values.
    """
    names, rng = _names(players), make_rng(seed)
    table: dict[frozenset[str], float] = {}
    for k in range(1 << len(names)):
        s = frozenset(p for j, p in enumerate(names) if k >> j & 1)
        table[s] = synergy * float(rng.random()) * (len(s) - 1) if len(s) > 1 else 0.0
    return TextbookGame(names, _table_value(table))


def random_game_with_core(
    players: Sequence[str] | int, seed: int | np.random.Generator | None = None
) -> TextbookGame:
    """Random, generally non-convex game with a non-empty core.

    Draws ``y_i ~ U(0, 1)`` and sets ``v(S) = u_S y(S)`` with ``u_S ~ U(0, 1)`` for proper
    ``S`` and ``v(N) = y(N)``; then ``y`` is in the core (``y(S) >= v(S)``). Small ``n`` only.

    Args:
        players: Player names, or a number of players.
        seed: Seed or generator.
    """
    names, rng = _names(players), make_rng(seed)
    y = dict(zip(names, rng.random(len(names)).tolist(), strict=True))
    table: dict[frozenset[str], float] = {frozenset(): 0.0, frozenset(names): sum(y.values())}
    for k in range(1, (1 << len(names)) - 1):
        s = frozenset(p for j, p in enumerate(names) if k >> j & 1)
        table[s] = float(rng.random()) * sum(y[p] for p in s)
    return TextbookGame(names, _table_value(table))
