"""Pareto front of EqWM between efficiency and equity, by sweeping the Rawlsian weight lambda.

For every lambda in ``rawlsian_weights`` the day is cleared by EqWM with the context's other
equity options (weights from the book, alpha, cost weight) and three numbers are kept: the
community cost K (the study's currency per day, lower is more efficient), the worst-off normalised
benefit min_i r_i over the Rawlsian set (EqWM's own r_i = b_i / max(|B_i|, floor), the quantity its
Rawlsian term raises; higher is more equitable) and the Gini (:func:`p2psim.metrics.inequality.gini`, in
[0, 1]) of the relative benefits b_i / need_i of the households (:mod:`p2psim.metrics.equity`; the need is the
stand-alone cost of i's load, :func:`p2psim.sim.settlement.need_costs`). The stand-alone optimum and the assembled day
model are computed once and shared by every point. A sweep of lambda traces the supported points of
the front (those on its convex hull); ``dominated`` marks points another point beats on both cost
and worst-off benefit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from p2psim.markets._community_lp import build_day_model
from p2psim.markets.base import ClearingContext
from p2psim.markets.book import OrderBook
from p2psim.markets.eqwm import EqWM
from p2psim.markets.grid_only import standalone_optimum
from p2psim.metrics.equity import EQUITY_EXCLUDED_CLASSES
from p2psim.metrics.inequality import gini
from p2psim.sim.settlement import need_costs

DEFAULT_RAWLSIAN_WEIGHTS = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


def pareto_front(book: OrderBook, context: ClearingContext,
                 rawlsian_weights: Sequence[float] = DEFAULT_RAWLSIAN_WEIGHTS) -> pd.DataFrame:
    """Clear ``book`` once per Rawlsian weight and return the efficiency-equity trade-off.

    Args:
        book: The day's order book (class weights as the caller set them).
        context: Clearing context; its ``equity.rawlsian_weight`` is replaced point by point.
        rawlsian_weights: The lambdas to sweep (>= 0).

    Returns:
        One row per lambda: rawlsian_weight, community_cost, worst_off_normalised_benefit,
        gini_relative_benefit, z, path, dominated.
    """
    alone = standalone_optimum(book, context)
    need = need_costs(book.load_kw, book.import_price_per_kwh, book.peak_price_per_kw, book.interval_hours)
    households = (need > 0) & ~np.isin(np.asarray(book.socio_class), EQUITY_EXCLUDED_CLASSES)
    model = build_day_model(book, context)
    rule = EqWM()
    rows = []
    for lam in rawlsian_weights:
        ctx = replace(context, equity=replace(context.equity, rawlsian_weight=float(lam)))
        clearing = rule.clear_with(book, ctx, alone, model)
        extra = clearing.extra
        r = np.asarray(extra["normalised_benefit"], float)
        rawls = np.asarray(extra["rawlsian_set"], int)
        rows.append({
            "rawlsian_weight": float(lam), "community_cost": float(extra["community_cost"]),
            "worst_off_normalised_benefit": float(r[rawls].min()) if len(rawls) else float("nan"),
            "gini_relative_benefit": gini(np.asarray(extra["benefit"], float)[households] / need[households]),
            "z": float(extra["z"]), "path": extra["path"],
        })
    frame = pd.DataFrame(rows)
    cost = frame["community_cost"].to_numpy()
    worst = frame["worst_off_normalised_benefit"].to_numpy()
    better = ((cost[None, :] <= cost[:, None] + 1e-9) & (worst[None, :] >= worst[:, None] - 1e-9)
              & ((cost[None, :] < cost[:, None] - 1e-9) | (worst[None, :] > worst[:, None] + 1e-9)))
    frame["dominated"] = better.any(axis=1)
    return frame


def plot_pareto(frame: pd.DataFrame, path: str | Path, currency: str = "EUR") -> Path:
    """Plot community cost against the worst-off normalised benefit (Gini as colour) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(6, 4))
    points = ax.scatter(frame["community_cost"], frame["worst_off_normalised_benefit"],
                        c=frame["gini_relative_benefit"], cmap="viridis", vmin=0.0, vmax=1.0)
    ax.plot(frame["community_cost"], frame["worst_off_normalised_benefit"], color="grey", lw=0.8, zorder=0)
    for _, row in frame.iterrows():
        ax.annotate(f"λ={row['rawlsian_weight']:g}", (row["community_cost"], row["worst_off_normalised_benefit"]),
                    textcoords="offset points", xytext=(4, 4), fontsize=7)
    fig.colorbar(points, ax=ax, label="Gini of relative benefit (0 = equal)")
    ax.set_xlabel(f"community cost per day ({currency})")
    ax.set_ylabel("worst-off normalised benefit")
    ax.set_title("EqWM efficiency-equity front")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
