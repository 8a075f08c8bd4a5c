"""No equity index of the six scenario studies leaves [0, 1], whatever the seed or season (winter included).

Fast part: the summary step (market, settlement, equity quantities and their trajectory) of every
study for one day, and of rural in a January fortnight and winter over two days under another seed.
Slow part (-m slow): every stage (allocation included) over two days and three seeds.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from p2psim.config.study import load_study
from p2psim.runner import run
from p2psim.runner.stages import finish_run

STUDIES = Path(__file__).resolve().parents[1] / "studies"
SIX = ("rural", "semiurban", "urban", "winter", "ev_evening", "mixed_income")


@cache
def study(name: str):
    return load_study(STUDIES / f"{name}.py")


def index_keys(summary: dict) -> list[str]:
    """Every inequality or fairness index of a summary (trends are slopes, not indices)."""
    return [k for k in summary if (k.startswith(("gini_", "jain_")) or k.endswith("_gini_relative_benefit"))
            and "_slope_" not in k]


def assert_bounded(result) -> None:
    s = result.summary
    keys = index_keys(s)
    assert {"gini_relative_benefit", "gini_energy_burden", "gini_renewable_access",
            "gini_relative_benefit_cumulative_last"} <= set(keys)
    for key in keys:
        assert 0.0 <= s[key] <= 1.0, (key, s[key])
    assert 0.0 <= s["self_sufficiency_pct"] <= 100.0 and 0.0 <= s["solar_utilisation_pct"] <= 100.0
    per = result.participants
    assert per.renewable_access.dropna().between(0, 1).all()
    assert (per.energy_burden_pct.dropna() >= 0).all() and (per.earnings >= 0).all()
    classes = result.per_class
    assert classes.renewable_access_pct.between(0, 100).all() and (classes.energy_burden_pct >= 0).all()
    daily = result.equity_daily
    gini = daily[[c for c in daily if c.startswith("gini_")]].to_numpy()
    assert np.all((gini >= 0) & (gini <= 1))


@pytest.mark.parametrize("name", SIX)
def test_one_day_of_every_study(name):
    assert_bounded(run(replace(study(name), days=1)))


@pytest.mark.parametrize(("name", "start_day", "seed"), [("rural", 10, 1), ("winter", 10, 2)])
def test_winter_days_under_other_seeds(name, start_day, seed):
    result = run(replace(study(name), days=2, start_day=start_day, seed=seed))
    assert_bounded(result)
    assert len(result.equity_daily) == 2


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", SIX)
def test_every_stage_of_every_study(name, seed):
    result = run(replace(study(name), days=2, seed=seed, explain=False))
    finish_run(result)
    assert_bounded(result)
    rules = result.extras["allocation"]["rules"]
    assert rules.gini_relative_benefit.between(0, 1).all()
    jain = pd.to_numeric(rules.jain_relative_benefit).dropna()
    assert jain.between(0, 1).all()
