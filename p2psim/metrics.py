"""Metrics used everywhere (model.md section 6). Pure functions of arrays and ledger tables.

- Inequality indices (:mod:`p2psim.inequality`): :func:`gini` (Raffinetti-Siletti-Vernizzi, bounded
  in [0, 1] on any real vector), :func:`jain` (non-negative data only), Theil and Atkinson (strictly
  positive data only).
- Equity quantities (:mod:`p2psim.equity`): relative benefit = benefit / need (the stand-alone cost
  of a member's consumption), energy burden = max(bill, 0) / income with exporters' credits as
  earnings, renewable access = locally met share of consumption (grid energy traced through
  batteries and the pool, :mod:`p2psim.provenance`); per day and cumulative to date.
- Peak reduction = 1 - community peak grid import / peak of the summed raw loads (no PV, storage
  or trading); also against the stand-alone (grid-only) peak.
- Self-sufficiency = share of the community's consumption not of grid origin, in [0, 1].
- Solar utilisation = (PV available - curtailed - exported) / PV available, in [0, 1].
"""

from __future__ import annotations

import pandas as pd

from p2psim.equity import (
    EQUITY_EXCLUDED_CLASSES,
    LOSS_TOLERANCE,
    class_table,
    indices,
    outcomes,
    participant_days,
    trajectory,
    trajectory_summary,
)
from p2psim.inequality import atkinson, gini, jain, theil

__all__ = ["EQUITY_EXCLUDED_CLASSES", "atkinson", "gini", "jain", "summarise", "theil"]

FLOWS = ("load_kw", "pv_kw", "curtail_kw", "grid_import_kw", "grid_export_kw", "imbalance_import_kw",
         "imbalance_export_kw")


def summarise(
    dispatch: pd.DataFrame,
    bills: pd.DataFrame,
    participants: pd.DataFrame,
    *,
    interval_hours: float,
    days: int,
    standalone_peak_kw: float,
) -> tuple[dict[str, float], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return (summary, per-participant table, per-class table, equity_daily table) of a finished run."""
    community = dispatch.groupby(["day", "interval"])[list(FLOWS)].sum()
    grid_net = (community.grid_import_kw + community.imbalance_import_kw - community.grid_export_kw
                - community.imbalance_export_kw)
    raw_peak = float(community.load_kw.max())
    peak = float(max(grid_net.max(), 0.0))
    pv = float(community.pv_kw.sum() * interval_hours)
    exported = float((community.grid_export_kw + community.imbalance_export_kw).sum() * interval_hours)
    curtailed = float(community.curtail_kw.sum() * interval_hours)
    frame = participant_days(dispatch, bills, participants, interval_hours)
    per = outcomes(frame, days)
    inequity = indices(per)
    peak_charge = bills.groupby("participant", sort=False).peak_charge.sum()
    per = participants.set_index("participant").join(per.drop(columns=["socio_class", "income_per_year"]))
    per["peak_charge"] = peak_charge
    per["energy_burden_pct"] = 100 * per.pop("energy_burden")
    per["energy_burden_standalone_pct"] = 100 * per.pop("energy_burden_standalone")
    consumption = float(frame.use_kwh.sum())
    local = consumption - float(frame.grid_origin_kwh.sum())
    equity_daily = trajectory(frame)
    summary = {
        "days": float(days),
        "total_cost": float(per.bill.sum()),
        "standalone_total_cost": float(per.standalone_bill.sum()),
        "cooperative_gain": float(per.benefit.sum()),
        "cooperative_gain_per_day": float(per.benefit.sum() / days),
        "peak_kw": peak,
        "raw_load_peak_kw": raw_peak,
        "standalone_peak_kw": standalone_peak_kw,
        "peak_reduction_pct": 100 * (1 - peak / raw_peak) if raw_peak > 0 else 0.0,
        "peak_reduction_vs_standalone_pct": 100 * (1 - peak / standalone_peak_kw) if standalone_peak_kw > 0 else 0.0,
        "self_sufficiency_pct": 100 * local / consumption if consumption > 0 else 0.0,
        "solar_utilisation_pct": 100 * max(pv - curtailed - exported, 0.0) / pv if pv > 0 else 0.0,
        **inequity,
        "pool_energy_kwh": float(dispatch.pool_buy_kw.sum() * interval_hours),
        # every participant (the community's aggregator too) on every day: what it paid against alone
        "member_days_paying_more_than_alone": float((bills.bill - bills.standalone_bill > LOSS_TOLERANCE).sum()),
        **trajectory_summary(equity_daily),
    }
    per = per.reset_index()
    return summary, per, class_table(per, days), equity_daily
