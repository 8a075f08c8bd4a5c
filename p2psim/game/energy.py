"""The energy game of a run: coalition costs re-cleared with the EqWM day model.

For a coalition S and day d, ``c_d(S)`` is the minimum cost of S operating alone as a community:
its members' forecast loads and PV, their own batteries, flexibility and curtailment, trading only
among themselves, paying the tariffs, the P2P fee on internal purchases and the demand charge on
S's own daily peak (equal weights, cost objective, no Rawlsian term) -- the cost game of model.md
section 4, on the day-ahead books the run cleared. ``c_d({i})`` is i's stand-alone cost B_i.

The savings game is ``v_d(S) = sum_{i in S} c_d({i}) - c_d(S)``; the cooperative gain of the day is
``v_d(N)``, and a run's game is the sum over days (the Shapley value is linear, so a run's Shapley
value is the sum of the days' values).

Speed: one :class:`~p2psim.markets._community_lp.CoalitionSolver` per day keeps one assembled
model and switches non-members off through bounds (warm re-solve). Days are independent games, so
they fan out across processes (:func:`map_days`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from p2psim.errors import GameError
from p2psim.feeder import Feeder
from p2psim.markets import ClearingContext, OrderBook, SolverOptions


@dataclass(frozen=True, eq=False)
class DayGameSpec:
    """What a worker needs to rebuild one day's game (picklable)."""

    day: int
    book: OrderBook
    feeder: Feeder
    solver: SolverOptions
    enforce_feeder: bool = True


class EnergyDayGame:
    """Cost and savings game of one day: ``cost(S)`` and ``value(S) = sum c({i}) - c(S)``."""

    def __init__(self, spec: DayGameSpec) -> None:
        """Assemble the day model once; evaluate the stand-alone costs."""
        from p2psim.markets._coalition import CoalitionSolver

        self.spec = spec
        self.players: tuple[str, ...] = spec.book.participant_ids
        self.index = {p: k for k, p in enumerate(self.players)}
        context = ClearingContext(
            feeder=spec.feeder,
            rng=np.random.default_rng(0),
            day=spec.day,
            solver=spec.solver,
            enforce_feeder=spec.enforce_feeder,
        )
        self.solver = CoalitionSolver(spec.book, context)
        self._cost: dict[int, float] = {0: 0.0}
        n = len(self.players)
        self.standalone_cost = np.array([self.cost_of_mask(1 << k) for k in range(n)])

    def mask_of(self, coalition: Iterable[str]) -> int:
        """Bitmask of a coalition (bit k = player k)."""
        mask = 0
        for player in coalition:
            if player not in self.index:
                raise GameError(f"{player!r} is not a participant of day {self.spec.day}; players: {self.players}")
            mask |= 1 << self.index[player]
        return mask

    def cost_of_mask(self, mask: int) -> float:
        """Coalition cost c(S) for a bitmask (cached)."""
        if mask not in self._cost:
            members = np.array([(mask >> k) & 1 for k in range(len(self.players))], dtype=bool)
            self._cost[mask] = float(self.solver.cost(members))
        return self._cost[mask]

    def cost(self, coalition: Iterable[str]) -> float:
        """Coalition cost c(S) (currency per day)."""
        return self.cost_of_mask(self.mask_of(coalition))

    def value(self, coalition: frozenset[str]) -> float:
        """Savings v(S) = sum of members' stand-alone costs - c(S)."""
        mask = self.mask_of(coalition)
        members = [k for k in range(len(self.players)) if (mask >> k) & 1]
        return float(self.standalone_cost[members].sum() - self.cost_of_mask(mask)) if members else 0.0

    @property
    def n_solves(self) -> int:
        """Distinct coalitions solved so far (including the stand-alone ones)."""
        return len(self._cost) - 1


def day_specs(result) -> list[DayGameSpec]:
    """One game spec per simulated day of a run (its day-ahead books)."""
    return [
        DayGameSpec(
            day=r["day"],
            book=r["book"].with_weights({}),
            feeder=result.scenario.feeder,
            solver=result.study.solver,
            enforce_feeder=result.study.enforce_feeder,
        )
        for r in result.day_results
    ]


def coalition_cost(result, coalition: Sequence[str]) -> float:
    """Cost of ``coalition`` operating alone over all days of the run ``result`` (currency)."""
    return float(sum(EnergyDayGame(spec).cost(coalition) for spec in day_specs(result)))


def map_days(
    func: Callable[[DayGameSpec], Any],
    specs: list[DayGameSpec],
    *,
    workers: int = 1,
    backend: str = "local",
    address: str | None = None,
) -> list[Any]:
    """Apply ``func`` to every day, serially, across local processes, or on a Ray cluster.

    ``func`` must be importable (defined at module level) so workers do not rebuild it per task.
    Results come back in day order whatever the backend.
    """
    if backend == "ray":
        from p2psim.parallel import ray_map

        return ray_map(func, specs, workers=workers, address=address)
    if backend != "local":
        raise GameError(f"backend={backend!r} is not known; use 'local' or 'ray'")
    if workers <= 1 or len(specs) <= 1:
        return [func(spec) for spec in specs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
        return list(pool.map(func, specs))
