"""Coordinator benchmark: environment throughput and the training target on held-out weeks.

    .venv/bin/python benchmarks/bench_rl.py throughput                # steps/s: eqwm auto, eqwm LP path, baseline
    .venv/bin/python benchmarks/bench_rl.py before-after              # the same, pre-optimisation path vs now
    .venv/bin/python benchmarks/bench_rl.py target --seeds 0,1,2 --steps 10240 --jobs 2 --out runs/bench_rl

``throughput`` counts coordinator steps (clearing days, resets included) per second on studies/rural.py
with random actions: eqwm_v1 with the study's own ``equity.use_binaries`` (``auto``: LP, exact MILP
repair where complementarity fails), eqwm_v1 with ``--set equity.use_binaries=never`` (LP path) and
mid_market_rate_v1 for reference. Each line also prints ``os.getloadavg()`` (2-core shared machine).

``target`` trains one PPO coordinator per training seed (``train`` sub-command in a subprocess, at
most ``--jobs`` at once, one torch thread each; a seed whose ``OUT/seedS/policy`` exists is not
retrained), evaluates each on the held-out weeks with several evaluation seeds
(:func:`p2psim.rl.evaluate.evaluate`) and writes ``OUT/target.md`` / ``OUT/target.json``: per
training seed and mean ± sd over seeds.

Target (issue): on held-out weeks of studies/rural.py the trained coordinator lowers the mean daily
Gini of relative benefit (benefit / need, in [0, 1]) by >= 20 % against equal weights, beats the best
static weight vector, keeps the community cost within 3 % of the equal-weight optimum, averaged over
>= 3 training seeds (spread reported), training in < 20 minutes. Training and evaluation use eqwm_v1 with
``equity.use_binaries=never`` (LP path): the exact MILP repair costs about a second on the few days
that need it, see benchmarks/results/rl.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

RURAL = "studies/rural.py"
ENV = {"episode_days": 7, "market": "eqwm_v1"}
OVERRIDES = ["equity.use_binaries=never"]


def _load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def throughput(days: int = 42, market: str = "eqwm_v1", overrides: tuple[str, ...] = (), label: str = "",
               quiet: bool = False) -> float:
    from p2psim.rl.env import EquityEnv

    env = EquityEnv.from_study(RURAL, episode_days=7, market=market, overrides=overrides)
    env.reset(seed=0)  # pays the one-off SimBench load
    rng = np.random.default_rng(0)
    records: list[dict] = []
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while n < days:
        env.reset(seed=n)
        while env.agents:
            env.step({a: rng.uniform(-0.25, 0.25, env.action_space(a).shape).astype(np.float32) for a in env.agents})
            n += 1
        records += env.model.ledger.solver_records
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rate = n / wall
    print(f"{label or market}: {rate:.1f} coordinator steps/s wall, {n / cpu:.1f} per CPU second ({n} days, resets "
          f"included; {_load()})", flush=True)
    # the days' own clearings (stand-alone + EqWM solves; the equal-weight reference clearing is not recorded)
    if records and not quiet:
        milp = [r for r in records if r.get("n_binaries", 0)]
        kept = sum("breaks kept" in r.get("note", "") for r in records)
        total = sum(r["solve_time_s"] for r in records)
        print(f"    {len(records)} solver calls recorded ({total:.2f} s): {len(milp)} MILP solves of the binary "
              f"repair ({sum(r['solve_time_s'] for r in milp):.2f} s), {kept} LP solves keeping complementarity "
              "breaks", flush=True)
    return rate


@contextlib.contextmanager
def pre_change_path():
    """Patch the environment back to its pre-optimisation path, for the before/after comparison.

    The grid_only_v1 counterfactual re-solves the stand-alone problem EqWM already solved, the
    equal-weight reference clearing starts from scratch (stand-alone optimum and day model), and the
    ledger builds its dispatch, trade and bill tables on every step.
    """
    import p2psim.rl.env as env_module
    from p2psim.sim.model import CommunityModel

    saved = CommunityModel._counterfactual, env_module._RememberDay, CommunityModel.__init__
    init = saved[2]

    def full_ledger_init(self, scenario, market, *, seed, options=None, day_hooks=()):
        init(self, scenario, market, seed=seed, options=dataclasses.replace(options, record=True), day_hooks=day_hooks)

    CommunityModel._counterfactual = lambda self, book, context, clearing: self.counterfactual.clear(book, context)
    env_module._RememberDay = lambda market: market
    CommunityModel.__init__ = full_ledger_init
    try:
        yield
    finally:
        CommunityModel._counterfactual, env_module._RememberDay, CommunityModel.__init__ = saved


def before_after(days: int, repeats: int = 3) -> None:
    """Alternate the pre-change and the current path (same load conditions), ``repeats`` times each."""
    for label, overrides, market in (("eqwm_v1 auto", (), "eqwm_v1"),
                                     ("eqwm_v1 never", ("equity.use_binaries=never",), "eqwm_v1"),
                                     ("mid_market_rate_v1", (), "mid_market_rate_v1")):
        for _ in range(repeats):
            with pre_change_path():
                throughput(days, market, overrides, f"{label}, before", quiet=True)
            throughput(days, market, overrides, f"{label}, after ", quiet=True)


class LoadSampler:
    """Sample the 1-minute load average every ``every`` seconds in a background thread."""

    def __init__(self, every: float = 15.0) -> None:
        self.every, self.samples = every, [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])
        return {"load1_mean": float(np.mean(self.samples)), "load1_max": float(np.max(self.samples))}


def train_one(seed: int, steps: int, out: str) -> None:
    """Train one seed (run as a subprocess by ``target``); write OUT/seedS/train.json with the wall time."""
    import torch

    from p2psim.rl.train import TrainConfig, train

    torch.set_num_threads(1)
    sampler = LoadSampler()
    t0 = time.perf_counter()
    policy = train(RURAL, steps, f"{out}/seed{seed}", seed=seed,
                   config=TrainConfig(env=dict(ENV), overrides=list(OVERRIDES)), progress=False)
    minutes = (time.perf_counter() - t0) / 60
    info = {"seed": seed, "steps": steps, "minutes": minutes, "steps_per_s": steps / (60 * minutes),
            **sampler.stop(), "policy": str(policy)}
    Path(f"{out}/seed{seed}/train.json").write_text(json.dumps(info, indent=2))
    print(f"seed {seed}: trained {steps} steps in {minutes:.1f} min ({info['steps_per_s']:.1f} steps/s, "
          f"mean 1-min load {info['load1_mean']:.2f})", flush=True)


def _train_all(seeds: list[int], steps: int, out: str, jobs: int) -> None:
    todo = [s for s in seeds if not Path(f"{out}/seed{s}/policy/policy.json").is_file()]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    running: list[subprocess.Popen] = []
    while todo or running:
        while todo and len(running) < jobs:
            seed = todo.pop(0)
            running.append(subprocess.Popen([sys.executable, __file__, "train", "--seed", str(seed),
                                             "--steps", str(steps), "--out", out], env=env))
        time.sleep(2)
        for proc in [p for p in running if p.poll() is not None]:
            running.remove(proc)
            if proc.returncode:
                raise SystemExit(f"{proc.args} failed with exit status {proc.returncode}")


def _seed_row(seed: int, out: str, eval_seeds: list[int]) -> dict:
    import pandas as pd

    from p2psim.rl.evaluate import evaluate

    policy = f"{out}/seed{seed}/policy"
    s = evaluate(RURAL, policy, eval_seeds, 7, f"{out}/seed{seed}/eval").set_index("policy")
    episodes = pd.read_csv(f"{out}/seed{seed}/eval/episodes.csv")
    ppo = episodes[episodes.policy == "ppo"].set_index("episode")
    equal = episodes[episodes.policy == "equal"].set_index("episode").reindex(ppo.index)
    best = episodes[episodes.policy == "best_static"].set_index("episode").reindex(ppo.index)
    train_info = json.loads(Path(f"{out}/seed{seed}/train.json").read_text())
    return {
        "seed": seed, "train_minutes": train_info["minutes"], "train_steps": train_info["steps"],
        "train_steps_per_s": train_info["steps_per_s"], "train_load1_mean": train_info["load1_mean"],
        "episodes": len(ppo),
        "gini_ppo": s.loc["ppo", "mean_gini"], "gini_equal": s.loc["equal", "mean_gini"],
        "gini_best_static": s.loc["best_static", "mean_gini"],
        "gini_inverse_income": s.loc["inverse_income", "mean_gini"],
        # reduction of the mean Gini over the held-out episodes (the target's wording) ...
        "reduction_pct": 100 * (1 - s.loc["ppo", "mean_gini"] / s.loc["equal", "mean_gini"]),
        # ... and the mean of the per-episode reductions (sensitive to episodes where equal is already low)
        "reduction_per_episode_pct": s.loc["ppo", "gini_reduction_vs_equal_pct"],
        "episodes_ppo_below_equal": int((ppo.mean_gini < equal.mean_gini).sum()),
        "episodes_ppo_below_best_static": int((ppo.mean_gini < best.mean_gini).sum()),
        "cost_above_equal_pct": s.loc["ppo", "cost_above_equal_pct"],
        "cost_above_equal_max_pct": float((100 * (ppo.community_cost / equal.community_cost - 1)).max()),
    }


def _by_week(seeds: list[int], out: str) -> str:
    """Mean Gini per held-out week (over training and evaluation seeds): where the reduction comes from."""
    import pandas as pd

    episodes = pd.concat([pd.read_csv(f"{out}/seed{s}/eval/episodes.csv").assign(train_seed=s) for s in seeds])
    table = episodes.pivot_table(index="start_day", columns="policy", values="mean_gini", aggfunc="mean")
    cost = episodes.pivot_table(index="start_day", columns="policy", values="community_cost", aggfunc="mean")
    lines = ["| held-out week (start day) | Gini ppo | Gini equal | Gini best static | reduction vs equal (%) | "
             "cost above equal (%) |", "|---|---|---|---|---|---|"]
    for day, r in table.iterrows():
        lines.append(f"| {int(day) // 7} ({int(day)}) | {r['ppo']:.3f} | {r['equal']:.3f} | {r['best_static']:.3f} | "
                     f"{100 * (1 - r['ppo'] / r['equal']):.1f} | "
                     f"{100 * (cost.loc[day, 'ppo'] / cost.loc[day, 'equal'] - 1):.2f} |")
    return "Per held-out week (mean over training seeds and evaluation seeds):\n\n" + "\n".join(lines) + "\n"


def target(seeds: list[int], steps: int, out: str, eval_seeds: list[int], jobs: int) -> None:
    t0 = time.perf_counter()
    print(f"training {len(seeds)} seed(s), {steps} steps each, {jobs} at a time; {_load()}", flush=True)
    _train_all(seeds, steps, out, jobs)
    print(f"training done in {(time.perf_counter() - t0) / 60:.1f} min; evaluating; {_load()}", flush=True)
    rows = [_seed_row(seed, out, eval_seeds) for seed in seeds]
    keys = ["train_minutes", "train_steps_per_s", "train_load1_mean", "gini_ppo", "gini_equal", "gini_best_static",
            "gini_inverse_income", "reduction_pct", "reduction_per_episode_pct", "cost_above_equal_pct",
            "cost_above_equal_max_pct"]
    a = {k: np.array([r[k] for r in rows], float) for k in keys}
    sd = {k: (float(v.std(ddof=1)) if len(v) > 1 else float("nan")) for k, v in a.items()}
    agg = {k: float(v.mean()) for k, v in a.items()}
    beats = sum(r["gini_ppo"] < r["gini_best_static"] for r in rows)
    checks = {
        "gini_reduction_ge_20pct": agg["reduction_pct"] >= 20.0,
        "beats_best_static": bool(agg["gini_ppo"] < agg["gini_best_static"]) and beats == len(rows),
        "cost_within_3pct": agg["cost_above_equal_pct"] <= 3.0,
        "training_under_20min": bool(a["train_minutes"].max() < 20.0),
        "at_least_3_seeds": len(rows) >= 3,
    }
    head = ("| training seed | train min | train steps/s | load (1-min, mean) | episodes | Gini ppo | Gini equal | "
            "Gini best static | Gini inverse income | Gini reduction vs equal (%) | mean per-episode reduction (%) | "
            "episodes ppo < equal | episodes ppo < best static | cost above equal (%) | max episode cost above "
            "equal (%) |")
    lines = [head, "|" + "---|" * 15]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['train_minutes']:.1f} | {r['train_steps_per_s']:.1f} | "
                     f"{r['train_load1_mean']:.2f} | {r['episodes']} | {r['gini_ppo']:.3f} | {r['gini_equal']:.3f} | "
                     f"{r['gini_best_static']:.3f} | {r['gini_inverse_income']:.3f} | {r['reduction_pct']:.1f} | "
                     f"{r['reduction_per_episode_pct']:.1f} | {r['episodes_ppo_below_equal']}/{r['episodes']} | "
                     f"{r['episodes_ppo_below_best_static']}/{r['episodes']} | {r['cost_above_equal_pct']:.2f} | "
                     f"{r['cost_above_equal_max_pct']:.2f} |")
    lines.append(
        f"| mean ± sd ({len(rows)} seeds) | {agg['train_minutes']:.1f} ± {sd['train_minutes']:.1f} | "
        f"{agg['train_steps_per_s']:.1f} | {agg['train_load1_mean']:.2f} | | "
        f"{agg['gini_ppo']:.3f} ± {sd['gini_ppo']:.3f} | {agg['gini_equal']:.3f} | {agg['gini_best_static']:.3f} | "
        f"{agg['gini_inverse_income']:.3f} | **{agg['reduction_pct']:.1f} ± {sd['reduction_pct']:.1f}** | "
        f"{agg['reduction_per_episode_pct']:.1f} ± {sd['reduction_per_episode_pct']:.1f} | | | "
        f"{agg['cost_above_equal_pct']:.2f} ± {sd['cost_above_equal_pct']:.2f} | "
        f"{a['cost_above_equal_max_pct'].max():.2f} (max) |")
    text = (f"Training: {steps} steps per seed, seeds {seeds}, {jobs} trainings at a time. Evaluation: held-out "
            f"weeks, evaluation seeds {eval_seeds}, 7-day episodes. Finished {time.strftime('%Y-%m-%d %H:%M')}, "
            f"{_load()}.\n\n" + "\n".join(lines) + "\n\nTargets: "
            + ", ".join(f"{k} {'MET' if v else 'NOT MET'}" for k, v in checks.items())
            + f" (ppo below best static in {beats}/{len(rows)} seeds).\n")
    text += "\n" + _by_week(seeds, out)
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "target.md").write_text(text)
    (Path(out) / "target.json").write_text(json.dumps({"rows": rows, "mean": agg, "sd": sd, "checks": checks},
                                                      indent=2, default=float))
    print(text, flush=True)


if __name__ == "__main__":
    import p2psim.cli.rl  # noqa: F401

    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["throughput", "before-after", "target", "train"])
    parser.add_argument("--seeds", default="0,1,2", help="training seeds (target)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (train)")
    parser.add_argument("--eval-seeds", default="0,1,2", help="evaluation seeds (target)")
    parser.add_argument("--steps", type=int, default=10240)
    parser.add_argument("--jobs", type=int, default=1, help="trainings at once (the machine has 2 cores)")
    parser.add_argument("--days", type=int, default=42, help="days per throughput measurement")
    parser.add_argument("--out", default="runs/bench_rl")
    args = parser.parse_args()
    if args.what == "throughput":
        print(_load(), flush=True)
        throughput(args.days, label="eqwm_v1, use_binaries=auto (study default)")
        throughput(args.days, overrides=("equity.use_binaries=never",), label="eqwm_v1, use_binaries=never (LP path)")
        throughput(args.days, market="mid_market_rate_v1")
    elif args.what == "before-after":
        before_after(args.days)
    elif args.what == "train":
        train_one(args.seed, args.steps, args.out)
    else:
        target([int(s) for s in args.seeds.split(",")], args.steps, args.out,
               [int(s) for s in args.eval_seeds.split(",")], args.jobs)
