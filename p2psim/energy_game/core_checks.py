"""Stability of the allocation rules: per-day core checks and the cost of stability.

Core check of a rule on a day: the largest excess ``max_S v(S) - x(S)`` over the proper coalitions
S (the most a coalition would gain by leaving). Three kinds, labelled in every table
(:data:`p2psim.game.core.CHECK_LABELS`):

- ``exact``: the game is enumerated, every coalition's excess is known (also the count of violated
  coalitions);
- ``exact (MILP oracle)``: the largest excess proven by the day's membership separation
  (:meth:`p2psim.energy_game.separation.MembershipSeparation.max_excess`: the LP relaxation, or one
  MILP solved to optimality); whether any coalition is violated is then exact too, but the number of
  violated coalitions is not counted (NaN; 0 when none is violated);
- ``sampled lower bound``: random coalitions only; the true largest excess can only be larger, and
  "none violated" means none found.

Cost of stability for the least advantaged class C (lowest median income):
``sum_d sum_{i in C} (phi^w_{i,d} - e_{i,d})``, the weighted Shapley share minus the share under the
core point closest to it (the equitable core). Exact when the weighted Shapley value is exact; else
an estimate whose standard error is that of the sampled weighted-Shapley class total,
``sqrt(sum_d s_d^2)`` with ``s_d = sqrt(1_C' Cov_d 1_C)`` from the day's sampled orders
(:func:`p2psim.game.weighted.group_std_error`; days are independent samples). The equitable core
term is the exact closest core point to the *estimated* target and moves with it; its own sampling
variation is not in that figure (``benchmarks/results/stability_se.md`` measures the estimate's
spread and coverage against the enumerated cost on the rural week).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from p2psim.game.core import CHECK_LABELS
from p2psim.metrics.equity import EQUITY_EXCLUDED_CLASSES

CHECK_ORDER = tuple(CHECK_LABELS.values())
"""Check labels from strongest to weakest (a run's label is its weakest day's)."""


def core_check(cached, allocation, method: str, oracle, budget: int, seed: int, known: bool = False
               ) -> dict[str, Any]:
    """One rule's core check on one day (``method``: ``"exact"``, ``"oracle"``, ``"bounds"`` or ``"sampled"``).

    ``known`` (sampled): also check every coalition the day's game has already valued (free; see
    :func:`p2psim.game.max_core_excess`).

    Returns the row of ``allocation_core.parquet`` without day and rule: the largest excess found
    (``max_core_excess``), a proven upper bound on the true one (``inf`` when sampled), whether a
    coalition is violated, the number of violated coalitions (NaN when the oracle found a violated
    coalition without counting them), the coalitions covered, the check's label and its seconds.
    """
    from p2psim.game import max_core_excess

    start = time.perf_counter()
    check = max_core_excess(
        cached.players,
        cached,
        dict(allocation),
        method=method,
        budget=budget if method == "sampled" else None,
        seed=seed,
        oracle=None if oracle is None else oracle.max_excess,
        known=known,
    )
    return {
        "max_core_excess": float(check.max_excess),
        "max_core_excess_upper_bound": float(check.upper_bound),
        "violated": bool(check.violated),
        "violated_coalitions": np.nan if check.n_violated is None else float(check.n_violated),
        "coalitions_checked": float(check.n_checked),
        "core_check": check.label,
        "core_check_exact": bool(check.exact),
        "seconds": time.perf_counter() - start,
    }


def core_table(days: list[dict[str, Any]]) -> pd.DataFrame:
    """``allocation_core.parquet``: one row per day and rule (see :func:`core_check`)."""
    return pd.DataFrame([{"day": d["day"], "rule": rule, **check} for d in days for rule, check in d["core"].items()])


def rule_stability(core: pd.DataFrame, rule: str) -> dict[str, Any]:
    """A rule's stability columns of the rules table, from its days' core checks.

    ``max_core_excess_per_day`` (largest over days), ``core_violated_days``, ``core_violations``
    (violated coalitions summed over days; NaN when a day's check did not count them),
    ``coalitions_checked``, ``core_check_exact`` and ``core_check`` (the weakest day's label).
    """
    checks = core[core.rule == rule] if len(core) else core
    if not len(checks):
        return {"max_core_excess_per_day": np.nan, "core_violated_days": np.nan, "core_violations": np.nan,
                "coalitions_checked": np.nan, "core_check_exact": False, "core_check": "not checked"}
    counted = not checks.violated_coalitions.isna().any()
    return {
        "max_core_excess_per_day": float(checks.max_core_excess.max()),
        "core_violated_days": float(checks.violated.sum()),
        "core_violations": float(checks.violated_coalitions.sum()) if counted else np.nan,
        "coalitions_checked": float(checks.coalitions_checked.sum()),
        "core_check_exact": bool(checks.core_check_exact.all()),
        "core_check": max(checks.core_check, key=CHECK_ORDER.index),
    }


def least_advantaged_class(participants: pd.DataFrame) -> str:
    """The class with the lowest median income among the equity classes (not the aggregator)."""
    equity = participants[~participants.socio_class.isin(EQUITY_EXCLUDED_CLASSES)]
    return str(equity.groupby("socio_class").income_per_year.median().idxmin())


def stability_cost(per: pd.DataFrame, days: pd.DataFrame | None = None) -> dict[str, Any]:
    """What the least advantaged class gives up for stability (see the module docstring).

    Args:
        per: The run's allocation per rule and participant (``allocation.parquet``).
        days: The day table (``allocation_days.parquet``); its column
            ``least_advantaged_weighted_shapley_se`` gives the standard error of an estimate.

    Returns:
        ``class``, ``weighted_shapley``, ``equitable_core``, ``cost_of_stability``, ``exact`` (1.0
        when the weighted Shapley value and the equitable core are exact, else 0.0) and, for an
        estimate, ``std_error`` (of the weighted-Shapley class total, which the cost carries; NaN
        without ``days``); empty when the equitable core was not computed.
    """
    if not {"weighted_shapley", "equitable_core"} <= set(per.rule):
        return {}
    poorest = least_advantaged_class(per.drop_duplicates("participant"))
    equity = per[~per.socio_class.isin(EQUITY_EXCLUDED_CLASSES)]
    by_rule = equity[equity.socio_class == poorest].groupby("rule").amount.sum()
    exact = bool(equity[equity.rule.isin(["weighted_shapley", "equitable_core"])].exact.all())
    out: dict[str, Any] = {
        "class": poorest,
        "weighted_shapley": float(by_rule["weighted_shapley"]),
        "equitable_core": float(by_rule["equitable_core"]),
        "cost_of_stability": float(by_rule["weighted_shapley"] - by_rule["equitable_core"]),
        "exact": float(exact),
    }
    if not exact:
        se = np.nan if days is None else float(np.sqrt((days.least_advantaged_weighted_shapley_se**2).sum()))
        out["std_error"] = se
    return out
