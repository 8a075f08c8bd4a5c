"""Load a trained coordinator and let it set the class weights of a normal run.

A policy directory (written by :func:`p2psim.rl.train.train`) holds ``model.zip`` (SB3 PPO),
``vecnormalize.pkl`` (observation statistics) and ``policy.json`` (the environment settings it was
trained with). :func:`load_policy` returns a :class:`CoordinatorPolicy` whose :meth:`act` maps a raw
observation (as :class:`~p2psim.rl.env.EquityEnv` builds it) to a deterministic weight change.

:func:`coordinator_hook` makes a :class:`~p2psim.sim.model.CommunityModel` day hook: after
``settle(d)`` it observes the settled day, asks the policy and sets ``model.class_weights`` for
day d + 1 (the same observation, weight bounds and timing as in training). Use it like::

    from p2psim.rl.policy import load_policy, coordinator_hook
    result = run(study, day_hooks=(coordinator_hook(load_policy("p2psim/assets/policies/rural"), study),))

and read the weights each day was cleared with from ``result.day_results[d]["class_weights"]``.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from p2psim.rl.checkpoints import CheckpointError, read_checkpoint_meta

SHIPPED = Path(__file__).resolve().parent.parent / "assets" / "policies"


@dataclass
class CoordinatorPolicy:
    """A trained coordinator: the PPO model, its observation normalisation and its settings."""

    model: Any
    obs_mean: np.ndarray
    obs_var: np.ndarray
    clip_obs: float
    epsilon: float
    meta: dict[str, Any]
    path: Path

    @property
    def env_settings(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~p2psim.rl.env.EquityEnv` used in training."""
        return dict(self.meta["config"].get("env", {}))

    @property
    def overrides(self) -> list[str]:
        """Study overrides used in training."""
        return list(self.meta["config"].get("overrides", []))

    def normalise(self, obs: np.ndarray) -> np.ndarray:
        """Apply the training observation normalisation."""
        return np.clip((obs - self.obs_mean) / np.sqrt(self.obs_var + self.epsilon), -self.clip_obs, self.clip_obs)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic action (log-weight change per class) for one raw observation."""
        action, _ = self.model.predict(self.normalise(np.asarray(obs, np.float32)).astype(np.float32),
                                       deterministic=True)
        space = self.model.action_space
        return np.clip(action, space.low, space.high).astype(np.float32)


def load_policy(path: str | Path) -> CoordinatorPolicy:
    """Load a policy directory (or the shipped one by study name, e.g. ``"rural"``)."""
    from stable_baselines3 import PPO

    path = Path(path)
    if not path.exists() and (SHIPPED / str(path)).is_dir():
        path = SHIPPED / str(path)
    expected = ("model.zip", "vecnormalize.pkl", "policy.json")
    missing = [name for name in expected if not (path / name).is_file()]
    if missing:
        raise CheckpointError(f"policy directory {str(path)!r} lacks {missing}; expected {list(expected)} as written "
                              "by `python -m p2psim train STUDY --out DIR` (DIR/policy)")
    meta = read_checkpoint_meta(path / "policy.json")
    try:
        model = PPO.load(path / "model.zip", device="cpu")
        with open(path / "vecnormalize.pkl", "rb") as f:
            vecnorm = pickle.load(f)
    except Exception as exc:
        raise CheckpointError(f"cannot load policy {str(path)!r}: {type(exc).__name__}: {exc}") from None
    rms = vecnorm.obs_rms
    return CoordinatorPolicy(model, np.asarray(rms.mean), np.asarray(rms.var), float(vecnorm.clip_obs),
                             float(vecnorm.epsilon), meta, path)


def coordinator_hook(policy: CoordinatorPolicy, study, *, start_day: int | None = None):
    """A CommunityModel day hook: after settle(d) the policy sets ``model.class_weights`` for d + 1.

    ``study`` is the run's study (its classes and calendar); the first day is cleared with the
    study's weights. The hook binds itself to the model on its first call.
    """
    from p2psim.rl.env import EquityEnv

    settings = {k: v for k, v in policy.env_settings.items() if k in (
        "max_log_step", "w_min", "w_max", "inequity_weight", "efficiency_weight", "churn_weight")}
    state: dict[str, Any] = {"model": None}
    first = study.start_day if start_day is None else start_day

    def hook(model, day: int, result: dict[str, Any]) -> None:
        if state["model"] is not model:
            env = EquityEnv(study, episode_days=max(model.scenario.days, 1), held_out_weeks=(), **settings)
            if env.obs_size != policy.obs_mean.shape[0]:
                raise CheckpointError(f"policy {str(policy.path)!r} expects {policy.obs_mean.shape[0]} observations, "
                                      f"the study gives {env.obs_size} (classes {env.classes})")
            env.attach(model, first, initial=dict(result["class_weights"]), equal_weight_cost=False)
            model.day_hooks.remove(env._on_settled)  # this hook drives the observer itself
            state.update(model=model, env=env)
        env = state["env"]
        env._reward_terms(result, 0.0)
        env._day = day + 1
        env.episode_days = max(model.scenario.days, day + 1)
        action = policy.act(env._observation())
        env._log_w = np.clip(env._log_w + action, np.log(env.w_min), np.log(env.w_max))
        model.class_weights = {**model.class_weights, **env.weights}

    return hook


def describe(policy: CoordinatorPolicy) -> str:
    """One line naming the policy, its study and its training steps."""
    return (f"coordinator policy {policy.path} (study {policy.meta['study_path']}, "
            f"{policy.meta['step']} steps, seed {policy.meta['seed']})")


def policy_json(path: str | Path) -> dict[str, Any]:
    """The JSON metadata of a policy directory."""
    return json.loads((Path(path) / "policy.json").read_text())


__all__ = ["CoordinatorPolicy", "coordinator_hook", "describe", "load_policy"]
