"""EqWM: equity-weighted, Rawlsian, feeder-aware day-ahead clearing (docs/model.md sections 1-4).

The formulation this code solves (docs/model.md carries the derivations):

Sets: participants i = 1..n (class c(i), weight w_i = ``book.class_weight[i]``), intervals
t = 1..T of dt hours, feeder lines e and buses b.

Variables (kW unless noted, all from :mod:`p2psim.markets._community_lp`): imp, exp, buy, sell,
curt, shift (signed) per participant and interval; ch, dis, soc (kWh) per storage-like device and
task per shiftable load (:mod:`p2psim.markets.devices`); the community peak; line flows and
(optionally) bus voltages; the Rawlsian floor z (only when lambda > 0); binaries u (storage
direction) and y (net buyer or seller) only where the LP relaxation needs them
(:mod:`p2psim.markets._exactness`), and the start times of uninterruptible loads.

Constraints, in code order: participant balance d - pv + curt + sum ch - sum dis + shift + sum task
= imp - exp + buy - sell; every device's energy dynamics, power and energy windows (targets
included), end-of-day floor, the valid cut ch / charge_max + dis / discharge_max <= 1; flexible
energy conserved per window, |shift| <= f d; gross pool metering buy - ch - shift - task <= d and
sell + curt - dis <= pv (pool purchases feed own use, pool sales come from own PV and discharge: with unequal
weights this stops the welfare term from paying a low-weight member to resell grid energy to a
high-weight one, without binaries); pool balance sum buy = sum sell; peak >= sum (imp - exp);
|sum (imp - exp)| <= transformer limit; line flows (sum of downstream net imports) within ratings;
optional LinDistFlow voltage band (``context.options["voltage_band_pu"]``); then, for every i in the
Rawlsian set R, z <= r_i, written  D_i z + C_i <= B_i.

Participant cost, with the pool price p2p[t] a parameter (mid-market (import + export) / 2 unless
``context.options["p2p_price"]`` overrides it) and FIXED peak shares s_i:

    C_i = sum_t dt (imp_price imp - exp_price exp + (p2p + fee) buy - p2p sell) + peak_price s_i peak

s_i is proportional to participant i's stand-alone peak (its own peak import in
:mod:`p2psim.markets.grid_only`; shares of the largest load if nobody imports stand-alone, equal
shares if there is no load at all) and sums to 1. Because sum_i s_i = 1 and the pool payments cancel,
sum_i C_i is exactly the community cost K, so with equal weights the welfare term is -alpha K + const
and EqWM's argmin is the plain cost-minimising LP (tested). Fixed shares also keep the no-trade
stand-alone dispatch affordable for everyone: s_i peak <= s_i sum_j P_j = P_i.

Benefits: b_i = B_i - C_i with B_i the stand-alone optimum; normalised benefit r_i = b_i / D_i,
D_i = max(|B_i|, floor) (``EquityOptions.benefit_floor``). |B_i| rather than B_i because PV-rich
exporters have B_i < 0 (their stand-alone bill is a credit): the magnitude of the outside option
is the natural scale of their saving. R excludes participants with |B_i| <= floor (no load and no
meaningful outside option, e.g. a community battery owner or an empty site), whose relative saving
is undefined; their benefit still counts in the welfare term and r_i is reported with D_i = floor.

Objective (minimise; cost_weight, alpha, lambda from ``context.equity``):

    cost_weight K  -  alpha sum_i w_i b_i  -  lambda z
    = cost_weight K + alpha sum_i w_i C_i - lambda z - alpha sum_i w_i B_i   (the constant is the
    objective offset, so the reported objective is the true one).

Worked example (one hour, import 0.30, export 0.10, no fee or demand charge, p2p = 0.20, floor
0.1): A has 3 kW PV and no load, B and C a 2 kW load each. Stand-alone B_A = -0.30, B_B = B_C =
0.60. The pool carries A's 3 kW; 1 kW comes from the grid, K = 0.30 whoever gets the pool energy.
Equal weights, lambda = 0: any split of the 3 kW between B and C is optimal (the solver returns
one). w_B = 2, w_C = 1: B buys 2 kW, C 1 kW: b = (0.30, 0.20, 0.10), r = (1.0, 0.33, 0.17).
Equal weights, lambda = 1: the floor lifts the worst-off: B and C buy 1.5 kW each, b_B = b_C =
0.15, z = 0.25.

Option ``context.options["individual_rationality"] = True`` adds C_i <= B_i for everyone (nobody
worse off than alone; the stand-alone dispatch satisfies it, so it only fails when that dispatch
breaks a feeder limit of the community). Off by default: the weighted welfare may trade one
member's saving for another's, and storage owners, paid the fixed pool price, can lose.

Pool shadow price: the dual of the pool balance (from the LP, or from the LP with the binaries
fixed at their optimum), y_t, converted to currency per kWh as (y_t / dt + alpha wbar p2p_t) /
(cost_weight + alpha wbar) with wbar the mean weight. The pool row perturbs sum_i C_i by p2p (the
pool payments no longer cancel), which the alpha wbar p2p term removes: with equal weights the
result is exactly dK/d(pool demand), the marginal community cost of one more kWh through the pool.

Version history: v1 first release.
"""

from __future__ import annotations

import numpy as np
from p2psim.markets._community_lp import DayModel, build_day_model
from p2psim.markets._eqwm_program import eqwm_program, pool_duals
from p2psim.markets._exactness import solve_exact
from p2psim.markets.base import Clearing, ClearingContext, Market, MarketOption
from p2psim.markets.book import OrderBook
from p2psim.markets.grid_only import StandAlone, standalone_clearing, standalone_optimum

from p2psim.errors import ClearingError


def p2p_price(book: OrderBook, context: ClearingContext) -> np.ndarray:
    """Pool price per kWh (T): ``context.options["p2p_price"]`` or the mid-market rate."""
    given = context.options.get("p2p_price")
    if given is None:
        return (np.asarray(book.import_price_per_kwh, float) + np.asarray(book.export_price_per_kwh, float)) / 2
    return np.broadcast_to(np.asarray(given, dtype=float), (book.n_intervals,)).copy()


def peak_shares(standalone_peak_kw: np.ndarray, book: OrderBook) -> np.ndarray:
    """Fixed shares s_i of the community peak charge (sum 1): by stand-alone peak, see module doc."""
    peak = np.clip(np.asarray(standalone_peak_kw, float), 0, None)
    if peak.sum() > 1e-9:
        return peak / peak.sum()
    largest = np.asarray(book.load_kw, float).max(axis=1, initial=0.0)
    if largest.sum() > 1e-9:
        return largest / largest.sum()
    return np.full(book.n_participants, 1.0 / max(book.n_participants, 1))


def _price_option(value, intervals_per_day: int) -> str | None:
    if value is None:
        return None
    try:
        prices = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        prices = np.array([np.nan])
    if prices.ndim <= 1 and prices.size in (1, intervals_per_day) and np.all(np.isfinite(prices)) and np.all(
            prices >= 0):
        return None
    return f"None, one price >= 0 per kWh, or {intervals_per_day} of them (one per interval of the day)"


def _choice(*allowed):
    return lambda value, _: None if value in allowed else "one of " + ", ".join(map(repr, allowed))


EQWM_OPTIONS = {
    "p2p_price": MarketOption("pool price per kWh, one value or one per interval (default: mid-market rate)",
                              _price_option),
    "individual_rationality": MarketOption("True adds C_i <= B_i for everyone (default False)", _choice(True, False)),
    "lp_algorithm": MarketOption("HiGHS algorithm of the continuous programs (default auto)",
                                 _choice("auto", "simplex", "ipm", "pdlp")),
}


class EqWM(Market):
    """Equity-weighted welfare maximisation with a Rawlsian floor on the feeder (module docstring)."""

    name = "eqwm_v1"
    promises_individual_rationality = False  # weights may trade one member's saving for another's
    known_options = EQWM_OPTIONS  # plus base.FEEDER_OPTIONS

    def clear(self, book: OrderBook, context: ClearingContext) -> Clearing:
        """Clear one day; raise ClearingError (exit status 3) with a diagnosis if it is infeasible."""
        return self.clear_with(book, context, standalone_optimum(book, context))

    def clear_with(self, book: OrderBook, context: ClearingContext, alone: StandAlone,
                   model: DayModel | None = None) -> Clearing:
        """Clear one day given the stand-alone optimum (and optionally the assembled day model).

        Sweeps over weights or lambda (:mod:`p2psim.batch.pareto`) reuse both across solves. When ``alone``
        carries its solution (as :func:`~p2psim.markets.grid_only.standalone_optimum` returns it),
        ``extra["standalone_clearing"]`` is the grid_only_v1 clearing of the same book built from it
        (no extra solve): the model's stand-alone counterfactual reuses it; otherwise it is None.
        """
        label = f"day {context.day}"
        model = build_day_model(book, context) if model is None else model
        equity = context.equity
        price = p2p_price(book, context)
        shares = peak_shares(alone.peak_kw, book)
        program = eqwm_program(model, alone.cost, shares, price, book.class_weight, equity,
                               individually_rational=bool(context.options.get("individual_rationality", False)))
        result, x, path, records = solve_exact(model, program.lp, context.solver, equity.use_binaries,
                                               label=label, algorithm=context.options.get("lp_algorithm", "auto"))
        if x is None:
            from p2psim.markets._diagnosis import diagnose_infeasible

            raise ClearingError(f"{label}: EqWM clearing is {result.status}", status=result.status,
                                diagnosis=diagnose_infeasible(model, context, label=label))
        cost = program.participant_cost @ x + book.peak_price_per_kw * shares * x[program.peak_col]
        benefit = alone.cost - cost
        scale = np.maximum(np.abs(alone.cost), equity.benefit_floor)
        normalised = benefit / scale
        rawls = program.rawlsian_set
        if program.z_col >= 0:
            z = float(x[program.z_col])
        else:
            z = float(normalised[rawls].min()) if len(rawls) else float("nan")
        dual, dual_records = pool_duals(program, result, x, path, context.solver, label)
        welfare = equity.welfare_weight * float(np.mean(book.class_weight))
        scale_k = equity.cost_weight + welfare
        shadow = (dual / book.interval_hours + welfare * price) / (scale_k if scale_k else 1.0)
        return Clearing(
            market=self.name, **model.flows(x), pool_price_per_kwh=price,
            solver_records=(*alone.records, *records, *dual_records),
            extra={
                "z": z, "benefit": benefit, "normalised_benefit": normalised, "standalone_cost": alone.cost,
                "participant_cost": cost, "peak_kw": float(x[program.peak_col]), "peak_share": shares,
                "pool_shadow_price_per_kwh": shadow, "weights": np.asarray(book.class_weight, float).copy(),
                "community_cost": float(model.lp.c @ x[: model.lp.n_cols]),
                "objective": float(program.lp.c @ x + program.lp.offset),
                "rawlsian_set": rawls, "path": path,
                "standalone_clearing": standalone_clearing(book, alone) if alone.x is not None else None,
            },
        )
