"""Command line: ``python -m p2psim STUDY.py [options]`` and sub-commands.

Exit status: 0 success; 2 bad input (study, scenario, override, name) with one clear message and no
traceback; 3 a clearing or invariant failure with its diagnosis. Nothing is left half-written.

Sub-commands: ``pareto STUDY.py`` (efficiency vs equity front). Later stages add their own through
``SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from p2psim.errors import P2PSimError
from p2psim.study import Study, apply_overrides, load_study

SUBCOMMANDS: dict[str, Callable[[list[str]], int]] = {}


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by every command that takes a study."""
    parser.add_argument("study", help="study file, e.g. studies/rural.py")
    parser.add_argument("--out", help="output directory (default runs/<study>-<market>-seed<seed>)")
    parser.add_argument("--seed", type=int, help="the run's seed (overrides the study)")
    parser.add_argument("--days", type=int, help="number of days (overrides the study)")
    parser.add_argument("--market", help="market rule by name, e.g. eqwm_v1 (overrides the study)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="dotted.field=value",
        help="override any study field, e.g. --set tariffs.p2p_fee_per_kwh=0.03",
    )


def study_from_args(args: argparse.Namespace) -> Study:
    """Load the study and apply --seed/--days/--market/--set (validated)."""
    from p2psim.markets import resolve_market_name

    study = apply_overrides(load_study(args.study), args.set)
    if args.seed is not None:
        study = replace(study, seed=args.seed)
    if args.days is not None:
        if args.days < 1:
            from p2psim.errors import StudyError

            raise StudyError(f"--days {args.days}: the number of days must be >= 1")
        study = replace(study, days=args.days)
    if args.market is not None:
        study = replace(study, market=args.market)
    return replace(study, market=resolve_market_name(study.market))


def default_out(study: Study, prefix: str = "") -> Path:
    """Default output directory of a study run."""
    return Path("runs") / f"{prefix}{study.name}-{study.market}-seed{study.seed}"


def progress_bar(total: int, desc: str):
    """A tqdm bar that appears only when the work takes more than two seconds."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="day", delay=2.0, file=sys.stderr, leave=False)


def run_command(argv: list[str]) -> int:
    """Run one study and write its run directory."""
    from p2psim.runner import run, write_run

    parser = argparse.ArgumentParser(prog="python -m p2psim", description="Run a p2psim study.")
    add_study_arguments(parser)
    parser.add_argument("--no-report", action="store_true", help="skip the HTML/Markdown report")
    args = parser.parse_args(argv)
    study = study_from_args(args)
    out = Path(args.out) if args.out else default_out(study)
    with progress_bar(study.days, study.name) as bar:
        result = run(study, progress=lambda day: bar.update(1))
    from p2psim.stages import finish_run

    writers = finish_run(result)
    write_run(result, out, report=not args.no_report, writers=writers)
    s = result.summary
    print(f"{study.name}: market {study.market}, {study.days} day(s), seed {study.seed} -> {out}")
    for key in (
        "peak_reduction_pct",
        "cooperative_gain",
        "self_sufficiency_pct",
        "solar_utilisation_pct",
        "gini_relative_benefit",
        "min_relative_saving_pct",
        "total_cost",
    ):
        print(f"  {key:28s} {s[key]:12.3f}")
    print(f"  finished in {result.timings_s['total_s']:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; turns p2psim errors into one line and an exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return SUBCOMMANDS[argv[0]](argv[1:])
        return run_command(argv)
    except P2PSimError as exc:
        print(f"p2psim: error: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("p2psim: interrupted; no output written", file=sys.stderr)
        return 130


def subcommand(name: str) -> Callable[[Callable[[list[str]], int]], Callable[[list[str]], int]]:
    """Register a sub-command ``python -m p2psim NAME ...``."""

    def register(func: Callable[[list[str]], int]) -> Callable[[list[str]], int]:
        SUBCOMMANDS[name] = func
        return func

    return register
