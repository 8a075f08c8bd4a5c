"""Train the equity coordinator with PPO (Stable-Baselines3) on the single-agent Gymnasium view.

Why the Gymnasium view and not SuperSuit: the default coordinator is ONE agent that sets every
class weight, so the parallel env reduces exactly to a single-agent MDP; SB3's own
``DummyVecEnv``/``VecNormalize`` then give observation and reward normalisation whose statistics
are saved with every checkpoint. SuperSuit's ``pettingzoo_env_to_vec_env_v1`` is only needed for
``per_class_agents=True`` (parameter sharing across the class agents); that variant is not trained
here.

Output directory layout::

    OUT/.p2psim-output.json        marker: a p2psim training directory (see p2psim.outputs)
    OUT/learning_curve.csv         one row per finished episode (kept in step with the checkpoints)
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
import pickle
import random
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from p2psim.outputs import INCREMENTAL
from p2psim.outputs.staging import owned_directory
from p2psim.rl.checkpoints import (
    CheckpointError,
    checkpoint_meta,
    intact_checkpoint,
    latest_checkpoint,
    read_checkpoint_meta,
    save_checkpoint,
    trim_learning_curve,
    write_directory_atomic,
)


@dataclass
class TrainConfig:
    """PPO hyper-parameters and environment settings (saved in every checkpoint)."""

    n_envs: int = 1
    n_steps: int = 256
    batch_size: int = 64
    n_epochs: int = 10
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    net_arch: list[int] = field(default_factory=lambda: [64, 64])
    log_std_init: float = -1.0
    checkpoint_every: int = 2048
    env: dict[str, Any] = field(default_factory=lambda: {"episode_days": 28})
    overrides: list[str] = field(default_factory=list)


def make_vec_env(study_path: str, config: TrainConfig, seed: int, *, split: str = "train"):
    """DummyVecEnv of ``config.n_envs`` Gymnasium coordinator views, wrapped in VecMonitor."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

    from p2psim.rl.env import CLASS_ORDER, EquityEnv, EquityGymEnv
    from p2psim.rl.multi import MultiStudyGymEnv, study_paths

    paths = study_paths(study_path)

    def factory(rank: int):
        def make():
            settings = dict(config.env)
            if len(paths) > 1:  # one policy for several studies: the same classes everywhere
                settings.setdefault("classes", list(CLASS_ORDER))
            envs = [EquityEnv.from_study(path, overrides=tuple(config.overrides), split=split, **settings)
                    for path in paths]
            return EquityGymEnv(envs[0]) if len(envs) == 1 else MultiStudyGymEnv(envs)
        return make

    venv = DummyVecEnv([factory(k) for k in range(config.n_envs)])
    venv.seed(seed)
    venv.action_space.seed(seed)
    return VecMonitor(venv, info_keywords=("gini", "cumulative_gini", "efficiency_loss"))


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
                                      "mean_churn", "final_cumulative_gini", "wall_s"])
            n = self.training_env.num_envs
            self.acc = [[] for _ in range(n)]
            self.t0 = time.perf_counter()

        def _on_step(self) -> bool:
            for k, (info, done) in enumerate(zip(self.locals["infos"], self.locals["dones"], strict=True)):
                if "gini" in info:
                    self.acc[k].append((info["reward"], info["gini"], info["efficiency_loss"], info["churn"],
                                        info.get("cumulative_gini", 0.0)))
                if done and self.acc[k]:
                    a = np.array(self.acc[k])
                    row = [self.num_timesteps, a[:, 0].sum(), a[:, 1].mean(), a[:, 2].mean(), a[:, 3].mean(),
                           a[-1, 4], round(time.perf_counter() - self.t0, 2)]
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


def rounded_steps(steps: int, done: int, config: TrainConfig) -> int:
    """The step count training reaches: PPO collects whole rollouts of ``n_steps x n_envs`` steps from ``done``."""
    rollout = config.n_steps * config.n_envs
    return done if steps <= done else done + -(-(steps - done) // rollout) * rollout


def _legacy_run(path: Path) -> bool:
    """A training directory written before output markers existed."""
    return (path / "checkpoints" / "latest.json").is_file()


def _interrupted_note(out: Path, study_path: str, steps: int, owned) -> str:
    try:
        step = json.loads((out / "checkpoints" / "latest.json").read_text())["step"]
    except (OSError, ValueError, KeyError):
        where = f"{out} removed" if owned.created else f"{out} holds only its logs"
        return f"no checkpoint was written yet; {where}"
    return (f"checkpoints up to step {step} kept in {out / 'checkpoints'}; continue with: "
            f"python -m p2psim train {study_path} --steps {steps} --resume {out}")


def _resume(out: Path, study_path: str, say: Callable[[str], None]):
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.utils import set_random_seed
    from stable_baselines3.common.vec_env import VecNormalize

    ckpt, notes = intact_checkpoint(out)
    for note in notes:
        say(f"train: {note}; resuming from the newest intact one, {ckpt.name}")
    meta = read_checkpoint_meta(ckpt / "checkpoint.json")
    config = TrainConfig(**meta["config"])
    seed = int(meta["seed"])
    from p2psim.rl.multi import study_paths

    def resolved(spec: str) -> list[Path]:
        return [Path(p).resolve() for p in study_paths(spec)]

    if resolved(meta["study_path"]) != resolved(study_path):
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
    dropped = trim_learning_curve(out, int(meta["step"]))
    if dropped:
        say(f"train: dropped {dropped} learning-curve row(s) after step {meta['step']}; those episodes train again")
    return model, venv, config, seed


def _fresh(out: Path, study_path: str, config: TrainConfig, seed: int, verbose: int, say: Callable[[str], None]):
    from stable_baselines3 import PPO
    from stable_baselines3.common.utils import set_random_seed
    from stable_baselines3.common.vec_env import VecNormalize

    if (out / "checkpoints" / "latest.json").exists():
        raise CheckpointError(f"{str(out)!r} already holds a training run; pass --resume {out} to continue it "
                              "or choose another --out")
    leftovers = [name for name in INCREMENTAL["train"] if (out / name).exists()]
    if leftovers:  # a run of this directory that was killed before its first checkpoint
        say(f"train: removing {', '.join(leftovers)} of an earlier run in {out} that wrote no checkpoint")
        for name in leftovers:
            shutil.rmtree(out / name) if (out / name).is_dir() else (out / name).unlink()
    set_random_seed(seed)
    base = make_vec_env(study_path, config, seed)
    venv = VecNormalize(base, norm_obs=True, norm_reward=True, clip_obs=10.0, gamma=config.gamma)
    model = PPO("MlpPolicy", venv, n_steps=config.n_steps, batch_size=config.batch_size, n_epochs=config.n_epochs,
                learning_rate=config.learning_rate, gamma=config.gamma, gae_lambda=config.gae_lambda,
                clip_range=config.clip_range, ent_coef=config.ent_coef, device="cpu", verbose=verbose,
                policy_kwargs={"net_arch": list(config.net_arch), "log_std_init": config.log_std_init})
    return model, venv


def _stderr(text: str) -> None:
    print(text, file=sys.stderr)


def train(study_path: str, steps: int, out_dir: str | Path, seed: int = 0, resume: bool = False, *,
          config: TrainConfig | None = None, progress: bool = True, verbose: int = 0,
          say: Callable[[str], None] = _stderr) -> Path:
    """Train (or resume) a PPO coordinator until ``steps`` environment steps; return the policy directory.

    ``resume=True`` continues from ``out_dir``'s newest intact checkpoint (its config and seed win over
    the arguments); the step counter, optimizer state, normalisation statistics and RNG states carry
    on, and learning-curve rows after that checkpoint are dropped (those episodes train again). PPO
    trains whole rollouts, so ``steps`` rounds up to the next multiple of ``n_steps x n_envs`` (said
    through ``say``). ``out_dir`` is held with :func:`p2psim.outputs.staging.owned_directory`: new, empty, or
    a training directory; interrupted, the checkpoints written so far stay and the exception notes them.
    """
    from stable_baselines3.common.logger import configure

    out = Path(out_dir)
    if resume and not out.is_dir():
        intact_checkpoint(out)  # raises the "no checkpoint to resume" error
    from p2psim.rl.multi import study_paths

    with owned_directory(out, "train", inputs=study_paths(study_path), must_exist=resume, legacy=_legacy_run) as owned:
        owned.worth_keeping = lambda: (out / "checkpoints" / "latest.json").exists()
        try:
            if resume:
                model, venv, config, seed = _resume(out, study_path, say)
            else:
                config = config or TrainConfig()
                model, venv = _fresh(out, study_path, config, seed, verbose, say)
            target = rounded_steps(int(steps), int(model.num_timesteps), config)
            if target != int(steps) and target > int(model.num_timesteps):
                say(f"train: --steps {steps} rounds up to {target}: PPO trains whole rollouts of "
                    f"{config.n_steps * config.n_envs} steps")
            segment = len(list((out / "logs").glob("segment_*"))) if (out / "logs").exists() else 0
            model.set_logger(configure(str(out / "logs" / f"segment_{segment}"), ["csv", "tensorboard"]))
            if target > model.num_timesteps:
                model.learn(total_timesteps=target - int(model.num_timesteps), reset_num_timesteps=False,
                            callback=_callbacks(out, target, study_path, config, seed, progress))
            save_checkpoint(model, venv, out, study_path, config, seed)
        except KeyboardInterrupt as exc:
            exc.add_note(_interrupted_note(out, study_path, steps, owned))
            raise
        policy_dir = out / "policy"

        def fill(d: Path) -> None:
            model.save(d / "model.zip")
            venv.save(str(d / "vecnormalize.pkl"))
            meta = checkpoint_meta(study_path, config, seed, model.num_timesteps)
            (d / "policy.json").write_text(json.dumps(meta, indent=2))

        write_directory_atomic(policy_dir, fill)
        venv.close()
    return policy_dir


__all__ = ["CheckpointError", "TrainConfig", "latest_checkpoint", "rounded_steps", "save_checkpoint", "train"]
