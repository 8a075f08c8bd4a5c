"""The coordinator in a normal run: a trained policy sets each next day's class weights.

When a study names ``coordinator_policy`` (a policy directory, or the name of a policy shipped in
``p2psim/assets/policies``, e.g. ``"rural"``), :func:`coordinator_hooks` loads it and returns the
day hook that, after day d is settled, observes the day and sets the class weights of day d + 1
(the timing contract). A named policy that is not installed is skipped with a note in the report,
so a study still runs without it. :func:`coordinator_stage` records the weights each day was
cleared with and the day's Gini of normalised benefit (``coordinator.parquet``) and draws them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from p2psim.metrics import EQUITY_EXCLUDED_CLASSES, gini, normalised_benefit


def coordinator_hooks(study) -> tuple[tuple, str]:
    """Day hooks for the study's coordinator policy and a note on what was used."""
    if not study.coordinator_policy:
        return (), ""
    from p2psim.rl.policy import coordinator_hook, describe, load_policy

    policy = load_policy(study.coordinator_policy)
    return (coordinator_hook(policy, study),), describe(policy)


def daily_table(result) -> pd.DataFrame:
    """One row per day: the class weights it was cleared with, its Gini and its community cost."""
    participants = result.participants.set_index("participant")
    rows = []
    floor = result.study.equity.benefit_floor
    for day in result.day_results:
        bills = pd.DataFrame({k: np.asarray(v) for k, v in day["bills"].items()}, index=list(result.scenario.ids))
        keep = ~participants.loc[bills.index, "socio_class"].isin(EQUITY_EXCLUDED_CLASSES).to_numpy()
        r = normalised_benefit(bills.benefit.to_numpy()[keep], bills.standalone_bill.to_numpy()[keep], floor)
        row = {"day": day["day"], "gini_benefit": gini(r), "community_cost": float(bills.bill.sum())}
        row.update({f"weight_{c}": float(w) for c, w in sorted(day["class_weights"].items())})
        rows.append(row)
    return pd.DataFrame(rows)


def plot_coordinator(table: pd.DataFrame, path: Path) -> Path:
    """Gini of normalised benefit and class weights over the days of the run."""
    from p2psim.plots import CLASS_COLOURS, _save, plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
    left.plot(table.day, table.gini_benefit, marker="o", color="#333333")
    left.set_xlabel("day")
    left.set_ylabel("Gini of normalised benefit")
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
    """Stage for :mod:`p2psim.stages`: the per-day weights and Gini, with a report section."""
    table = daily_table(result)
    result.extras["coordinator"] = table
    result.summary["gini_benefit_first_day"] = float(table.gini_benefit.iloc[0])
    result.summary["gini_benefit_last_day"] = float(table.gini_benefit.iloc[-1])
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
            f" Gini of normalised benefit: first day {table.gini_benefit.iloc[0]:.3f}, "
            f"last day {table.gini_benefit.iloc[-1]:.3f}."
        )
        res.extras.setdefault("report_sections", []).append(("Coordinator", text, [png]))

    return write
