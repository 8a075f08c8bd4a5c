"""The allocation stage of every run: who gets the cooperative gain, under which rule, and is it stable.

Per day d the energy savings game v_d (:mod:`p2psim.energy_game.game`) is solved and its gain v_d(N)
allocated by: the Shapley value; the Kalai-Samet weighted Shapley value with the socio-economic
weights in force that day, w_i = w_{c(i)}, the class weights the day was cleared with (the study's,
or the equity coordinator's when one runs: the same weights a study settled by ``weighted_shapley``
or ``equitable_core`` pays its members with, :mod:`p2psim.energy_game.settlement_rule`); the nucleolus (small
communities); the Owen (LP-dual) allocation; the equitable core (the core point closest to the
weighted Shapley value); equal split v(N)/n; and shares proportional to the positive part of the
stand-alone cost. (:func:`socio_economic_weights` gives income-based weights, median income over
the class median, for studies that want class weights by income.) The market's own settlement (each
participant's market benefit, stand-alone bill minus market bill) is reported next to them. When the
study settles by a rule, the day loop already computed that rule's allocation (and what it needs)
for every day (:func:`allocate_rule_day`); the stage takes those allocations and their coalition
costs as they are instead of computing them again. Settlement and game treat the
demand charge alike (a member alone pays for its own peak, :mod:`p2psim.sim.settlement`), so the market's
total equals v(N) when forecasts are perfect and the clearing minimises the community cost (EqWM with
equal weights and no Rawlsian term); it differs by the forecast errors (imbalance, settled ex post)
and by what a rule gives up against the cost optimum (unequal weights, a Rawlsian floor, rule-based
markets).

Equity of each rule: the Gini of the relative benefit sum_d x_i,d / sum_d need_i,d (the need is the
stand-alone cost of i's consumption, ``need_cost`` in the bills; :mod:`p2psim.metrics.equity`), bounded in
[0, 1]; Jain's index only when no member's amount is negative (else NaN).

Exactness by community size n (:class:`AllocationOptions`):

- n <= ``exact_max_players`` (12): all 2^n coalition values are enumerated; Shapley, weighted
  Shapley and nucleolus are exact, the core check covers all 2^n - 2 coalitions (the largest excess
  and the number of violated coalitions), the cost of stability is exact.
- n <= ``rowgen_max_players`` (16): Shapley and weighted Shapley are sampled, with standard errors
  (never presented as exact); the core check is still exact, by the membership MILP oracle
  (:meth:`p2psim.energy_game.separation.MembershipSeparation.max_excess`: one proven largest excess
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

from p2psim.energy_game.core_checks import core_check, core_table, least_advantaged_class, rule_stability
from p2psim.energy_game.game import DayGameSpec, EnergyDayGame, day_specs, map_days
from p2psim.game.shapley_sampling import antithetic_min_budget, stratified_min_budget
from p2psim.game.weighted import weighted_min_budget
from p2psim.metrics.equity import EQUITY_EXCLUDED_CLASSES, LOSS_TOLERANCE
from p2psim.metrics.inequality import gini, jain_or_nan

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
    *certified* core point (:func:`p2psim.energy_game.inner.certified_core_allocation`: one LP, a
    proven core point, with a lower bound on the closest core point's distance in its ``meta``).
    Without binding shared limits that point is the Owen allocation closest to the target (usually
    the Owen allocation itself; see docs/model.md 5a): stable and proven, but no fairer than Owen.
    benchmarks/results/stable.md shows row generation at n = 50."""
    core_oracle: str = "bounds"
    """The exact oracle of ``rowgen_max_players``: ``"bounds"`` (:mod:`p2psim.energy_game.bounds`: every
    coalition bounded by LP-dual cuts, the few that could matter costed; equitable core and the six
    checks about 0.8 s a day at n = 14, one core) or ``"milp"`` (the membership MILP of
    :mod:`p2psim.energy_game.separation`: 2-16 s a day). Both prove the same figures; the labels say
    which (``exact (LP-dual bounds)`` / ``exact (MILP oracle)``)."""
    certified_max_players: int = 120
    """Largest community given the closest certified core point above ``rowgen_max_players`` (0: none;
    one LP per day: 3.5 s at n = 119, the winter study, on one core), so that all six shipped studies
    can be settled by the equitable core (``settlement_rule``)."""
    sampler: str = "antithetic"
    """Shapley sampler for large n; antithetic permutations keep the estimate efficient (sums to v(N))."""
    workers: int = 2
    backend: str = "local"
    """Fan-out backend of the days (:mod:`p2psim.parallel`): ``"local"`` processes or ``"ray"``."""
    address: str | None = None
    """Ray cluster to join (``backend="ray"``); ``None`` starts a private one on loopback."""
    seed: int = 0


def allocation_options(study) -> AllocationOptions:
    """The allocation options of a study's run (the stage's and its settlement rule's).

    The defaults, the study's seed and its length (the sampling target scales with it, so both
    compute the same estimates).
    """
    return AllocationOptions(seed=study.seed, run_days=study.days)


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


def allocate_day(job: tuple) -> dict[str, Any]:
    """Solve one day's game: every rule's amounts, standard errors and core checks.

    ``job``: the day's spec, the members' weights that day (the class weights in force), the members
    of the least advantaged class (for the standard error of their weighted-Shapley total), the
    options and, optionally, what the day's settlement already computed (:func:`allocate_rule_day`:
    its allocations are taken as they are, its coalition costs seed the game's cache).
    """
    from threadpoolctl import threadpool_limits

    spec, weights, group, options, *given = job
    with threadpool_limits(1):  # one BLAS thread per worker: the workers already use every core
        return _allocate_day(spec, weights, group, options, given[0] if given else None)


COMPUTED_RULES = tuple(r for r in RULES if r != "market")
"""The rules the stage computes from the game (the market's amounts come from the bills)."""
RULE_NEEDS = {"equitable_core": ("weighted_shapley",)}
"""Rules computed from another rule's allocation: the equitable core's target is the weighted Shapley value."""
VALUE_RULES = ("shapley", "weighted_shapley", "nucleolus", "equitable_core")
FIXED_RULES = ("owen", "equal_split", "proportional")
"""Rules computed without coalition values (checked first when their checks seed the control variate)."""
"""Rules that read coalition values (the enumerated game's, when it is enumerated)."""


class DayAllocator:
    """One day's game ready for the rules: built once, one value cache and one oracle shared by all.

    Args:
        spec: The day.
        weights: Each member's weight for the weighted Shapley value (the class weights in force).
        options: Exactness limits, budgets and the seed.
        known_costs: Coalition costs already computed for the same spec (bitmask -> cost), taken into
            the game's cache instead of solving them again.
        enumerate_now: Enumerate all 2^n coalitions at once when the game is small enough to be
            enumerated (the stage); otherwise only when a rule first reads coalition values.
    """

    def __init__(self, spec: DayGameSpec, weights: dict[str, float], options: AllocationOptions, *,
                 known_costs: dict[int, float] | None = None, enumerate_now: bool = True) -> None:
        """Build the day's game (and, between the two size limits, its exact oracle)."""
        from p2psim.game import CachedGame

        self.spec, self.weights, self.options = spec, weights, options
        game = self.game = EnergyDayGame(spec)
        if known_costs:
            game.remember(known_costs)
        self.players = game.players
        self.n = n = len(self.players)
        self.exact = n <= options.exact_max_players
        # one separation model a day, shared by the equitable core (row generation) and every core check
        self.oracle = day_oracle(game, options) if not self.exact and n <= options.rowgen_max_players else None
        self.check = "exact" if self.exact else "sampled" if self.oracle is None else ORACLE_CHECK[options.core_oracle]
        """The day's core-check method: enumeration, an exact oracle (:data:`ORACLE_CHECK`) or sampling."""
        self._fixed: dict[str, dict[str, float]] = {}  # the rules computed without coalition values
        self._checks: dict[str, dict[str, Any]] = {}  # core checks made before the sampled estimators
        self._baseline: np.ndarray | None = None
        self._drawn = False
        self.seed = options.seed * 1000 + spec.day
        self.enumerated = False
        if enumerate_now:
            self.enumerate()
        self.grand = game.value(frozenset(self.players))
        self.cached = CachedGame(self.players, game.value)  # one cache shared by every solution concept

    def enumerate(self) -> None:
        """Every coalition once, in Gray order (warm re-solves), when the game is small enough; cached."""
        if self.exact and not self.enumerated:
            self.game.all_values()
            self.enumerated = True

    def allocation(self, rule: str, out: dict[str, Any]):
        """The allocation of ``rule`` (None when the day is beyond its size limit); ``out`` holds its needs."""
        from p2psim.game import nucleolus

        options, players, n = self.options, self.players, self.n
        if rule in VALUE_RULES:
            self.enumerate()
        if rule in ("shapley", "weighted_shapley"):
            return self.shapley(rule)
        if rule == "nucleolus":
            return nucleolus(players, self.cached) if n <= options.nucleolus_max_players else None
        if rule in FIXED_RULES:
            return self.fixed(rule)
        if rule == "equitable_core":
            return equitable_core(self.game, self.cached, out["weighted_shapley"], options, self.oracle)
        raise ValueError(f"rule {rule!r} is not computed from the game; rules: {', '.join(COMPUTED_RULES)}")

    def fixed(self, rule: str) -> dict[str, float]:
        """Owen, equal split or proportional: computed once a day (their core checks may come first)."""
        if rule not in self._fixed:
            n = self.n
            self._fixed[rule] = (
                owen_allocation(self.game, self.proportional_share()) if rule == "owen"
                else dict(zip(self.players, np.full(n, self.grand / n), strict=True)) if rule == "equal_split"
                else dict(zip(self.players, self.grand * self.proportional_share(), strict=True)))
        return self._fixed[rule]

    def shapley(self, rule: str):
        """Shapley or weighted Shapley: exact up to ``exact_max_players``, else sampled.

        Sampled: at most ``sampled_budget`` value calls, stopping early once every member's standard
        error is at most ``target_relative_se * sqrt(run_days) * |v(N)| / n`` (see
        :class:`AllocationOptions`), with the LP-dual bounds' surrogate game as the control variate
        (:meth:`baseline`) when the day has that oracle.
        """
        from p2psim.game import shapley_value, weighted_shapley_value

        options, players, n = self.options, self.players, self.n
        weights = {p: self.weights[p] for p in players}
        if self.exact:
            if rule == "shapley":
                return shapley_value(players, self.cached, method="exact")
            return weighted_shapley_value(players, self.cached, weights, method="exact")
        baseline, target = self.baseline(), None
        if options.target_relative_se is not None:
            target = options.target_relative_se * math.sqrt(options.run_days) * abs(self.grand) / n
        if rule == "shapley":
            extra: dict[str, Any] = {"sampler": options.sampler}
            if options.sampler == "antithetic":
                extra.update(baseline=baseline, target_se=target)
            return shapley_value(players, self.cached, method="sampled", seed=self.seed,
                                 budget=max(options.sampled_budget, SAMPLER_MINIMUM[options.sampler](n)), **extra)
        return weighted_shapley_value(players, self.cached, weights, method="sampled", seed=self.seed + 1,
                                      budget=max(options.sampled_budget, weighted_min_budget(n)),
                                      baseline=baseline, target_se=target)

    def baseline(self) -> np.ndarray | None:
        """The sampled estimators' control variate, with the LP-dual bound oracle only (else None).

        The rules that need no sampling are checked first: the coalitions costed and the cuts of their
        proofs make the surrogate game (:meth:`~p2psim.energy_game.bounds.DualBoundSeparation.surrogate_values`)
        whose exact Shapley values are the control variate. Taken once a day.
        """
        if self._baseline is None and self.check == "bounds":
            for rule in FIXED_RULES:
                self._checks.setdefault(rule, self.core_check(rule, self.fixed(rule)))
            self._baseline = self.oracle.surrogate_values()
        return self._baseline

    def core_check(self, rule: str, allocation) -> dict[str, Any]:
        """The rule's core check (:func:`p2psim.energy_game.core_checks.core_check`) with the day's method.

        Sampled: the first check draws the day's ``core_check_budget`` coalitions; every rule is
        checked on all the coalitions the day's game has valued (the same set for every rule).
        """
        if rule in self._checks:
            return self._checks[rule]
        sampled = self.check == "sampled"
        budget = 0 if sampled and self._drawn else self.options.core_check_budget
        self._drawn = True
        return core_check(self.cached, allocation, self.check, self.oracle, budget, self.seed + 2, known=sampled)

    def proportional_share(self) -> np.ndarray:
        """Shares proportional to the positive part of the stand-alone costs (equal when none is positive)."""
        positive = np.clip(self.game.standalone_cost, 0, None)
        return positive / positive.sum() if positive.sum() > 0 else np.full(self.n, 1 / self.n)

    def allocations(self, rules: tuple[str, ...], given: dict[str, Any] | None = None) -> dict[str, Any]:
        """Allocations of ``rules`` (and of what they need), in :data:`RULES` order; ``given`` ones reused."""
        given = given or {}
        wanted = {r for rule in rules for r in (*RULE_NEEDS.get(rule, ()), rule)}
        out: dict[str, Any] = {}
        for rule in COMPUTED_RULES:
            if rule in wanted:
                allocation = given[rule] if rule in given else self.allocation(rule, out)
                if allocation is not None:
                    out[rule] = allocation
        return out


def allocate_rule_day(spec: DayGameSpec, weights: dict[str, float], rule: str,
                      options: AllocationOptions) -> dict[str, Any]:
    """One rule on one day (and the rules it needs): what settlement by ``rule`` computes inside the day loop.

    Returns the day, players, ``grand_value`` v(N), ``standalone_cost`` c({i}), ``allocations`` (rule ->
    allocation, for the stage to reuse), ``known_costs`` (every coalition cost when the game was
    enumerated, else empty), ``options`` and ``seconds``.
    """
    start = time.perf_counter()
    day = DayAllocator(spec, weights, options, enumerate_now=False)
    allocations = day.allocations((rule,))
    return {
        "day": spec.day,
        "players": day.players,
        "grand_value": day.grand,
        "standalone_cost": day.game.standalone_cost,
        "allocations": allocations,
        "known_costs": dict(day.game.cached_costs) if day.enumerated else {},
        "options": options,
        "seconds": time.perf_counter() - start,
    }


def _allocate_day(
    spec: DayGameSpec, weights: dict[str, float], group: tuple[str, ...], options: AllocationOptions,
    given: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from p2psim.game.weighted import group_std_error

    start, cpu = time.perf_counter(), time.process_time()
    given = given or {}
    day = DayAllocator(spec, weights, options, known_costs=given.get("known_costs"))
    players, grand = day.players, day.grand
    out = day.allocations(COMPUTED_RULES, given.get("allocations"))
    core = {rule: day.core_check(rule, allocation) for rule, allocation in out.items()}
    amounts = {rule: {p: float(a[p]) for p in players} for rule, a in out.items()}
    std_error = {rule: dict(a.std_error) for rule, a in out.items() if getattr(a, "std_error", None) is not None}
    return {
        "day": spec.day,
        "players": players,
        "grand_value": grand,
        "standalone_cost": day.game.standalone_cost,
        "amounts": amounts,
        "std_error": std_error,
        "exact": day.exact,
        "core": core,
        "group_std_error": group_std_error(out["weighted_shapley"], [p for p in group if p in day.game.index]),
        "n_solves": day.game.n_solves,
        "reused": sorted(given.get("allocations") or ()),
        "draws": {rule: 0 if day.exact else int(out[rule].meta.get("pairs", out[rule].meta.get("orders", 0)))
                  for rule in ("shapley", "weighted_shapley")},
        "control_variate": bool(getattr(out["shapley"], "meta", {}).get("control_variate", False)),
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
    }


def day_oracle(game: EnergyDayGame, options: AllocationOptions):
    """The day's exact separation oracle (``options.core_oracle``): LP-dual bounds or the membership MILP."""
    if options.core_oracle == "bounds":
        from p2psim.energy_game.bounds import dual_bound_separation

        return dual_bound_separation(game)
    from p2psim.energy_game.separation import membership_separation

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
    from p2psim.energy_game.inner import certified_core_allocation

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

    Amounts within :data:`~p2psim.metrics.equity.LOSS_TOLERANCE` of zero count as zero.
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


def day_weights(day_result: dict[str, Any]) -> dict[str, float]:
    """Each member's weighted-Shapley weight on a day: its class weight in force that day (the order book's)."""
    book = day_result["book"]
    return dict(zip(book.participant_ids, np.asarray(book.class_weight, dtype=float).tolist(), strict=True))


def reusable(day_result: dict[str, Any], options: AllocationOptions) -> dict[str, Any] | None:
    """What the day's settlement by a rule computed (:func:`allocate_rule_day`), if made with the same options.

    The worker count, the backend and its address do not change results, so they may differ.
    """
    settled = day_result.get("settlement_allocation")
    if not settled:
        return None
    same = replace(settled["options"], workers=options.workers, backend=options.backend,
                   address=options.address) == options
    return {"allocations": settled["allocations"], "known_costs": settled["known_costs"]} if same else None


def allocate(result, options: AllocationOptions | None = None,
             progress: Callable[[int], None] | None = None) -> dict[str, pd.DataFrame]:
    """Run the allocation stage on a finished run; return the daily and the run tables.

    The days fan out through ``options.backend`` (:func:`p2psim.parallel.fan_out`); ``progress(1)``
    is called as each day finishes.
    """
    options = options or AllocationOptions()
    people = result.participants
    group = tuple(people.participant[people.socio_class == least_advantaged_class(people)])
    specs = day_specs(result)
    options = replace(options, run_days=len(specs))
    jobs = [(spec, day_weights(r), group, options, reusable(r, options))
            for spec, r in zip(specs, result.day_results, strict=True)]
    days = map_days(allocate_day, jobs, workers=options.workers, backend=options.backend, address=options.address,
                    done=None if progress is None else lambda _, __: progress(1))
    bills = result.bills
    rows = []
    for day in days:
        today = bills[bills.day == day["day"]].set_index("participant")
        market = today.standalone_bill - today.get("market_bill", today.bill)  # runs written before issue 18: bill
        day["amounts"]["market"] = {p: float(market[p]) for p in day["players"]}
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
