"""The coordinator's evaluation protocol: one ``evaluate`` per study and horizon, and the tables of coordinator.md.

    .venv/bin/python benchmarks/bench_coordinator.py run --policy feedback --start-day 126 --days 56 \\
        --seeds 0,1,2 --root runs/coord/8w [--studies rural,semiurban,...]
    .venv/bin/python benchmarks/bench_coordinator.py table runs/coord/8w [runs/coord/year ...]

``run`` calls ``python -m p2psim evaluate STUDY --policy P --start-day D --days N --seeds S --out
ROOT/STUDY`` for every study whose ROOT/STUDY/summary.json does not exist yet (so it resumes), one
after the other, with the uptime before and after each. ``table`` prints, per evaluated directory,
one markdown row per study and policy (means and 95 % t-intervals over seeds from summary.json),
then one line per study: whether the candidate's cumulative inequity falls over the window (the
mean slope of G_t and its interval below 0) and whether it beats each baseline (paired difference
of final cumulative inequity, interval below 0).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SIX = ("rural", "semiurban", "urban", "winter", "ev_evening", "mixed_income")
REPO = Path(__file__).resolve().parents[1]


def _uptime() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def run(args) -> None:
    for study in args.studies.split(","):
        out = Path(args.root) / study
        if (out / "summary.json").is_file():
            print(f"{study}: done earlier ({out})", flush=True)
            continue
        t0 = time.perf_counter()
        print(f"{time.strftime('%H:%M:%S')} {study}: start, {_uptime()}", flush=True)
        cmd = [sys.executable, "-m", "p2psim", "evaluate", str(REPO / "studies" / f"{study}.py"), "--policy",
               args.policy, "--start-day", str(args.start_day), "--days", str(args.days), "--seeds", args.seeds,
               "--out", str(out)]
        code = subprocess.call(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"})
        print(f"{time.strftime('%H:%M:%S')} {study}: exit {code} after {(time.perf_counter() - t0) / 60:.1f} min, "
              f"{_uptime()}", flush=True)


def _cell(entry: dict, name: str, fmt: str) -> str:
    low, high = entry[f"{name}_ci95"]
    interval = "" if low != low else f" [{low:{fmt}}, {high:{fmt}}]"  # NaN: one seed
    return f"{entry[name]:{fmt}}{interval}"


def _verdicts(study: str, summary: dict) -> str:
    cand = summary["candidate"]
    e = summary["policies"][cand]
    low, high = e["inequity_slope_per_day_ci95"]
    slope = e["inequity_slope_per_day"]
    falls = ("yes" if high < 0 else "no" if low > 0 else "not shown") if high == high else (
        "yes (one seed)" if slope < 0 else "no (one seed)")
    eq = summary["policies"]["equal"]
    parts = [f"{study}: cumulative inequity falls over time under {cand}: **{falls}** (slope {slope:+.5f}/day; "
             f"equal weights {eq['inequity_slope_per_day']:+.5f}/day)"]
    for base, p in e.get("paired_against", {}).items():
        d_low, d_high = p["difference_ci95"]
        diff = p["final_cumulative_inequity_difference"]
        if d_high == d_high:
            verdict = "beats" if d_high < 0 else "worse than" if d_low > 0 else "not distinguishable from"
        else:
            verdict = "below (one seed)" if diff < 0 else "not below (one seed)"
        rel = 100 * diff / summary["policies"][base]["final_cumulative_inequity"]  # of the baseline's mean G_T
        parts.append(f"{verdict} {base} ({diff:+.4f}, {rel:+.1f} %, "
                     f"{p['seeds_candidate_lower']}/{p['seeds']} seeds lower)")
    return "; ".join(parts)


def table(args) -> None:
    for root in args.roots:
        summaries = {}
        for study in SIX:
            path = Path(root) / study / "summary.json"
            if path.is_file():
                summaries[study] = json.loads(path.read_text())
        if not summaries:
            continue
        first = next(iter(summaries.values()))
        print(f"\n### {root}: days {first['start_day']}..{first['start_day'] + first['days'] - 1}, "
              f"{first['clearing']}, {first['settlement']} settlement\n")
        print("| study | seeds | policy | final cumulative inequity G_T | mean daily Gini | slope of G_t per day | "
              "cost above equal (%) |")
        print("|---|---|---|---|---|---|---|")
        for study, s in summaries.items():
            for policy, e in s["policies"].items():
                print(f"| {study} | {','.join(map(str, s['seeds']))} | {policy} | "
                      f"{_cell(e, 'final_cumulative_inequity', '.4f')} | "
                      f"{_cell(e, 'mean_daily_inequity', '.4f')} | {_cell(e, 'inequity_slope_per_day', '+.5f')} | "
                      f"{_cell(e, 'cost_above_equal_pct', '+.2f')} |")
        print()
        for study, s in summaries.items():
            print(f"- {_verdicts(study, s)}; best static weights {s['best_static_weights']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    r = sub.add_parser("run")
    r.add_argument("--policy", default="feedback")
    r.add_argument("--start-day", type=int, required=True)
    r.add_argument("--days", type=int, required=True)
    r.add_argument("--seeds", default="0,1,2")
    r.add_argument("--root", required=True)
    r.add_argument("--studies", default=",".join(SIX))
    t = sub.add_parser("table")
    t.add_argument("roots", nargs="+")
    args = parser.parse_args()
    run(args) if args.what == "run" else table(args)


if __name__ == "__main__":
    main()
