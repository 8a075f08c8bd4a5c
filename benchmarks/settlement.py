"""Settlement rules compared across the studies: who pays what under market, weighted Shapley, the equitable core.

    .venv/bin/python benchmarks/settlement.py --sweep-dir /tmp/settlement [--rules market,weighted_shapley,...]

Runs two resumable sweeps (``python -m p2psim sweep``, local pool, seed 0): the rural study for its
full week, and the large studies (semiurban 42, urban 117, winter 119, ev_evening 100, mixed_income
106 members, heat_pumps) for ``--large-days`` days (the equitable core and the Shapley values of 100+
members cost seconds a day inside the loop, and the allocation stage 15-20 s a day), each with
``--set settlement_rule=...`` and the explanation stage off. Every study runs as shipped: rural's
equity coordinator observes what the rule pays and sets the next day's weights; the others have
none. Writes benchmarks/results/settlement.md: per study and rule,

- the bounded inequity index: Gini (Raffinetti-Siletti-Vernizzi, in [0, 1]) of the members' relative
  benefit, benefit as paid / need, over the run (``gini_relative_benefit``);
- the energy burden of the low-income class (its members' positive bills / their income, annualised)
  and its relative saving;
- losers: members worse off than alone over the run (% of members), and member-days paying more than
  alone (every participant);
- the cost of stability for the least advantaged class (its weighted Shapley share minus its
  equitable-core share over the run, with the class weights in force each day), from the day loop of
  the run settled by ``equitable_core`` (the only rule that computes both; a sweep runs no
  allocation stage): ``settled_cost_of_stability`` of its sweep row;
- the game's value, the realised gain and the gap between them (dispatch and forecast parts).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from _results import publish, uptime  # benchmarks/ is on the path when run as a script

REPO = Path(__file__).resolve().parents[1]
SMALL = ("rural",)
LARGE = ("semiurban", "urban", "winter", "ev_evening", "mixed_income", "heat_pumps")
RULES = "market,weighted_shapley,equitable_core,owen"


def sweep(studies: tuple[str, ...], days: int | None, rules: str, out: Path, workers: int) -> pd.DataFrame:
    """Run (or resume) one sweep and return its table."""
    args = [sys.executable, "-m", "p2psim", "sweep", *[f"studies/{s}.py" for s in studies],
            "--set", f"settlement_rule={rules}", "--set", "explain=false", "--seeds", "0",
            "--workers", str(workers), "--out", str(out), "--no-progress"]
    if days is not None:
        args += ["--set", f"days={days}"]
    status = subprocess.run(args, cwd=REPO).returncode
    if status not in (0, 3):  # 3: some runs failed; their rows are kept and listed under the table
        raise SystemExit(f"sweep exited {status}")
    return pd.read_parquet(out / "sweep.parquet")


def cost_of_stability(row: pd.Series) -> str:
    """The low class's cost of stability of a run settled by the equitable core (from its day loop)."""
    value = row.get("settled_cost_of_stability", np.nan)
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:.2f} ({'exact' if row.get('settled_cost_of_stability_exact') == 1.0 else 'sampled target'})"


def number(row: pd.Series, key: str, digits: int = 2) -> str:
    value = row.get(key, np.nan)
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def table(frame: pd.DataFrame, rules: list[str]) -> list[str]:
    """The results table, one row per study and rule."""
    lines = [
        "| study | n | days | rule | Gini of relative benefit | low class: energy burden (%) | low class: saving "
        "(% of need) | losers (% of members) | member-days paying more than alone | cost of stability, low class "
        "(EUR) | game value (EUR) | realised gain (EUR) | dispatch gap | forecast gap |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for study, group in frame.groupby("study", sort=False):
        for rule in rules:
            rows = group[group.settlement_rule == rule]
            if not len(rows):
                continue
            r = rows.iloc[0]
            lines.append(
                f"| {study} | {r.n_participants:.0f} | {r.days:.0f} | {rule} | "
                f"{number(r, 'gini_relative_benefit', 3)} | {number(r, 'energy_burden_pct.low')} | "
                f"{number(r, 'saving_pct.low')} | {number(r, 'losers_pct', 1)} | "
                f"{number(r, 'member_days_paying_more_than_alone', 0)} | {cost_of_stability(r)} | "
                f"{number(r, 'settlement_game_value')} | {number(r, 'settlement_realised_gain')} | "
                f"{number(r, 'settlement_dispatch_gap')} | {number(r, 'settlement_forecast_gap')} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sweep-dir", type=Path, required=True)
    parser.add_argument("--rules", default=RULES)
    parser.add_argument("--large-days", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    start, load = time.perf_counter(), os.getloadavg()[0]
    small = sweep(SMALL, None, args.rules, args.sweep_dir / "small", args.workers)
    large = sweep(LARGE, args.large_days, args.rules, args.sweep_dir / "large", args.workers)
    frame = pd.concat([small, large], ignore_index=True)
    failed = frame[frame.status != "ok"]
    rules = args.rules.split(",")
    lines = [
        "# Settlement rules compared across the studies",
        "",
        f"Generated by `python benchmarks/settlement.py --large-days {args.large_days}` on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC ({platform.platform()}, {os.cpu_count()} CPUs); seed 0; "
        f"{(time.perf_counter() - start) / 60:.1f} min (rows of an earlier call are reused). Load average at the "
        f"start {load:.1f}; `uptime` at the end: {uptime()}.",
        "",
        f"Each study runs as shipped, settled by each rule (`--set settlement_rule=...`): rural for its week "
        f"(7 days; its equity coordinator observes what the rule pays and sets the next day's weights), the "
        f"larger studies for **{args.large_days} days only** (100+ members: the equitable core and the Shapley "
        "values are computed inside the day loop, and the allocation stage costs 15-20 s a day). Members "
        "pay their stand-alone bill minus their share of the day's realised gain under the rule "
        "(docs/model.md 5b); `market` is the market's own bills. Every figure is on what members pay.",
        "",
        "Columns: Gini of relative benefit = the bounded inequity index (Raffinetti-Siletti-Vernizzi, in [0, 1], "
        "0 = every member saves the same share of its need) of benefit as paid / need over the run; low class = "
        "the low-income class (energy burden: its members' positive bills / their income, annualised; saving: "
        "its benefit / its need); losers = members worse off than alone over the run; member-days paying more "
        "than alone counts every participant-day with bill > stand-alone bill; cost of stability = what the "
        "least advantaged class gives up from the weighted Shapley value (class weights in force each day) to "
        "the closest core point, summed over the run, from the day loop of the `equitable_core` run (computed "
        "there only: the weights of that run, `sampled target` when the weighted Shapley "
        "value was sampled, n > 12); game value = sum over days of v_d(N) (day-ahead), realised gain = what the "
        "community saved "
        "against everyone alone, dispatch gap = the market schedule's distance from the cost optimum, "
        "forecast gap = the rest (forecast errors on shared charges).",
        "",
        *table(frame[frame.status == "ok"], rules),
        "",
    ]
    if len(failed):
        lines += ["Failed runs:", "", *[f"- {r.study} {r.settings}: {r.error}" for r in failed.itertuples()], ""]
    publish(REPO / "benchmarks/results/settlement.md", lines)


if __name__ == "__main__":
    main()
