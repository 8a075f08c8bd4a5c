"""The allocation stage of every run: who gets the cooperative gain, under which rule, and is it stable.

Per day d the energy savings game v_d (:mod:`p2psim.game.energy`) is solved and its gain v_d(N)
allocated by: the Shapley value; the Kalai-Samet weighted Shapley value with socio-economic weights
w_i = (median income of the community) / (median income of i's class) (lower income, larger
weight); the nucleolus (small communities); equal split v(N)/n; and shares proportional to the
positive part of the stand-alone cost. The market's own settlement (each participant's settled
benefit against its settled stand-alone bill) is reported next to them; it is an ex-post figure
(actuals, imbalance) while the game values are day-ahead, so its total differs from v(N).

Exact enumeration for n <= ``exact_max_players``; above it, sampled estimates with standard errors
(never presented as exact) and a sampled core check (a lower bound on the largest excess). Days are
independent games and fan out across processes. Run totals are sums over days.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from p2psim.game.energy import DayGameSpec, EnergyDayGame, day_specs, map_days
from p2psim.game.shapley_sampling import antithetic_min_budget, stratified_min_budget
from p2psim.game.weighted import weighted_min_budget
from p2psim.metrics import EQUITY_EXCLUDED_CLASSES, gini, jain

SAMPLER_MINIMUM = {"antithetic": antithetic_min_budget, "stratified": stratified_min_budget}
"""Smallest budget each Shapley sampler accepts for n players (the options' budget is raised to it)."""

RULES = ("shapley", "weighted_shapley", "nucleolus", "owen", "equitable_core", "equal_split", "proportional", "market")


@dataclass(frozen=True)
class AllocationOptions:
    """How the allocation stage computes (a study may override)."""

    exact_max_players: int = 12
    nucleolus_max_players: int = 10
    sampled_budget: int = 300
    """Value calls per day per sampled estimator (Shapley, weighted Shapley)."""
    core_check_budget: int = 100
    """Value calls per day per sampled core check (a lower bound on the largest excess)."""
    rowgen_max_players: int = 16
    """Above ``exact_max_players``, compute the equitable core (the core point closest to the weighted
    Shapley value) by row generation with the membership MILP oracle up to this many players (about
    3 s per day at n = 14 on a quiet machine). Above it, the allocation stage takes the closest
    *certified* core point (:func:`p2psim.game.energy_inner.certified_core_allocation`: one LP, a
    proven core point, with a lower bound on the closest core point's distance in its ``meta``).
    Without binding shared limits that point is the Owen allocation closest to the target (usually
    the Owen allocation itself; see docs/model.md 5a): stable and proven, but no fairer than Owen.
    benchmarks/results/stable.md shows row generation at n = 50."""
    certified_max_players: int = 100
    """Largest community given the closest certified core point above ``rowgen_max_players`` (0: none;
    one LP per day, about 8 s at n = 100)."""
    sampler: str = "antithetic"
    """Shapley sampler for large n; antithetic permutations keep the estimate efficient (sums to v(N))."""
    workers: int = 2
    backend: str = "local"
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


def allocate_day(job: tuple[DayGameSpec, dict[str, float], AllocationOptions]) -> dict[str, Any]:
    """Solve one day's game: every rule's amounts, standard errors and core excesses."""
    from threadpoolctl import threadpool_limits

    spec, weights, options = job
    with threadpool_limits(1):  # one BLAS thread per worker: the workers already use every core
        return _allocate_day(spec, weights, options)


def _allocate_day(spec: DayGameSpec, weights: dict[str, float], options: AllocationOptions) -> dict[str, Any]:
    from p2psim.game import CachedGame, max_core_excess, nucleolus, shapley_value, weighted_shapley_value

    start = time.perf_counter()
    game = EnergyDayGame(spec)
    players = game.players
    n = len(players)
    exact = n <= options.exact_max_players
    method = "exact" if exact else "sampled"
    seed = options.seed * 1000 + spec.day
    grand = game.value(frozenset(players))
    cached = CachedGame(players, game.value)  # one cache shared by every solution concept
    out: dict[str, Any] = {}
    extra = {} if exact else {"sampler": options.sampler}
    budget = None if exact else max(options.sampled_budget, SAMPLER_MINIMUM[options.sampler](n))
    out["shapley"] = shapley_value(players, cached, method=method, budget=budget, seed=seed, **extra)
    out["weighted_shapley"] = weighted_shapley_value(
        players,
        cached,
        {p: weights[p] for p in players},
        method=method,
        budget=None if exact else max(options.sampled_budget, weighted_min_budget(n)),
        seed=seed + 1,
    )
    if n <= options.nucleolus_max_players:
        out["nucleolus"] = nucleolus(players, cached)
    positive = np.clip(game.standalone_cost, 0, None)
    share = positive / positive.sum() if positive.sum() > 0 else np.full(n, 1 / n)
    out["owen"] = owen_allocation(game, share)
    stable = equitable_core(game, cached, out["weighted_shapley"], options)
    if stable is not None:
        out["equitable_core"] = stable
    out["equal_split"] = dict(zip(players, np.full(n, grand / n), strict=True))
    out["proportional"] = dict(zip(players, grand * share, strict=True))
    core = {}
    for rule, allocation in out.items():
        check = max_core_excess(
            players,
            cached,
            dict(allocation),
            method=method,
            budget=None if exact else options.core_check_budget,
            seed=seed + 2,
        )
        core[rule] = check
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
        "core": {
            rule: (float(c.max_excess), int(c.n_violated), int(c.n_checked), bool(c.exact)) for rule, c in core.items()
        },
        "n_solves": game.n_solves,
        "seconds": time.perf_counter() - start,
    }


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


def equitable_core(game: EnergyDayGame, cached, target, options: AllocationOptions):
    """Core (or least-core) allocation closest in L1 to the weighted Shapley target, or None.

    Above ``rowgen_max_players``: the closest certified core point, or None when none exists.
    """
    from p2psim.game import equitable_core_allocation
    from p2psim.game.energy_separation import membership_separation

    n = len(game.players)
    if n <= options.exact_max_players:
        return equitable_core_allocation(game.players, cached, target=dict(target), method="exact")
    if n <= options.rowgen_max_players:
        return equitable_core_allocation(
            game.players, cached, target=dict(target), method="rowgen", separation=membership_separation(game)
        )
    if n > options.certified_max_players:
        return None
    from p2psim.game.energy_inner import certified_core_allocation

    return certified_core_allocation(game, np.array([target[p] for p in game.players], dtype=float))


def fairness(amounts: np.ndarray, standalone: np.ndarray, floor: float) -> dict[str, float]:
    """Gini and Jain of relative saving, the worst relative saving and the share of losers."""
    r = amounts / np.maximum(np.abs(standalone), floor)
    return {
        "gini": gini(r),
        "jain": jain(r),
        "min_relative_saving_pct": 100 * float(r.min()),
        "losers_pct": 100 * float((amounts < -1e-9).mean()),
    }


def allocate(result, options: AllocationOptions | None = None) -> dict[str, pd.DataFrame]:
    """Run the allocation stage on a finished run; return the daily and the run tables."""
    options = options or AllocationOptions()
    weights = socio_economic_weights(result.participants)
    specs = day_specs(result)
    days = map_days(
        allocate_day, [(s, weights, options) for s in specs], workers=options.workers, backend=options.backend
    )
    bills = result.bills
    rows = []
    for day in days:
        market = bills[bills.day == day["day"]].set_index("participant").benefit
        day["amounts"]["market"] = {p: float(market[p]) for p in day["players"]}
        for rule, amounts in day["amounts"].items():
            errors = day["std_error"].get(rule, {})
            for k, player in enumerate(day["players"]):
                rows.append(
                    {
                        "day": day["day"],
                        "participant": player,
                        "rule": rule,
                        "amount": amounts[player],
                        "std_error": errors.get(player, 0.0 if day["exact"] or rule != "shapley" else np.nan),
                        "standalone_cost": float(day["standalone_cost"][k]),
                        "exact": bool(day["exact"] or rule not in ("shapley", "weighted_shapley")),
                    }
                )
    daily = pd.DataFrame(rows)
    per = (
        daily.groupby(["rule", "participant"], sort=False)
        .agg(
            amount=("amount", "sum"),
            standalone_cost=("standalone_cost", "sum"),
            std_error=("std_error", lambda s: float(np.sqrt((s**2).sum()))),
            exact=("exact", "all"),
        )
        .reset_index()
    )
    per = per.merge(result.participants[["participant", "socio_class", "income_per_year"]], on="participant")
    floor = result.study.equity.benefit_floor * len(days)
    metrics = []
    for rule, group in per.groupby("rule", sort=False):
        equity = group[~group.socio_class.isin(EQUITY_EXCLUDED_CLASSES)]
        stats = fairness(equity.amount.to_numpy(), equity.standalone_cost.to_numpy(), floor)
        excess = [d["core"][rule] for d in days if rule in d["core"]]
        metrics.append(
            {
                "rule": rule,
                "total": float(group.amount.sum()),
                **stats,
                "max_core_excess_per_day": max((e[0] for e in excess), default=np.nan),
                "core_violations": sum(e[1] for e in excess) if excess else np.nan,
                "coalitions_checked": sum(e[2] for e in excess) if excess else np.nan,
                "core_check_exact": all(e[3] for e in excess) if excess else False,
                "exact": bool(group.exact.all()),
            }
        )
    return {
        "daily": daily,
        "allocation": per,
        "rules": pd.DataFrame(metrics),
        "days": pd.DataFrame(
            [
                {
                    "day": d["day"],
                    "cooperative_gain": d["grand_value"],
                    "n_solves": d["n_solves"],
                    "seconds": d["seconds"],
                    "exact": d["exact"],
                }
                for d in days
            ]
        ),
    }


def plot_allocations(per: pd.DataFrame, path: Path) -> Path:
    """Each participant's allocation under each rule, grouped by class."""
    from p2psim.plots import CLASS_COLOURS, _save, plt

    rules = [r for r in RULES if r in set(per.rule)]
    order = per[per.rule == rules[0]].sort_values(["socio_class", "participant"])
    players = order.participant.tolist()
    fig, ax = plt.subplots(figsize=(10, 3.8))
    width = 0.8 / len(rules)
    cmap = plt.get_cmap("tab10")
    for k, rule in enumerate(rules):
        values = per[per.rule == rule].set_index("participant").amount.reindex(players)
        ax.bar(
            np.arange(len(players)) + (k - len(rules) / 2 + 0.5) * width, values, width=width, label=rule, color=cmap(k)
        )
    ax.set_xticks(
        range(len(players)),
        [f"{p}\n({c})" for p, c in zip(players, order.socio_class, strict=True)],
        rotation=60,
        fontsize=7,
    )
    for tick, cls in zip(ax.get_xticklabels(), order.socio_class, strict=True):
        tick.set_color(CLASS_COLOURS.get(cls, "#333333"))
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylabel("share of the cooperative gain")
    ax.legend(fontsize=7, ncol=len(rules))
    ax.set_title("Allocation of the cooperative gain by rule (labels coloured by class)")
    return _save(fig, path)


def plot_class_shares(per: pd.DataFrame, rules: pd.DataFrame, path: Path) -> Path:
    """One bar per rule: each class's share of the gain; the label says whether the rule is stable."""
    from p2psim.plots import CLASS_COLOURS, _save, plt

    order = [r for r in RULES if r in set(per.rule)]
    table = per.groupby(["rule", "socio_class"]).amount.sum().unstack(fill_value=0.0).reindex(order)
    totals = table.sum(axis=1).where(lambda t: t.abs() > 1e-12)
    shares = 100 * table.div(totals, axis=0)
    stable = rules.set_index("rule").reindex(order)
    fig, ax = plt.subplots(figsize=(9, 3.8))
    bottom = np.zeros(len(order))
    for cls in shares.columns:
        values = shares[cls].to_numpy()
        ax.bar(range(len(order)), values, bottom=bottom, color=CLASS_COLOURS.get(cls, "#777777"), label=cls)
        bottom += values
    labels = []
    for rule, row in stable.iterrows():
        if np.isnan(row.max_core_excess_per_day):
            verdict = "?"
        else:
            verdict = "stable" if row.max_core_excess_per_day <= 1e-6 else "unstable"
            verdict += "" if row.core_check_exact else "*"
        labels.append(f"{rule}\n{verdict}")
    ax.set_xticks(range(len(order)), labels, fontsize=8)
    ax.set_ylabel("share of the gain (%)")
    ax.legend(fontsize=8, ncol=len(shares.columns), loc="upper right")
    ax.set_title("Each class's share under each rule (stable = no coalition gains by leaving; * sampled check)")
    return _save(fig, path)


def stability_cost(per: pd.DataFrame) -> dict[str, float]:
    """What the least advantaged class gives up for stability.

    The least advantaged class has the lowest median income; the cost is its weighted-Shapley share
    minus its share under the core allocation closest to that target.
    """
    if not {"weighted_shapley", "equitable_core"} <= set(per.rule):
        return {}
    equity = per[~per.socio_class.isin(EQUITY_EXCLUDED_CLASSES)]
    poorest = equity.groupby("socio_class").income_per_year.median().idxmin()
    by_rule = equity[equity.socio_class == poorest].groupby("rule").amount.sum()
    return {
        "class": poorest,
        "weighted_shapley": float(by_rule["weighted_shapley"]),
        "equitable_core": float(by_rule["equitable_core"]),
        "cost_of_stability": float(by_rule["weighted_shapley"] - by_rule["equitable_core"]),
    }


def _rules_markdown(rules: pd.DataFrame) -> str:
    lines = [
        "| rule | total | Gini | Jain | worst saving (%) | losers (%) | max core excess/day | stable |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rules.itertuples():
        stable = (
            "n/a" if np.isnan(row.max_core_excess_per_day) else ("yes" if row.max_core_excess_per_day <= 1e-6 else "no")
        )
        if stable != "n/a" and not row.core_check_exact:
            stable += " (sampled check)"
        lines.append(
            f"| {row.rule}{'' if row.exact else ' (estimate)'} | {row.total:.2f} | {row.gini:.3f} | "
            f"{row.jain:.3f} | {row.min_relative_saving_pct:.1f} | {row.losers_pct:.0f} | "
            f"{row.max_core_excess_per_day:.3f} | {stable} |"
        )
    return "\n".join(lines)


def allocation_stage(result):
    """Stage for :mod:`p2psim.stages`: allocate, extend the summary, return the writer."""
    if not result.study.allocation:
        return None
    tables = allocate(result, AllocationOptions(seed=result.study.seed))
    result.extras["allocation"] = tables
    rules = tables["rules"].set_index("rule")
    result.summary["cooperative_gain_game"] = float(tables["days"].cooperative_gain.sum())
    for key, value in stability_cost(tables["allocation"]).items():
        if key != "class":
            result.summary[f"stability_{key}"] = value
    for rule, row in rules.iterrows():
        result.summary[f"allocation_{rule}_gini"] = float(row.gini)
        result.summary[f"allocation_{rule}_max_core_excess"] = float(row.max_core_excess_per_day)

    def write(res, directory: Path) -> None:
        tables["daily"].to_parquet(directory / "allocation_daily.parquet", index=False)
        tables["allocation"].to_parquet(directory / "allocation.parquet", index=False)
        tables["rules"].to_parquet(directory / "allocation_rules.parquet", index=False)
        png = plot_allocations(tables["allocation"], directory / "allocation.png")
        shares_png = plot_class_shares(tables["allocation"], tables["rules"], directory / "allocation_classes.png")
        cost = stability_cost(tables["allocation"])
        stability = (
            f"\n\nCost of stability for the least advantaged class ({cost['class']}): weighted Shapley gives it "
            f"{cost['weighted_shapley']:.2f}, the closest core allocation {cost['equitable_core']:.2f} "
            f"(difference {cost['cost_of_stability']:.2f})."
            if cost
            else "\n\nThe equitable core allocation was not computed for this community size (see allocation options)."
        )
        text = (
            f"Cooperative gain (day-ahead game, sum over days): {result.summary['cooperative_gain_game']:.2f}. "
            "Market = the settled benefit against the settled stand-alone bill (ex post).\n\n"
            + _rules_markdown(tables["rules"])
            + stability
        )
        section = ("Allocation of the cooperative gain", text, [png, shares_png])
        res.extras.setdefault("report_sections", []).append(section)

    return write
