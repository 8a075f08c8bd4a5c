"""The six scenarios under every market: the results table, and how the sweep scales with workers.

    .venv/bin/python benchmarks/scenarios.py                 # 6 scenarios x 3-4 markets x seeds 0,1,2, 7 days
    .venv/bin/python benchmarks/scenarios.py --reduced       # seed 0, 2 days (a quick look)
    .venv/bin/python benchmarks/scenarios.py --seeds 0 --days 7 --scaling-days 2

Runs ``p2psim.batch.sweep`` (local process pool, resumable in ``--sweep-dir``) over the studies rural,
semiurban, urban, winter, ev_evening and mixed_income under grid_only_v1, mid_market_rate_v1 and
eqwm_v1 with the studies' equal class weights, plus eqwm_v1 driven by the trained equity coordinator
where :mod:`p2psim.rl.policy` and a policy for the scenario exist (the study's
``coordinator_policy`` or a policy shipped under the scenario's name; otherwise that column says
"n/a: coordinator not available"). The three plain columns switch any study coordinator off
(``coordinator_policy=None``), so eqwm_v1 there keeps the equal class weights all week. For each
scenario and market it reports the mean (and the spread over seeds) of: peak demand reduction,
cooperative gain per day, self-sufficiency, solar utilisation, the Gini (in [0, 1]) of relative
benefit (benefit / need) on the first day and accumulated over the episode, its daily trend, the
Gini of energy burden and of renewable access, the worst-off class's saving and the solve times. The
seed paper's headline figures sit in a context column. Every other figure in the table comes from
the runs of this command.

Scaling: the same sub-grid (every scenario under eqwm_v1, two seeds, ``--scaling-days`` days) run
from scratch with 1 and with 2 workers, side by side (order 1, 2, 2, 1; the faster of each pair is
kept); the speed-up and whether all four runs gave identical rows are reported.

Writes benchmarks/results/scenarios.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from p2psim.outputs import write_text_atomic

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = ("rural", "semiurban", "urban", "winter", "ev_evening", "mixed_income")
MARKETS = ("grid_only_v1", "mid_market_rate_v1", "eqwm_v1")
COORDINATOR = "eqwm_v1 + coordinator"
NOT_AVAILABLE = "n/a: coordinator not available"
SPEEDUP_TARGET = 1.7
TIME_TARGET_S = 30 * 60
PAPER = {
    "peak_reduction_pct": "up to 72.6 %",
    "gini_relative_benefit_daily_first": "Gini falls over time",
    "gini_relative_benefit_cumulative_last": "Gini falls over time",
    "gini_relative_benefit_daily_slope_per_day": "Gini falls over time",
}
"""The seed paper's headline figures, shown for context only (not produced by this command)."""
METRICS = (
    ("peak_reduction_pct", "peak demand reduction vs raw load peak (%)", 1),
    ("peak_reduction_vs_standalone_pct", "peak reduction vs stand-alone homes (%)", 1),
    ("cooperative_gain_per_day", "cooperative gain per day (EUR)", 2),
    ("self_sufficiency_pct", "self-sufficiency (%)", 1),
    ("solar_utilisation_pct", "solar utilisation (%)", 1),
    ("gini_relative_benefit_daily_first", "Gini of relative benefit, first day", 3),
    ("gini_relative_benefit_daily_last", "Gini of relative benefit, last day", 3),
    ("gini_relative_benefit_cumulative_last", "Gini of relative benefit accumulated over the episode", 3),
    ("gini_relative_benefit_daily_slope_per_day", "trend of the daily Gini of relative benefit (per day)", 4),
    ("gini_energy_burden", "Gini of energy burden over the episode", 3),
    ("gini_renewable_access", "Gini of renewable access over the episode", 3),
    ("worst_class_saving_pct", "worst-off class's saving (% of need)", 1),
    ("solve_time_s", "solver time per run (s)", 2),
    ("time_solve_max_s", "slowest single clearing (s)", 3),
    ("time_simulate_s", "simulation wall time per run (s)", 1),
)


def study_path(name: str) -> Path:
    return REPO / "studies" / f"{name}.py"


def coordinator_policy(name: str) -> tuple[str | None, str]:
    """(policy directory, reason) for the scenario's trained coordinator, if one is available."""
    if importlib.util.find_spec("p2psim.rl.policy") is None:
        return None, "p2psim.rl.policy is not available"
    from p2psim.config.study import load_study
    from p2psim.rl.policy import SHIPPED

    study = load_study(study_path(name))
    candidates = []
    if study.coordinator_policy:
        policy = study.coordinator_policy
        candidates += [Path(policy), study_path(name).parent / policy, SHIPPED / policy]
    candidates.append(SHIPPED / name)
    for candidate in candidates:
        if (candidate / "model.zip").is_file():
            return str(candidate.resolve()), ""
    looked = [os.path.relpath(c.resolve(), REPO) for c in candidates]
    return None, f"no trained policy for {name} (looked in {looked})"


def cell(values: pd.Series, digits: int) -> str:
    values = values.dropna()
    if values.empty:
        return "n/a"
    if len(values) == 1:
        return f"{values.iloc[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def main_sweep(args, policies: dict[str, str | None]) -> pd.DataFrame:
    from p2psim.batch.sweep import sweep

    studies = [study_path(name) for name in args.scenarios]
    settings = [("market", list(MARKETS)), ("days", [str(args.days)]), ("coordinator_policy", ["None"])]
    rows, stats = sweep(studies, settings, args.seeds, out=args.sweep_dir, backend="local", workers=args.workers)
    print(f"main sweep: {stats}", file=sys.stderr)
    totals = {key: stats[key] for key in ("total", "skipped", "ran", "failed", "wall_s")}
    frames = [pd.DataFrame(rows).assign(variant=lambda d: d.market)]
    with_policy = [name for name in args.scenarios if policies.get(name)]
    for name in with_policy:
        settings = [("market", ["eqwm_v1"]), ("days", [str(args.days)]), ("coordinator_policy", [policies[name]])]
        rows, stats = sweep([study_path(name)], settings, args.seeds, out=args.sweep_dir, backend="local",
                            workers=args.workers)
        print(f"coordinator sweep {name}: {stats}", file=sys.stderr)
        for key in totals:
            totals[key] += stats[key]
        frames.append(pd.DataFrame(rows).assign(variant=COORDINATOR))
    args.sweep_stats = totals
    return pd.concat(frames, ignore_index=True)


def _burn(steps: int) -> float:
    """Pure-Python CPU work (a reference for what parallelism the machine offers right now)."""
    total = 0
    for i in range(steps):
        total += i
    return float(total)


def machine_parallelism(steps: int = 20_000_000, tasks: int = 4) -> dict[int, float]:
    """Wall time of the same CPU-bound tasks on 1 and on 2 processes (order 1, 2, 2, 1; faster kept)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
                                          else "spawn")
    walls: dict[int, list[float]] = {1: [], 2: []}
    for workers in (1, 2, 2, 1):
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            list(pool.map(_burn, [1000] * workers))  # start the workers before timing
            start = time.perf_counter()
            list(pool.map(_burn, [steps] * tasks))
            walls[workers].append(time.perf_counter() - start)
    return {workers: min(values) for workers, values in walls.items()}


def scaling(args) -> dict:
    """The same sub-grid from scratch with 1 and with 2 workers; wall times and row identity.

    Order 1, 2, 2, 1 workers (so a drift in the machine's load hits both alike); each setting
    keeps its faster run. The studies are loaded once in this process first (the parent checks
    every study before a sweep starts), so both settings start equally warm.
    """
    from p2psim.batch.sweep import build_grid, deterministic_columns, sweep, validate_grid

    studies = [study_path(name) for name in args.scenarios]
    settings = [("market", ["eqwm_v1"]), ("days", [str(args.scaling_days)]), ("coordinator_policy", ["None"])]
    seeds = [0, 1]
    validate_grid(build_grid(studies, settings, seeds))
    out: dict = {"runs": len(studies) * len(seeds), "days": args.scaling_days, "load_before": os.getloadavg(),
                 "walls": {1: [], 2: []}, "cores": {1: [], 2: []}}
    tables = {}
    for workers in (1, 2, 2, 1):
        folder = Path(tempfile.mkdtemp(prefix=f"scaling-{workers}w-"))
        try:
            start = time.perf_counter()
            rows, stats = sweep(studies, settings, seeds, out=folder, backend="local", workers=workers)
            wall = time.perf_counter() - start
            out["walls"][workers].append(wall)
            out["cores"][workers].append(sum(row["time_cpu_s"] for row in rows) / wall)
            out[f"failed_{workers}"] = out.get(f"failed_{workers}", 0) + stats["failed"]
            frame = pd.DataFrame(rows)
            table = frame[deterministic_columns(frame.columns)]
            for other in tables.values():
                same = list(other.columns) == list(table.columns) and other.equals(table)
                out["identical"] = out.get("identical", True) and same
                if not same:
                    out.setdefault("differing", set()).update(
                        c for c in table.columns if c not in other or not table[c].equals(other[c]))
            tables[workers] = table
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    out["load_after"] = os.getloadavg()
    out["machine"] = machine_parallelism()
    out["wall_1_s"], out["wall_2_s"] = min(out["walls"][1]), min(out["walls"][2])
    for workers in (1, 2):  # cores the runs actually got (CPU seconds of the runs / wall seconds), kept run
        out[f"cores_{workers}"] = out["cores"][workers][out["walls"][workers].index(out[f"wall_{workers}_s"])]
    out["speedup"] = out["wall_1_s"] / out["wall_2_s"]
    return out


def markdown(args, table: pd.DataFrame, policies: dict[str, str | None], reasons: dict[str, str],
             scale: dict | None, elapsed: float, load: tuple) -> str:
    from p2psim.config.study import load_study
    from p2psim.outputs import versions

    v = versions()
    variants = [*MARKETS, COORDINATOR]
    lines = [
        "# The six scenarios under every market",
        "",
        f"Generated by `python benchmarks/scenarios.py {' '.join(sys.argv[1:])}` on "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; {platform.platform()}, "
        f"{os.cpu_count()} CPUs, Python {v['python']}, p2psim {v['p2psim']}, highspy {v['highspy']}, "
        f"simbench {v['simbench']}. Load average at the start: {load[0]:.1f}.",
        "",
        f"Grid: {len(args.scenarios)} scenarios x markets x seeds {list(args.seeds)}, {args.days} day(s) each, "
        f"hourly intervals, local process pool with {args.workers} worker(s). Cells: mean ± standard deviation "
        "over seeds. Markets: `grid_only_v1` (every home alone: the counterfactual, so its cooperative gain is 0 "
        "by definition), `mid_market_rate_v1` (pool at the mid-market price), `eqwm_v1` with the studies' equal "
        "class weights, and `eqwm_v1` driven by the trained equity coordinator where one exists.",
        "",
        "Definitions (p2psim.metrics, p2psim.metrics.equity, docs/model.md section 9): "
        "peak reduction = 1 - community peak grid import / peak of the summed raw loads; "
        "self-sufficiency = share of consumption not of grid origin "
        "(grid energy traced through batteries and the pool, in [0, 1]); solar utilisation = (PV - curtailed - "
        "exported) / PV, where exports include imbalance exports caused by forecast errors; relative benefit = "
        "benefit / need, the need being the stand-alone cost of a member's consumption (its load at import prices "
        "with its own-peak demand charge); every Gini is the Raffinetti-Siletti-Vernizzi Gini over the households "
        "(community class excluded), in [0, 1], 0 = equal: on one day's outcomes (first / last day), on the outcomes "
        "accumulated over the episode, and the OLS slope of the daily series; energy burden = max(bill, 0) / "
        "income; worst-off class = the class with the lowest relative saving (class benefit / class need).",
        "",
        "The last column quotes the seed paper's headline figures for context: they are not produced here.",
        "",
        f"Whole benchmark: {elapsed / 60:.1f} min (target < {TIME_TARGET_S / 60:.0f} min on 2 cores). Table runs: "
        f"{args.sweep_stats['total']}, of which {args.sweep_stats['ran']} ran now in "
        f"{args.sweep_stats['wall_s']:.0f} s and {args.sweep_stats['skipped']} were reused from "
        f"`{os.path.relpath(args.sweep_dir, REPO)}` "
        f"(the sweep is resumable); {args.sweep_stats['failed']} failed.",
        "",
    ]
    for name in args.scenarios:
        study = load_study(study_path(name))
        first = study.description.strip().splitlines()[0]
        rows = table[table.study == name]
        lines += [f"## {name}", "", first, ""]
        counts = {variant: int((rows.variant == variant).sum()) for variant in variants}
        header = ["metric", *variants, "seed paper"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for column, label, digits in METRICS:
            cells = [label]
            for variant in variants:
                part = rows[(rows.variant == variant) & (rows.status == "ok")]
                if variant == COORDINATOR and not policies.get(name):
                    cells.append(NOT_AVAILABLE)
                elif part.empty:
                    failed = rows[(rows.variant == variant) & (rows.status != "ok")]
                    cells.append(f"failed: {failed.error.iloc[0][:80]}" if len(failed) else "n/a")
                elif column == "worst_class_saving_pct":
                    savings = part.filter(like="saving_pct.").dropna(axis=1, how="all").to_numpy()
                    tie = bool(abs(savings - savings[:, :1]).max() < 1e-9) if savings.size else True
                    worst = "all classes equal" if tie else part.worst_class.mode().iloc[0]
                    cells.append(f"{cell(part[column], digits)} ({worst})")
                else:
                    cells.append(cell(part[column], digits) if column in part else "n/a")
            cells.append(PAPER.get(column, ""))
            lines.append("| " + " | ".join(cells) + " |")
        if not policies.get(name):
            lines += ["", f"Coordinator: {NOT_AVAILABLE} ({reasons.get(name, '')})."]
        lines += ["", f"Runs per column: {counts}.", ""]
    lines += ["## Gini over the episode", "",
              "Gini of relative benefit (mean over seeds), per market: of the first day's outcomes, of the outcomes "
              "accumulated to the first and to the last day, the OLS slope of the daily Gini (mean ± sd over seeds) "
              "and in how many seeds its 95 % interval lies wholly below 0 (falls) or above 0 (rises); n/a below 3 "
              "days:", "",
              "| scenario | market | first day | accumulated, day 1 | accumulated, last day | change | "
              "daily trend per day | seeds: falls / rises / unclear |", "|---|---|---|---|---|---|---|---|"]
    for name in args.scenarios:
        for variant in variants:
            part = table[(table.study == name) & (table.variant == variant) & (table.status == "ok")]
            if part.empty:
                continue
            stem = "gini_relative_benefit"
            first, a, b = (part[f"{stem}_{k}"].mean() for k in ("daily_first", "cumulative_first", "cumulative_last"))
            low, high = part[f"{stem}_daily_slope_ci95_low"], part[f"{stem}_daily_slope_ci95_high"]
            falls, rises = int((high < 0).sum()), int((low > 0).sum())
            verdict = "n/a" if low.isna().all() else f"{falls} / {rises} / {len(part) - falls - rises}"
            lines.append(f"| {name} | {variant} | {first:.3f} | {a:.3f} | {b:.3f} | {b - a:+.3f} | "
                         f"{cell(part[f'{stem}_daily_slope_per_day'], 4)} | {verdict} |")
    lines += [""]
    if scale is not None:
        lines += [
            "## Sweep scaling (1 vs 2 workers, measured side by side)", "",
            f"The same {scale['runs']} runs (every scenario under eqwm_v1, seeds 0 and 1, {scale['days']} day(s)), "
            "each time from an empty sweep directory (worker start-up, imports and study loading included), "
            "in the order 1, 2, 2, 1 workers; each setting keeps its faster run:", "",
            "| workers | wall time (s), kept | all runs (s) | CPU cores the runs obtained (kept run) |",
            "|---|---|---|---|",
            f"| 1 | {scale['wall_1_s']:.1f} | {', '.join(f'{w:.1f}' for w in scale['walls'][1])} | "
            f"{scale['cores_1']:.2f} |",
            f"| 2 | {scale['wall_2_s']:.1f} | {', '.join(f'{w:.1f}' for w in scale['walls'][2])} | "
            f"{scale['cores_2']:.2f} |", "",
            "CPU cores obtained = CPU seconds of all runs / wall seconds of the sweep: 1.0 per worker on an idle "
            "machine; less when other processes share the cores, which caps the speed-up at about "
            f"{scale['cores_2']:.2f} / {scale['cores_1']:.2f} = {scale['cores_2'] / scale['cores_1']:.2f}x here.", "",
            "For reference, the speed-up the machine itself offered during the measurement for trivially "
            "parallel pure-Python CPU work (4 equal tasks on 1 vs 2 processes, same order and rule): "
            f"{scale['machine'][1]:.1f} s / {scale['machine'][2]:.1f} s = "
            f"**{scale['machine'][1] / scale['machine'][2]:.2f}x**.", "",
            f"Speed-up with 2 workers: **{scale['speedup']:.2f}x** (target >= {SPEEDUP_TARGET}x: "
            f"{'met' if scale['speedup'] >= SPEEDUP_TARGET else 'NOT met'}). Rows identical between the two "
            f"(timings aside): {'yes' if scale['identical'] else 'NO: ' + ', '.join(sorted(scale['differing']))}. "
            "Failed runs: "
            f"{scale['failed_1']} / {scale['failed_2']}. Load average before / after: "
            f"{scale['load_before'][0]:.1f} / {scale['load_after'][0]:.1f} (other processes on the machine "
            "compete for the same cores and lower the speed-up).", "",
        ]
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2", help="seeds of the table (default 0,1,2)")
    parser.add_argument("--days", type=int, default=7, help="days per run (default 7)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset")
    parser.add_argument("--reduced", action="store_true", help="seed 0 and 2 days (overrides --seeds/--days)")
    parser.add_argument("--scaling-days", type=int, default=28, help="days per run of the scaling test "
                        "(default 28: runs long enough that worker start-up does not dominate)")
    parser.add_argument("--no-scaling", action="store_true", help="skip the 1-vs-2-worker measurement")
    parser.add_argument("--sweep-dir", default=None, help="resumable sweep folder (default runs/scenarios-<days>d)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "scenarios.md"))
    args = parser.parse_args(argv)
    from p2psim.batch.sweep import parse_seeds

    if args.reduced:
        args.seeds, args.days, args.scaling_days = "0", 2, 2
    args.seeds = parse_seeds(args.seeds)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in args.scenarios if not study_path(s).is_file()]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; choose from {SCENARIOS}")
    args.scaling_days = args.scaling_days or args.days
    args.sweep_dir = Path(args.sweep_dir or REPO / "runs" / f"scenarios-{args.days}d")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    load = os.getloadavg()
    policies, reasons = {}, {}
    for name in args.scenarios:
        policies[name], reasons[name] = coordinator_policy(name)
    table = main_sweep(args, policies)
    scale = None if args.no_scaling else scaling(args)
    elapsed = time.perf_counter() - start
    text = markdown(args, table, policies, reasons, scale, elapsed, load)
    out = write_text_atomic(args.out, text + "\n")
    print(text)
    print(f"\nwrote {out} in {elapsed:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
