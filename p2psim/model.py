"""CommunityModel(mesa.Model): participants on feeder buses, cleared day by day.

Mesa holds the agents and their state (device energies, schedules); the SimPy
:class:`~p2psim.clock.DayAheadClock` holds time and calls, in order, :meth:`gate` (forecasts and
bids -> order book with the day's devices -> market clearing -> physics check -> ledger),
:meth:`deliver` (actuals per interval: imbalance, device energies, energy and money balance checks)
and :meth:`settle` (bills, the stand-alone counterfactual, what members pay under the study's
settlement rule, device rows, day hooks such as the equity coordinator). Devices are declared by the
participants once (``Participant.devices()``) and checked before the run
(:class:`~p2psim.fleet.DeviceFleet`); their energies and the obligations crossing midnight carry over
from day to day. Randomness comes from one seed: the run's
``numpy.random.SeedSequence`` is spawned into independent streams for forecasts and the market.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mesa
import numpy as np

from p2psim.agents import PARTICIPANT_TYPES, Participant
from p2psim.clock import DayAheadClock
from p2psim.errors import ScenarioError
from p2psim.fleet import DeviceFleet
from p2psim.gate import check_clearing, collect_bids, device_rows, device_use, tariff_prices, tell_members
from p2psim.ledger import Ledger
from p2psim.markets import ClearingContext, EquityOptions, Market, OrderBook, SolverOptions, make_market
from p2psim.markets.base import Clearing
from p2psim.scenario import Scenario
from p2psim.settlement import (
    FLOW_FIELDS,
    Prices,
    check_energy_balance,
    check_money_balance,
    day_bills,
    delivered_grid_import_kw,
    interval_costs,
    need_costs,
)

DayHook = Callable[["CommunityModel", int, dict[str, Any]], None]


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """How the model clears and settles (from the study)."""

    forecast_error: float = 0.05
    equity: EquityOptions = field(default_factory=EquityOptions)
    solver: SolverOptions = field(default_factory=SolverOptions)
    enforce_feeder: bool = True
    market_options: dict[str, Any] = field(default_factory=dict)
    counterfactual_market: str = "grid_only_v1"
    """Rule whose settled bills are each participant's stand-alone outside option B_i."""
    check_invariants: bool = True
    record: bool = True
    """Write dispatch, trades and bills to the ledger (solver records always). The RL environment turns
    it off: its steps read the settled day from the day hook, never the ledger."""
    settlement_rule: str = "market"
    """What members pay: ``market`` (their market bills) or an allocation rule (:mod:`p2psim.settlement_rule`)."""
    allocation: Any = None
    """:class:`p2psim.allocate.AllocationOptions` of the rule's allocation (None: the defaults with the run's seed)."""


class CommunityModel(mesa.Model):
    """The co-simulation of one community under one market rule."""

    def __init__(
        self,
        scenario: Scenario,
        market: Market,
        *,
        seed: int,
        options: RunOptions | None = None,
        day_hooks: tuple[DayHook, ...] = (),
    ) -> None:
        """Create agents on their buses and the clock; nothing runs until :meth:`run`."""
        streams = np.random.SeedSequence(seed).spawn(3)
        super().__init__(rng=np.random.default_rng(streams[0]))
        self.scenario = scenario
        self.market = market
        self.options = options or RunOptions()
        self.forecast_error = self.options.forecast_error
        self.forecast_rng = np.random.default_rng(streams[1])
        self.market_rng = np.random.default_rng(streams[2])
        self.counterfactual = make_market(self.options.counterfactual_market)
        self.class_weights = dict(scenario.class_weights)
        self.day_hooks = list(day_hooks)
        unknown = [p for p in scenario.participants if p.kind not in PARTICIPANT_TYPES]
        if unknown:
            raise ScenarioError(
                [
                    f"participant {p.id!r} has kind {p.kind!r}; known kinds: {sorted(PARTICIPANT_TYPES)} "
                    "(register new ones with p2psim.agents.register_participant)"
                    for p in unknown
                ]
            )
        self.members: list[Participant] = [PARTICIPANT_TYPES[p.kind](self, p) for p in scenario.participants]
        self.ids = scenario.ids
        from p2psim.markets.hooks import as_hooks

        self.constraints = as_hooks(self.options.market_options.get("extra_constraints"))
        self.fleet = DeviceFleet(self.ids, [member.devices() for member in self.members], scenario.horizon,
                                 scenario.interval_minutes)
        if self.fleet.problems():
            raise ScenarioError(self.fleet.problems())
        self.device_energy_kwh = self.fleet.storage.initial_kwh.astype(float).copy()
        """Energy of every storage-like device now (the fleet's order)."""
        self.task_drawn_kwh = np.zeros(len(self.fleet.tasks.owner))
        """Energy every shiftable-load window has drawn so far."""
        self.bus_index = np.array([scenario.feeder.bus_index[p.bus] for p in scenario.participants])
        self.ledger = Ledger(self.ids, scenario.intervals_per_day, scenario.interval_minutes, scenario.start)
        self.clock = DayAheadClock(
            scenario.days, scenario.intervals_per_day, scenario.interval_hours, self.gate, self.deliver, self.settle
        )
        self.day_results: list[dict[str, Any]] = []
        self.rule_settlement = self._rule_settlement(seed)
        self._today: dict[str, Any] = {}
        self._reused = False

    # -- helpers -------------------------------------------------------------------------------
    def _rule_settlement(self, seed: int):
        """The settlement by an allocation rule, or None under ``market``; StudyError beyond the rule's size limit."""
        rule = self.options.settlement_rule
        if rule == "market":
            return None
        from p2psim.allocate import AllocationOptions
        from p2psim.errors import StudyError
        from p2psim.settlement_rule import SETTLEMENT_RULES, RuleSettlement, size_problem

        if rule not in SETTLEMENT_RULES:
            raise StudyError(f"settlement_rule={rule!r} is not known; rules: {', '.join(SETTLEMENT_RULES)}")
        options = self.options.allocation or AllocationOptions(seed=seed)
        problem = size_problem(rule, len(self.members), options)
        if problem:
            raise StudyError(problem)
        return RuleSettlement(rule, options, self.scenario.feeder, self.options.solver, self.options.enforce_feeder)

    def day_prices(self) -> Prices:
        """The day's tariffs as known before clearing (the pool price is NaN until the market clears)."""
        return tariff_prices(self.scenario)

    def bids(self, day: int, forecasts: list[Any]) -> np.ndarray | None:
        """Every participant's limit prices (n x T, NaN = none), or None when nobody bids."""
        return collect_bids(self.members, day, forecasts, self.day_prices())

    def order_book(self, day: int, forecasts: list[Any]) -> OrderBook:
        """Build the day's order book from forecasts, bids, the devices' state and class weights."""
        s = self.scenario
        prices = self.day_prices()
        return OrderBook(
            participant_ids=self.ids,
            socio_class=tuple(p.socio_class for p in self.members),
            bus_index=self.bus_index,
            interval_hours=s.interval_hours,
            load_kw=np.stack([f.load_kw for f in forecasts]),
            pv_kw=np.stack([f.pv_kw for f in forecasts]),
            flexible_share=np.array([p.spec.flexible_share for p in self.members]),
            storage_devices=self.fleet.storage_day(day, self.device_energy_kwh),
            shiftable_loads=self.fleet.shiftable_day(day, self.task_drawn_kwh),
            bid_price_per_kwh=self.bids(day, forecasts),
            constraints=self.constraints,
            import_price_per_kwh=prices.import_price_per_kwh,
            export_price_per_kwh=prices.export_price_per_kwh,
            p2p_fee_per_kwh=prices.p2p_fee_per_kwh,
            peak_price_per_kw=prices.peak_price_per_kw,
            class_weight=np.array([float(self.class_weights.get(p.socio_class, 1.0)) for p in self.members]),
            income_per_year=np.array([p.spec.income_per_year for p in self.members]),
        )

    def context(self, day: int) -> ClearingContext:
        """The clearing context of ``day`` (feeder, options, the market's seeded stream)."""
        return ClearingContext(
            feeder=self.scenario.feeder,
            rng=self.market_rng,
            day=day,
            solver=self.options.solver,
            equity=self.options.equity,
            enforce_feeder=self.options.enforce_feeder,
            options=self.options.market_options,
        )

    @staticmethod
    def _flows(
        clearing: Clearing,
        actual_load: np.ndarray,
        actual_pv: np.ndarray,
        forecast_load: np.ndarray,
        forecast_pv: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """Delivered flows: the schedule plus the imbalance (actual minus forecast) at the tariff."""
        curtail = np.minimum(clearing.curtail_kw, actual_pv)
        imbalance = (actual_load - actual_pv + curtail) - (forecast_load - forecast_pv + clearing.curtail_kw)
        return {
            "load_kw": actual_load,
            "pv_kw": actual_pv,
            "curtail_kw": curtail,
            "charge_kw": clearing.charge_kw,
            "discharge_kw": clearing.discharge_kw,
            "shift_kw": clearing.shift_kw,
            "grid_import_kw": clearing.grid_import_kw,
            "grid_export_kw": clearing.grid_export_kw,
            "pool_buy_kw": clearing.pool_buy_kw,
            "pool_sell_kw": clearing.pool_sell_kw,
            "imbalance_import_kw": np.clip(imbalance, 0, None),
            "imbalance_export_kw": np.clip(-imbalance, 0, None),
        }

    # -- the timing contract ---------------------------------------------------------------------
    def gate(self, day: int) -> None:
        """Day-ahead gate: forecasts in, clear, record; agents receive their schedules."""
        from p2psim.markets.matching import bilateral_trades

        forecasts = [p.forecast(day, self.forecast_rng) for p in self.members]
        actuals = [p.actual(day) for p in self.members]
        book = self.order_book(day, forecasts)
        context = self.context(day)
        clearing = self.market.clear(book, context)
        if self.options.check_invariants:
            check_clearing(day, book, clearing)
        alone = self._counterfactual(book, context, clearing)
        actual_load = np.stack([a.load_kw for a in actuals])
        actual_pv = np.stack([a.pv_kw for a in actuals])
        self._today = {
            "day": day,
            "book": book,
            "drawn_before": self.task_drawn_kwh.copy(),
            "clearing": clearing,
            "flows": self._flows(clearing, actual_load, actual_pv, book.load_kw, book.pv_kw),
            "alone_flows": self._flows(alone, actual_load, actual_pv, book.load_kw, book.pv_kw),
            "alone": alone,
        }
        self.ledger.append_solver_records(day, clearing.market, [r.as_dict() for r in clearing.solver_records])
        if alone is not clearing and not self._reused:  # the stand-alone counterfactual is solved too: record it
            records = [{**r.as_dict(), "note": ("counterfactual " + r.note).strip()} for r in alone.solver_records]
            self.ledger.append_solver_records(day, alone.market, records)
        if self.options.record:
            self.ledger.append_trades(day, bilateral_trades(clearing, book, self.scenario.feeder))
        tell_members(self.members, book, clearing)

    def _counterfactual(self, book: OrderBook, context: ClearingContext, clearing: Clearing) -> Clearing:
        """The stand-alone clearing of the day: reused when the market already solved the same problem.

        EqWM computes B_i with :func:`p2psim.markets.grid_only.standalone_optimum` on the same book and
        context and returns the resulting grid_only_v1 clearing in ``extra["standalone_clearing"]``;
        the counterfactual grid_only_v1 would solve exactly that problem again, so it is reused (its
        solver records are already among the market's).
        """
        self._reused = False
        if self.counterfactual.name == self.market.name:
            return clearing
        given = clearing.extra.get("standalone_clearing") if isinstance(clearing.extra, dict) else None
        if given is not None and given.market == self.counterfactual.name:
            self._reused = True
            return given
        return self.counterfactual.clear(book, context)

    def deliver(self, day: int, interval: int) -> None:
        """Delivery of one interval: devices follow the schedule; balances are checked."""
        today = self._today
        clearing, book = today["clearing"], today["book"]
        soc = clearing.soc_kwh[:, interval]
        for k, member in enumerate(self.members):
            member.soc_kwh = float(soc[k])
        if book.n_devices:
            charge, _, energy = clearing.device_flows(book)
            m = self.fleet.n_storage
            self.device_energy_kwh = np.array(energy[:m, interval], dtype=float)
            rows = self.fleet.task_rows(day)
            self.task_drawn_kwh[rows] += book.interval_hours * charge[m:, interval]
        if self.options.check_invariants:
            check_energy_balance(today["flows"], self.ids, day, interval)
            if "costs" not in today:  # the day's cost components, computed once, checked per interval
                today["costs"] = interval_costs(today["flows"], self._prices(today), self.scenario.interval_hours)
            check_money_balance(today["costs"], day, interval)

    def _prices(self, today: dict[str, Any], clearing: Clearing | None = None) -> Prices:
        book: OrderBook = today["book"]
        clearing = clearing or today["clearing"]
        return Prices(
            book.import_price_per_kwh,
            book.export_price_per_kwh,
            clearing.pool_price_per_kwh,
            book.p2p_fee_per_kwh,
            book.peak_price_per_kw,
        )

    def settle(self, day: int) -> None:
        """Settle the day: bills, stand-alone bills, benefits, need costs; then run the day hooks."""
        today = self._today
        dt = self.scenario.interval_hours
        # a member alone pays for its own peak (B_i = c({i}) of the game); so does everyone when the
        # market is the stand-alone rule itself (no community, no shared peak)
        alone_market = self.counterfactual.name == self.market.name
        bills = day_bills(today["flows"], self._prices(today), dt, peak="own" if alone_market else "community")
        alone = day_bills(today["alone_flows"], self._prices(today, today["alone"]), dt, peak="own")
        columns = {k: v for k, v in bills.items() if k != "community_peak_kw"}
        columns["standalone_bill"] = alone["bill"]
        columns["market_bill"] = bills["bill"]
        book = today["book"]
        settled: dict[str, Any] = {}
        if self.rule_settlement is not None:  # members are paid by the rule (the market's bills stay as market_bill)
            scheduled = self._flows(today["clearing"], book.load_kw, book.pv_kw, book.load_kw, book.pv_kw)
            planned = day_bills(scheduled, self._prices(today), dt, peak="own" if alone_market else "community")
            paid, row, allocation = self.rule_settlement.settle(day, book, alone["bill"], bills["bill"],
                                                                planned["bill"])
            columns.update(paid)
            settled = {"settlement": row, "settlement_allocation": allocation}
        columns["benefit"] = alone["bill"] - columns["bill"]
        columns["need_cost"] = need_costs(
            today["flows"]["load_kw"], book.import_price_per_kwh, book.peak_price_per_kw, dt
        )
        if self.options.record:
            self.ledger.append_bills(day, columns)
        clearing = today["clearing"]
        extra = {
            "pool_price_per_kwh": np.broadcast_to(clearing.pool_price_per_kwh, clearing.soc_kwh.shape),
            "soc_kwh": clearing.soc_kwh,
            "device_use_kw": device_use(today["book"], clearing),
            "load_forecast_kw": today["book"].load_kw,
            "pv_forecast_kw": today["book"].pv_kw,
            # the stand-alone counterfactual's delivered net grid import: its peaks (own and summed) and
            # demand charges can be recomputed from the ledger
            "standalone_net_import_kw": delivered_grid_import_kw(today["alone_flows"]),
        }
        if self.options.record:
            self.ledger.append_dispatch(day, today["flows"], extra)
            if not self.fleet.empty:
                self.ledger.append_devices(device_rows(self.fleet, day, today))
        result = {
            "day": day,
            "bills": columns,
            "community_peak_kw": float(bills["community_peak_kw"][0]),
            "standalone_peak_kw": float(alone["community_peak_kw"][0]),
            "clearing": clearing,
            "book": today["book"],
            "flows": today["flows"],
            "class_weights": dict(self.class_weights),
            **settled,
        }
        self.day_results.append(result)
        for hook in self.day_hooks:
            hook(self, day, result)

    def run(self, progress: Callable[[int], None] | None = None) -> None:
        """Run every day of the scenario (``progress(day)`` after each settlement)."""
        if progress is not None:
            self.day_hooks.append(lambda model, day, result: progress(day))
        self.clock.run()


__all__ = ["FLOW_FIELDS", "CommunityModel", "RunOptions"]
