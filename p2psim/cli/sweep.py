"""``python -m p2psim sweep STUDY.py ... --set f=v1,v2 --seeds 0-9 --out DIR``: the sweep's command line.

Parses the grid (:func:`p2psim.batch.sweep.parse_set`, :func:`p2psim.batch.sweep.parse_seeds`) and runs
:func:`p2psim.batch.sweep.sweep`; exit status 3 when a run of the grid failed.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from p2psim.batch.sweep import BACKENDS, SweepError, parse_seeds, parse_set, sweep
from p2psim.cli import subcommand
from p2psim.errors import UnknownNameError


@subcommand("sweep")
def sweep_command(argv: list[str]) -> int:
    """Run studies x settings x seeds (resumable, local or on Ray) into one Parquet table."""
    parser = argparse.ArgumentParser(
        prog="python -m p2psim sweep",
        description="Run studies x settings x seeds (resumable) and gather one Parquet table.",
    )
    parser.add_argument("studies", nargs="+", metavar="STUDY.py", help="study files, e.g. studies/rural.py")
    parser.add_argument("--set", action="append", default=[], metavar="dotted.field=v1,v2",
                        help="a study field and its values (cartesian product over all --set)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds or ranges, e.g. 0,1,2 or 0-9")
    parser.add_argument("--backend", default="local", help="local (process pool) or ray")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel runs (default: CPUs)")
    parser.add_argument("--address", help="address of an existing Ray cluster (default: start a local one)")
    parser.add_argument("--out", required=True, help="sweep directory (rows/ and sweep.parquet)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    if args.backend not in BACKENDS:
        raise UnknownNameError(f"no sweep backend named {args.backend!r}; known: {list(BACKENDS)}")
    if args.address and args.backend != "ray":
        raise SweepError("--address is only used with --backend ray")
    settings = parse_set(args.set)
    seeds = parse_seeds(args.seeds)
    _, stats = sweep(args.studies, settings, seeds, out=args.out, backend=args.backend, workers=args.workers,
                     address=args.address, progress=not args.no_progress)
    print(f"sweep: {stats['total']} run(s): {stats['skipped']} already done, {stats['ran']} run "
          f"({stats['failed']} failed) in {stats['wall_s']:.1f} s -> {Path(args.out) / 'sweep.parquet'}")
    return 3 if stats["failed"] else 0
