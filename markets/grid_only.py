"""Grid only: no pool; every participant optimises its own assets alone (the stand-alone baseline).

Each participant i minimises its own bill against the tariff

    B_i = min  sum_t dt (import_price[t] imp[i,t] - export_price[t] exp[i,t]) + peak_price * peak_i
    s.t. d - pv + curt + ch - dis + shift = imp - exp,   peak_i >= imp - exp  (every t),

with its devices (batteries, EVs, heat pumps, shiftable loads: :mod:`p2psim.markets.devices`), flexible load
(energy conserved per window, |shift| <= flexible_share * d) and PV curtailment, exactly as in the
community model of :mod:`p2psim.markets._community_lp` but without the pool, paying the demand
charge on its OWN daily peak, and with the feeder reduced to what one participant sees (its import
and export bounded by the smallest line rating on its path and by the transformer limit; dropped,
with a note in the solver record, when some participant cannot be served alone within them). The n
problems are independent, so they are solved as ONE block-diagonal LP; battery binaries are added
only where the relaxation charges and discharges at once (:mod:`p2psim.markets._exactness`).
B_i is the outside option of EqWM and c({i}) of the cooperative game.

Version history: v1 first release (the placeholder self-consumption rule is gone).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from p2psim.markets._community_lp import DayModel, build_day_model
from p2psim.markets._exactness import solve_exact
from p2psim.markets.base import NO_OPTIONS, Clearing, ClearingContext, Market, SolverRecord
from p2psim.markets.book import OrderBook

from p2psim.errors import ClearingError


@dataclass(frozen=True, eq=False)
class StandAlone:
    """The stand-alone optimum of every participant."""

    model: DayModel
    x: np.ndarray
    cost: np.ndarray
    """B_i (currency/day, n)."""
    peak_kw: np.ndarray
    """Each participant's own peak net import (n, kW)."""
    records: tuple[SolverRecord, ...]
    path: str


def standalone_optimum(book: OrderBook, context: ClearingContext) -> StandAlone:
    """Solve every participant's stand-alone problem in one block-diagonal LP (MILP if needed).

    If a participant cannot be served alone within its path's ratings (a neighbour's storage
    relieved the line in the community), the stand-alone problem is re-solved without feeder limits
    so that B_i stays defined; the record's note says so.
    """
    label = f"day {context.day} (stand-alone)"
    mode = "always" if context.equity.use_binaries == "always" else "auto"
    model = build_day_model(book, context, standalone=True)
    result, x, path, records = solve_exact(model, model.lp, context.solver, mode, label=label)
    if x is None and context.enforce_feeder and result.status in ("infeasible", "infeasible_or_unbounded"):
        model = build_day_model(book, replace(context, enforce_feeder=False), standalone=True)
        result, x, path, more = solve_exact(model, model.lp, context.solver, mode, label=label)
        note = "stand-alone infeasible within the feeder limits; solved without them"
        records = [*records, *(replace(r, note=note) for r in more)]
    if x is None:
        from p2psim.markets._diagnosis import diagnose_infeasible

        raise ClearingError(
            f"{label}: the stand-alone problem is {result.status}", status=result.status,
            diagnosis=diagnose_infeasible(model, context, label=label),
        )
    energy = model.participant_cost_matrix(np.zeros(book.n_intervals)) @ x
    peak = x[model.lp.block("peak").start + np.arange(book.n_participants)]
    return StandAlone(model, x, energy + book.peak_price_per_kw * peak, peak, tuple(records), path)


def standalone_costs(book: OrderBook, context: ClearingContext) -> np.ndarray:
    """Return B_i, each participant's optimal stand-alone daily cost (currency/day, n)."""
    return standalone_optimum(book, context).cost


def standalone_clearing(book: OrderBook, alone: StandAlone, market: str = "grid_only_v1") -> Clearing:
    """The grid_only_v1 clearing of ``book`` from its stand-alone optimum ``alone`` (no new solve).

    EqWM solves the same stand-alone problem (same book, same context) for B_i and returns this
    clearing in ``extra["standalone_clearing"]``, so the model's stand-alone counterfactual reuses it
    instead of solving it a second time.
    """
    model, x = alone.model, alone.x
    return Clearing(
        market=market,
        **model.flows(x),
        pool_price_per_kwh=np.asarray(book.export_price_per_kwh, dtype=float),
        solver_records=alone.records,
        extra={"standalone_cost": alone.cost, "peak_kw": alone.peak_kw, "path": alone.path},
    )


class GridOnly(Market):
    """No pool: each participant runs its own battery, flexibility and curtailment optimally alone."""

    name = "grid_only_v1"
    promises_individual_rationality = True
    known_options = NO_OPTIONS  # only the feeder options every rule accepts (base.FEEDER_OPTIONS)

    def clear(self, book: OrderBook, context: ClearingContext) -> Clearing:
        """Clear one day (see module docstring)."""
        return standalone_clearing(book, standalone_optimum(book, context), self.name)
