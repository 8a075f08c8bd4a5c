"""The result type of every solution concept: an immutable player -> amount mapping.

An :class:`Allocation` ``x`` of a savings game ``(N, v)`` gives each player ``i`` an amount
``x_i`` in the game's value unit (currency per settlement period for energy-savings games).
It remembers how it was obtained: ``method`` (``"shapley"``, ``"least_core"``, ...), whether it
is ``exact`` or a Monte-Carlo estimate, the per-player standard error of an estimate, the number
of characteristic-function calls it cost and free-form ``meta`` data (e.g. the least-core
``epsilon``). Its ``repr`` never lets an estimate pass for an exact value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np


class Allocation(Mapping[str, float]):
    """An immutable allocation ``x: N -> R`` with provenance.

    Behaves as ``Mapping[str, float]`` in player order. ``total()`` is ``x(N) = sum_i x_i``.

    Attributes:
        method: Name of the solution concept and algorithm, e.g. ``"shapley"``.
        exact: ``True`` only when the amounts are the exact solution (up to floating point /
            LP tolerance); ``False`` for sampled estimates.
        std_error: Per-player standard error of an estimate (same unit as the amounts), or
            ``None`` for exact allocations.
        n_value_calls: Number of distinct characteristic-function evaluations used.
        meta: Read-only extra information (``epsilon``, ``deviation``, ``budget``, ...).
    """

    __slots__ = ("_amounts", "exact", "meta", "method", "n_value_calls", "std_error")

    def __init__(
        self,
        amounts: Mapping[str, float],
        *,
        method: str,
        exact: bool,
        std_error: Mapping[str, float] | None = None,
        n_value_calls: int = 0,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        amounts_dict = {str(k): float(v) for k, v in amounts.items()}
        if std_error is not None:
            missing = set(amounts_dict) ^ set(std_error)
            if missing:
                raise ValueError(f"std_error players differ from allocation players: {missing}")
            std_error = MappingProxyType({k: float(std_error[k]) for k in amounts_dict})
        sets = object.__setattr__
        sets(self, "_amounts", MappingProxyType(amounts_dict))
        sets(self, "method", str(method))
        sets(self, "exact", bool(exact))
        sets(self, "std_error", std_error)
        sets(self, "n_value_calls", int(n_value_calls))
        sets(self, "meta", MappingProxyType(dict(meta or {})))

    @classmethod
    def from_array(cls, players: Sequence[str], amounts: np.ndarray, **kwargs: Any) -> Allocation:
        """Build from an amount vector ordered like ``players`` (and an optional SE vector).

        Args:
            players: Player names, in the order of ``amounts``.
            amounts: One amount per player.
            **kwargs: Passed to the constructor; ``std_error`` may be an array.

        Returns:
            The allocation.
        """
        se = kwargs.pop("std_error", None)
        if se is not None and not isinstance(se, Mapping):
            se = dict(zip(players, np.asarray(se, dtype=float).tolist(), strict=True))
        values = (np.asarray(amounts, dtype=float) + 0.0).tolist()  # no -0.0
        return cls(dict(zip(players, values, strict=True)), std_error=se, **kwargs)

    def __reduce__(self) -> tuple:
        """Pickle as the constructor's arguments (worker processes receive allocations computed elsewhere)."""
        kwargs = {"method": self.method, "exact": self.exact, "n_value_calls": self.n_value_calls,
                  "std_error": None if self.std_error is None else dict(self.std_error), "meta": dict(self.meta)}
        return (_rebuild, (dict(self._amounts), kwargs))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Allocation is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Allocation is immutable")

    def __getitem__(self, player: str) -> float:
        return self._amounts[player]

    def __iter__(self) -> Iterator[str]:
        return iter(self._amounts)

    def __len__(self) -> int:
        return len(self._amounts)

    def __hash__(self) -> int:
        return hash(tuple(self._amounts.items()))

    @property
    def players(self) -> tuple[str, ...]:
        """Player names in allocation order."""
        return tuple(self._amounts)

    def total(self) -> float:
        """Return ``x(N) = sum_i x_i``."""
        return float(sum(self._amounts.values()))

    def to_array(self, players: Sequence[str] | None = None) -> np.ndarray:
        """Return the amounts as a float vector, in ``players`` order (default: own order)."""
        order = self.players if players is None else players
        return np.array([self._amounts[p] for p in order], dtype=float)

    def max_std_error(self) -> float:
        """Return the largest per-player standard error (0.0 for exact allocations)."""
        if self.std_error is None:
            return 0.0
        return float(max(self.std_error.values(), default=0.0))

    def _kind(self) -> str:
        return f"exact {self.method}" if self.exact else f"sampled estimate {self.method}"

    def _items_text(self, limit: int = 8) -> str:
        parts = []
        for k, (p, x) in enumerate(self._amounts.items()):
            if k == limit:
                parts.append(f"... {len(self) - limit} more")
                break
            if self.exact or self.std_error is None:
                parts.append(f"{p!r}: {x:.6g}")
            else:
                parts.append(f"{p!r}: {x:.6g} ± {self.std_error[p]:.2g}")
        return "{" + ", ".join(parts) + "}"

    def __repr__(self) -> str:
        extra = f", n_value_calls={self.n_value_calls}"
        if not self.exact:
            extra += f", max_std_error={self.max_std_error():.3g}"
        return f"Allocation({self._kind()}, total={self.total():.6g}{extra}, {self._items_text()})"

    __str__ = __repr__


def _rebuild(amounts: dict[str, float], kwargs: dict[str, Any]) -> Allocation:
    """An :class:`Allocation` from its pickled arguments."""
    return Allocation(amounts, **kwargs)
