"""The allocation stage of every run: who gets the cooperative gain, under which rule, and is it stable.

Per day d the energy savings game v_d (:mod:`p2psim.game.energy`) is solved and its gain v_d(N)
allocated by: the Shapley value; the Kalai-Samet weighted Shapley value with socio-economic weights
w_i = (median income of the community) / (median income of i's class) (lower income, larger
weight); the nucleolus (small communities); equal split v(N)/n; and shares proportional to the
positive part of the stand-alone cost. The market's own settlement (each participant's settled
benefit against its settled stand-alone bill) is reported next to them. Settlement and game treat the
demand charge alike (a member alone pays for its own peak, :mod:`p2psim.settlement`), so the market's
total equals v(N) when forecasts are perfect and the clearing minimises the community cost (EqWM with
equal weights and no Rawlsian term); it differs by the forecast errors (imbalance, settled ex post)
and by what a rule gives up against the cost optimum (unequal weights, a Rawlsian floor, rule-based
markets).

Equity of each rule: the Gini of the relative benefit sum_d x_i,d / sum_d need_i,d (the need is the
stand-alone cost of i's consumption, ``need_cost`` in the bills; :mod:`p2psim.equity`), bounded in
[0, 1]; Jain's index only when no member's amount is negative (else NaN).

Exactness by community size n (:class:`AllocationOptions`):

- n <= ``exact_max_players`` (12): all 2^n coalition values are enumerated; Shapley, weighted
  Shapley and nucleolus are exact, the core check covers all 2^n - 2 coalitions (the largest excess
  and the number of violated coalitions), the cost of stability is exact.
- n <= ``rowgen_max_players`` (16): Shapley and weighted Shapley are sampled, with standard errors
  (never presented as exact); the core check is still exact, by the membership MILP oracle
  (:meth:`p2psim.game.energy_separation.MembershipSeparation.max_excess`: one proven largest excess
  per rule and day, from the LP relaxation or one MILP), which does not count the violated
  coalitions; the cost of stability is an estimate with a standard error.
- above: the core check samples coalitions and its figure is a *sampled lower bound* on the
  largest excess (summary keys end in ``_sampled_lower_bound``).

Days are independent games and fan out across processes. Run totals are sums over days.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from p2psim.allocate_core import core_check, core_table, least_advantaged_class, rule_stability
from p2psim.equity import EQUITY_EXCLUDED_CLASSES, LOSS_TOLERANCE
from p2psim.game.energy import DayGameSpec, EnergyDayGame, day_specs, map_days
from p2psim.game.shapley_sampling import antithetic_min_budget, stratified_min_budget
from p2psim.game.weighted import weighted_min_budget
from p2psim.inequality import gini, jain_or_nan

SAMPLER_MINIMUM = {"antithetic": antithetic_min_budget, "stratified": stratified_min_budget}
"""Smallest budget each Shapley sampler accepts for n players (the options' budget is raised to it)."""

ORACLE_CHECK = {"bounds": "bounds", "milp": "oracle"}
"""The core-check method (:data:`p2psim.game.core.CHECK_LABELS`) of each ``core_oracle``."""

RULES = ("shapley", "weighted_shapley", "nucleolus", "owen", "equitable_core", "equal_split", "proportional", "market")


@dataclass(frozen=True)
class AllocationOptions:
    """How the allocation stage computes (a study may override)."""

    exact_max_players: int = 12
    """Enumerate all 2^n coalitions up to this many players: exact Shapley values and the core check
    over all 2^n - 2 coalitions. The cost doubles with every player (4,096 coalition LPs a day at
    n = 12, 16,384 at n = 14: about 16 s a day on one core, benchmarks/results/game.md), so above it
    the Shapley values are sampled and the core check is the MILP oracle's (``rowgen_max_players``)."""
    nucleolus_max_players: int = 10
    sampled_budget: int = 300
    """Most value calls per day per sampled estimator (Shapley, weighted Shapley)."""
    target_relative_se: float | None = 0.01
    """Sampling target: a day's estimators stop drawing (after at least 8 draws) once every member's
    standard error is at most ``target_relative_se * sqrt(run_days) * |v_d(N)| / n``: on days of
    similar gain, each member's run total then carries a standard error of about this share of the
    mean member's run total (sqrt(sum of the days' variances)); the reported errors are the measured
    ones. ``None``: always spend ``sampled_budget``. Long runs need far fewer draws a day for the same
    precision of their totals."""
    run_days: int = 1
    """Days in the run (:func:`allocate` sets it): the per-day sampling target scales with its square root."""
    core_check_budget: int = 100
    """New coalitions valued per day by the sampled core check (a lower bound on the largest excess). The
    day's coalitions are drawn once and every rule is checked on all the coalitions the day's game has
    valued (these draws, and the prefixes of the sampled Shapley orders), so the rules share one set."""
    rowgen_max_players: int = 16
    """Above ``exact_max_players``, compute the equitable core (the core point closest to the weighted
    Shapley value) by row generation with the day's exact oracle (``core_oracle``) up to this many
    players, and check every rule's core membership exactly with the same oracle (its proven largest
    excess; the number of violated coalitions is not counted). Above it the core check samples coalitions (a lower
    bound on the largest excess) and the allocation stage takes the closest
    *certified* core point (:func:`p2psim.game.energy_inner.certified_core_allocation`: one LP, a
    proven core point, with a lower bound on the closest core point's distance in its ``meta``).
    Without binding shared limits that point is the Owen allocation closest to the target (usually
    the Owen allocation itself; see docs/model.md 5a): stable and proven, but no fairer than Owen.
    benchmarks/results/stable.md shows row generation at n = 50."""
    core_oracle: str = "bounds"
    """The exact oracle of ``rowgen_max_players``: ``"bounds"`` (:mod:`p2psim.game.energy_bounds`: every
    coalition bounded by LP-dual cuts, the few that could matter costed; equitable core and the six
    checks about 0.8 s a day at n = 14, one core) or ``"milp"`` (the membership MILP of
    :mod:`p2psim.game.energy_separation`: 2-16 s a day). Both prove the same figures; the labels say
    which (``exact (LP-dual bounds)`` / ``exact (MILP oracle)``)."""
    certified_max_players: int = 100
    """Largest community given the closest certified core point above ``rowgen_max_players`` (0: none;
    one LP per day, about 8 s at n = 100)."""
    sampler: str = "antithetic"
    """Shapley sampler for large n; antithetic permutations keep the estimate efficient (sums to v(N))."""
    workers: int = 2
    backend: str = "local"
    """Fan-out backend of the days (:mod:`p2psim.parallel`): ``"local"`` processes or ``"ray"``."""
    address: str | None = None
    """Ray cluster to join (``backend="ray"``); ``None`` starts a private one on loopback."""
    seed: int = 0


def socio_economic_weights(participants: pd.DataFrame) -> dict[str, float]:
    """w_i = community median income / median income of i's class (the aggregator weighs 1)."""
    median = participants.income_per_year[~participants.socio_class.isin(EQUITY_EXCLUDED_CLASSES)].median()
    by_class = participants.groupby("socio_class").income_per_year.median()
    return {
        row.participant: 1.0
        if row.socio_class in EQUITY_EXCLUDED_CLASSES
        else float(median / by_class[row.socio_class])
        for row in participants.itertuples()
    }


def allocate_day(job: tuple[DayGameSpec, dict[str, float], tuple[str, ...], AllocationOptions]) -> dict[str, Any]:
    """Solve one day's game: every rule's amounts, standard errors and core checks.

    ``job``: the day, the socio-economic weights, the members of the least advantaged class (for
    the standard error of their weighted-Shapley total) and the options.
    """
    from threadpoolctl import threadpool_limits

    spec, weights, group, options = job
    with threadpool_limits(1):  # one BLAS thread per worker: the workers already use every core
        return _allocate_day(spec, weights, group, options)


def _allocate_day(
    spec: DayGameSpec, weights: dict[str, float], group: tuple[str, ...], options: AllocationOptions
) -> dict[str, Any]:
    from p2psim.game import CachedGame, nucleolus
    from p2psim.game.weighted import group_std_error

    start, cpu = time.perf_counter(), time.process_time()
    game = EnergyDayGame(spec)
    players = game.players
    n = len(players)
    exact = n <= options.exact_max_players
    # one separation model a day, shared by the equitable core (row generation) and every core check
    oracle = day_oracle(game, options) if not exact and n <= options.rowgen_max_players else None
    seed = options.seed * 1000 + spec.day
    if exact:
        game.all_values()  # every coalition once, in Gray order (warm re-solves); cached in the game
    grand = game.value(frozenset(players))
    cached = CachedGame(players, game.value)  # one cache shared by every solution concept
    positive = np.clip(game.standalone_cost, 0, None)
    share = positive / positive.sum() if positive.sum() > 0 else np.full(n, 1 / n)
    fixed = {
        "owen": owen_allocation(game, share),
        "equal_split": dict(zip(players, np.full(n, grand / n), strict=True)),
        "proportional": dict(zip(players, grand * share, strict=True)),
    }
    check = "exact" if exact else "sampled" if oracle is None else ORACLE_CHECK[options.core_oracle]

    drawn = []  # sampled: the first rule's check draws the day's coalitions, the others reuse them

    def check_rule(allocation) -> dict[str, Any]:
        sampled = check == "sampled"
        budget = 0 if sampled and drawn else options.core_check_budget
        drawn.append(True)
        return core_check(cached, allocation, check, oracle, budget, seed + 2, known=sampled)

    core, baseline = {}, None
    if check == "bounds":
        # the rules that need no sampling are checked first: the coalitions costed and the cuts of their
        # proofs make the surrogate game whose exact Shapley values are the estimators' control variate
        core = {rule: check_rule(allocation) for rule, allocation in fixed.items()}
        baseline = oracle.surrogate_values()
    out: dict[str, Any] = sampled_values(cached, weights, options, seed, baseline=baseline)
    if n <= options.nucleolus_max_players:
        out["nucleolus"] = nucleolus(players, cached)
    out["owen"] = fixed["owen"]
    stable = equitable_core(game, cached, out["weighted_shapley"], options, oracle)
    if stable is not None:
        out["equitable_core"] = stable
    out["equal_split"], out["proportional"] = fixed["equal_split"], fixed["proportional"]
    core = {rule: core[rule] if rule in core else check_rule(allocation) for rule, allocation in out.items()}
    amounts = {rule: {p: float(a[p]) for p in players} for rule, a in out.items()}
    std_error = {rule: dict(a.std_error) for rule, a in out.items() if getattr(a, "std_error", None) is not None}
    return {
        "day": spec.day,
        "players": players,
        "grand_value": grand,
        "standalone_cost": game.standalone_cost,
        "amounts": amounts,
        "std_error": std_error,
        "exact": exact,
        "core": core,
        "group_std_error": group_std_error(out["weighted_shapley"], [p for p in group if p in game.index]),
        "n_solves": game.n_solves,
        "draws": {rule: int(out[rule].meta.get("pairs", out[rule].meta.get("orders", 0))) if not exact else 0
                  for rule in ("shapley", "weighted_shapley")},
        "control_variate": baseline is not None,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
    }


def sampled_values(cached, weights: dict[str, float], options: AllocationOptions, seed: int,
                   baseline: np.ndarray | None = None) -> dict[str, Any]:
    """The day's Shapley and weighted Shapley values: exact up to ``exact_max_players``, else sampled.

    Sampled: at most ``sampled_budget`` value calls each, stopping early once every member's
    standard error is at most ``target_relative_se * sqrt(run_days) * |v(N)| / n`` (see
    :class:`AllocationOptions`), with ``baseline`` as the control variate when given.
    """
    from p2psim.game import shapley_value, weighted_shapley_value

    players, n = cached.players, cached.n
    weights = {p: weights[p] for p in players}
    if n <= options.exact_max_players:
        return {"shapley": shapley_value(players, cached, method="exact"),
                "weighted_shapley": weighted_shapley_value(players, cached, weights, method="exact")}
    target = None
    if options.target_relative_se is not None:
        target = options.target_relative_se * math.sqrt(options.run_days) * abs(cached.grand_value()) / n
    extra: dict[str, Any] = {"sampler": options.sampler}
    if options.sampler == "antithetic":
        extra.update(baseline=baseline, target_se=target)
    return {
        "shapley": shapley_value(players, cached, method="sampled", seed=seed,
                                 budget=max(options.sampled_budget, SAMPLER_MINIMUM[options.sampler](n)), **extra),
        "weighted_shapley": weighted_shapley_value(
            players, cached, weights, method="sampled", seed=seed + 1,
            budget=max(options.sampled_budget, weighted_min_budget(n)), baseline=baseline, target_se=target,
        ),
    }


def day_oracle(game: EnergyDayGame, options: AllocationOptions):
    """The day's exact separation oracle (``options.core_oracle``): LP-dual bounds or the membership MILP."""
    if options.core_oracle == "bounds":
        from p2psim.game.energy_bounds import dual_bound_separation

        return dual_bound_separation(game)
    from p2psim.game.energy_separation import membership_separation

    return membership_separation(game)


def owen_allocation(game: EnergyDayGame, share: np.ndarray) -> dict[str, float]:
    """The LP-dual (Owen) allocation of the day's savings game.

    One solve of the grand coalition's cost LP. By strong duality its cost c(N) is the sum over
    constraints of dual x active bound; every participant is charged the terms of the rows and
    columns whose bounds are its own data (load, PV, battery and flexibility limits), and the
    shared terms (pool, peak, transformer, lines) are split in proportion to ``share``. Its savings
    x_i = c({i}) - charge_i sum to v(N). Without binding shared limits (shared terms 0), y* stays
    dual feasible for every coalition's LP, so by weak duality x(S) >= v(S): the allocation lies in
    the core (Owen 1975). With binding feeder limits the shared terms are non-zero and core
    membership is checked, not guaranteed.
    """
    duals = game.solver.grand_duals()
    owned, shared = duals.owner_values()
    charge = owned + shared * share
    return dict(zip(game.players, game.standalone_cost - charge, strict=True))


def equitable_core(game: EnergyDayGame, cached, target, options: AllocationOptions, oracle=None):
    """Core (or least-core) allocation closest in L1 to the weighted Shapley target, or None.

    Up to ``rowgen_max_players``: by row generation with ``oracle`` (the day's membership separation;
    one is built when ``None``). Above: the closest certified core point, or None when none exists.
    """
    from p2psim.game import equitable_core_allocation

    n = len(game.players)
    if n <= options.exact_max_players:
        return equitable_core_allocation(game.players, cached, target=dict(target), method="exact")
    if n <= options.rowgen_max_players:
        return equitable_core_allocation(
            game.players, cached, target=dict(target), method="rowgen", separation=oracle or day_oracle(game, options)
        )
    if n > options.certified_max_players:
        return None
    from p2psim.game.energy_inner import certified_core_allocation

    return certified_core_allocation(game, np.array([target[p] for p in game.players], dtype=float))


def rule_exact(rule: str, enumerated: bool, n: int, options: AllocationOptions) -> bool:
    """Whether a rule's amounts are exact.

    Shapley values need the enumeration. The equitable core is the core point closest to the
    weighted Shapley value: exact when that target is (enumerated) and the projection is exact
    (``n <= rowgen_max_players``); with a sampled target it is the exact projection of an estimate
    (an estimate itself), above ``rowgen_max_players`` a certified core point, not the closest.
    """
    if rule in ("shapley", "weighted_shapley"):
        return enumerated
    if rule == "equitable_core":
        return enumerated and n <= options.rowgen_max_players
    return True


def fairness(amounts: np.ndarray, need: np.ndarray) -> dict[str, float]:
    """Gini (and Jain, when no amount is negative) of relative benefit x_i / need_i, worst saving, losers.

    Amounts within :data:`~p2psim.equity.LOSS_TOLERANCE` of zero count as zero.
    """
    amounts = np.where(np.abs(amounts) <= LOSS_TOLERANCE, 0.0, np.asarray(amounts, float))
    r = amounts / np.where(need > 0, need, np.nan)
    r = r[np.isfinite(r)]
    return {
        "gini_relative_benefit": gini(r),
        "jain_relative_benefit": jain_or_nan(r)[0],
        "min_relative_saving_pct": 100 * float(r.min()) if r.size else 0.0,
        "losers_pct": 100 * float((amounts < 0).mean()) if amounts.size else 0.0,
    }


def allocate(result, options: AllocationOptions | None = None,
             progress: Callable[[int], None] | None = None) -> dict[str, pd.DataFrame]:
    """Run the allocation stage on a finished run; return the daily and the run tables.

    The days fan out through ``options.backend`` (:func:`p2psim.parallel.fan_out`); ``progress(1)``
    is called as each day finishes.
    """
    options = options or AllocationOptions()
    weights = socio_economic_weights(result.participants)
    people = result.participants
    group = tuple(people.participant[people.socio_class == least_advantaged_class(people)])
    specs = day_specs(result)
    options = replace(options, run_days=len(specs))
    days = map_days(allocate_day, [(s, weights, group, options) for s in specs], workers=options.workers,
                    backend=options.backend, address=options.address,
                    done=None if progress is None else lambda _, __: progress(1))
    bills = result.bills
    rows = []
    for day in days:
        today = bills[bills.day == day["day"]].set_index("participant")
        day["amounts"]["market"] = {p: float(today.benefit[p]) for p in day["players"]}
        for rule, amounts in day["amounts"].items():
            errors = day["std_error"].get(rule, {})
            exact = rule_exact(rule, day["exact"], len(day["players"]), options)
            for k, player in enumerate(day["players"]):
                rows.append(
                    {
                        "day": day["day"],
                        "participant": player,
                        "rule": rule,
                        "amount": amounts[player],
                        # an estimate without a sampler (the projection of a sampled target): NaN
                        "std_error": errors.get(player, 0.0 if exact else np.nan),
                        "standalone_cost": float(day["standalone_cost"][k]),
                        "need_cost": float(today.need_cost[player]),
                        "exact": exact,
                    }
                )
    daily = pd.DataFrame(rows)
    per = (
        daily.groupby(["rule", "participant"], sort=False)
        .agg(
            amount=("amount", "sum"),
            standalone_cost=("standalone_cost", "sum"),
            need_cost=("need_cost", "sum"),
            std_error=("std_error", lambda s: float(np.sqrt((s**2).sum()))),
            exact=("exact", "all"),
        )
        .reset_index()
    )
    per = per.merge(result.participants[["participant", "socio_class", "income_per_year"]], on="participant")
    core = core_table(days)
    metrics = []
    for rule, members in per.groupby("rule", sort=False):
        equity = members[~members.socio_class.isin(EQUITY_EXCLUDED_CLASSES)]
        stats = fairness(equity.amount.to_numpy(), equity.need_cost.to_numpy())
        metrics.append(
            {
                "rule": rule,
                "total": float(members.amount.sum()),
                **stats,
                **rule_stability(core, rule),
                "exact": bool(members.exact.all()),
            }
        )
    return {
        "daily": daily,
        "allocation": per,
        "rules": pd.DataFrame(metrics),
        "core": core,
        "days": pd.DataFrame(
            [
                {
                    "day": d["day"],
                    "cooperative_gain": d["grand_value"],
                    "n_solves": d["n_solves"],
                    "seconds": d["seconds"],
                    "cpu_seconds": d["cpu_seconds"],
                    "core_check_seconds": float(sum(c["seconds"] for c in d["core"].values())),
                    "least_advantaged_weighted_shapley_se": d["group_std_error"],
                    "shapley_pairs": d["draws"]["shapley"],
                    "weighted_shapley_orders": d["draws"]["weighted_shapley"],
                    "control_variate": d["control_variate"],
                    "exact": d["exact"],
                }
                for d in days
            ]
        ),
    }
