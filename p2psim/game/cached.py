"""A validated, memoised characteristic-function oracle over integer bitmasks.

A coalition ``S ⊆ N`` of the players ``N = (p_0, ..., p_{n-1})`` is the integer
``mask(S) = sum_{p_k in S} 2**k``. :class:`CachedGame` evaluates the user's
``value(frozenset[str]) -> float`` at most once per coalition, checks every answer and counts
the calls, so algorithms can report their cost in ``n_value_calls``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from p2psim.errors import GameError
from p2psim.game._validate import VALUE_TOLERANCE, validate_players

ValueFunction = Callable[[frozenset[str]], float]

#: Largest player count for which all ``2**n`` coalitions may be enumerated.
MAX_ENUMERATION_PLAYERS = 24


class CachedGame:
    """Characteristic function ``v: 2^N -> R`` of a savings game, memoised by bitmask.

    Construction checks the players and that ``|v(∅)| <= 1e-9`` (that call is counted).

    Args:
        players: Unique, non-empty player names.
        value: ``v(S)`` for a ``frozenset`` of player names; must be finite for every ``S``.

    Raises:
        GameError: On bad players, ``v(∅) != 0``, or a value call that raises / is not finite.
    """

    def __init__(self, players: Sequence[str], value: ValueFunction) -> None:
        self.players: tuple[str, ...] = validate_players(players)
        if not callable(value):
            raise GameError(f"value must be callable, got {type(value).__name__}")
        self._value = value
        self.n = len(self.players)
        self.full_mask = (1 << self.n) - 1
        self.index = {p: k for k, p in enumerate(self.players)}
        self._cache: dict[int, float] = {}
        self._calls = 0
        empty = self._evaluate(0)
        if abs(empty) > VALUE_TOLERANCE:
            raise GameError(
                f"v(empty coalition) must be 0 for a savings game, got {empty!r}; "
                "subtract it from every value"
            )
        self._cache[0] = 0.0

    @classmethod
    def wrap(cls, players: Sequence[str], value: ValueFunction | CachedGame) -> CachedGame:
        """Return ``value`` itself if it already is a :class:`CachedGame` of ``players``.

        Passing a ``CachedGame`` lets several solution concepts share one cache.

        Raises:
            GameError: If a given ``CachedGame`` has different players.
        """
        if isinstance(value, CachedGame):
            if tuple(players) != value.players:
                raise GameError("the CachedGame was built for other players (or another order)")
            return value
        return cls(players, value)

    @classmethod
    def open(
        cls, players: Sequence[str], value: ValueFunction | CachedGame
    ) -> tuple[CachedGame, int]:
        """Like :meth:`wrap`, also returning the call count to measure a computation from.

        The count is ``0`` for a new cache (so its ``v(∅)`` check is charged to the caller) and
        the current count for a shared one.
        """
        if isinstance(value, CachedGame):
            return cls.wrap(players, value), value.n_value_calls
        return cls(players, value), 0

    @property
    def n_value_calls(self) -> int:
        """Number of times the user's value function has been called."""
        return self._calls

    def members(self, mask: int) -> frozenset[str]:
        """Return the coalition (set of player names) encoded by ``mask``."""
        out = []
        m = int(mask)
        while m:
            low = m & -m
            out.append(self.players[low.bit_length() - 1])
            m ^= low
        return frozenset(out)

    def mask_of(self, coalition: Iterable[str]) -> int:
        """Return the bitmask of a coalition given by player names.

        Raises:
            GameError: If a name is not a player.
        """
        mask = 0
        for p in coalition:
            try:
                mask |= 1 << self.index[p]
            except KeyError:
                raise GameError(f"unknown player {p!r} in coalition") from None
        return mask

    def _evaluate(self, mask: int) -> float:
        members = self.members(mask)
        self._calls += 1
        try:
            raw = self._value(members)
        except Exception as exc:
            raise GameError(
                f"value function failed for coalition {sorted(members)}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        try:
            val = float(raw)
        except (TypeError, ValueError) as exc:
            raise GameError(
                f"value of coalition {sorted(members)} is not a number: {raw!r}"
            ) from exc
        if not math.isfinite(val):
            raise GameError(f"value of coalition {sorted(members)} is not finite: {val!r}")
        return val

    def value_of_mask(self, mask: int) -> float:
        """Return ``v(S)`` for the coalition with bitmask ``mask`` (cached)."""
        mask = int(mask)
        try:
            return self._cache[mask]
        except KeyError:
            val = self._evaluate(mask)
            self._cache[mask] = val
            return val

    def value(self, coalition: Iterable[str]) -> float:
        """Return ``v(S)`` for a coalition given by player names (cached)."""
        return self.value_of_mask(self.mask_of(coalition))

    __call__ = value

    def grand_value(self) -> float:
        """Return ``v(N)``."""
        return self.value_of_mask(self.full_mask)

    def known_masks(self) -> list[int]:
        """The bitmasks whose value is already known (cached), in the order they were first valued."""
        return list(self._cache)

    def is_cached(self, mask: int) -> bool:
        """Return whether ``v`` at ``mask`` is already known (a call would be free)."""
        return int(mask) in self._cache

    def all_values(self, what: str = "exact enumeration") -> np.ndarray:
        """Return ``v`` at every coalition as a vector indexed by bitmask (length ``2**n``).

        Args:
            what: Name of the caller, for the error message.

        Raises:
            GameError: If ``n`` exceeds :data:`MAX_ENUMERATION_PLAYERS`.
        """
        if self.n > MAX_ENUMERATION_PLAYERS:
            raise GameError(
                f"{what} enumerates all 2^n coalitions; n={self.n} exceeds the limit of "
                f"{MAX_ENUMERATION_PLAYERS}: use method='sampled' (or a separation oracle)"
            )
        size = 1 << self.n
        out = np.empty(size)
        for mask in range(size):
            out[mask] = self.value_of_mask(mask)
        return out
