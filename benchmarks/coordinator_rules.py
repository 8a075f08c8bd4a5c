"""Which settlement rule serves equity best under the coordinator: rural, days 152..158, seed 0.

    .venv/bin/python benchmarks/coordinator_rules.py

For each rule (market, weighted_shapley, equitable_core, shapley), with the feedback coordinator and
without (equal weights): the Gini of cumulative relative benefit on the last day, its daily trend and
the Gini of cumulative energy burden (summary.json keys), the weights of the last day and the wall
time. Allocation and explanation stages off (the rule's allocation is computed in the day loop).
"""

import time
from dataclasses import replace

from p2psim.config.study import load_study
from p2psim.runner import run

KEYS = ("gini_relative_benefit_cumulative_last", "gini_relative_benefit_daily_slope_per_day",
        "gini_energy_burden_cumulative_last")

base = replace(load_study("studies/rural.py"), allocation=False, explain=False)
for rule in ("market", "weighted_shapley", "equitable_core", "shapley"):
    for coord in ("feedback", None):
        t = time.time()
        res = run(replace(base, settlement_rule=rule, coordinator_policy=coord))
        figures = {k: round(float(res.summary[k]), 4) for k in KEYS}
        print(rule, coord, figures, "weights_last", res.day_results[-1]["class_weights"], f"{time.time() - t:.0f}s",
              flush=True)
