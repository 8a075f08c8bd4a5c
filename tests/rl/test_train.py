"""Training pipeline: a short PPO run, checkpoints, resume, seeding, policy loading and evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from p2psim.rl.train import CheckpointError, TrainConfig, latest_checkpoint, train

from .conftest import RURAL

pytestmark = pytest.mark.rl

FAST = TrainConfig(n_steps=32, batch_size=16, n_epochs=1, checkpoint_every=32, env={"episode_days": 4})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    policy = train(RURAL, 96, out, seed=3, config=FAST, progress=False)
    return out, policy


def test_short_training_writes_everything(trained):
    out, policy = trained
    assert (policy / "model.zip").is_file() and (policy / "vecnormalize.pkl").is_file()
    meta = json.loads((policy / "policy.json").read_text())
    assert meta["step"] == 96 and meta["seed"] == 3
    assert (out / "learning_curve.csv").read_text().count("\n") >= 2
    assert list((out / "logs").glob("segment_0/progress.csv"))
    assert list((out / "logs").glob("segment_0/events.out.tfevents*"))
    assert json.loads((out / "checkpoints" / "latest.json").read_text())["step"] == 96


def test_resume_continues_step_count(trained, tmp_path):
    import shutil

    from stable_baselines3 import PPO

    out, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    before = PPO.load(latest_checkpoint(copy) / "model.zip")
    train(RURAL, 160, copy, resume=True, progress=False)
    ckpt = latest_checkpoint(copy)
    after = PPO.load(ckpt / "model.zip")
    assert json.loads((ckpt / "checkpoint.json").read_text())["step"] == 160 == after.num_timesteps
    assert before.num_timesteps == 96
    # the optimizer state carried over (Adam's step counter kept counting)
    steps = [s["step"] for s in after.policy.optimizer.state_dict()["state"].values()]
    steps_before = [s["step"] for s in before.policy.optimizer.state_dict()["state"].values()]
    assert float(steps[0]) > float(steps_before[0])
    assert len(list((copy / "logs").glob("segment_*"))) == 2


def test_missing_and_existing_checkpoints_are_clear_errors(tmp_path, trained):
    with pytest.raises(CheckpointError, match=r"latest\.json"):
        train(RURAL, 10, tmp_path / "empty", resume=True, progress=False)
    out, _ = trained
    with pytest.raises(CheckpointError, match="--resume"):
        train(RURAL, 10, out, seed=0, config=FAST, progress=False)
    from p2psim.rl.policy import load_policy

    with pytest.raises(CheckpointError, match=r"model\.zip"):
        load_policy(tmp_path)


def test_seeded_training_is_reproducible(tmp_path):
    import torch
    from stable_baselines3 import PPO

    cfg = TrainConfig(n_steps=16, batch_size=16, n_epochs=1, checkpoint_every=10_000, env={"episode_days": 2})
    params = []
    for k in range(2):
        policy = train(RURAL, 16, tmp_path / f"r{k}", seed=11, config=cfg, progress=False)
        params.append(PPO.load(policy / "model.zip").policy.state_dict())
    for name, value in params[0].items():
        assert torch.equal(value, params[1][name]), name


def test_policy_hook_sets_next_days_weights(trained):
    from dataclasses import replace

    from p2psim.config.study import load_study
    from p2psim.rl.policy import coordinator_hook, load_policy
    from p2psim.runner import run

    _, policy_dir = trained
    policy = load_policy(policy_dir)
    study = replace(load_study(RURAL), days=3)
    result = run(study, day_hooks=(coordinator_hook(policy, study),))
    weights = [r["class_weights"] for r in result.day_results]
    assert weights[0] == {"low": 1.0, "middle": 1.0, "high": 1.0}
    assert weights[1] != weights[0]
    assert all(0.25 - 1e-9 <= w <= 4 + 1e-9 for day in weights for w in day.values())


def test_evaluate_one_seed_two_days(trained, tmp_path):
    import pandas as pd

    from p2psim.rl.evaluate import evaluate

    _, policy_dir = trained
    summary = evaluate(RURAL, policy_dir, 200, 2, [0], tmp_path / "eval", progress=False)
    assert set(summary["policies"]) == {"ppo", "equal", "inverse_income", "best_static", "feedback"}
    for name in ("summary.md", "summary.json", "episodes.csv", "days.csv", "static_search.csv",
                 "cumulative_inequity.png"):
        assert (tmp_path / "eval" / name).is_file(), name
    days = pd.read_csv(tmp_path / "eval" / "days.csv")
    assert len(days) == 5 * 2
    assert np.isfinite([e["final_cumulative_inequity"] for e in summary["policies"].values()]).all()
    assert set(summary["policies"]["ppo"]["paired_against"]) == {"equal", "inverse_income", "best_static", "feedback"}


def test_policy_with_another_observation_exits_2(trained, tmp_path, capsys):
    import pickle
    import shutil
    from types import SimpleNamespace

    import p2psim.cli.rl  # noqa: F401 - registers the sub-commands
    from p2psim.cli import main

    _, policy_dir = trained
    old = tmp_path / "old"
    shutil.copytree(policy_dir, old)
    with open(old / "vecnormalize.pkl", "rb") as f:
        vecnorm = pickle.load(f)
    # the statistics of an earlier version's 22 observations (what load_policy reads of the file)
    stats = SimpleNamespace(obs_rms=SimpleNamespace(mean=np.zeros(22), var=np.ones(22)), clip_obs=vecnorm.clip_obs,
                            epsilon=vecnorm.epsilon)
    with open(old / "vecnormalize.pkl", "wb") as f:
        pickle.dump(stats, f)
    code = main(["evaluate", RURAL, "--policy", str(old), "--start-day", "3", "--days", "2", "--out",
                 str(tmp_path / "out")])
    assert code == 2
    assert "expects 22 observations" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_train_and_evaluate(tmp_path, capsys):
    import p2psim.cli.rl  # noqa: F401 - registers the sub-commands
    from p2psim.cli import main

    assert main(["train", RURAL, "--steps", "0", "--out", str(tmp_path)]) == 2
    assert main(["evaluate", RURAL, "--policy", str(tmp_path / "nothing"), "--start-day", "0", "--days", "1"]) == 2
    assert "lacks" in capsys.readouterr().err


@pytest.mark.slow
def test_full_training_beats_equal_weights(tmp_path):
    """PPO against equal weights on rural, one seed (benchmarks/results/coordinator.md has the protocol)."""
    from p2psim.rl.evaluate import evaluate

    cfg = TrainConfig(env={"episode_days": 28, "market": "eqwm_v1"}, overrides=["equity.use_binaries=never"])
    policy = train(RURAL, 6000, tmp_path / "run", seed=0, config=cfg, progress=False)
    summary = evaluate(RURAL, policy, 35, 28, [0, 1], tmp_path / "eval", progress=False)["policies"]
    assert summary["ppo"]["final_cumulative_inequity"] < summary["equal"]["final_cumulative_inequity"]


# -- steps, damaged checkpoints and interrupts (issue 13) ----------------------------------------------------


def test_steps_round_up_to_whole_rollouts_and_say_so(tmp_path):
    from p2psim.rl.train import rounded_steps

    default = TrainConfig()  # rollouts of 256 steps
    assert rounded_steps(300, 0, default) == 512 and rounded_steps(256, 0, default) == 256
    assert rounded_steps(600, 512, default) == 768 and rounded_steps(100, 512, default) == 512
    said = []
    from .conftest import REPO

    one_day = TrainConfig(n_steps=32, batch_size=16, n_epochs=1, checkpoint_every=32, env={"episode_days": 1})
    policy = train(str(REPO / "studies" / "tiny.py"), 40, tmp_path / "r", seed=0, config=one_day, progress=False,
                   say=said.append)
    assert said == ["train: --steps 40 rounds up to 64: PPO trains whole rollouts of 32 steps"]
    assert json.loads((policy / "policy.json").read_text())["step"] == 64


def test_resume_falls_back_to_the_newest_intact_checkpoint(trained, tmp_path):
    import shutil

    from p2psim.rl.checkpoints import intact_checkpoint

    out, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    steps = sorted(p.name for p in (copy / "checkpoints").glob("step_*"))
    assert len(steps) >= 2
    newest = copy / "checkpoints" / steps[-1] / "model.zip"
    newest.write_bytes(newest.read_bytes()[:200])  # a copy cut short
    found, notes = intact_checkpoint(copy)
    assert found.name == steps[-2]
    assert len(notes) == 1 and steps[-1] in notes[0] and "model.zip" in notes[0]
    for name in steps[:-1]:
        (copy / "checkpoints" / name / "vecnormalize.pkl").write_bytes(b"\x80\x04garbage")
    with pytest.raises(CheckpointError, match=r"no intact checkpoint to resume: .*model\.zip.*vecnormalize\.pkl"):
        intact_checkpoint(copy)


def test_interrupted_training_keeps_its_checkpoints_and_resumes_without_repeating(tmp_path):
    import csv
    import signal
    import subprocess
    import time

    from tests._cli import PYTHON as python
    from tests._cli import REPO, default_signals

    tiny = str(REPO / "studies" / "tiny.py")
    out = tmp_path / "t"
    args = [python, "-m", "p2psim", "train", tiny, "--episode-days", "1", "--no-progress", "--out", str(out)]
    proc = subprocess.Popen([*args, "--steps", "100000", "--checkpoint-every", "256"], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=default_signals)
    curve = out / "learning_curve.csv"
    deadline = time.monotonic() + 120
    while not ((out / "checkpoints" / "latest.json").exists() and curve.exists()
               and curve.read_text().count("\n") > 300):  # a checkpoint at 256, episodes beyond it
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-2000:]
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert f"checkpoints up to step 256 kept in {out / 'checkpoints'}; continue with:" in err
    assert "--resume" in err
    resumed = subprocess.run([python, "-m", "p2psim", "train", tiny, "--steps", "512", "--resume", str(out),
                              "--no-progress"], text=True, capture_output=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "learning-curve row(s) after step 256; those episodes train again" in resumed.stderr
    steps = [int(row["step"]) for row in csv.DictReader(curve.open())]
    assert steps == list(range(1, 513))  # one-day episodes: one row per step, none repeated or missing
