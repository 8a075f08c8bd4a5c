"""``python -m p2psim explain RUN_DIR [--target T]``: re-explain a finished run in place.

The explain files and the report of the run directory are rewritten atomically
(:func:`p2psim.explain.rewrite_explanation`), without re-running the study.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from p2psim.cli import subcommand
from p2psim.config.checks import check_seed_option
from p2psim.explain import RUN_ALLOCATION_FIRST, explain, rewrite_explanation
from p2psim.explain.features import RUN_TABLES, TARGETS, ExplanationInputError, RunData, check_run_files
from p2psim.outputs import legacy_run
from p2psim.outputs.staging import output_directory


@subcommand("explain")
def explain_command(argv: list[str]) -> int:
    """Re-explain a finished run directory in place (who gains and why), without re-running it."""
    parser = argparse.ArgumentParser(prog="python -m p2psim explain",
                                     description="Explain who gains and why in an existing run directory.")
    parser.add_argument("run_dir", help="a run directory written by python -m p2psim STUDY.py --out RUN_DIR")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS),
                        help="target(s) to explain (default: settled (runs settled by a rule), weighted_shapley, "
                             "market, normalised; weighted_shapley needs allocations)")
    parser.add_argument("--seed", type=int, default=None, help="surrogate seed (default: the run's seed)")
    args = parser.parse_args(argv)
    check_seed_option(args.seed)
    directory = Path(args.run_dir)
    with output_directory(directory, "run", rewrite=True, legacy=legacy_run, what="RUN_DIR") as staging:
        check_run_files(directory, (*RUN_TABLES, "summary.json"))
        data = RunData.from_directory(directory)
        default = ["weighted_shapley", "market", "normalised"]
        targets = args.target or (["settled", *default] if data.settlement_rule != "market" else default)
        if data.allocation_daily is None and "weighted_shapley" in targets:
            raise ExplanationInputError(f"{directory} has no allocation_daily.parquet; {RUN_ALLOCATION_FIRST}")
        seed = args.seed if args.seed is not None else _run_seed(directory)
        exp = explain(data, targets, seed=seed)
        rewrite_explanation(staging, exp)
    print(f"explained {directory} in {exp.seconds:.1f} s; report rewritten", file=sys.stderr)
    for row in exp.fidelity().itertuples():
        print(f"  {row.kind:11s} {row.target:28s} held-out R^2 {row.r2_heldout:6.3f}  MAE {row.mae_heldout:.4f}")
    return 0


def _run_seed(directory: Path) -> int:
    seed = json.loads((directory / "run.json").read_text()).get("seed", 0)
    return seed if isinstance(seed, int) and 0 <= seed < 2**32 else 0
