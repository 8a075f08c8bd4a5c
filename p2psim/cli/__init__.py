"""Command line: ``python -m p2psim STUDY.py [options]`` and sub-commands.

Exit status: 0 success; 2 bad input (study, scenario, override, name, an ``--out`` p2psim must not
write, an output another p2psim process is writing) with one clear message and no traceback; 3 a
clearing or invariant failure with its diagnosis; 130 interrupted (Ctrl-C); 143 terminated
(SIGTERM). Nothing is left half-written: outputs are staged (:mod:`p2psim.outputs.staging`) and an
interrupt says what was kept (:mod:`p2psim.outputs.interrupts`).

Sub-commands register themselves with :func:`subcommand` (the modules in :mod:`p2psim.cli.commands`).

Package: this ``__init__`` holds :func:`main`, the run command and the arguments shared by the
commands that take a study; one module per sub-command: :mod:`p2psim.cli.explain`,
:mod:`p2psim.cli.pareto`, :mod:`p2psim.cli.rl` (``train``, ``evaluate``), :mod:`p2psim.cli.sweep`.
No feature imports this package (the layers contract in ``pyproject.toml``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from p2psim.config.checks import checked_study
from p2psim.config.study import Study
from p2psim.errors import P2PSimError
from p2psim.outputs import locking
from p2psim.outputs.interrupts import exit_status, interrupt_message, signal_received, signals_unwind

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
    """Load the study, apply --seed/--days/--market/--set and check every field (StudyError)."""
    return checked_study(args.study, args.set, seed=args.seed, days=args.days, market=args.market)


def default_out(study: Study, prefix: str = "") -> Path:
    """Default output directory of a study run."""
    return Path("runs") / f"{prefix}{study.name}-{study.market}-seed{study.seed}"


def progress_bar(total: int, desc: str):
    """A tqdm bar that appears only when the work takes more than two seconds."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="day", delay=2.0, file=sys.stderr, leave=False)


def run_progress(study: Study, workers: int):
    """The run's one bar over its stages (:class:`p2psim.runner.progress.RunProgress`), with rough priors per unit.

    The priors (seconds per day or per stage on a 2-core machine) only set the first ETA; the bar
    rescales them by what it measures as the run goes.
    """
    from p2psim.runner.progress import RunProgress

    return RunProgress(study.name, [
        ("setup", 1, 3.0), ("simulation", study.days, 0.1), ("devices", 1, 0.2),
        ("allocation", study.days if study.allocation else 0, 1.0 / max(1, workers)), ("coordinator", 1, 0.5),
        ("explanation", 1 if study.explain else 0, 5.0), ("report", 1, 3.0),
    ])


def add_backend_arguments(parser: argparse.ArgumentParser, workers_help: str) -> None:
    """``--backend``, ``--workers`` and ``--address`` of the fan-out backend (:mod:`p2psim.parallel`)."""
    parser.add_argument("--backend", default="local", help="fan-out backend: local (processes) or ray")
    parser.add_argument("--workers", type=int, help=workers_help)
    parser.add_argument("--address", help="a Ray cluster to join (default with --backend ray: a private one on "
                                          "loopback)")


SUMMARY_KEYS = ("peak_reduction_pct", "cooperative_gain", "self_sufficiency_pct", "solar_utilisation_pct",
                "gini_relative_benefit", "min_relative_saving_pct", "total_cost")


def run_command(argv: list[str]) -> int:
    """Run one study and write its run directory."""
    from p2psim.outputs.staging import output_directory
    from p2psim.runner import run, write_run_into
    from p2psim.runner.stages import finish_run

    started = time.perf_counter()
    parser = argparse.ArgumentParser(prog="python -m p2psim", description="Run a p2psim study.",
                                     epilog=commands_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_study_arguments(parser)
    parser.add_argument("--no-report", action="store_true", help="skip the HTML/Markdown report")
    add_backend_arguments(parser, "processes or Ray CPUs for the allocation stage's days (default 2)")
    args = parser.parse_args(argv)
    fan_out = backend_options(args)  # first: joining a Ray --address may take seconds
    study = study_from_args(args)
    out = Path(args.out) if args.out else default_out(study)
    with output_directory(out, "run", inputs=[args.study]) as staging, \
            run_progress(study, fan_out.get("workers", 2)) as progress:
        progress.stage("setup")  # scenario, feeder and agents: until the first day is cleared
        result = run(study, progress=lambda day: progress.advance(1, "simulation"))
        writers = finish_run(result, fan_out=fan_out, progress=progress)
        progress.stage("report")
        write_run_into(result, staging, report=not args.no_report, writers=writers)
    s = result.summary
    print(f"{study.name}: market {study.market}, {study.days} day(s), seed {study.seed} -> {out}")
    for key in SUMMARY_KEYS:
        print(f"  {key:28s} {s[key]:12.3f}")
    stages = ", ".join(f"{k.removesuffix('_s')} {v:.1f}" for k, v in result.timings_s.items() if k != "total_s")
    print(f"  stages (s): {stages}")
    since_start = process_age_s()
    extra = f" ({since_start:.1f} s with Python start-up and imports)" if since_start is not None else ""
    print(f"  finished in {time.perf_counter() - started:.1f} s wall time, the whole run{extra}")
    return 0


def backend_options(args: argparse.Namespace) -> dict:
    """``backend``/``workers``/``address`` from the arguments, checked before any work (StudyError, exit 2).

    A Ray ``--address`` must accept a connection within :data:`p2psim.parallel.CONNECT_TIMEOUT_S`.
    """
    from p2psim.parallel import check_backend

    workers = 2 if args.workers is None else args.workers
    check_backend(args.backend, workers, args.address)
    return {"backend": args.backend, "workers": workers, "address": args.address}


def process_age_s() -> float | None:
    """Seconds since this process started (Linux /proc; None elsewhere)."""
    import os

    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def commands_epilog() -> str:
    """The sub-commands and exit statuses, for ``python -m p2psim --help``."""
    from p2psim.cli.commands import register_all

    register_all()
    lines = ["sub-commands (python -m p2psim NAME --help for their options):"]
    for name, func in sorted(SUBCOMMANDS.items()):
        lines.append(f"  {name:10s} {(func.__doc__ or '').strip().splitlines()[0]}")
    lines += ["", "exit status: 0 done, 2 bad input or --out refused, 3 clearing failed, 130 interrupted (Ctrl-C), "
              "143 terminated (SIGTERM)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point; turns p2psim errors into one line and an exit status, interrupts into 130/143."""
    from p2psim.cli.commands import register_all

    argv = list(sys.argv[1:] if argv is None else argv)
    register_all()
    locking.COMMAND_LINE[:] = ["p2psim", *argv]
    with signals_unwind():
        try:
            if argv and argv[0] in SUBCOMMANDS:
                return SUBCOMMANDS[argv[0]](argv[1:])
            return run_command(argv)
        except KeyboardInterrupt as exc:
            print(interrupt_message(exc), file=sys.stderr)
            return exit_status(exc)
        except Exception as exc:
            if signal_received():  # a library turned the interrupt into its own exception
                print(interrupt_message(exc), file=sys.stderr)
                return exit_status(exc)
            if isinstance(exc, P2PSimError):
                print(f"p2psim: error: {exc}", file=sys.stderr)
                return exc.exit_status
            raise


def subcommand(name: str) -> Callable[[Callable[[list[str]], int]], Callable[[list[str]], int]]:
    """Register a sub-command ``python -m p2psim NAME ...``."""

    def register(func: Callable[[list[str]], int]) -> Callable[[list[str]], int]:
        SUBCOMMANDS[name] = func
        return func

    return register
