"""Evaluate a coordinator policy on held-out weeks against three baselines.

Policies compared on the same episodes (same start day, same per-episode seed, so the same
forecast errors and the same community):

- ``ppo``: the trained policy (deterministic actions);
- ``equal``: every class weight 1 (the cost-minimising clearing);
- ``inverse_income``: fixed weights proportional to 1 / median class income, scaled to a geometric
  mean of 1 and kept within the policy's [w_min, w_max];
- ``best_static``: the best fixed weight vector of a small grid (low in {0.5, 1, 2, 4}, middle 1,
  high in {0.25, 0.5, 1, 2}), chosen by mean episode reward on *training* days (never on the
  held-out weeks it is then evaluated on).

Episodes start on the first day of each held-out week (``EquityEnv.held_out_weeks``) and last
``days`` days; every (seed, week) pair is one episode. Outputs in ``out_dir``: ``episodes.csv``
(one row per policy and episode), ``days.csv`` (one row per policy, episode and day),
``summary.csv`` and ``summary.md`` (mean and 95 % t-interval over episodes), and the plots
``gini_over_days.png``, ``weights_over_time.png`` and ``community_cost.png``.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from p2psim.errors import StudyError

GRID_LOW = (0.5, 1.0, 2.0, 4.0)
GRID_HIGH = (0.25, 0.5, 1.0, 2.0)


def _episode(env, start: int, seed: int, weights: dict[str, float], act=None) -> list[dict[str, Any]]:
    obs, _ = env.reset(seed=seed, options={"start_day": start, "episode_seed": 1000 + seed, "weights": weights})
    rows = []
    zero = {a: np.zeros(env.action_space(a).shape, np.float32) for a in env.possible_agents}
    while env.agents:
        actions = zero if act is None else {a: act(obs[a]) for a in env.agents}
        obs, _, _, _, infos = env.step(actions)
        info = next(iter(infos.values()))
        weights = {f"w_{c}": w for c, w in info["weights"].items()}
        rows.append({k: v for k, v in info.items() if k != "weights"} | weights)
    return rows


def inverse_income_weights(env) -> dict[str, float]:
    """Weights proportional to 1 / median class income (geometric mean 1, within bounds)."""
    community = env.study.community
    income = dict(getattr(community, "income_per_year", ()))
    if not income:
        participants = getattr(community, "participants", ())
        for c in env.classes:
            values = [p.income_per_year for p in participants if p.socio_class == c]
            income[c] = float(np.median(values)) if values else 1.0
    raw = np.array([1.0 / income.get(c, 1.0) for c in env.classes])
    w = raw / np.exp(np.log(raw).mean())
    return dict(zip(env.classes, np.clip(w, env.w_min, env.w_max).tolist(), strict=True))


def static_grid(env) -> list[dict[str, float]]:
    """The small grid of static weight vectors searched for the best_static baseline."""
    grid = []
    for low, high in itertools.product(GRID_LOW, GRID_HIGH):
        w = dict.fromkeys(env.classes, 1.0)
        if "low" in w:
            w["low"] = low
        if "high" in w:
            w["high"] = high
        grid.append(w)
    return grid


def best_static_weights(train_env, days_seed: int = 0, episodes: int = 2) -> tuple[dict[str, float], pd.DataFrame]:
    """Grid-search static weights on training days (mean episode reward); return the best and the table."""
    rng = np.random.default_rng(days_seed)
    starts = rng.choice(train_env.starts, size=episodes, replace=False)
    rows = []
    for w in static_grid(train_env):
        rewards = [np.sum([r["reward"] for r in _episode(train_env, int(s), 500 + k, w)]) for k, s in enumerate(starts)]
        rows.append({**{f"w_{c}": v for c, v in w.items()}, "mean_reward": float(np.mean(rewards))})
    table = pd.DataFrame(rows)
    best = table.loc[table.mean_reward.idxmax()]
    return {c: float(best[f"w_{c}"]) for c in train_env.classes}, table


def _ci(values: np.ndarray) -> tuple[float, float]:
    from scipy import stats

    values = np.asarray(values, float)
    if values.size < 2:
        return float(values.mean()), float("nan")
    half = stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size)
    return float(values.mean()), float(half)


def summarise(episodes: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95 % t-interval over episodes of each policy's metrics."""
    rows = []
    equal = episodes[episodes.policy == "equal"].set_index("episode")
    for policy, group in episodes.groupby("policy", sort=False):
        g = group.set_index("episode")
        rel_gini = 100 * (1 - g.mean_gini / equal.mean_gini.reindex(g.index))
        rel_cost = 100 * (g.community_cost / equal.community_cost.reindex(g.index) - 1)
        row = {"policy": policy, "episodes": len(g)}
        for name, values in (("mean_gini", g.mean_gini), ("gini_reduction_vs_equal_pct", rel_gini),
                             ("cost_above_equal_pct", rel_cost), ("efficiency_loss_pct", 100 * g.mean_efficiency_loss),
                             ("community_cost", g.community_cost), ("episode_reward", g.episode_reward)):
            mean, half = _ci(values.to_numpy())
            row[name] = mean
            row[f"{name}_ci95"] = half
        rows.append(row)
    return pd.DataFrame(rows)


def _markdown(summary: pd.DataFrame) -> str:
    names = ["mean_gini", "gini_reduction_vs_equal_pct", "cost_above_equal_pct", "community_cost", "episode_reward"]
    head = "| policy | episodes | " + " | ".join(names) + " |"
    lines = [head, "|" + "---|" * (len(names) + 2)]
    for _, r in summary.iterrows():
        cells = [f"{r[n]:.4g} ± {r[n + '_ci95']:.2g}" for n in names]
        lines.append(f"| {r.policy} | {r.episodes} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _plots(days: pd.DataFrame, episodes: pd.DataFrame, classes: tuple[str, ...], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for policy, g in days.groupby("policy", sort=False):
        m = g.groupby("day_index").gini.mean()
        ax.plot(m.index + 1, m.values, marker="o", label=policy)
    ax.set(xlabel="day of episode", ylabel="Gini of relative benefit (0 = equal)", title="Gini over the held-out days",
           ylim=(0, 1))
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "gini_over_days.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    ppo = days[days.policy == "ppo"]
    first = ppo[ppo.episode == ppo.episode.iloc[0]] if len(ppo) else ppo
    for c in classes:
        ax.plot(first.day_index + 1, first[f"w_{c}"], marker="o", label=f"{c} (ppo)")
    ax.set(xlabel="day of episode", ylabel="class weight", yscale="log",
           title=f"weights chosen by the coordinator (episode {first.episode.iloc[0] if len(first) else '-'})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "weights_over_time.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    policies = list(dict.fromkeys(episodes.policy))
    equal = episodes[episodes.policy == "equal"].set_index("episode").community_cost
    rel = [100 * (episodes[episodes.policy == p].set_index("episode").community_cost / equal - 1) for p in policies]
    ax.bar(policies, [r.mean() for r in rel], yerr=[r.std(ddof=1) if len(r) > 1 else 0 for r in rel], capsize=4)
    ax.axhline(3.0, color="red", linestyle="--", label="3 % budget")
    ax.set(ylabel="community cost above equal weights (%)", title="community cost against the equal-weight optimum")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "community_cost.png", dpi=110)
    plt.close(fig)


def _episodes(test_env, policy, best: dict[str, float], seeds) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every (seed, held-out week) episode of the four policies: the day table and the episode table."""
    equal = dict.fromkeys(test_env.classes, 1.0)
    runs = {"ppo": (equal, lambda o: policy.act(o)), "equal": (equal, None),
            "inverse_income": (inverse_income_weights(test_env), None), "best_static": (best, None)}
    day_rows, episode_rows = [], []
    for seed in seeds:
        for start in test_env.starts:
            episode = f"s{seed}-d{int(start)}"
            for name, (weights, act) in runs.items():
                rows = _episode(test_env, int(start), int(seed), weights, act)
                for k, r in enumerate(rows):
                    day_rows.append({"policy": name, "episode": episode, "seed": seed, "day_index": k, **r})
                frame = pd.DataFrame(rows)
                episode_rows.append({
                    "policy": name, "episode": episode, "seed": seed, "start_day": int(start),
                    "mean_gini": frame.gini.mean(), "mean_efficiency_loss": frame.efficiency_loss.mean(),
                    "community_cost": frame.community_cost.sum(), "equal_weight_cost": frame.equal_weight_cost.sum(),
                    "episode_reward": frame.reward.sum(),
                })
    return pd.DataFrame(day_rows), pd.DataFrame(episode_rows)


def evaluate(study_path: str, policy_dir: str | Path, seeds: list[int] | tuple[int, ...], days: int,
             out_dir: str | Path, *, weeks: tuple[int, ...] | None = None, grid_episodes: int = 2) -> pd.DataFrame:
    """Evaluate ``policy_dir`` on held-out weeks for ``seeds``; write tables and plots; return the summary.

    The output directory is staged (:func:`p2psim.outputs.staging.output_directory`): checked and locked
    before the episodes run, renamed into place when every file is written.
    """
    from p2psim.config.checks import seed_problem
    from p2psim.outputs import check_out
    from p2psim.outputs.staging import output_directory
    from p2psim.rl.env import EquityEnv
    from p2psim.rl.policy import load_policy

    if not seeds:
        raise StudyError("evaluate needs at least one seed")
    bad = [p for p in (seed_problem(s, "--seeds") for s in seeds) if p]
    if bad:
        raise StudyError(bad[0].replace("--seeds=", "--seeds: ", 1))
    if not (isinstance(days, int) and days >= 1):
        raise StudyError(f"--days {days}: each held-out episode needs at least one day")
    check_out(out_dir, "evaluate", inputs=[study_path, policy_dir])  # at once, before the environments load
    policy = load_policy(policy_dir)
    settings = policy.env_settings
    settings["episode_days"] = int(days)
    if weeks is not None:
        settings["held_out_weeks"] = tuple(weeks)
    test_env = EquityEnv.from_study(study_path, overrides=policy.overrides, split="test", **settings)
    if test_env.obs_size != policy.obs_mean.shape[0]:
        from p2psim.rl.checkpoints import CheckpointError

        raise CheckpointError(f"policy {str(policy_dir)!r} expects {policy.obs_mean.shape[0]} observations; "
                              f"{study_path!r} gives {test_env.obs_size}")
    train_env = EquityEnv.from_study(study_path, overrides=policy.overrides, split="train", **settings)
    with output_directory(out_dir, "evaluate", inputs=[study_path, policy_dir]) as staging:
        best, grid = best_static_weights(train_env, episodes=grid_episodes)
        days_frame, episodes = _episodes(test_env, policy, best, seeds)
        summary = summarise(episodes)
        days_frame.to_csv(staging / "days.csv", index=False)
        episodes.to_csv(staging / "episodes.csv", index=False)
        grid.to_csv(staging / "static_grid.csv", index=False)
        summary.to_csv(staging / "summary.csv", index=False)
        text = (f"# Coordinator evaluation: {study_path}\n\npolicy {policy.path}; held-out weeks "
                f"{list(test_env.held_out_weeks)}; seeds {list(seeds)}; {days} day(s) per episode; market "
                f"{test_env.study.market}; best static weights {best}; inverse-income weights "
                f"{inverse_income_weights(test_env)}\n\nmean ± 95 % t-interval over episodes\n\n"
                + _markdown(summary))
        (staging / "summary.md").write_text(text)
        _plots(days_frame, episodes, test_env.classes, staging)
    return summary


__all__ = ["best_static_weights", "evaluate", "inverse_income_weights", "static_grid"]
