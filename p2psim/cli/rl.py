"""CLI sub-commands of the equity coordinator: ``train`` and ``evaluate``.

python -m p2psim train STUDY.py --steps N --out DIR [--seed S] [--resume DIR] [--set dotted=value]
python -m p2psim evaluate STUDY.py --policy NAME --start-day D --days N [--seeds 0,1,2] [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from p2psim.cli import subcommand
from p2psim.config.checks import check_seed_option
from p2psim.errors import StudyError


@subcommand("train")
def train_command(argv: list[str]) -> int:
    """Train (or resume) a PPO coordinator."""
    from p2psim.rl.train import TrainConfig, train

    parser = argparse.ArgumentParser(prog="python -m p2psim train", description="Train the equity coordinator (PPO).")
    parser.add_argument("study", help="study file, e.g. studies/rural.py, or several, comma-separated (one policy "
                                      "for all: the study of each episode is drawn)")
    parser.add_argument("--steps", type=int, required=True, help="total environment steps (clearing days)")
    parser.add_argument("--out", help="output directory (checkpoints, logs, policy)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its newest checkpoint")
    parser.add_argument("--market", help="market rule (default: the study's)")
    parser.add_argument("--episode-days", type=int, default=28, help="days per episode (default 28)")
    parser.add_argument("--checkpoint-every", type=int, default=2048, help="steps between checkpoints")
    parser.add_argument("--benefit-basis", choices=("market", "stable"), default="market",
                        help="reward inequity on the market settlement (default) or on the core allocation "
                             "closest to it (stable; small communities)")
    parser.add_argument("--set", action="append", default=[], metavar="dotted.field=value",
                        help="override a study field, e.g. --set equity.use_binaries=never")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.steps < 1:
        raise StudyError(f"--steps {args.steps}: must be >= 1")
    check_seed_option(args.seed)
    for option, value in (("--episode-days", args.episode_days), ("--checkpoint-every", args.checkpoint_every)):
        if value < 1:
            raise StudyError(f"{option} {value}: must be >= 1")
    if args.resume and args.out and Path(args.out).resolve() != Path(args.resume).resolve():
        raise StudyError("--resume DIR continues the run in DIR; leave out --out (or give the same directory)")
    if args.resume:
        out = Path(args.resume)
        policy = train(args.study, args.steps, out, resume=True, progress=not args.no_progress)
    else:
        if not args.out:
            raise StudyError("train needs --out DIR (or --resume DIR)")
        env = {"episode_days": args.episode_days, "benefit_basis": args.benefit_basis}
        if args.market:
            env["market"] = args.market
        config = TrainConfig(env=env, overrides=list(args.set), checkpoint_every=args.checkpoint_every)
        policy = train(args.study, args.steps, args.out, seed=args.seed, config=config,
                       progress=not args.no_progress)
    print(f"policy written to {policy} (trained {_trained_steps(policy)} steps)")
    return 0


def _trained_steps(policy: Path) -> int:
    import json

    return int(json.loads((Path(policy) / "policy.json").read_text())["step"])


@subcommand("evaluate")
def evaluate_command(argv: list[str]) -> int:
    """Evaluate a coordinator against equal, inverse_income, best_static and feedback on the same days."""
    from p2psim.rl.evaluate import evaluate

    parser = argparse.ArgumentParser(prog="python -m p2psim evaluate",
                                     description="Run a coordinator and the baselines on the same days; write "
                                                 "summary.json and the cumulative-inequity trajectories.")
    parser.add_argument("study", help="study file, e.g. studies/rural.py")
    parser.add_argument("--policy", required=True,
                        help="policy: a directory written by `train` (DIR/policy) or a shipped name (feedback, ppo)")
    parser.add_argument("--start-day", type=int, required=True, help="first day of the episode (0..365, 2016)")
    parser.add_argument("--days", type=int, required=True, help="episode length in days (e.g. 56, 366)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated evaluation seeds (default 0,1,2)")
    parser.add_argument("--out", default="runs/evaluate", help="output directory (default runs/evaluate)")
    parser.add_argument("--exact", action="store_true",
                        help="clear with the study's exact EqWM (binaries where needed) instead of its LP path")
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise StudyError(f"--seeds {args.seeds!r}: expected comma-separated integers like 0,1,2") from None
    summary = evaluate(args.study, args.policy, args.start_day, args.days, seeds, args.out, exact=args.exact)
    for name, e in summary["policies"].items():
        print(f"{name:>15}: final cumulative inequity {e['final_cumulative_inequity']:.4f}, mean daily "
              f"{e['mean_daily_inequity']:.4f}, slope {e['inequity_slope_per_day']:+.5f}/day, cost above equal "
              f"{e['cost_above_equal_pct']:+.2f} %")
    print(f"results written to {args.out}")
    return 0


__all__ = ["evaluate_command", "train_command"]
