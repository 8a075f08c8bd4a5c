"""``python -m p2psim evaluate``: a coordinator and the baselines on the same days.

Policies (every one runs the same episodes: start day D, N days, per evaluation seed s the
community of study seed s and the forecast errors of episode seed 1000 + s):

- the candidate, named by ``--policy`` (a PPO policy directory or shipped name, or ``feedback``);
- ``equal``: every class weight 1 (the cost-minimising clearing);
- ``inverse_income``: fixed weights proportional to 1 / median class income, geometric mean 1,
  within [w_min, w_max];
- ``best_static``: the static vector of :data:`STATIC_GRID` with the lowest mean final cumulative
  inequity at no more than :data:`COST_BUDGET_PCT` cost above equal weights, searched once (on the
  first seed's community) on two 14-day *training* windows (:func:`training_windows`: days outside
  the evaluated window), never on the evaluated days; when the evaluated days leave no window (a
  whole year), on two windows of the same year but another community (study seed 10000 + s), which
  ``summary.json`` says (``outside_evaluated_days: false``);
- ``feedback``: the PI controller on class deficits (:mod:`p2psim.rl.feedback`), if not the candidate.

Clearing: the EqWM program on its LP path (``equity.use_binaries=never``) unless ``exact=True``, and
market settlement in the episodes (the weights act on the clearing; :class:`p2psim.rl.env.EquityEnv`).

Outputs (staged, :func:`p2psim.outputs.staging.output_directory`): ``days.csv`` (policy, seed, day),
``episodes.csv`` (policy, seed), ``static_search.csv``, ``summary.json`` (per policy: the mean over
seeds of ``final_cumulative_inequity``, ``mean_daily_inequity``, ``inequity_slope_per_day``,
``cost_above_equal_pct`` with 95 % t-intervals over seeds, and paired differences against each
baseline), ``summary.md`` and ``cumulative_inequity.png`` (the trajectory G_t of every policy).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from p2psim.errors import StudyError
from p2psim.rl.episodes import Static, episode_figures, mean_ci, run_episode

STATIC_GRID = tuple({"low": lo, "middle": 1.0, "high": hi} for lo in (1.0, 1.5, 2.5) for hi in (1.0, 0.67, 0.4))
"""Static weight vectors searched for ``best_static`` (equal weights included)."""
COST_BUDGET_PCT = 2.0
FIGURES = ("final_cumulative_inequity", "mean_daily_inequity", "inequity_slope_per_day", "cost_above_equal_pct")
BASELINES = ("equal", "inverse_income", "best_static", "feedback")
YEAR_DAYS = 366
SEARCH_SEED = 10_000
SEARCH_DAYS = 14


def check_window(start_day: int, days: int) -> None:
    """StudyError unless days start_day .. start_day + days - 1 lie in the 2016 data year."""
    if not 0 <= start_day < YEAR_DAYS:
        raise StudyError(f"--start-day {start_day}: must be a day of the data year, 0..{YEAR_DAYS - 1}")
    if days < 1 or start_day + days > YEAR_DAYS:
        raise StudyError(f"--days {days} from --start-day {start_day} runs past the data year ({YEAR_DAYS} days): "
                         f"use at most {YEAR_DAYS - start_day} days or an earlier start")


def inverse_income_weights(env) -> dict[str, float]:
    """Weights proportional to 1 / median class income (geometric mean 1, within bounds)."""
    community = env.study.community
    income = dict(getattr(community, "income_per_year", ()))
    for c in env.classes:
        if c not in income:
            values = [p.income_per_year for p in getattr(community, "participants", ()) if p.socio_class == c]
            income[c] = float(np.median(values)) if values else 1.0
    raw = np.array([1.0 / income[c] for c in env.classes])
    w = raw / np.exp(np.log(raw).mean())
    return dict(zip(env.classes, np.clip(w, env.w_min, env.w_max).tolist(), strict=True))


def training_windows(start_day: int, days: int, count: int = 2, length: int = SEARCH_DAYS) -> list[int]:
    """``count`` start days of ``length``-day windows spread over the year, none touching the evaluated days.

    Empty when the evaluated days leave no such window (e.g. the whole year).
    """
    held = set(range(start_day, start_day + days))
    free = [s for s in range(YEAR_DAYS - length + 1) if not held & set(range(s, s + length))]
    if not free:
        return []
    picks = np.linspace(0, len(free) - 1, count + 2)[1:-1]
    return sorted({free[int(np.rint(k))] for k in picks})


def best_static(env, windows: list[int], seed: int) -> tuple[dict[str, float], pd.DataFrame]:
    """Search :data:`STATIC_GRID` on ``windows``; the best within the cost budget (equal weights if none)."""
    vectors = [{c: float(w.get(c, 1.0)) for c in env.classes} for w in STATIC_GRID]
    rows = []
    for window in windows:
        equal = run_episode(env, Static(vectors[0]), window, SEARCH_SEED + seed)
        for k, w in enumerate(vectors):
            r = equal if k == 0 else run_episode(env, Static(w), window, SEARCH_SEED + seed)
            f = episode_figures(r, equal)
            rows.append({"window_start": window, **{f"w_{c}": v for c, v in w.items()},
                         "final_cumulative_inequity": f["final_cumulative_inequity"],
                         "cost_above_equal_pct": f["cost_above_equal_pct"]})
    table = pd.DataFrame(rows)
    keys = [f"w_{c}" for c in env.classes]
    means = table.groupby(keys, sort=False)[["final_cumulative_inequity", "cost_above_equal_pct"]].mean().reset_index()
    ok = means[means.cost_above_equal_pct <= COST_BUDGET_PCT]
    best = ok.loc[ok.final_cumulative_inequity.idxmin()] if len(ok) else means.iloc[0]
    return {c: float(best[f"w_{c}"]) for c in env.classes}, table


def summarise(episodes: pd.DataFrame, candidate: str) -> dict[str, Any]:
    """Per policy: mean and 95 % interval over seeds of :data:`FIGURES`; the candidate paired against baselines."""
    out: dict[str, Any] = {}
    for policy, g in episodes.groupby("policy", sort=False):
        entry: dict[str, Any] = {"episodes": len(g)}
        for name in FIGURES:
            mean, low, high = mean_ci(g[name])
            entry[name] = mean
            entry[f"{name}_ci95"] = [low, high]
        out[policy] = entry
    cand = episodes[episodes.policy == candidate].set_index("seed")
    paired = {}
    for base in BASELINES:
        if base == candidate or base not in out:
            continue
        other = episodes[episodes.policy == base].set_index("seed").reindex(cand.index)
        diff = cand.final_cumulative_inequity - other.final_cumulative_inequity
        mean, low, high = mean_ci(diff)
        base_mean = float(other.final_cumulative_inequity.mean())
        paired[base] = {"final_cumulative_inequity_difference": mean, "difference_ci95": [low, high],
                        # the mean difference relative to the baseline's mean G_T
                        "relative_difference_pct": 100 * mean / base_mean if base_mean > 0 else float("nan"),
                        "seeds_candidate_lower": int((diff < 0).sum()), "seeds": int(diff.size)}
    out[candidate]["paired_against"] = paired
    return out


def _plot(days_frame: pd.DataFrame, out: Path, title: str) -> None:
    from p2psim.report.plots import _save, plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for policy, g in days_frame.groupby("policy", sort=False):
        m = g.groupby("day_index").cumulative_gini.mean()
        left.plot(m.index + 1, m.values, label=policy)
        if policy not in ("equal",):
            w = g.groupby("day_index")[[c for c in g.columns if c.startswith("w_low")]].mean()
            if len(w.columns):
                right.plot(w.index + 1, w.iloc[:, 0], label=policy)
    left.set(xlabel="day of episode", ylabel="Gini of cumulative relative benefit", title=title)
    left.legend(fontsize=8)
    right.set(xlabel="day of episode", ylabel="low-income class weight (mean over seeds)", yscale="log",
              title="weight of the low-income class")
    right.legend(fontsize=8)
    _save(fig, out / "cumulative_inequity.png")


def _markdown(summary: dict[str, Any], header: str) -> str:
    lines = [header, "", "mean over evaluation seeds [95 % t-interval]", "",
             "| policy | " + " | ".join(FIGURES) + " |", "|---" * (len(FIGURES) + 1) + "|"]
    for policy, e in summary["policies"].items():
        cells = [f"{e[n]:.4g} [{e[n + '_ci95'][0]:.3g}, {e[n + '_ci95'][1]:.3g}]" for n in FIGURES]
        lines.append(f"| {policy} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def evaluate(study_path: str, policy_name: str | Path, start_day: int, days: int, seeds: list[int],
             out_dir: str | Path, *, exact: bool = False, progress: bool = True) -> dict[str, Any]:
    """Run the candidate and the baselines; write the outputs (module docstring); return ``summary.json``."""
    from p2psim.config.checks import seed_problem
    from p2psim.outputs import check_out
    from p2psim.outputs.staging import output_directory
    from p2psim.rl.env import EquityEnv
    from p2psim.rl.feedback import FeedbackController
    from p2psim.rl.policy import check_policy_fits, load_any_policy

    if not seeds:
        raise StudyError("evaluate needs at least one seed (--seeds 0,1,2)")
    bad = [p for p in (seed_problem(s, "--seeds") for s in seeds) if p]
    if bad:
        raise StudyError(bad[0].replace("--seeds=", "--seeds: ", 1))
    check_window(start_day, days)
    check_out(out_dir, "evaluate", inputs=[study_path])
    policy = load_any_policy(policy_name)
    name = "feedback" if getattr(policy, "kind", "") == "feedback" else "ppo"
    settings = {k: v for k, v in policy.env_settings.items() if k not in ("episode_days", "held_out_weeks", "split")}
    settings.update(episode_days=days, held_out_weeks=(), settlement_rule="market")
    overrides = list(policy.overrides) + ([] if exact else ["equity.use_binaries=never"])

    def env_for(seed: int, episode_days: int = days):
        env = EquityEnv.from_study(study_path, overrides=[*overrides, f"seed={seed}"],
                                   **{**settings, "episode_days": episode_days})
        check_policy_fits(policy, env, study_path)
        return env

    envs = {s: env_for(s) for s in seeds}  # every mismatch exits before the first episode
    with output_directory(out_dir, "evaluate", inputs=[study_path]) as staging:
        day_rows, episode_rows = [], []
        # searched once, on the first seed's community and training windows only; when the evaluated
        # days leave no window (a whole year), on the same days but another community (said in summary.json)
        length = min(SEARCH_DAYS, days)
        windows = training_windows(start_day, days, length=length)
        search_seed, in_time = seeds[0], bool(windows)
        if not windows:
            search_seed = SEARCH_SEED + seeds[0]
            windows = [int(w) for w in np.linspace(0, YEAR_DAYS - length, 4)[1:3]]
        best, search = best_static(env_for(search_seed, length), windows, seeds[0])
        for seed in seeds:
            env = envs[seed]
            runs = {name: policy, "equal": Static(dict.fromkeys(env.classes, 1.0)),
                    "inverse_income": Static(inverse_income_weights(env)), "best_static": Static(best)}
            if name != "feedback":
                runs["feedback"] = FeedbackController(env.classes, max_log_step=env.max_log_step, w_min=env.w_min,
                                                      w_max=env.w_max)
            rows = {p: run_episode(env, c, start_day, 1000 + seed) for p, c in runs.items()}
            for p, r in rows.items():
                day_rows += [{"policy": p, "seed": seed, "day_index": k, **row} for k, row in enumerate(r)]
                episode_rows.append({"policy": p, "seed": seed, **episode_figures(r, rows["equal"])})
            if progress:
                print(f"evaluate: seed {seed} done", flush=True)
        days_frame, episodes = pd.DataFrame(day_rows), pd.DataFrame(episode_rows)
        summary = {"study": str(study_path), "policy": str(policy_name), "candidate": name,
                   "start_day": start_day, "days": days, "seeds": list(seeds),
                   "clearing": "EqWM exact" if exact else "EqWM LP path (equity.use_binaries=never)",
                   "settlement": "market", "best_static_weights": best,
                   "best_static_search": {"windows": windows, "community_seed": search_seed,
                                          "outside_evaluated_days": in_time, "cost_budget_pct": COST_BUDGET_PCT},
                   "policies": summarise(episodes, name)}
        days_frame.to_csv(staging / "days.csv", index=False)
        episodes.to_csv(staging / "episodes.csv", index=False)
        search.to_csv(staging / "static_search.csv", index=False)
        (staging / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
        header = (f"# Coordinator evaluation: {study_path}\n\ncandidate {name} ({policy_name}); days {start_day}.."
                  f"{start_day + days - 1}; seeds {list(seeds)}; {summary['clearing']}; market settlement")
        (staging / "summary.md").write_text(_markdown(summary, header))
        _plot(days_frame, staging, f"{Path(study_path).stem}: days {start_day}..{start_day + days - 1}")
    return summary


__all__ = ["BASELINES", "best_static", "check_window", "evaluate", "inverse_income_weights", "training_windows"]
