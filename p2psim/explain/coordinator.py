"""Why the equity coordinator moved the class weights: SHAP over its observation features.

Reads the coordinator log (``coordinator.parquet`` in a run directory, or
``RunResult.extras["coordinator"]``): one row per day with ``day`` (and optionally ``episode``),
what was observed after that day was settled (columns ``obs_*``; without any, every other numeric
column except ``day``, ``episode``, ``reward*`` and the weights, e.g. ``gini_relative_benefit_daily``) and the
class weights the day was cleared with (columns ``weight_*``). By the timing contract the policy
sets day d + 1's weights after observing day d, so the change ``weight[d + 1] - weight[d]`` (within
an episode) is explained from day d's observation and the weights in force on day d (the policy
observes its current weights too), with the same surrogate and held-out-day fidelity as the benefit
explanations. Without a log, the explanation is skipped with a note.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from p2psim.errors import P2PSimError
from p2psim.explain.surrogate import Surrogate, fit_surrogate

MIN_CHANGES = 10
"""Fewest logged weight changes worth fitting a surrogate to (a week-long run gives six)."""
NO_LOG_NOTE = ("No coordinator log in this run (`coordinator.parquet` with per-day observations `obs_*` and chosen "
               "weights `weight_*`), so the coordinator's weight changes are not explained. The log is written "
               "when the run uses a coordinator policy.")


def coordinator_samples(log: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Samples (one per day with a next day), observation features and next-day weight-change targets."""
    weights = [c for c in log.columns if c.startswith("weight_")]
    observations = [c for c in log.columns if c.startswith("obs_")] or [
        c for c in log.columns
        if c not in ("day", "episode") and not c.startswith(("weight_", "reward", "delta_"))
        and pd.api.types.is_numeric_dtype(log[c])]
    by = ["episode"] if "episode" in log else []
    frame = log.sort_values([*by, "day"], kind="stable").reset_index(drop=True)
    changes = -(frame.groupby(by)[weights].diff(-1) if by else frame[weights].diff(-1))
    targets = [f"delta_{w}" for w in weights]
    frame[targets] = changes.to_numpy()
    frame["run"] = frame["episode"].astype(str) if by else "run"
    frame["participant"] = "coordinator"
    frame["socio_class"] = "coordinator"
    return frame.dropna(subset=targets).reset_index(drop=True), observations + weights, targets


def explain_coordinator(log: pd.DataFrame | None, seed: int = 0) -> tuple[dict[str, Surrogate], list[str]]:
    """Surrogates of each weight change, and notes (why something was skipped)."""
    if log is None or not len(log):
        return {}, [NO_LOG_NOTE]
    samples, observations, targets = coordinator_samples(log)
    if not observations or not targets:
        return {}, ["The coordinator log has no `obs_*` observation or no `weight_*` weight columns; "
                    "its weight changes are not explained."]
    if len(samples) < MIN_CHANGES:
        return {}, [f"The coordinator log holds {len(samples)} day-to-day weight change(s); explaining them from "
                    f"its observations needs at least {MIN_CHANGES} (run longer, e.g. --days 28)."]
    out, notes = {}, []
    for target in targets:
        values = samples[target].to_numpy(dtype=float)
        if values.size == 0 or np.ptp(values) == 0:
            notes.append(f"`{target[6:]}` never changed; nothing to explain.")
            continue
        try:
            out[target] = fit_surrogate(samples, target, observations, seed=seed,
                                        what_to_run="log a longer coordinator run (at least 3 days)")
        except P2PSimError as exc:
            notes.append(f"`{target[6:]}`: {exc}")
    return out, notes


def coordinator_markdown(surrogates: dict[str, Surrogate], notes: list[str]) -> str:
    """The coordinator subsection: fidelity and top observation features per weight."""
    lines = list(notes)
    if surrogates:
        lines += ["", "| weight change | held-out R\u00b2 | MAE | top observation features (mean abs SHAP) |",
                  "|---|---|---|---|"]
        for target, s in surrogates.items():
            top = ", ".join(f"{f} {v:.3f}" for f, v in s.mean_abs().head(4).items())
            flag = " (low fidelity: do not trust)" if s.poor else ""
            lines.append(f"| {target[6:]}{flag} | {s.r2_heldout:.2f} | {s.mae_heldout:.3f} | {top} |")
    return "\n".join(lines).strip()


def importance_frame(surrogates: dict[str, Surrogate]) -> pd.DataFrame:
    """Mean |SHAP| per observation feature (rows) and weight (columns)."""
    return pd.DataFrame({target[6:]: s.mean_abs() for target, s in surrogates.items()}).fillna(0.0)
