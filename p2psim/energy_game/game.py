"""The energy game of a run: coalition costs re-cleared with the EqWM day model.

For a coalition S and day d, ``c_d(S)`` is the minimum cost of S operating alone as a community:
its members' forecast loads and PV, their own batteries, flexibility and curtailment, trading only
among themselves, paying the tariffs, the P2P fee on internal purchases and the demand charge on
S's own daily peak (equal weights, cost objective, no Rawlsian term) -- the cost game of
docs/model.md section 5, on the day-ahead books the run cleared. ``c_d({i})`` is i's stand-alone cost B_i.

The savings game is ``v_d(S) = sum_{i in S} c_d({i}) - c_d(S)``; the cooperative gain of the day is
``v_d(N)``, and a run's game is the sum over days (the Shapley value is linear, so a run's Shapley
value is the sum of the days' values).

Speed: one :class:`~p2psim.markets._coalition.CoalitionSolver` per day keeps one assembled
model and switches non-members off through bounds (warm re-solve). Days are independent games, so
they fan out across processes (:func:`map_days`).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from p2psim.errors import GameError
from p2psim.markets import ClearingContext, OrderBook, SolverOptions
from p2psim.parallel import process_map
from p2psim.world.feeder import Feeder


@dataclass(frozen=True, eq=False)
class DayGameSpec:
    """What a worker needs to rebuild one day's game (picklable)."""

    day: int
    book: OrderBook
    feeder: Feeder
    solver: SolverOptions
    enforce_feeder: bool = True


class EnergyDayGame:
    """Cost and savings game of one day: ``cost(S)`` and ``value(S) = sum c({i}) - c(S)``.

    Args:
        spec: The day (book, feeder, solver options).
        aggregate: ``"auto"`` costs a coalition as one aggregate prosumer
            (:mod:`p2psim.energy_game.aggregate`) whenever that is exact for it -- zero P2P fee, import
            price >= export price, no feeder limit that could bind, aggregable batteries and
            flexibility -- and with the full model otherwise; ``"never"`` always uses the full
            model. Both give the same c(S) (up to LP tolerances).
    """

    def __init__(self, spec: DayGameSpec, *, aggregate: str = "auto") -> None:
        """Assemble the day model once; evaluate the stand-alone costs."""
        from p2psim.energy_game.aggregate import ShortcutConditions
        from p2psim.markets._coalition import CoalitionSolver

        if aggregate not in ("auto", "never"):
            raise GameError(f"aggregate={aggregate!r} is not known; use 'auto' or 'never'")
        self.spec = spec
        self.aggregate = aggregate
        self.players: tuple[str, ...] = spec.book.participant_ids
        self.index = {p: k for k, p in enumerate(self.players)}
        self.context = ClearingContext(
            feeder=spec.feeder,
            rng=np.random.default_rng(0),
            day=spec.day,
            solver=spec.solver,
            enforce_feeder=spec.enforce_feeder,
        )
        self.solver = CoalitionSolver(spec.book, self.context)
        n = len(self.players)
        self._bit_shift = np.arange(n, dtype=np.int64) if n < 63 else None
        self._shortcut = None
        if aggregate == "auto":
            conditions = ShortcutConditions(spec.book, self.context)
            self._shortcut = None if conditions.day_reasons else conditions
        self._aggregate_solver = None
        self.n_aggregate = 0
        """Coalitions costed by the aggregate-prosumer shortcut in this process."""
        self._token = uuid.uuid4().hex
        self._cost: dict[int, float] = {0: 0.0}
        self.standalone_cost = np.array([self.cost_of_mask(1 << k) for k in range(n)])

    def mask_of(self, coalition: Iterable[str]) -> int:
        """Bitmask of a coalition (bit k = player k)."""
        mask = 0
        for player in coalition:
            if player not in self.index:
                raise GameError(f"{player!r} is not a participant of day {self.spec.day}; players: {self.players}")
            mask |= 1 << self.index[player]
        return mask

    def members_of_mask(self, mask: int) -> np.ndarray:
        """Boolean membership vector of a bitmask."""
        if self._bit_shift is not None:
            return ((np.int64(mask) >> self._bit_shift) & 1).astype(bool)
        return np.array([(mask >> k) & 1 for k in range(len(self.players))], dtype=bool)

    def uses_aggregate(self, mask: int) -> bool:
        """Whether c(S) of ``mask`` is computed with the aggregate-prosumer shortcut (exact there)."""
        return self._shortcut is not None and mask != 0 and self._shortcut.exact(self.members_of_mask(mask))

    def _solve(self, mask: int) -> float:
        members = self.members_of_mask(mask)
        if self._shortcut is not None and self._shortcut.exact(members):
            if self._aggregate_solver is None:
                from p2psim.energy_game.aggregate import AggregateSolver

                self._aggregate_solver = AggregateSolver(self.spec.book, self.context)
            self.n_aggregate += 1
            return self._aggregate_solver.cost(members)
        return float(self.solver.cost(members))

    def cost_of_mask(self, mask: int) -> float:
        """Coalition cost c(S) for a bitmask (cached)."""
        mask = int(mask)
        try:
            return self._cost[mask]
        except KeyError:
            value = self._cost[mask] = self._solve(mask)
            return value

    def cost_and_cut(self, mask: int) -> tuple[float, tuple[float, np.ndarray] | None]:
        """c(S) (cached) and an affine lower bound ``c(T) >= alpha + slope @ z_T`` on every coalition T.

        The bound comes from the duals of S's LP in the full model
        (:meth:`~p2psim.markets._coalition.CoalitionSolver.cut`; one warm re-solve), tight at S;
        ``None`` when S is infeasible or the duals give no valid bound.
        """
        mask = int(mask)
        cost, cut = self.solver.cut(self.members_of_mask(mask))
        if mask not in self._cost:
            self._cost[mask] = self._solve(mask) if self.uses_aggregate(mask) else float(cost)
        return self._cost[mask], cut

    def costs_of_masks(self, masks: Iterable[int], *, workers: int = 1) -> np.ndarray:
        """c(S) for many bitmasks at once (cached), fanned out over ``workers`` processes.

        Coalitions not yet known are solved in Gray-code order (sorted by Gray rank, so consecutive
        coalitions differ in few members and each LP re-solve starts from a nearby basis). With
        ``workers > 1`` and enough work, the ordered list is cut into contiguous chunks solved by
        worker processes, each with its own assembled model.
        """
        masks = [int(m) for m in masks]
        todo = sorted({m for m in masks if m not in self._cost}, key=gray_rank)
        if workers > 1 and len(todo) >= MIN_FANOUT_COALITIONS:
            for chunk, costs in zip(*self._fan_out(todo, workers), strict=True):
                self._cost.update(zip(chunk, costs.tolist(), strict=True))
        else:
            for m in todo:
                self._cost[m] = self._solve(m)
        return np.array([self._cost[m] for m in masks])

    def _fan_out(self, todo: list[int], workers: int) -> tuple[list[list[int]], list[np.ndarray]]:
        n_chunks = min(len(todo), CHUNKS_PER_WORKER * workers)
        bounds = np.linspace(0, len(todo), n_chunks + 1).astype(int)
        chunks = [todo[a:b] for a, b in itertools.pairwise(bounds) if b > a]
        jobs = [(self._token, self.spec, self.aggregate, chunk) for chunk in chunks]
        results = process_map(_cost_chunk, jobs, workers)
        self.n_aggregate += sum(r[1] for r in results)
        return chunks, [r[0] for r in results]

    def all_costs(self, *, workers: int = 1) -> np.ndarray:
        """c(S) for all ``2**n`` coalitions, indexed by bitmask (Gray-code order, fanned out)."""
        n = len(self.players)
        if n > MAX_ENUMERATION_PLAYERS:
            raise GameError(f"enumerating 2^{n} coalitions is out of reach; the limit is {MAX_ENUMERATION_PLAYERS}")
        return self.costs_of_masks(range(1 << n), workers=workers)

    def all_values(self, *, workers: int = 1) -> np.ndarray:
        """Savings v(S) for all ``2**n`` coalitions, indexed by bitmask (``v[0] = 0``)."""
        from p2psim.game._bits import subset_sums

        values = subset_sums(self.standalone_cost) - self.all_costs(workers=workers)
        values[0] = 0.0
        return values

    def cost(self, coalition: Iterable[str]) -> float:
        """Coalition cost c(S) (currency per day)."""
        return self.cost_of_mask(self.mask_of(coalition))

    def value_of_mask(self, mask: int) -> float:
        """Savings v(S) for a bitmask."""
        mask = int(mask)
        if not mask:
            return 0.0
        return float(self.standalone_cost[self.members_of_mask(mask)].sum() - self.cost_of_mask(mask))

    def value(self, coalition: frozenset[str]) -> float:
        """Savings v(S) = sum of members' stand-alone costs - c(S)."""
        return self.value_of_mask(self.mask_of(coalition))

    def remember(self, costs: dict[int, float]) -> None:
        """Take coalition costs computed for the same spec elsewhere (bitmask -> cost) into the cache."""
        self._cost.update({int(mask): float(cost) for mask, cost in costs.items()})

    @property
    def cached_costs(self) -> dict[int, float]:
        """Every coalition cost computed so far, by bitmask, in the order solved (do not modify)."""
        return self._cost

    @property
    def n_solves(self) -> int:
        """Distinct coalitions solved so far (including the stand-alone ones)."""
        return len(self._cost) - 1


MAX_ENUMERATION_PLAYERS = 24
MIN_FANOUT_COALITIONS = 1024
"""Below this many coalitions, process start-up costs more than the second core saves."""
CHUNKS_PER_WORKER = 4
"""Chunks per worker (load balance against other work on the machine)."""


def gray_rank(mask: int) -> int:
    """Position of ``mask`` in the binary-reflected Gray sequence (inverse of ``i ^ (i >> 1)``)."""
    rank, shift = mask, mask >> 1
    while shift:
        rank ^= shift
        shift >>= 1
    return rank


_WORKER_GAME: dict[str, EnergyDayGame] = {}


def _cost_chunk(job: tuple[str, DayGameSpec, str, list[int]]) -> tuple[np.ndarray, int]:
    """Worker: c(S) of a chunk of coalitions in the given (Gray) order, with this process's model."""
    token, spec, aggregate, chunk = job
    game = _WORKER_GAME.get(token)
    if game is None:
        _WORKER_GAME.clear()
        game = _WORKER_GAME[token] = EnergyDayGame(spec, aggregate=aggregate)
    before = game.n_aggregate
    costs = np.array([game._solve(m) for m in chunk])
    return costs, game.n_aggregate - before


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


def grand_coalition_value(spec: DayGameSpec) -> float:
    """v_d(N) of one day, rebuilt from its spec (importable, so :func:`map_days` can run it anywhere)."""
    game = EnergyDayGame(spec)
    return game.value_of_mask((1 << len(game.players)) - 1)


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
    done: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """Apply ``func`` to every day, serially, across local processes, or on a Ray cluster.

    The one fan-out backend of :func:`p2psim.parallel.fan_out`: ``func`` must be importable (defined
    at module level) so workers do not rebuild it per task; results come back in day order whatever
    the backend, and ``done(index, result)`` is called as each day finishes.
    """
    from p2psim.parallel import fan_out

    return fan_out(func, specs, backend=backend, workers=workers, address=address, done=done)
