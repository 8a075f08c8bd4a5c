"""The coordinator in a normal run: a trained policy sets each next day's class weights.

When a study names ``coordinator_policy`` (a policy directory, or the name of a policy shipped in
``p2psim/assets/policies``: ``"feedback"``, the PI controller of :mod:`p2psim.rl.feedback`, the
default of the six studies), :func:`coordinator_hooks` loads it and returns the day hook that,
after day d is settled, observes the day and the outcomes accumulated since the run began and sets
the class weights of day d + 1 (the timing contract). :func:`coordinator_stage` records the weights
each day was cleared with, the day's Gini of relative benefit and the Gini of the cumulative
outcomes (``coordinator.parquet``, from the run's ``equity_daily`` table, :mod:`p2psim.metrics.equity`) and
draws them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def coordinator_hooks(study) -> tuple[tuple, str]:
    """Day hooks for the study's coordinator policy and a note on what was used."""
    if not study.coordinator_policy:
        return (), ""
    from p2psim.rl.policy import coordinator_hook, describe, load_any_policy

    policy = load_any_policy(study.coordinator_policy)
    return (coordinator_hook(policy, study),), describe(policy)


def daily_table(result) -> pd.DataFrame:
    """One row per day: the class weights it was cleared with, its Gini of relative benefit and its community cost."""
    equity = result.equity_daily.set_index("day")
    rows = []
    for day in result.day_results:
        today = equity.loc[day["day"]]
        row = {"day": day["day"], "gini_relative_benefit_daily": float(today.gini_relative_benefit_daily),
               "gini_relative_benefit_cumulative": float(today.gini_relative_benefit_cumulative),
               "community_cost": float(np.sum(day["bills"]["bill"]))}
        row.update({f"weight_{c}": float(w) for c, w in sorted(day["class_weights"].items())})
        rows.append(row)
    return pd.DataFrame(rows)


def plot_coordinator(table: pd.DataFrame, path: Path) -> Path:
    """Gini of the day's relative benefit and class weights over the days of the run."""
    from p2psim.report.plots import CLASS_COLOURS, _save, plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
    left.plot(table.day, table.gini_relative_benefit_daily, marker="o", color="#999999", label="that day")
    left.plot(table.day, table.gini_relative_benefit_cumulative, marker="o", color="#333333",
              label="cumulative to date")
    left.legend(fontsize=8)
    left.set_xlabel("day")
    left.set_ylabel("Gini of relative benefit")
    left.set_ylim(0, 1)
    left.set_title("Inequity over the run")
    for column in [c for c in table.columns if c.startswith("weight_")]:
        cls = column.removeprefix("weight_")
        right.step(table.day, table[column], where="post", label=cls, color=CLASS_COLOURS.get(cls))
    right.set_xlabel("day")
    right.set_ylabel("class weight")
    right.set_title("Weights each day was cleared with")
    right.legend(fontsize=8)
    return _save(fig, path)


def coordinator_stage(result):
    """Stage for :mod:`p2psim.runner.stages`: the per-day weights and Gini, with a report section."""
    table = daily_table(result)
    result.extras["coordinator"] = table
    note = result.extras.get("coordinator_note", "")

    def write(res, directory: Path) -> None:
        table.to_parquet(directory / "coordinator.parquet", index=False)
        png = plot_coordinator(table, directory / "coordinator.png")
        text = (
            f"Weights set by {note}; the first day uses the study's weights."
            if note
            else "No coordinator policy: every day is cleared with the study's class weights."
        )
        text += (
            f" Gini of relative benefit (0 = equal, near 1 = one member takes all): of the first day "
            f"{table.gini_relative_benefit_daily.iloc[0]:.3f}; of the outcomes accumulated to the last day "
            f"{table.gini_relative_benefit_cumulative.iloc[-1]:.3f}, the index the coordinator lowers (the section "
            "'Equity over time' has its trend; benchmarks/results/coordinator.md compares the coordinator with "
            "equal and static weights on the same days)."
        )
        res.extras.setdefault("report_sections", []).append(("Coordinator", text, [png]))

    return write
