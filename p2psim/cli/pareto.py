"""``python -m p2psim pareto STUDY.py``: the efficiency-equity front of EqWM over a study's days.

The study is simulated once (day-ahead books with its forecasts); every day's book is then cleared
by EqWM for each Rawlsian weight lambda (:func:`p2psim.batch.pareto.pareto_front`). Per lambda the
front reports the community cost summed over the days, the worst-off normalised benefit (the
minimum over days and participants) and the mean daily Gini of relative benefit (benefit / need, in
[0, 1]). Written atomically to
``DIR/pareto.parquet``, ``DIR/pareto.png`` and ``DIR/pareto.md``.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from pathlib import Path

import pandas as pd

from p2psim.cli import add_study_arguments, default_out, progress_bar, study_from_args, subcommand
from p2psim.errors import StudyError
from p2psim.outputs.staging import output_directory


def parse_lambdas(text: str) -> tuple[float, ...]:
    """Parse ``0,0.1,1`` into non-negative floats (a clear error otherwise)."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise StudyError(f"--lambdas {text!r}: expected comma-separated numbers such as 0,0.3,1,3") from None
    if not values or any(not (math.isfinite(v) and v >= 0) for v in values):
        raise StudyError(f"--lambdas {text!r}: Rawlsian weights must be finite numbers >= 0, e.g. 0,0.3,1,3")
    return values


def study_front(study, lambdas: tuple[float, ...]) -> pd.DataFrame:
    """Simulate ``study`` once and sweep lambda over every day's book; one row per lambda."""
    from p2psim.batch.pareto import pareto_front
    from p2psim.markets import ClearingContext
    from p2psim.runner import run

    result = run(replace(study, market="eqwm_v1", allocation=False, coordinator_policy=None))
    frames = []
    with progress_bar(len(result.day_results), "pareto") as bar:
        for day in result.day_results:
            context = ClearingContext(
                feeder=result.scenario.feeder,
                rng=None,
                day=day["day"],
                solver=study.solver,
                equity=study.equity,
                enforce_feeder=study.enforce_feeder,
                options=dict(study.market_options),
            )
            frames.append(pareto_front(day["book"], context, lambdas).assign(day=day["day"]))
            bar.update(1)
    days = pd.concat(frames, ignore_index=True)
    front = (
        days.groupby("rawlsian_weight")
        .agg(
            community_cost=("community_cost", "sum"),
            worst_off_normalised_benefit=("worst_off_normalised_benefit", "min"),
            gini_relative_benefit=("gini_relative_benefit", "mean"),
        )
        .reset_index()
    )
    cost, worst = front.community_cost.to_numpy(), front.worst_off_normalised_benefit.to_numpy()
    front["dominated"] = [
        bool(((cost <= c + 1e-9) & (worst >= w - 1e-9) & ((cost < c - 1e-9) | (worst > w + 1e-9))).any())
        for c, w in zip(cost, worst, strict=True)
    ]
    return front


@subcommand("pareto")
def pareto_command(argv: list[str]) -> int:
    """Sweep the Rawlsian weight and write the efficiency-equity front."""
    from p2psim.batch.pareto import plot_pareto

    parser = argparse.ArgumentParser(prog="python -m p2psim pareto", description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    parser.add_argument("--lambdas", default="0,0.1,0.3,1,3,10,30,100", help="Rawlsian weights to sweep")
    args = parser.parse_args(argv)
    lambdas = parse_lambdas(args.lambdas)
    study = study_from_args(args)
    out = Path(args.out) if args.out else default_out(study, prefix="pareto-")
    with output_directory(out, "pareto", inputs=[args.study]) as staging:
        front = study_front(study, lambdas)
        front.to_parquet(staging / "pareto.parquet", index=False)
        currency = study.tariffs.currency
        plot_pareto(front, staging / "pareto.png", currency)
        lines = [
            f"# EqWM Pareto front: {study.name}",
            "",
            f"{study.days} day(s), seed {study.seed}.",
            "",
            f"| lambda | community cost ({currency}) | worst-off normalised benefit | "
            "mean daily Gini of relative benefit | dominated |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.rawlsian_weight:g} | {r.community_cost:.2f} | {r.worst_off_normalised_benefit:.4f} | "
            f"{r.gini_relative_benefit:.4f} | {'yes' if r.dominated else 'no'} |"
            for r in front.itertuples()
        ]
        (staging / "pareto.md").write_text("\n".join(lines) + "\n\n![front](pareto.png)\n")
    print("\n".join(lines))
    print(f"-> {out}")
    return 0
