"""Coordinator environment throughput (the coordinator's evaluation is benchmarks/bench_coordinator.py).

    .venv/bin/python benchmarks/bench_rl.py throughput                # steps/s: eqwm auto, eqwm LP path, baseline
    .venv/bin/python benchmarks/bench_rl.py before-after              # the same, pre-optimisation path vs now

``throughput`` counts coordinator steps (clearing days, resets included) per second on studies/rural.py
with random actions: eqwm_v1 with the study's own ``equity.use_binaries`` (``auto``: LP, exact MILP
repair where complementarity fails), eqwm_v1 with ``--set equity.use_binaries=never`` (LP path) and
mid_market_rate_v1 for reference. Each line also prints ``os.getloadavg()`` (2-core shared machine).
The former ``target`` mode (day-level Gini on rural's held-out weeks) is withdrawn: see
benchmarks/results/rl.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import time

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


if __name__ == "__main__":
    import p2psim.cli.rl  # noqa: F401

    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["throughput", "before-after"])
    parser.add_argument("--days", type=int, default=42, help="days per throughput measurement")
    args = parser.parse_args()
    if args.what == "throughput":
        print(_load(), flush=True)
        throughput(args.days, label="eqwm_v1, use_binaries=auto (study default)")
        throughput(args.days, overrides=("equity.use_binaries=never",), label="eqwm_v1, use_binaries=never (LP path)")
        throughput(args.days, market="mid_market_rate_v1")
    else:
        before_after(args.days)
