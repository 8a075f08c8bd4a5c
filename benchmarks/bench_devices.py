"""The device layer's speed: EqWM with one storage-like device per member, and before/after on one machine.

Cases from ``bench_eqwm.synthetic_community``: the N = 1000 x T = 24 community with no storage at all
(``none``), with its 25 % home batteries and community battery (``batteries``, the benchmark community
of every earlier release), with a home battery for every member (``battery_per_member``, on the doubled
feeder of the device variants: the same number of storage devices as the next case, written in the
book's battery shorthand that every release understands) and with one storage-like device per member
(``one_per_member``: batteries, electric vehicles with availability, targets and carried obligations,
heat pumps with COP, demand and lossy tanks); the N = 200 x T = 96 battery community. ``--base DIR``
also runs the battery cases on an older source tree (``git archive <commit> | tar -x -C DIR``, with
``DIR/p2psim/agents`` and ``DIR/p2psim/markets`` linked to ``DIR/agents`` and ``DIR/markets``),
interleaved with this tree's runs so both see the same machine state; each case is the fastest of
``--repeats`` runs.

Speed target (issue 16): ``one_per_member`` at N = 1000 x T = 24 clears in under 60 s and per
member-interval no more than 20 % slower than without devices.

    python benchmarks/bench_devices.py --base /tmp/p2psim-base --repeats 2

Writes benchmarks/results/devices.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = [(1000, 24, "batteries"), (200, 96, "batteries"), (1000, 24, "battery_per_member"), (1000, 24, "none"),
         (1000, 24, "one_per_member")]
BOTH_TREES = ("batteries", "battery_per_member")
PROBE = """
import json, sys, time
from dataclasses import replace
import numpy as np
sys.path.insert(0, {bench!r})
from bench_eqwm import context_for, synthetic_community
from p2psim.markets import EqWM
from p2psim.markets._community_lp import build_day_model
from p2psim.markets.grid_only import standalone_optimum
n, horizon, devices = {n}, {horizon}, {devices!r}
if devices == "batteries":
    book, feeder = synthetic_community(n, horizon)
elif devices == "battery_per_member":  # the battery shorthand every release reads
    book, feeder = synthetic_community(n, horizon)
    cap = np.r_[np.random.default_rng(7).uniform(5, 13.5, n - 1), 0.5 * n]
    book = replace(book, capacity_kwh=cap, max_charge_kw=cap / 2, max_discharge_kw=cap / 2, soc_min_kwh=0.1 * cap,
                   soc_max_kwh=0.95 * cap, soc_initial_kwh=0.5 * cap)
    feeder = replace(feeder, transformer_limit_kw=2 * feeder.transformer_limit_kw,
                     lines=tuple(replace(line, rating_kw=2 * line.rating_kw) for line in feeder.lines))
else:
    book, feeder = synthetic_community(n, horizon, devices=devices)
context = context_for(feeder)
t0 = time.perf_counter(); model = build_day_model(book, context); build = time.perf_counter() - t0
t0 = time.perf_counter(); alone = standalone_optimum(book, context); stand = time.perf_counter() - t0
t0 = time.perf_counter(); clearing = EqWM().clear_with(book, context, alone, model); clear = time.perf_counter() - t0
print(json.dumps({{"build_s": build, "standalone_s": stand, "clear_s": clear, "total_s": build + stand + clear,
                  "variables": model.lp.n_cols, "path": clearing.extra["path"],
                  "objective": clearing.extra["objective"]}}))
"""


def probe(tree: Path, n: int, horizon: int, devices: str) -> dict:
    """Run one case in a fresh interpreter on ``tree`` (its p2psim first on the path)."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    code = PROBE.format(bench=str(tree / "benchmarks"), n=n, horizon=horizon, devices=devices)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd="/")
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["load"] = os.getloadavg()[0]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=Path, help="an older source tree to compare with")
    parser.add_argument("--base-label", default="base")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    here = HERE.parent
    best: dict[tuple, dict] = {}
    for _ in range(args.repeats):
        for n, horizon, devices in CASES:
            trees = [("this tree", here)]
            if args.base and devices in BOTH_TREES:
                trees.append((args.base_label, args.base))
            for label, tree in trees:
                row = probe(tree, n, horizon, devices)
                print(label, n, horizon, devices, row, flush=True)
                key = (label, n, horizon, devices)
                if key not in best or row["total_s"] < best[key]["total_s"]:
                    best[key] = row
    from _results import publish

    publish(HERE / "results" / "devices.md", render(best, args.repeats))


def render(best: dict, repeats: int) -> list[str]:
    """The results page: one row per (case, tree), the verdict and what it means."""
    lines = ["# Device layer speed", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other work; Python "
             f"{platform.python_version()}, HiGHS, 1 thread. Each row is the fastest of {repeats} runs in a "
             "fresh process (this tree and the base interleaved); `load` is the 1-minute load average after "
             "that run. `total` = assembly + stand-alone optimum + EqWM clearing (Rawlsian weight 0.5).", "",
             "| case | tree | variables | build_s | standalone_s | clear_s | total_s | us per member-interval | "
             "path | objective | load |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (label, n, horizon, devices), row in best.items():
        per = 1e6 * row["total_s"] / (n * horizon)
        lines.append(f"| N={n} x T={horizon}, {devices.replace('_', ' ')} | {label} | {row['variables']} | "
                     f"{row['build_s']:.3f} | {row['standalone_s']:.2f} | {row['clear_s']:.2f} | "
                     f"{row['total_s']:.2f} | {per:.0f} | {row['path']} | {row['objective']:.4f} | {row['load']:.1f} |")
    return [*lines, "", *verdict(best), "", *MEANING]


MEANING = [
    'What the numbers say. The device layer costs nothing on the problems the code solved before: the '
    'battery communities build the identical program on both trees (the EqWM program of the N = 1000 '
    'battery community was compared array by array: matrix, costs and bounds are bit-identical; same '
    "objective), so HiGHS does the same work and the times differ only by the shared machine's load. One "
    'storage-like device per member clears well under a minute. What costs time is storage itself: '
    'without any storage the day falls apart into intervals linked only by the peak and the Rawlsian row,'
    ' and HiGHS solves it in about a second; every device links its intervals through its energy. Which '
    'devices matters more than how many: cars and heat pumps only draw (no direction to choose, no '
    'arbitrage), while a battery at every member (the same number of devices) takes minutes on both '
    'trees. So the +20 % target holds against the battery community and the same-size battery community, '
    'and cannot hold against a community without storage.',
]


def verdict(best: dict) -> list[str]:
    """The target's two numbers against both references (no storage at all, the battery community)."""
    get = {(n, h, d): r for (label, n, h, d), r in best.items() if label == "this tree"}
    dev, none = get[(1000, 24, "one_per_member")], get[(1000, 24, "none")]
    out = [f"One storage-like device per member, N = 1000 x T = 24: {dev['total_s']:.1f} s (target < 60 s: "
           f"{'met' if dev['total_s'] < 60 else 'NOT met'})."]
    for name, ref in (("a home battery per member (the same number of storage devices)",
                       get[(1000, 24, "battery_per_member")]),
                      ("the battery community (25 % home batteries + community battery)", get[(1000, 24, "batteries")]),
                      ("the same community without any storage", none)):
        change = dev["total_s"] / ref["total_s"] - 1
        out.append(f"Per member-interval against {name}: {change:+.0%} (target <= +20 %: "
                   f"{'met' if change <= 0.2 else 'NOT met'}).")
    return out


if __name__ == "__main__":
    main()
