"""Benchmark: explaining a one-week rural run (time < 30 s; surrogate R^2 >= 0.8 on held-out days).

    .venv/bin/python benchmarks/bench_explain.py [--run RUN_DIR] [--out benchmarks/results/explain.md]

Without --run it first writes the run (``python -m p2psim studies/rural.py --out TMP``, not timed).
Timed: ``explain(RUN_DIR)`` in a fresh process (imports of shap/sklearn included) and the whole
``python -m p2psim explain RUN_DIR`` command (explanation + figures + report rewritten in place).
Context for the fidelity: the held-out R^2 of a per-participant mean (what a participant's
other days predict) and of the surrogate on static features only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PYTHON = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
TIME_LIMIT_S = 30.0
R2_TARGET = 0.8
STATIC = ("class_rank", "income_k", "pv_peak_kw", "battery_kwh", "distance_km", "community_battery_kwh")

TIMED = """
import json, sys, time
start = time.perf_counter()
from p2psim.explain import explain
exp = explain(sys.argv[1])
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "fit_seconds": exp.seconds,
                  "fidelity": exp.fidelity().to_dict(orient="records")}))
"""


def participant_mean_r2(samples, target: str) -> float:
    """Held-out-day R^2 of predicting a participant-day by that participant's mean on the other folds' days."""
    from sklearn.model_selection import GroupKFold

    from p2psim.explain_model import day_groups, r2

    rows = samples[samples[target].notna()].reset_index(drop=True)
    groups = day_groups(rows)
    prediction = np.empty(len(rows))
    for train, test in GroupKFold(n_splits=min(5, np.unique(groups).size)).split(rows, groups=groups):
        means = rows.iloc[train].groupby("participant")[target].mean()
        prediction[test] = rows.iloc[test].participant.map(means).fillna(rows.iloc[train][target].mean())
    return r2(rows[target].to_numpy(float), prediction)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="an existing one-week rural run directory (with allocations)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "explain.md"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-explain-"))
    run = Path(args.run) if args.run else tmp / "rural"
    run_seconds = None
    if not args.run:
        tick = time.perf_counter()
        subprocess.run([PYTHON, "-m", "p2psim", str(REPO / "studies" / "rural.py"), "--out", str(run)], check=True,
                       cwd=REPO)
        run_seconds = time.perf_counter() - tick
    timed = json.loads(subprocess.run([PYTHON, "-c", TIMED, str(run)], check=True, capture_output=True, text=True,
                                      cwd=REPO).stdout.strip().splitlines()[-1])
    tick = time.perf_counter()
    subprocess.run([PYTHON, "-m", "p2psim", "explain", str(run)], check=True, cwd=REPO, capture_output=True)
    command_seconds = time.perf_counter() - tick

    from p2psim.explain_features import FEATURE_LABELS, build_samples
    from p2psim.explain_model import fit_surrogate

    samples = build_samples(run)
    fidelity = {row["target"]: row for row in timed["fidelity"] if row["kind"] == "benefit"}
    limit = f"< {TIME_LIMIT_S:.0f} s"
    lines = [
        "# Explanation benchmark (rural study, one week)", "",
        f"Run: `{run}`{'' if run_seconds is None else f' (written in {run_seconds:.0f} s, not timed)'}; "
        f"{len(samples)} participant-days, {samples.day.nunique()} days.", "",
        "| measure | value | target |", "|---|---|---|",
        f"| `explain(run_dir)` in a fresh process (imports included) | {timed['seconds']:.1f} s | {limit} |",
        f"| of which fitting, validating, SHAP (3 targets) | {timed['fit_seconds']:.1f} s | |",
        f"| `python -m p2psim explain RUN_DIR` (figures + report rewrite) | {command_seconds:.1f} s | {limit} |",
    ]
    for target, row in fidelity.items():
        goal = f">= {R2_TARGET}" if target == "weighted_shapley" else ""
        lines.append(f"| held-out R\u00b2 of the {target} surrogate (MAE {row['mae_heldout']:.3f}) | "
                     f"{row['r2_heldout']:.3f} | {goal} |")
    lines += ["", "Context (held-out days, same folds):", "", "| target | surrogate, all features | "
              "surrogate, static features only | participant's mean on other days |", "|---|---|---|---|"]
    for target in fidelity:
        static = fit_surrogate(samples, target, STATIC).r2_heldout
        lines.append(f"| {target} | {fidelity[target]['r2_heldout']:.3f} | {static:.3f} | "
                     f"{participant_mean_r2(samples, target):.3f} |")
    full = fit_surrogate(samples, next(iter(fidelity)), tuple(FEATURE_LABELS))
    lines += ["", f"Top features of the {full.target} surrogate (mean |SHAP|): "
              + ", ".join(f"{FEATURE_LABELS[f]} {v:.3f}" for f, v in full.mean_abs().head(6).items()) + "."]
    ok_time = timed["seconds"] < TIME_LIMIT_S and command_seconds < TIME_LIMIT_S
    ws = fidelity.get("weighted_shapley", {}).get("r2_heldout", float("nan"))
    lines += ["", f"Verdict: time {'met' if ok_time else 'MISSED'}; weighted Shapley fidelity "
              + ("n/a (the run has no allocations)" if not np.isfinite(ws) else
                 "met" if ws >= R2_TARGET else "MISSED (see the notes)") + ".", ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))
    return 0 if ok_time else 1


if __name__ == "__main__":
    sys.exit(main())
