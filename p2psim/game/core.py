"""Core, least core and core-excess checks of a savings game.

For an allocation ``x`` the *excess* of a coalition ``S`` is ``e(S, x) = v(S) - x(S)``: positive
means ``S`` would gain ``e`` by leaving and cooperating on its own. The *core* is
``{x : x(N) = v(N), e(S, x) <= 0 for all S}``; the *least core* is the set of efficient ``x``
minimising ``eps = max_{∅ ≠ S ⊊ N} e(S, x)``. The core is non-empty iff ``eps <= 0``.
The nucleolus lives in :mod:`p2psim.game.nucleolus`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from p2psim.errors import GameError
from p2psim.game._bits import subset_sums
from p2psim.game._lp import coalition_rows, solve_lp
from p2psim.game._validate import make_rng, validate_budget, validate_method
from p2psim.game.allocation import Allocation
from p2psim.game.cached import CachedGame, ValueFunction

#: Largest player count for exact (enumerating) core computations.
MAX_CORE_PLAYERS = 16


def core_tolerance(values: np.ndarray | float) -> float:
    """Absolute tolerance for excess / core-emptiness tests: ``1e-8 * max(1, max |v|)``."""
    return 1e-8 * max(1.0, float(np.max(np.abs(values))))


def proper_masks(n: int) -> np.ndarray:
    """Return the masks of all proper non-empty coalitions, ``1 .. 2**n - 2``."""
    return np.arange(1, (1 << n) - 1, dtype=np.uint64)


def enumerate_values(game: CachedGame, what: str) -> np.ndarray:
    """Return ``v`` at all coalitions, refusing ``n > MAX_CORE_PLAYERS``."""
    if game.n > MAX_CORE_PLAYERS:
        raise GameError(
            f"{what} enumerates all 2^n coalitions; n={game.n} exceeds {MAX_CORE_PLAYERS}"
        )
    return game.all_values(what)


def least_core_lp(n: int, masks: np.ndarray, v_masks: np.ndarray, grand: float):
    """Solve ``min eps`` s.t. ``x(S) >= v(S) - eps`` for ``masks`` and ``x(N) = v(N)``.

    Returns:
        ``(x, eps)``.
    """
    a_ub = coalition_rows(masks, n, extra_cols=1, extra_value=1.0)
    a_eq = sp.csr_matrix(np.append(np.ones(n), 0.0)[None, :])
    c = np.append(np.zeros(n), 1.0)
    res = solve_lp(
        c, a_ub, -v_masks, a_eq, np.array([grand]), [(None, None)] * (n + 1), "least core"
    )
    if res is None:  # cannot happen: eps is free
        raise GameError("least core LP is infeasible")
    return res.x[:n], float(res.x[n])


def least_core(players: Sequence[str], value: ValueFunction | CachedGame) -> Allocation:
    """Return a point of the least core and its ``epsilon``.

    Solves ``min eps`` s.t. ``x(S) >= v(S) - eps`` for every proper non-empty ``S`` and
    ``x(N) = v(N)`` over all ``2**n - 2`` coalitions (``n <= 16``). The least core may be a
    set; the LP returns one of its vertices (use :func:`~p2psim.game.nucleolus.nucleolus` for a
    canonical point).

    Args:
        players: Unique player names.
        value: Characteristic function with ``v(∅) = 0`` (or a shared :class:`CachedGame`).

    Returns:
        An :class:`Allocation` (``method="least_core"``) with ``meta["epsilon"]`` and
        ``meta["core_empty"]`` (``epsilon > tolerance``). With one player there is no proper
        coalition; by convention ``epsilon = 0``.
    """
    game, calls0 = CachedGame.open(players, value)
    values = enumerate_values(game, "least core")
    n = game.n
    if n == 1:
        x, eps = np.array([values[1]]), 0.0
    else:
        masks = proper_masks(n)
        x, eps = least_core_lp(n, masks, values[masks.astype(np.int64)], float(values[-1]))
    return Allocation.from_array(
        game.players,
        x,
        method="least_core",
        exact=True,
        n_value_calls=game.n_value_calls - calls0,
        meta={"epsilon": eps, "core_empty": eps > core_tolerance(values)},
    )


ExcessOracle = Callable[[Mapping[str, float]], tuple[frozenset[str], float, float]]
"""``x -> (S, e, upper)``: a coalition ``S`` of largest excess at the allocation ``x`` (amount per
player), its excess ``e = v(S) - x(S)`` and a proven upper bound ``upper >= max_S v(S) - x(S)``; an
exact oracle has ``upper - e`` at its solver tolerance (e.g.
:meth:`p2psim.energy_game.separation.MembershipSeparation.max_excess`, one MILP)."""

CHECK_LABELS = {"exact": "exact", "oracle": "exact (MILP oracle)", "bounds": "exact (LP-dual bounds)",
                "sampled": "sampled lower bound"}
"""What each ``max_core_excess`` method's figure is, in the words reports and tables use."""


@dataclass(frozen=True)
class CoreExcess:
    """Largest excess ``max_S v(S) - x(S)`` over proper coalitions, found by a check.

    Attributes:
        max_excess: Largest excess found (``-inf`` if nothing was checked). Positive: the
            ``worst_coalition`` would gain that much by leaving; ``<= 0``: no blocking found.
        worst_coalition: A coalition attaining ``max_excess`` (``None`` if nothing checked).
        n_violated: Number of checked coalitions with excess above the tolerance; ``None`` when the
            check does not count them (``"oracle"`` with a violated coalition: one optimisation finds
            the largest excess, not how many coalitions exceed the tolerance; without one it is 0).
        n_checked: Number of distinct proper coalitions checked (``"oracle"``: all ``2**n - 2``,
            covered by the optimality proof, not costed one by one).
        exact: ``True`` if ``max_excess`` is the true maximum over every proper coalition.
        n_value_calls: Value calls the check cost (through the game passed to it; an oracle's own
            coalition solves are not counted here).
        note: What the figure is when it is not the plain enumerated maximum.
        method: ``"exact"`` (enumeration), ``"oracle"`` (exact by the membership MILP oracle),
            ``"bounds"`` (exact by the LP-dual bound enumeration of
            :mod:`p2psim.energy_game.bounds`) or ``"sampled"`` (a lower bound).
        upper_bound: A proven upper bound on the true maximum (``max_excess`` when enumerated, the
            oracle's bound, ``inf`` when sampled).
        violated: Some coalition was found with excess above the tolerance (exact and oracle checks:
            iff one exists; sampled: ``False`` means none was found).
    """

    max_excess: float
    worst_coalition: frozenset[str] | None
    n_violated: int | None
    n_checked: int
    exact: bool
    n_value_calls: int
    note: str = ""
    method: str = "exact"
    upper_bound: float = float("inf")
    violated: bool = False

    @property
    def in_core(self) -> bool | None:
        """``True``/``False`` for exact checks; ``False`` or ``None`` (unknown) when sampled."""
        if self.violated:
            return False
        return True if self.exact else None

    @property
    def label(self) -> str:
        """``"exact"``, ``"exact (MILP oracle)"`` or ``"sampled lower bound"`` (:data:`CHECK_LABELS`)."""
        return CHECK_LABELS["exact" if self.exact and self.method == "sampled" else self.method]


def allocation_vector(players: Sequence[str], allocation: Mapping[str, float]) -> np.ndarray:
    """Return ``allocation`` as a vector in ``players`` order, checking the player sets agree."""
    extra = sorted(set(allocation) - set(players))
    missing = [p for p in players if p not in allocation]
    if extra or missing:
        raise GameError(
            f"allocation players differ from the game: missing {missing}, extra {extra}"
        )
    x = np.array([float(allocation[p]) for p in players])
    if not np.all(np.isfinite(x)):
        raise GameError("allocation amounts must be finite")
    return x


def max_core_excess(
    players: Sequence[str],
    value: ValueFunction | CachedGame,
    allocation: Mapping[str, float],
    method: str = "exact",
    budget: int | None = None,
    seed: int | np.random.Generator | None = None,
    oracle: ExcessOracle | None = None,
    *,
    known: bool = False,
) -> CoreExcess:
    """Find the coalition that gains most by leaving the allocation ``x``.

    Args:
        players: Unique player names.
        value: Characteristic function (or a shared :class:`CachedGame`).
        allocation: Amount per player (e.g. an :class:`Allocation`).
        method: ``"exact"`` checks all ``2**n - 2`` proper coalitions (``n <= 24``);
            ``"oracle"`` asks ``oracle`` for the largest excess (exact, any ``n``; the number of
            violated coalitions stays unknown); ``"bounds"`` likewise, with an oracle that proves
            it by LP-dual bounds (:class:`p2psim.energy_game.bounds.DualBoundSeparation`);
            ``"sampled"`` checks random coalitions (size uniform on ``1..n-1``, then members
            uniform) until ``budget`` value calls are spent -- the result is a lower bound.
        budget: Value calls for ``"sampled"`` (required; 0 allowed with ``known``).
        seed: Seed or generator for ``"sampled"``.
        oracle: For ``"oracle"`` and ``"bounds"`` (required): an :data:`ExcessOracle` of this game.
        known: For ``"sampled"``: also check, for free, every proper coalition whose value the
            game already holds (a shared :class:`CachedGame`: e.g. the prefixes of a sampled
            Shapley estimate's orders, or another allocation's check); still a lower bound.

    Returns:
        A :class:`CoreExcess`.
    """
    validate_method(method, ("exact", "oracle", "bounds", "sampled"), "max_core_excess")
    game, calls0 = CachedGame.open(players, value)
    x = allocation_vector(game.players, allocation)
    n = game.n
    if n == 1:
        return CoreExcess(float("-inf"), None, 0, 0, True, game.n_value_calls - calls0, method=method,
                          upper_bound=float("-inf"))
    if method == "exact":
        values = game.all_values("exact core check")
        excess = (values - subset_sums(x))[1:-1]
        k = int(np.argmax(excess))
        tol = core_tolerance(values)
        n_violated = int(np.sum(excess > tol))
        return CoreExcess(float(excess[k]), game.members(k + 1), n_violated, excess.size, True,
                          game.n_value_calls - calls0, upper_bound=float(excess[k]), violated=n_violated > 0)
    if method in ("oracle", "bounds"):
        if oracle is None:
            raise GameError(f"max_core_excess(method={method!r}) needs oracle=...: a function x -> (S, excess, "
                            "upper bound), e.g. membership_separation(game).max_excess for an energy day game")
        worst, excess, upper = oracle(dict(zip(game.players, x.tolist(), strict=True)))
        violated = float(excess) > core_tolerance(np.append(x, game.grand_value()))
        return CoreExcess(float(excess), frozenset(worst), None if violated else 0, (1 << n) - 2, True,
                          game.n_value_calls - calls0, method=method, upper_bound=float(upper), violated=violated,
                          note="exact by a separation oracle; the number of violated coalitions is not counted")
    budget = validate_budget(budget, 0 if known else 1, "sampled max_core_excess")
    rng = make_rng(seed)
    limit, checked, seen_values = calls0 + budget, {}, [0.0]
    if known:
        for mask in game.known_masks():
            if 0 < mask < (1 << n) - 1:
                seen_values.append(game.value_of_mask(mask))
                checked[mask] = seen_values[-1] - float(x[[k for k in range(n) if (mask >> k) & 1]].sum())
    for _ in range(50 * budget):
        if game.n_value_calls >= limit or len(checked) == (1 << n) - 2:
            break
        members = rng.choice(n, size=int(rng.integers(1, n)), replace=False)
        mask = sum(1 << int(k) for k in members)
        if mask not in checked:
            seen_values.append(game.value_of_mask(mask))
            checked[mask] = seen_values[-1] - float(x[members].sum())
    masks, excess = list(checked), np.array(list(checked.values()))
    k = int(np.argmax(excess))
    tol = core_tolerance(np.concatenate([x, seen_values]))
    complete = len(masks) == (1 << n) - 2
    n_violated = int(np.sum(excess > tol))
    return CoreExcess(
        float(excess[k]),
        game.members(masks[k]),
        n_violated,
        len(masks),
        complete,
        game.n_value_calls - calls0,
        note="" if complete else "sampled: max_excess is a lower bound on the true maximum",
        method="sampled",
        upper_bound=float(excess[k]) if complete else float("inf"),
        violated=n_violated > 0,
    )
