"""Train the equity coordinator with PPO (Stable-Baselines3) on the single-agent Gymnasium view.

Why the Gymnasium view and not SuperSuit: the default coordinator is ONE agent that sets every
class weight, so the parallel env reduces exactly to a single-agent MDP; SB3's own
``DummyVecEnv``/``VecNormalize`` then give observation and reward normalisation whose statistics
are saved with every checkpoint. SuperSuit's ``pettingzoo_env_to_vec_env_v1`` is only needed for
``per_class_agents=True`` (parameter sharing across the class agents); that variant is not trained
here.

Output directory layout::

    OUT/learning_curve.csv         one row per finished episode (appended across resumes)
    OUT/logs/segment_K/            SB3 logger: progress.csv + TensorBoard events, one per (re)start
    OUT/checkpoints/step_000001024/{model.zip, vecnormalize.pkl, checkpoint.json, rng.pkl}
    OUT/checkpoints/latest.json    name of the newest complete checkpoint
    OUT/policy/{model.zip, vecnormalize.pkl, policy.json}   the final policy (see p2psim.rl.policy)

Checkpoints are written at rollout boundaries (every ``checkpoint_every`` steps, rounded up to a
whole rollout), so the rollout buffer is empty and nothing but the current partial episode is lost:
``model.zip`` holds the weights, the Adam optimizer state and ``num_timesteps``; ``vecnormalize.pkl``
the running observation/return statistics; ``rng.pkl`` the Python, NumPy and torch RNG states.

Seeding: never ``PPO(seed=...)`` (it crashed with this stack, tech-notes); ``set_random_seed(seed)``
plus seeding the vectorised environment and its action space instead.
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from p2psim.errors import P2PSimError

CHECKPOINT_FILES = ("model.zip", "vecnormalize.pkl", "checkpoint.json")
FORMAT_VERSION = 1
KEEP_CHECKPOINTS = 3


class CheckpointError(P2PSimError, ValueError):
    """A checkpoint or policy directory is missing, incomplete or incompatible."""


@dataclass
class TrainConfig:
    """PPO hyper-parameters and environment settings (saved in every checkpoint)."""

    n_envs: int = 1
    n_steps: int = 256
    batch_size: int = 64
    n_epochs: int = 10
    learning_rate: float = 3e-4
    gamma: float = 0.9
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    net_arch: list[int] = field(default_factory=lambda: [64, 64])
    log_std_init: float = -1.0
    checkpoint_every: int = 2048
    env: dict[str, Any] = field(default_factory=lambda: {"episode_days": 7})
    overrides: list[str] = field(default_factory=list)


def make_vec_env(study_path: str, config: TrainConfig, seed: int, *, split: str = "train"):
    """DummyVecEnv of ``config.n_envs`` Gymnasium coordinator views, wrapped in VecMonitor."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

    from p2psim.rl.env import EquityEnv, EquityGymEnv

    def factory(rank: int):
        def make():
            env = EquityEnv.from_study(study_path, overrides=tuple(config.overrides), split=split, **config.env)
            return EquityGymEnv(env)
        return make

    venv = DummyVecEnv([factory(k) for k in range(config.n_envs)])
    venv.seed(seed)
    venv.action_space.seed(seed)
    return VecMonitor(venv, info_keywords=("gini", "efficiency_loss"))


def _atomic_dir(target: Path, fill) -> None:
    staging = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        fill(staging)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _meta(study_path: str, config: TrainConfig, seed: int, step: int) -> dict[str, Any]:
    from p2psim.runner import versions

    return {"format": FORMAT_VERSION, "kind": "p2psim-coordinator", "step": int(step), "seed": int(seed),
            "study_path": str(study_path), "config": asdict(config), "versions": versions(),
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S")}


def save_checkpoint(model, venv, out_dir: Path, study_path: str, config: TrainConfig, seed: int) -> Path:
    """Write a complete checkpoint of ``model`` and the normalisation stats; return its directory."""
    import torch

    step = int(model.num_timesteps)
    root = Path(out_dir) / "checkpoints"
    target = root / f"step_{step:09d}"

    def fill(d: Path) -> None:
        model.save(d / "model.zip")
        venv.save(str(d / "vecnormalize.pkl"))
        with open(d / "rng.pkl", "wb") as f:
            # SB3 draws from numpy's global RNG, so resuming must restore that state too
            numpy_state = np.random.get_state()  # noqa: NPY002
            pickle.dump({"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}, f)
        (d / "checkpoint.json").write_text(json.dumps(_meta(study_path, config, seed, step), indent=2))

    _atomic_dir(target, fill)
    for old in sorted(root.glob("step_*"))[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)
    (root / "latest.json.tmp").write_text(json.dumps({"checkpoint": target.name, "step": step}))
    os.replace(root / "latest.json.tmp", root / "latest.json")
    return target


def latest_checkpoint(out_dir: str | Path) -> Path:
    """The newest complete checkpoint under ``out_dir/checkpoints`` (CheckpointError if none)."""
    root = Path(out_dir) / "checkpoints"
    pointer = root / "latest.json"
    if not pointer.is_file():
        raise CheckpointError(f"no checkpoint to resume in {str(out_dir)!r}: expected {str(pointer)!r} written by "
                              "`p2psim train ... --out DIR`; start a new run without --resume")
    target = root / json.loads(pointer.read_text())["checkpoint"]
    missing = [f for f in CHECKPOINT_FILES if not (target / f).is_file()]
    if missing:
        raise CheckpointError(f"checkpoint {str(target)!r} is incomplete: missing {missing} "
                              f"(expected {list(CHECKPOINT_FILES)})")
    return target


def read_checkpoint_meta(path: Path) -> dict[str, Any]:
    """Read and check checkpoint.json / policy.json (format and kind)."""
    try:
        meta = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {str(path)!r}: {exc}") from None
    if meta.get("kind") != "p2psim-coordinator" or meta.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{str(path)!r} is not a p2psim coordinator checkpoint of format {FORMAT_VERSION} "
                              f"(kind={meta.get('kind')!r}, format={meta.get('format')!r})")
    return meta


def _callbacks(out_dir: Path, total: int, study_path: str, config: TrainConfig, seed: int, progress: bool):
    from stable_baselines3.common.callbacks import BaseCallback

    class EquityLogger(BaseCallback):
        """Episode-level CSV learning curve + TensorBoard scalars of the reward terms."""

        def _on_training_start(self) -> None:
            self.path = out_dir / "learning_curve.csv"
            new = not self.path.exists()
            self.file = open(self.path, "a", newline="")  # noqa: SIM115
            self.writer = csv.writer(self.file)
            if new:
                self.writer.writerow(["step", "episode_reward", "mean_gini", "mean_efficiency_loss",
                                      "mean_churn", "wall_s"])
            n = self.training_env.num_envs
            self.acc = [[] for _ in range(n)]
            self.t0 = time.perf_counter()

        def _on_step(self) -> bool:
            for k, (info, done) in enumerate(zip(self.locals["infos"], self.locals["dones"], strict=True)):
                if "gini" in info:
                    self.acc[k].append((info["reward"], info["gini"], info["efficiency_loss"], info["churn"],
                                        info.get("day", 0)))
                if done and self.acc[k]:
                    a = np.array(self.acc[k])
                    row = [self.num_timesteps, a[:, 0].sum(), a[:, 1].mean(), a[:, 2].mean(), a[:, 3].mean(),
                           round(time.perf_counter() - self.t0, 2)]
                    self.writer.writerow(row)
                    self.file.flush()
                    self.logger.record_mean("equity/gini", float(a[:, 1].mean()))
                    self.logger.record_mean("equity/efficiency_loss", float(a[:, 2].mean()))
                    self.logger.record_mean("equity/episode_reward", float(a[:, 0].sum()))
                    self.acc[k] = []
            return True

        def _on_training_end(self) -> None:
            self.file.close()

    class Checkpointer(BaseCallback):
        """Save at rollout ends once ``checkpoint_every`` more steps have passed."""

        def _on_training_start(self) -> None:
            self.last = self.num_timesteps

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            pass

        def _on_rollout_start(self) -> None:
            # rollout_start follows the gradient update of the previous rollout: buffer empty, state complete
            if self.num_timesteps - self.last >= config.checkpoint_every:
                save_checkpoint(self.model, self.training_env, out_dir, study_path, config, seed)
                self.last = self.num_timesteps

    class Progress(BaseCallback):
        def _on_training_start(self) -> None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=self.num_timesteps, desc="train", unit="day", dynamic_ncols=True)

        def _on_step(self) -> bool:
            self.bar.update(self.num_timesteps - self.bar.n)
            return True

        def _on_training_end(self) -> None:
            self.bar.close()

    callbacks = [EquityLogger(), Checkpointer()]
    if progress:
        callbacks.append(Progress())
    return callbacks


def train(study_path: str, steps: int, out_dir: str | Path, seed: int = 0, resume: bool = False, *,
          config: TrainConfig | None = None, progress: bool = True, verbose: int = 0) -> Path:
    """Train (or resume) a PPO coordinator until ``steps`` environment steps; return the policy directory.

    ``resume=True`` continues from ``out_dir``'s newest checkpoint (its config and seed win over the
    arguments); the step counter, optimizer state, normalisation statistics and RNG states carry on.
    """
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.logger import configure
    from stable_baselines3.common.utils import set_random_seed
    from stable_baselines3.common.vec_env import VecNormalize

    out = Path(out_dir)
    if resume:
        ckpt = latest_checkpoint(out)
        meta = read_checkpoint_meta(ckpt / "checkpoint.json")
        config = TrainConfig(**meta["config"])
        seed = int(meta["seed"])
        if Path(meta["study_path"]).resolve() != Path(study_path).resolve():
            raise CheckpointError(f"checkpoint {str(ckpt)!r} was trained on {meta['study_path']!r}, "
                                  f"not {str(study_path)!r}")
        set_random_seed(seed)
        base = make_vec_env(study_path, config, seed + int(meta["step"]))
        try:
            venv = VecNormalize.load(str(ckpt / "vecnormalize.pkl"), base)
            model = PPO.load(ckpt / "model.zip", env=venv, device="cpu")
        except (ValueError, KeyError, pickle.UnpicklingError, AssertionError) as exc:
            raise CheckpointError(f"checkpoint {str(ckpt)!r} does not fit this environment: {exc}") from None
        with open(ckpt / "rng.pkl", "rb") as f:
            states = pickle.load(f)
        random.setstate(states["python"])
        np.random.set_state(states["numpy"])  # noqa: NPY002 (see save: SB3 uses the global RNG)
        torch.set_rng_state(states["torch"])
    else:
        if (out / "checkpoints" / "latest.json").exists():
            raise CheckpointError(f"{str(out)!r} already holds a training run; pass --resume {out} to continue it "
                                  "or choose another --out")
        config = config or TrainConfig()
        out.mkdir(parents=True, exist_ok=True)
        set_random_seed(seed)
        base = make_vec_env(study_path, config, seed)
        venv = VecNormalize(base, norm_obs=True, norm_reward=True, clip_obs=10.0, gamma=config.gamma)
        model = PPO("MlpPolicy", venv, n_steps=config.n_steps, batch_size=config.batch_size, n_epochs=config.n_epochs,
                    learning_rate=config.learning_rate, gamma=config.gamma, gae_lambda=config.gae_lambda,
                    clip_range=config.clip_range, ent_coef=config.ent_coef, device="cpu", verbose=verbose,
                    policy_kwargs={"net_arch": list(config.net_arch), "log_std_init": config.log_std_init})
    segment = len(list((out / "logs").glob("segment_*"))) if (out / "logs").exists() else 0
    model.set_logger(configure(str(out / "logs" / f"segment_{segment}"), ["csv", "tensorboard"]))
    remaining = int(steps) - int(model.num_timesteps)
    if remaining > 0:
        model.learn(total_timesteps=remaining, reset_num_timesteps=False,
                    callback=_callbacks(out, int(steps), study_path, config, seed, progress))
    save_checkpoint(model, venv, out, study_path, config, seed)
    policy_dir = out / "policy"

    def fill(d: Path) -> None:
        model.save(d / "model.zip")
        venv.save(str(d / "vecnormalize.pkl"))
        (d / "policy.json").write_text(json.dumps(_meta(study_path, config, seed, model.num_timesteps), indent=2))

    _atomic_dir(policy_dir, fill)
    venv.close()
    return policy_dir


__all__ = ["CheckpointError", "TrainConfig", "latest_checkpoint", "save_checkpoint", "train"]
