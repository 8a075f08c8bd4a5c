"""Load a trained coordinator and let it set the class weights of a normal run.

A policy directory (written by :func:`p2psim.rl.train.train`) holds ``model.zip`` (SB3 PPO),
``vecnormalize.pkl`` (observation statistics) and ``policy.json`` (the environment settings it was
trained with). :func:`load_policy` returns a :class:`CoordinatorPolicy` whose :meth:`act` maps a raw
observation (as :class:`~p2psim.rl.env.EquityEnv` builds it) to a deterministic weight change.

:func:`coordinator_hook` makes a :class:`~p2psim.sim.model.CommunityModel` day hook: after
``settle(d)`` it observes the settled day, asks the policy and sets ``model.class_weights`` for
day d + 1 (the same observation, weight bounds and timing as in training). Use it like::

    from p2psim.rl.policy import load_policy, coordinator_hook
    policy_dir = "runs/train-rural"  # a directory written by python -m p2psim train
    result = run(study, day_hooks=(coordinator_hook(load_policy(policy_dir), study),))

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

    kind = "ppo"

    @property
    def classes(self) -> tuple[str, ...] | None:
        """The coordinated classes it was trained for (None for policies trained before they were recorded)."""
        classes = self.env_settings.get("classes")
        return tuple(classes) if classes else None

    @property
    def obs_size(self) -> int:
        """Length of the observation the policy was trained on."""
        return int(self.obs_mean.shape[0])

    def reset(self) -> None:
        """A PPO policy keeps no state between days (its memory is the observation)."""

    def normalise(self, obs: np.ndarray) -> np.ndarray:
        """Apply the training observation normalisation."""
        return np.clip((obs - self.obs_mean) / np.sqrt(self.obs_var + self.epsilon), -self.clip_obs, self.clip_obs)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic action (log-weight change per class) for one raw observation."""
        action, _ = self.model.predict(self.normalise(np.asarray(obs, np.float32)).astype(np.float32),
                                       deterministic=True)
        space = self.model.action_space
        return np.clip(action, space.low, space.high).astype(np.float32)


def resolve_policy_path(path: str | Path) -> Path:
    """A policy directory: ``path`` itself, or the shipped policy of that name (``p2psim/assets/policies``)."""
    path = Path(path)
    if not path.exists() and (SHIPPED / str(path)).is_dir():
        return SHIPPED / str(path)
    return path


def load_any_policy(path: str | Path):
    """A PPO policy or a ``feedback`` controller, by directory or shipped name (``feedback``, ``ppo``)."""
    from p2psim.rl.feedback import FeedbackController

    path = resolve_policy_path(path)
    meta_path = path / "policy.json"
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError as exc:
            raise CheckpointError(f"cannot read {str(meta_path)!r}: {exc}") from None
        if meta.get("kind") == "feedback":
            return FeedbackController.from_json(meta, path)
    return load_policy(path)


def check_policy_fits(policy, env, study_path: str | Path) -> None:
    """CheckpointError (exit 2) when ``policy`` was made for other classes or another observation than ``env``'s.

    The policy must weigh exactly the study's classes among ``low, middle, high``; a further class
    (the public building of mixed_income) keeps the study's weight and counts in the inequity index.
    """
    from p2psim.rl.env import CLASS_ORDER, study_classes

    study = study_classes(env.study)
    uncovered = [c for c in study if c in CLASS_ORDER and c not in (policy.classes or env.classes)]
    if (policy.classes is not None and tuple(policy.classes) != tuple(env.classes)) or uncovered:
        raise CheckpointError(f"policy {str(policy.path)!r} was made for classes {list(policy.classes or ())}; "
                              f"{str(study_path)!r} has classes {list(study)}: a coordinator must weigh every one "
                              f"of {list(CLASS_ORDER)} the study has (other classes keep the study's weights)")
    if policy.obs_size != env.obs_size:
        raise CheckpointError(f"policy {str(policy.path)!r} expects {policy.obs_size} observations; "
                              f"{str(study_path)!r} gives {env.obs_size} (classes {list(env.classes)}): "
                              "an incompatible observation (retrain it with this version)")


def load_policy(path: str | Path) -> CoordinatorPolicy:
    """Load a PPO policy directory (or a shipped one by name, e.g. ``"ppo"``)."""
    from stable_baselines3 import PPO

    path = resolve_policy_path(path)
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


def coordinator_hook(policy, study, *, start_day: int | None = None):
    """A CommunityModel day hook: after settle(d) the policy sets ``model.class_weights`` for d + 1.

    ``policy`` is a PPO policy or a ``feedback`` controller (:func:`load_any_policy`); ``study`` is
    the run's study (its classes and calendar). The first day is cleared with the study's weights;
    the outcomes accumulate from the run's first day. The hook binds itself to the model on its
    first call; a policy made for other classes or another observation raises CheckpointError.
    """
    from p2psim.rl.env import EquityEnv

    settings = {k: v for k, v in policy.env_settings.items() if k in (
        "max_log_step", "w_min", "w_max", "inequity_weight", "efficiency_weight", "churn_weight", "classes")}
    state: dict[str, Any] = {"model": None}
    first = study.start_day if start_day is None else start_day

    def hook(model, day: int, result: dict[str, Any]) -> None:
        if state["model"] is not model:
            env = EquityEnv(study, episode_days=max(model.scenario.days, 1), held_out_weeks=(),
                            settlement_rule=None, **settings)
            check_policy_fits(policy, env, getattr(study, "name", "the study"))
            env.attach(model, first, initial=dict(result["class_weights"]), equal_weight_cost=False)
            model.day_hooks.remove(env._on_settled)  # this hook drives the observer itself
            policy.reset()
            state.update(model=model, env=env)
        env = state["env"]
        env._reward_terms(result, 0.0)
        env._day = day + 1
        env.episode_days = max(model.scenario.days, day + 1)
        action = policy.act(env._observation())
        env._log_w = np.clip(env._log_w + action, np.log(env.w_min), np.log(env.w_max))
        model.class_weights = {**model.class_weights, **env.weights}

    return hook


def describe(policy) -> str:
    """One line naming the policy (its study and training steps, or the controller and its gains)."""
    if getattr(policy, "kind", "") == "feedback":
        return policy.describe()
    return (f"coordinator policy {policy.path} (PPO; trained on {policy.meta['study_path']}, "
            f"{policy.meta['step']} steps, seed {policy.meta['seed']})")
def policy_json(path: str | Path) -> dict[str, Any]:
    """The JSON metadata of a policy directory."""
    return json.loads((Path(path) / "policy.json").read_text())


__all__ = ["CoordinatorPolicy", "check_policy_fits", "coordinator_hook", "describe", "load_any_policy", "load_policy",
           "resolve_policy_path"]
