"""Coordinator episodes on fixed days: the policies compared, and the figures of one episode.

A *controller* is anything with ``reset()`` and ``act(observation) -> log-weight change``: a
trained PPO policy (:class:`p2psim.rl.policy.CoordinatorPolicy`), the ``feedback`` PI controller
(:class:`p2psim.rl.feedback.FeedbackController`) or :class:`Static` weights. Every policy of a
comparison runs the same episode: same start day, same community (the study seed), same forecast
errors (the episode seed).

Figures of an episode of T days (:func:`episode_figures`), with ``G_t`` the Gini of cumulative
relative benefit after day t (:mod:`p2psim.rl.outcomes`) and ``g_t`` the Gini of day t's own
relative benefit:

- ``final_cumulative_inequity`` = G_T; ``mean_daily_inequity`` = mean_t g_t;
- ``inequity_slope_per_day``: OLS slope of G_t on t (:func:`p2psim.metrics.equity.trend`);
- ``community_cost`` = sum_t C_t (the study's currency; grid energy, fees, demand charge) and
  ``cost_above_equal_pct`` = 100 (C - C_equal) / max(|C_equal|, 0.1 sum_t sum_i |B_i|) against the
  *equal-weight episode* of the same days and seeds (paired; the floor keeps a community that
  nearly breaks even, e.g. a sunny rural week, from blowing the ratio up).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from p2psim.metrics.equity import trend


@dataclass
class Static:
    """Fixed class weights: every action is zero after the episode starts at ``weights``."""

    weights: dict[str, float]

    def reset(self) -> None:
        """Nothing to forget."""

    def act(self, obs: np.ndarray) -> None:
        """No change (the environment keeps the weights)."""
        return None


def run_episode(env, controller, start: int, episode_seed: int) -> list[dict[str, Any]]:
    """One episode from ``start`` (day of year) driven by ``controller``; one info row per day.

    Static controllers start at their weights and never act (the environment then skips the
    equal-weight reference clearing: paired costs come from the ``equal`` episode); others start
    at equal weights.
    """
    static = isinstance(controller, Static)
    initial = controller.weights if static else dict.fromkeys(env.classes, 1.0)
    env.equal_weight_reference = not static
    obs, _ = env.reset(seed=episode_seed, options={"start_day": start, "episode_seed": episode_seed,
                                                   "weights": initial})
    controller.reset()
    zero = {a: np.zeros(env.action_space(a).shape, np.float32) for a in env.possible_agents}
    rows = []
    while env.agents:
        if static:
            actions = zero
        else:
            action = controller.act(obs[env.agents[0]])
            actions = dict.fromkeys(env.agents, action)
        obs, _, _, _, infos = env.step(actions)
        info = next(iter(infos.values()))
        rows.append({k: v for k, v in info.items() if k != "weights"}
                    | {f"w_{c}": w for c, w in info["weights"].items()})
    return rows


def episode_figures(rows: list[dict[str, Any]], equal_rows: list[dict[str, Any]] | None) -> dict[str, float]:
    """The figures of one episode (module docstring); ``equal_rows`` is the paired equal-weight episode."""
    g = np.array([r["cumulative_gini"] for r in rows])
    daily = np.array([r["gini"] for r in rows])
    t = np.arange(1, g.size + 1, dtype=float)
    slope, low, high = trend(t, g)
    cost = float(sum(r["community_cost"] for r in rows))
    out = {"final_cumulative_inequity": float(g[-1]), "mean_daily_inequity": float(daily.mean()),
           "inequity_slope_per_day": slope, "inequity_slope_ols_ci95_low": low,
           "inequity_slope_ols_ci95_high": high, "daily_inequity_slope_per_day": trend(t, daily)[0],
           "community_cost": cost, "days": int(g.size)}
    if equal_rows is not None:
        c_eq = float(sum(r["community_cost"] for r in equal_rows))
        floor = 0.1 * float(sum(r["standalone_bill_abs"] for r in equal_rows))
        out["cost_above_equal_pct"] = 100.0 * (cost - c_eq) / max(abs(c_eq), floor, 1e-9)
    return out


def mean_ci(values) -> tuple[float, float, float]:
    """Mean and 95 % t-interval (low, high) over independent values; NaN bounds below two values."""
    from scipy import stats

    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    if v.size < 2:
        return float(v.mean()), float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, v.size - 1)) * float(v.std(ddof=1)) / np.sqrt(v.size)
    return float(v.mean()), float(v.mean() - half), float(v.mean() + half)


__all__ = ["Static", "episode_figures", "mean_ci", "run_episode"]
