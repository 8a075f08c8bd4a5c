"""Coordinator benchmark: environment throughput and the training target on held-out weeks.

    .venv/bin/python benchmarks/bench_rl.py throughput          # coordinator steps (clearing days) per second
    .venv/bin/python benchmarks/bench_rl.py target --seeds 0,1,2 --steps 5120 --out runs/bench_rl

Target (issue): on held-out weeks of studies/rural.py the trained coordinator lowers the mean Gini of
normalised benefit by >= 20 % against equal weights, beats the best static weight vector, keeps the
community cost within 3 % of the equal-weight optimum, averaged over >= 3 training seeds (spread
reported), training in < 20 minutes. Market eqwm_v1 with ``equity.use_binaries=never`` (LP path;
the exact MILP fallback is far too slow inside an RL loop, see benchmarks/results/rl.md).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

RURAL = "studies/rural.py"
ENV = {"episode_days": 7, "market": "eqwm_v1"}
OVERRIDES = ["equity.use_binaries=never"]


def throughput(days: int = 42, market: str = "eqwm_v1") -> float:
    from p2psim.rl.env import EquityEnv

    env = EquityEnv.from_study(RURAL, episode_days=7, market=market, overrides=OVERRIDES)
    env.reset(seed=0)  # pays the one-off SimBench load
    rng = np.random.default_rng(0)
    n, t0 = 0, time.perf_counter()
    while n < days:
        env.reset(seed=n)
        while env.agents:
            env.step({a: rng.uniform(-0.25, 0.25, env.action_space(a).shape).astype(np.float32) for a in env.agents})
            n += 1
    rate = n / (time.perf_counter() - t0)
    print(f"{market}: {rate:.1f} coordinator steps/s ({n} days, resets included)")
    return rate


def target(seeds: list[int], steps: int, out: str) -> None:
    from p2psim.rl.evaluate import evaluate
    from p2psim.rl.train import TrainConfig, train

    rows = []
    for seed in seeds:
        t0 = time.perf_counter()
        policy = train(RURAL, steps, f"{out}/seed{seed}", seed=seed,
                       config=TrainConfig(env=dict(ENV), overrides=list(OVERRIDES)), progress=False)
        minutes = (time.perf_counter() - t0) / 60
        s = evaluate(RURAL, policy, [0, 1, 2], 7, f"{out}/seed{seed}/eval").set_index("policy")
        reduction = 100 * (1 - s.loc["ppo", "mean_gini"] / s.loc["equal", "mean_gini"])
        rows.append((seed, minutes, reduction, s.loc["ppo", "mean_gini"], s.loc["best_static", "mean_gini"],
                     s.loc["ppo", "cost_above_equal_pct"]))
        print(f"seed {seed}: {minutes:.1f} min, Gini -{reduction:.1f} % vs equal, ppo {rows[-1][3]:.3f} vs best "
              f"static {rows[-1][4]:.3f}, cost +{rows[-1][5]:.2f} %")
    a = np.array([r[1:] for r in rows])
    spread = a[:, 1].std(ddof=1) if len(a) > 1 else 0.0
    print(f"over {len(rows)} seeds: Gini reduction {a[:, 1].mean():.1f} ± {spread:.1f} %, "
          f"beats best static in {(a[:, 2] < a[:, 3]).sum()}/{len(a)}, cost +{a[:, 4].mean():.2f} %, "
          f"training {a[:, 0].mean():.1f} min")


if __name__ == "__main__":
    import p2psim.rl.commands  # noqa: F401

    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["throughput", "target"])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=5120)
    parser.add_argument("--out", default="runs/bench_rl")
    args = parser.parse_args()
    if args.what == "throughput":
        throughput()
        throughput(market="mid_market_rate_v1")
    else:
        target([int(s) for s in args.seeds.split(",")], args.steps, args.out)
