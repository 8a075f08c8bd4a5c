"""Issue 4: speed of the energy game -- coalition values per second and exact Shapley values.

Communities (one day, 24 hourly intervals, day-ahead books of a real run of each study):

- ``rural-12``: ``studies/rural.py`` with ``community.max_participants=11`` (11 SimBench
  1-LV-rural1 loads + the aggregator's community battery);
- ``rural-14``: ``studies/rural.py`` as shipped (13 loads + the aggregator);
- ``rural2-16``: the rural study on the larger SimBench grid 1-LV-rural2--0-sw with
  ``max_participants=15`` (+ the aggregator);
- ``replicated-16``: the 13 rural1 households and farms resampled to 15 with seeded diversity
  (load and PV scaled log-normally, sigma 0.15, profiles shifted by up to one hour) + the
  aggregator, feeder ratings scaled with the load: a PV-rich 16-player community.

Measured: coalition LP solves per second (serial, random order and Gray-code order; and
``EnergyDayGame.all_costs(workers=2)``, the fanned-out Gray-code enumeration), exact Shapley
values of every 12- and 16-player community (enumeration of all 2^n coalitions on two processes +
the vectorised formula), and the aggregate-prosumer shortcut (``p2psim.energy_game.aggregate``) on a
zero-fee variant. Targets: >= 200 coalition values per second for n <= 16; exact Shapley < 30 s
for n = 12 and < 10 min for n = 16 on the 2-core machine.

Run: ``python benchmarks/bench_game.py`` (about 10 minutes; ``--quick`` skips the 16-player
enumerations). Writes ``benchmarks/results/game.md``.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "game.md"


def run_specs(grid: str | None, max_participants: int | None):
    """Day-ahead game spec of a one-day run of the rural study (optionally on another grid)."""
    from _communities import rural_day_run

    from p2psim.energy_game.game import day_specs

    return day_specs(rural_day_run(grid, max_participants))[0]


def replicated_spec(base, n: int, seed: int = 7):
    """``n - 1`` participants resampled from ``base``'s non-aggregator rows, + the aggregator."""
    from p2psim.world.feeder import LineSpec  # noqa: F401  (feeder lines are LineSpec)

    book = base.book
    rng = np.random.default_rng(seed)
    agg = [k for k, p in enumerate(book.participant_ids) if p.startswith("agg")]
    homes = [k for k in range(book.n_participants) if k not in agg]
    pick = rng.choice(homes, size=n - len(agg), replace=True)
    idx = np.concatenate([pick, agg]).astype(int)
    sub = book.subset(idx)
    k = len(pick)
    scale_load = np.concatenate([rng.lognormal(0, 0.15, k), np.ones(len(agg))])[:, None]
    scale_pv = np.concatenate([rng.lognormal(0, 0.15, k), np.ones(len(agg))])[:, None]
    shifts = np.concatenate([rng.integers(-1, 2, k), np.zeros(len(agg), int)])
    load = np.array([np.roll(row, s) for row, s in zip(sub.load_kw * scale_load, shifts, strict=True)])
    pv = sub.pv_kw * scale_pv
    counts: dict[str, int] = {}
    ids = []
    for p in sub.participant_ids:
        counts[p] = counts.get(p, 0) + 1
        ids.append(p if counts[p] == 1 else f"{p}-{counts[p]}")
    sub = replace(sub, participant_ids=tuple(ids), load_kw=load, pv_kw=pv)
    factor = n / book.n_participants
    feeder = base.feeder
    feeder = replace(feeder, transformer_limit_kw=feeder.transformer_limit_kw * factor,
                     lines=tuple(replace(line, rating_kw=line.rating_kw * factor) for line in feeder.lines))
    return replace(base, book=sub, feeder=feeder)


def describe(spec) -> str:
    book = spec.book
    return (f"n={book.n_participants}, T={book.n_intervals}, PV owners {int((book.pv_kw.max(axis=1) > 0).sum())}, "
            f"batteries {int(book.has_battery.sum())}, flexible {int((book.flexible_share > 0).sum())}")


def rate(game, masks) -> float:
    start = time.perf_counter()
    for m in masks:
        game._solve(int(m))
    return len(masks) / (time.perf_counter() - start)


def coalition_rates(spec, samples: int) -> dict:
    """Serial LP solves per second, random and Gray order (full model)."""
    from p2psim.energy_game.game import EnergyDayGame

    game = EnergyDayGame(spec, aggregate="never")
    n = game.solver.book.n_participants
    lp = game.solver.model.lp
    rng = np.random.default_rng(0)
    random_masks = rng.integers(1, 1 << n, samples)
    gray = [i ^ (i >> 1) for i in range(1, samples + 1)]
    return {"cols": lp.n_cols, "rows": lp.n_rows, "random": rate(game, random_masks), "gray": rate(game, gray)}


def exact_shapley(spec, workers: int, aggregate: str = "never") -> dict:
    """All 2^n coalition values fanned out over ``workers`` processes, then the exact Shapley value."""
    from p2psim.energy_game.game import EnergyDayGame
    from p2psim.game import CachedGame, shapley_value
    from p2psim.game.shapley_exact import exact_shapley_from_values

    start = time.perf_counter()
    game = EnergyDayGame(spec, aggregate=aggregate)
    values = game.all_values(workers=workers)
    enumerate_s = time.perf_counter() - start
    phi = exact_shapley_from_values(values)
    total_s = time.perf_counter() - start
    # the allocation stage's path: a CachedGame over game.value, all coalitions already cached
    tick = time.perf_counter()
    cached = CachedGame(game.players, game.value)
    via_cache = shapley_value(game.players, cached).to_array()
    cache_s = time.perf_counter() - tick
    return {"n": len(game.players), "coalitions": 1 << len(game.players), "enumerate_s": enumerate_s,
            "total_s": total_s, "rate": (1 << len(game.players)) / enumerate_s, "grand": float(values[-1]),
            "efficiency_gap": float(abs(phi.sum() - values[-1])), "cache_path_s": cache_s,
            "cache_path_max_diff": float(np.abs(via_cache - phi).max()), "n_aggregate": game.n_aggregate}


def aggregate_rates(spec, samples: int) -> dict:
    """Zero-fee variant: share of coalitions the shortcut covers, its speed and its error."""
    from p2psim.energy_game.aggregate import AggregateSolver, ShortcutConditions
    from p2psim.energy_game.game import EnergyDayGame

    book = spec.book
    free = replace(spec, book=replace(book, p2p_fee_per_kwh=np.zeros_like(book.p2p_fee_per_kwh)))
    full = EnergyDayGame(free, aggregate="never")
    conditions = ShortcutConditions(free.book, full.context)
    solver = AggregateSolver(free.book, full.context)
    n = len(full.players)
    gray = [i ^ (i >> 1) for i in range(1, samples + 1)]
    exact = [m for m in gray if conditions.exact(full.members_of_mask(m))]
    out = {"day_reasons": conditions.day_reasons, "share_exact": len(exact) / len(gray), "n": n}
    if not exact:
        return out
    start = time.perf_counter()
    full_costs = [full._solve(m) for m in exact]
    out["full_rate"] = len(exact) / (time.perf_counter() - start)
    start = time.perf_counter()
    agg_costs = [solver.cost(full.members_of_mask(m)) for m in exact]
    out["aggregate_rate"] = len(exact) / (time.perf_counter() - start)
    out["max_abs_diff"] = float(np.max(np.abs(np.array(full_costs) - np.array(agg_costs))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 16-player exact enumerations")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--samples", type=int, default=1000, help="coalitions per serial rate measurement")
    args = parser.parse_args()

    from importlib.metadata import version

    import highspy  # noqa: F401

    print("building communities ...", flush=True)
    specs = {
        "rural-12": run_specs(None, 11),
        "rural-14": run_specs(None, None),
        "rural2-16": run_specs("1-LV-rural2--0-sw", 15),
    }
    specs["replicated-16"] = replicated_spec(specs["rural-14"], 16)
    lines = [
        "## Energy game speed (`benchmarks/bench_game.py`, issue 4)",
        "",
        f"Machine: {os.cpu_count()} cores; HiGHS {version('highspy')}; one day, 24 hourly intervals. "
        "The machine is shared: the 1-minute load average (runnable processes on 2 cores) is given per row; "
        "above 2 every figure is slowed by other work.",
        "",
        "Communities: " + "; ".join(f"**{k}** {describe(s)}" for k, s in specs.items()) + ".",
        "",
        "### Coalition values per second (target >= 200 for n <= 16)",
        "",
        "Serial = one process re-solving one assembled model (bounds changed, warm simplex basis); "
        "random = coalitions in random order; Gray = consecutive coalitions differ by one member. "
        f"Fan-out = `EnergyDayGame.all_costs(workers={args.workers})` over all 2^n coalitions (Gray chunks, one model "
        "per process, process start-up included).",
        "",
        "| community | LP cols x rows | serial random (/s) | serial Gray (/s) | fan-out (/s) | load avg |",
        "|---|---|---:|---:|---:|---:|",
    ]
    rows_rate = {}
    for name, spec in specs.items():
        print("rates", name, flush=True)
        rows_rate[name] = coalition_rates(spec, args.samples)
    shapley = {}
    for name in ("rural-12", "rural-14", "rural2-16", "replicated-16"):
        if args.quick and name.endswith("16"):
            continue
        print("exact Shapley", name, flush=True)
        shapley[name] = exact_shapley(specs[name], args.workers) | {"load": os.getloadavg()[0]}
    for name, r in rows_rate.items():
        fan = f"{shapley[name]['rate']:.0f}" if name in shapley else "-"
        lines.append(f"| {name} | {r['cols']} x {r['rows']} | {r['random']:.0f} | {r['gray']:.0f} | {fan} | "
                     f"{shapley.get(name, {}).get('load', os.getloadavg()[0]):.1f} |")
    lines += [
        "",
        "### Exact Shapley value (target < 30 s at n = 12, < 10 min at n = 16)",
        "",
        "Enumeration of all 2^n coalition costs on two processes (`EnergyDayGame.all_values(workers=2)`), then "
        "the vectorised formula. *cache path* = the allocation stage's route afterwards (a `CachedGame` over "
        "`game.value`, every coalition already known), with its largest difference from the direct result.",
        "",
        "| community | coalitions | enumeration (s) | total (s) | values/s | v(N) | efficiency gap | cache path (s) | "
        "cache path diff | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in shapley.items():
        lines.append(f"| {name} | {r['coalitions']:,} | {r['enumerate_s']:.1f} | {r['total_s']:.1f} | "
                     f"{r['rate']:.0f} | "
                     f"{r['grand']:.2f} | {r['efficiency_gap']:.1e} | {r['cache_path_s']:.1f} | "
                     f"{r['cache_path_max_diff']:.1e} | {r['load']:.1f} |")
    lines += [
        "",
        "### Aggregate-prosumer shortcut (`p2psim.energy_game.aggregate`), zero-fee variant of each community",
        "",
        "Share of the first coalitions in Gray order for which the shortcut is exact (conditions of the module "
        "docstring; the shipped studies have a P2P fee, which alone rules the shortcut out), serial solve rates "
        "of the full model and of the one-participant aggregate model on those coalitions, and the largest "
        "difference between the two costs.",
        "",
        "| community | exact for | full model (/s) | aggregate (/s) | speed-up | max abs diff |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, spec in specs.items():
        print("aggregate", name, flush=True)
        r = aggregate_rates(spec, args.samples)
        if "full_rate" not in r:
            lines.append(f"| {name} | 0 % ({'; '.join(r['day_reasons'])}) | - | - | - | - |")
            continue
        lines.append(f"| {name} | {100 * r['share_exact']:.0f} % | {r['full_rate']:.0f} | {r['aggregate_rate']:.0f} | "
                     f"{r['aggregate_rate'] / r['full_rate']:.1f}x | {r['max_abs_diff']:.1e} |")
    from _results import publish

    publish(RESULTS, lines)


if __name__ == "__main__":
    main()
