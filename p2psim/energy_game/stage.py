"""The allocation stage of a run: its summary keys, tables, figures and report section.

Summary keys (money in the study's currency): ``cooperative_gain_game`` (sum over days of v_d(N));
per rule ``allocation_<rule>_gini_relative_benefit``, and the largest core excess per day and the
number of days with a violated coalition, ``allocation_<rule>_max_core_excess<suffix>`` and
``allocation_<rule>_core_violated_days<suffix>``, whose suffix says what they are
(:mod:`p2psim.energy_game.core_checks`): none when the game was enumerated (exact), ``_dual_bounds`` when the
LP-dual bound enumeration proved them (exact), ``_milp_oracle`` when the MILP oracle did (exact),
``_sampled_lower_bound`` when coalitions were sampled (the true figures can only be larger). For the
least advantaged class: ``stability_weighted_shapley``, ``stability_equitable_core`` and
``stability_cost_of_stability`` when exact; otherwise the same keys with ``_estimate`` and
``stability_cost_of_stability_estimate_se`` (the standard error of the sampled weighted-Shapley
class total, which the cost carries; :func:`~p2psim.energy_game.core_checks.stability_cost`).

Tables: ``allocation_daily`` (day x participant x rule), ``allocation`` (run totals), ``allocation_rules``,
``allocation_core`` (day x rule: the core check) and ``allocation_days``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from p2psim.energy_game.allocate import RULES, AllocationOptions, allocate, allocation_options
from p2psim.energy_game.core_checks import stability_cost
from p2psim.game.core import CHECK_LABELS

STABLE_TOLERANCE = 1e-6
"""A rule is stable when no coalition's excess exceeds this (currency per day)."""
SAMPLED = CHECK_LABELS["sampled"]
KEY_SUFFIX = {CHECK_LABELS["exact"]: "", CHECK_LABELS["oracle"]: "_milp_oracle", CHECK_LABELS["bounds"]: "_dual_bounds",
              SAMPLED: "_sampled_lower_bound"}
"""Summary-key suffix of each core-check label."""


def core_key(rule: str, label: str, what: str = "max_core_excess") -> str:
    """Summary key of a rule's core figure ``what``, suffixed by the check's label (:data:`KEY_SUFFIX`)."""
    return f"allocation_{rule}_{what}{KEY_SUFFIX[label]}"


def verdict(excess: float, label: str) -> str:
    """'yes' / 'no' / 'n/a', and for a sampled check what it can and cannot show."""
    if np.isnan(excess):
        return "n/a"
    if excess > STABLE_TOLERANCE:
        return "no" if label != SAMPLED else "no (found by sampling)"
    return "yes" if label != SAMPLED else f"unknown (none found; {SAMPLED})"


def excess_cell(row) -> str:
    """A rules-table row's largest core excess and what it is (exact, exact (MILP oracle), sampled lower bound)."""
    if np.isnan(row.max_core_excess_per_day):
        return "n/a"
    return f"{row.max_core_excess_per_day:.3f}; {row.core_check}"


def violations_cell(row) -> str:
    """'days violated; coalitions violated' (summed over days), with what each is (counted, not, sampled)."""
    if np.isnan(row.max_core_excess_per_day):
        return "n/a"
    if row.core_check == SAMPLED:
        days = f"at least {row.core_violated_days:.0f}" if row.core_violated_days else "none found"
        return f"{days}; {row.core_violations:.0f} of {row.coalitions_checked:.0f} sampled"
    if np.isnan(row.core_violations):  # the oracles count violated coalitions only when there are none
        return f"{row.core_violated_days:.0f}; not counted ({row.core_check.removeprefix('exact (').rstrip(')')})"
    return f"{row.core_violated_days:.0f}; {row.core_violations:.0f} of {row.coalitions_checked:.0f}"


def jain_cell(row) -> str:
    """A rules-table row's Jain index of relative benefit, or why it is not reported."""
    return "n/a (negative amounts)" if np.isnan(row.jain_relative_benefit) else f"{row.jain_relative_benefit:.3f}"


def plot_allocations(per: pd.DataFrame, path: Path, currency: str) -> Path:
    """Each participant's allocation under each rule, grouped by class."""
    from p2psim.report.plots import CLASS_COLOURS, _save, plt

    rules = [r for r in RULES if r in set(per.rule)]
    order = per[per.rule == rules[0]].sort_values(["socio_class", "participant"])
    players = order.participant.tolist()
    fig, ax = plt.subplots(figsize=(10, 3.8))
    width = 0.8 / len(rules)
    cmap = plt.get_cmap("tab10")
    for k, rule in enumerate(rules):
        values = per[per.rule == rule].set_index("participant").amount.reindex(players)
        ax.bar(np.arange(len(players)) + (k - len(rules) / 2 + 0.5) * width, values, width=width, label=rule,
               color=cmap(k))
    ax.set_xticks(range(len(players)), [f"{p}\n({c})" for p, c in zip(players, order.socio_class, strict=True)],
                  rotation=60, fontsize=7)
    for tick, cls in zip(ax.get_xticklabels(), order.socio_class, strict=True):
        tick.set_color(CLASS_COLOURS.get(cls, "#333333"))
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylabel(f"share of the cooperative gain ({currency})")
    ax.legend(fontsize=7, ncol=len(rules))
    ax.set_title("Allocation of the cooperative gain by rule (labels coloured by class)")
    return _save(fig, path)


def plot_class_shares(per: pd.DataFrame, rules: pd.DataFrame, path: Path) -> Path:
    """One bar per rule: each class's share of the gain; the label says whether the rule is stable."""
    from p2psim.report.plots import CLASS_COLOURS, _save, plt

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
        word = verdict(row.max_core_excess_per_day, row.core_check).split(" (")[0]
        word = {"yes": "stable", "no": "unstable", "n/a": "?", "unknown": "stable?"}[word]
        labels.append(f"{rule}\n{word}{'*' if row.core_check == SAMPLED else ''}")
    ax.set_xticks(range(len(order)), labels, fontsize=8)
    ax.set_ylabel("share of the gain (%)")
    ax.legend(fontsize=8, ncol=len(shares.columns), loc="upper right")
    ax.set_title("Each class's share under each rule (stable = no coalition gains by leaving; "
                 f"* {SAMPLED} check)")
    return _save(fig, path)


def rules_markdown(rules: pd.DataFrame, currency: str) -> str:
    """The rules table: totals, equity of relative benefit, stability (exact, MILP oracle or sampled lower bound)."""
    lines = [
        f"| rule | total ({currency}) | Gini of relative benefit | Jain | worst saving (%) | losers (%) | "
        f"max core excess/day ({currency}) | days violated; coalitions violated | stable |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rules.itertuples():
        lines.append(
            f"| {row.rule}{'' if row.exact else ' (estimate)'} | {row.total:.2f} | {row.gini_relative_benefit:.3f} | "
            f"{jain_cell(row)} | {row.min_relative_saving_pct:.1f} | {row.losers_pct:.0f} | {excess_cell(row)} | "
            f"{violations_cell(row)} | {verdict(row.max_core_excess_per_day, row.core_check)} |"
        )
    return "\n".join(lines)


def summary_keys(tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """The allocation stage's summary.json figures (see module docstring)."""
    out = {"cooperative_gain_game": float(tables["days"].cooperative_gain.sum())}
    cost = stability_cost(tables["allocation"], tables["days"])
    suffix = "" if cost.get("exact") else "_estimate"
    for key in ("weighted_shapley", "equitable_core", "cost_of_stability"):
        if key in cost:
            out[f"stability_{key}{suffix}"] = cost[key]
    if "std_error" in cost:
        out["stability_cost_of_stability_estimate_se"] = cost["std_error"]
    for row in tables["rules"].itertuples():
        out[f"allocation_{row.rule}_gini_relative_benefit"] = float(row.gini_relative_benefit)
        if not np.isnan(row.max_core_excess_per_day):
            out[core_key(row.rule, row.core_check)] = float(row.max_core_excess_per_day)
            out[core_key(row.rule, row.core_check, "core_violated_days")] = float(row.core_violated_days)
    return out


CHECK_TEXT = {
    CHECK_LABELS["exact"]: "exact over all 2^n - 2 coalitions where the game was enumerated (with the number of "
                           "violated coalitions)",
    CHECK_LABELS["bounds"]: "exact (LP-dual bounds) where every coalition's cost was bounded from below by LP "
                            "duality and the coalitions whose bound could beat the best were costed, which proves the "
                            "largest excess per rule and day (it counts the violated coalitions only when there are "
                            "none)",
    CHECK_LABELS["oracle"]: "exact (MILP oracle) where one MILP over coalition membership per rule and day proved the "
                            "largest excess (it counts the violated coalitions only when there are none)",
    SAMPLED: f"a {SAMPLED} where coalitions were sampled (the true figures can only be larger)",
}
"""How the report explains each core-check label (only the labels a run used are explained)."""


def check_text(labels: set[str]) -> str:
    """The sentence naming how the run's core checks were made, strongest first."""
    parts = [text for label, text in CHECK_TEXT.items() if label in labels]
    return ("; ".join(parts) or "not checked") + "."


def weights_text(day_weights: list[dict[str, float]], rule: str = "market") -> str:
    """Which weights the weighted Shapley value used (the class weights in force each day) and who is paid how."""
    classes = list(dict.fromkeys(c for w in day_weights for c in w))
    same = all(w == day_weights[0] for w in day_weights)
    if same:
        listed = ", ".join(f"{c} {day_weights[0][c]:.2f}" for c in classes)
        equal = len({round(v, 12) for v in day_weights[0].values()}) <= 1
        text = (f"Weighted Shapley (and the equitable core, the core point closest to it) uses the class weights "
                f"in force: {listed} on every day" + (", all equal, so it is the Shapley value." if equal else "."))
    else:
        text = ("Weighted Shapley (and the equitable core, the core point closest to it) uses the class weights in "
                "force each day, which the coordinator changed (table coordinator.parquet).")
    if rule != "market":
        text += (f" Members are paid by the `{rule}` row: each its stand-alone bill minus its share of the realised "
                 "gain, in that row's proportions (section 'Settlement by rule').")
    return text


def section_text(tables: dict[str, pd.DataFrame], summary: dict[str, float], currency: str,
                 weights: str = "") -> str:
    """The report section's Markdown (``weights``: :func:`weights_text`)."""
    cost = stability_cost(tables["allocation"], tables["days"])
    if cost and cost["exact"]:
        stability = (
            f"\n\nCost of stability for the least advantaged class ({cost['class']}), exact: weighted Shapley gives "
            f"it {cost['weighted_shapley']:.2f} {currency}, the closest core allocation {cost['equitable_core']:.2f} "
            f"{currency} (difference {cost['cost_of_stability']:.2f} {currency})."
        )
    elif cost:
        se = cost["std_error"]
        stability = (
            f"\n\nCost of stability for the least advantaged class ({cost['class']}), an estimate: the sampled "
            f"weighted Shapley value gives it {cost['weighted_shapley']:.2f} ± {se:.2f} {currency} (± one standard "
            f"error of the class total), the core allocation computed from that estimate "
            f"{cost['equitable_core']:.2f} {currency}, so stability costs it {cost['cost_of_stability']:.2f} ± "
            f"{se:.2f} {currency} (the standard error of the weighted-Shapley term; the core point moves with the "
            "estimate, and that variation is not in it)."
        )
    else:
        stability = ("\n\nThe equitable core allocation was not computed for this community size "
                     "(see allocation options).")
    return (
        f"Cooperative gain (day-ahead game, sum over days): {summary['cooperative_gain_game']:.2f} {currency}. "
        + (weights + " " if weights else "")
        + "Market = the market benefit, stand-alone bill minus market bill (ex post: it equals the game's gain "
        "when forecasts are perfect and the clearing minimises the community cost). Relative benefit = a member's "
        "amount / its need (the stand-alone cost of its consumption); its Gini is in [0, 1], 0 = everyone gains "
        "the same share of their need. Stability: the largest gain any coalition would make by leaving, per day, "
        "and the days on which some coalition would leave: " + check_text(set(tables["rules"].core_check)) + "\n\n"
        + rules_markdown(tables["rules"], currency) + stability
    )


def allocation_stage(result, options: AllocationOptions | None = None, progress=None):
    """Stage for :mod:`p2psim.runner.stages`: allocate, extend the summary, return the writer.

    ``progress(1)`` (optional) is called as each day's game is solved.
    """
    if not result.study.allocation:
        return None
    tables = allocate(result, options or allocation_options(result.study), progress=progress)
    result.extras["allocation"] = tables
    result.summary.update(summary_keys(tables))
    currency = result.scenario.tariffs.currency

    def write(res, directory: Path) -> None:
        tables["daily"].to_parquet(directory / "allocation_daily.parquet", index=False)
        tables["allocation"].to_parquet(directory / "allocation.parquet", index=False)
        tables["rules"].to_parquet(directory / "allocation_rules.parquet", index=False)
        tables["core"].to_parquet(directory / "allocation_core.parquet", index=False)
        tables["days"].to_parquet(directory / "allocation_days.parquet", index=False)
        png = plot_allocations(tables["allocation"], directory / "allocation.png", currency)
        shares_png = plot_class_shares(tables["allocation"], tables["rules"], directory / "allocation_classes.png")
        weights = weights_text([dict(r["class_weights"]) for r in res.day_results], res.study.settlement_rule)
        section = ("Allocation of the cooperative gain", section_text(tables, res.summary, currency, weights),
                   [png, shares_png])
        res.extras.setdefault("report_sections", []).append(section)

    return write
