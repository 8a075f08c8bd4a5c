"""The report's headline cards and its "Equity over time" section (each figure says what it means)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from p2psim.metrics.equity import QUANTITIES, SCOPES

EQUITY_FIGURE = "equity_daily.png"
LABELS = {"relative_benefit": "relative benefit (benefit / need)", "energy_burden": "energy burden (bill / income)",
          "renewable_access": "renewable access (local share of consumption)"}


def _fmt(summary: dict[str, Any], key: str, fmt: str) -> str:
    v = summary.get(key)
    return "n/a" if v is None or not np.isfinite(v) else fmt.format(v)


def equity_cards(summary: dict[str, Any], currency: str) -> list[tuple[str, str, str]]:
    """(title, value, one line saying what it means) for the report's headline cards."""
    cards = [
        ("Peak reduction", _fmt(summary, "peak_reduction_pct", "{:.1f} %"),
         "community peak grid import below the peak of the members' raw loads"),
        ("Cooperative gain", _fmt(summary, "cooperative_gain", "{:.2f} " + currency),
         "what the members save together against each being alone, over the run"),
        ("Inequity of benefit", _fmt(summary, "gini_relative_benefit", "Gini {:.3f}"),
         "0 = every member saves the same share of its energy need; near 1 = one member takes it all"),
        ("Inequity over time", f"{_fmt(summary, 'gini_relative_benefit_cumulative_first', '{:.3f}')} \u2192 "
                               f"{_fmt(summary, 'gini_relative_benefit_cumulative_last', '{:.3f}')}",
         "Gini of benefit accumulated to date, first day \u2192 last day (falling = fairer over time)"),
        ("Energy burden inequity", f"{_fmt(summary, 'gini_energy_burden_standalone', '{:.3f}')} \u2192 "
                                   f"{_fmt(summary, 'gini_energy_burden', '{:.3f}')}",
         "Gini of the share of income spent on energy, alone \u2192 in the community (earnings count as 0)"),
        ("Self-sufficiency", _fmt(summary, "self_sufficiency_pct", "{:.1f} %"),
         "community consumption met without grid energy (batteries and pool traced)"),
        ("Worst-off saving", _fmt(summary, "min_relative_saving_pct", "{:.1f} %"),
         "the least favoured member's saving as a share of its energy need"),
    ]
    if "explain_r2_heldout" in summary:
        cards.append(("Explanation fidelity", _fmt(summary, "explain_r2_heldout", "R\u00b2 {:.2f}"),
                      "how well the explained model predicts benefits on held-out days"))
    return cards


def _trend(summary: dict[str, Any], stem: str) -> str:
    slope = summary.get(f"{stem}_slope_per_day")
    if slope is None or not np.isfinite(slope):
        return "n/a (fewer than 2 days)"
    low, high = summary.get(f"{stem}_slope_ci95_low"), summary.get(f"{stem}_slope_ci95_high")
    ci = "" if low is None or not np.isfinite(low) else f" [{low:+.4f}, {high:+.4f}]"
    return f"{slope:+.4f}{ci}"


def equity_section(table: pd.DataFrame | None, summary: dict[str, Any]) -> list[str]:
    """Markdown lines of the "Equity over time" section (empty without an ``equity_daily`` table)."""
    if table is None or not len(table):
        return []
    lines = [
        "## Equity over time", "",
        "Inequity of each equity quantity over the members (Gini in [0, 1], 0 = equal) on each day's outcomes "
        "(*daily*) and on the outcomes accumulated from the first day to that day (*cumulative*: whether the "
        "community becomes fairer over time). Trend = least-squares slope per day with its 95 % confidence "
        "interval (n/a below 3 days; the cumulative series' points share their history, so its interval is "
        "too narrow: read the daily trend as the test). Table: `equity_daily.parquet`.", "",
        f"![Equity over time]({EQUITY_FIGURE})", "",
        "| quantity | series | first day | last day | trend per day [95 % CI] |", "|---|---|---|---|---|",
    ]
    for quantity in QUANTITIES:
        for scope in SCOPES:
            stem = f"gini_{quantity}_{scope}"
            lines.append(f"| {LABELS[quantity]} | {scope} | {_fmt(summary, stem + '_first', '{:.3f}')} | "
                         f"{_fmt(summary, stem + '_last', '{:.3f}')} | {_trend(summary, stem)} |")
    return [*lines, ""]
