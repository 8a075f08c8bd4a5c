"""Metrics used everywhere (model.md section 6). Pure functions of arrays and ledger tables.

- Gini of x: G = sum_ij |x_i - x_j| / (2 n^2 |mean x|) (the mean-difference form, defined for
  negative values too; 0 = equal, can exceed 1 when some values are negative).
- Jain index: (sum x)^2 / (n sum x^2), in (0, 1], 1 = equal.
- Normalised benefit r_i = b_i / max(|B_i|, floor): relative saving against the stand-alone bill.
- Peak reduction = 1 - community peak grid import / peak of the summed raw loads (no PV, storage
  or trading); also against the stand-alone (grid-only) peak.
- Self-sufficiency = (consumption - grid import) / consumption, community level; consumption is
  load + shifted load + what consuming devices draw (EVs, heat pumps, shiftable loads; column
  ``device_use_kw``), batteries excluded.
- Solar utilisation = (PV available - curtailed - exported) / PV available.
- Renewable access of a participant = share of its consumption not met by grid import (own PV,
  own or community storage, or the pool).
- Energy burden = annualised bill / income.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EQUITY_EXCLUDED_CLASSES = ("community",)
"""Classes left out of equity metrics (the aggregator's community battery has no household)."""


def gini(values: np.ndarray) -> float:
    """Gini coefficient (mean-difference form); 0 for an empty or all-zero vector."""
    x = np.asarray(values, dtype=float)
    if x.size == 0 or np.allclose(x, 0):
        return 0.0
    diff = np.abs(x[:, None] - x[None, :]).sum()
    return float(diff / (2 * x.size**2 * abs(x.mean()))) if x.mean() != 0 else float("inf")


def jain(values: np.ndarray) -> float:
    """Jain fairness index; 1 for an empty or all-zero vector."""
    x = np.asarray(values, dtype=float)
    denominator = x.size * float((x**2).sum())
    return 1.0 if denominator == 0 else float(x.sum() ** 2 / denominator)


def normalised_benefit(benefit: np.ndarray, standalone_cost: np.ndarray, floor: float = 1.0) -> np.ndarray:
    """Relative saving r_i = b_i / max(|B_i|, floor)."""
    return np.asarray(benefit, float) / np.maximum(np.abs(np.asarray(standalone_cost, float)), floor)


def summarise(
    dispatch: pd.DataFrame,
    bills: pd.DataFrame,
    participants: pd.DataFrame,
    *,
    interval_hours: float,
    days: int,
    standalone_peak_kw: float,
    benefit_floor: float = 1.0,
) -> tuple[dict[str, float], pd.DataFrame, pd.DataFrame]:
    """Return (summary metrics, per-participant table, per-class table) of a finished run."""
    community = dispatch.groupby(["day", "interval"])[
        [
            "load_kw",
            "pv_kw",
            "curtail_kw",
            "grid_import_kw",
            "grid_export_kw",
            "imbalance_import_kw",
            "imbalance_export_kw",
            "shift_kw",
        ]
    ].sum()
    grid_net = (
        community.grid_import_kw
        + community.imbalance_import_kw
        - community.grid_export_kw
        - community.imbalance_export_kw
    )
    raw_peak = float(community.load_kw.max())
    peak = float(max(grid_net.max(), 0.0))
    device_use = dispatch.groupby(["day", "interval"])["device_use_kw"].sum() if "device_use_kw" in dispatch else 0.0
    consumption = float((community.load_kw + community.shift_kw + device_use).sum() * interval_hours)
    grid_in = float((community.grid_import_kw + community.imbalance_import_kw).sum() * interval_hours)
    pv = float(community.pv_kw.sum() * interval_hours)
    exported = float((community.grid_export_kw + community.imbalance_export_kw).sum() * interval_hours)
    curtailed = float(community.curtail_kw.sum() * interval_hours)
    per = bills.groupby("participant", sort=False)[["bill", "standalone_bill", "benefit", "peak_charge"]].sum()
    per = participants.set_index("participant").join(per)
    per["normalised_benefit"] = normalised_benefit(per.benefit, per.standalone_bill, benefit_floor * days)
    energy = (
        dispatch.assign(
            grid_in_kwh=(dispatch.grid_import_kw + dispatch.imbalance_import_kw) * interval_hours,
            use_kwh=(dispatch.load_kw + dispatch.shift_kw + dispatch.get("device_use_kw", 0.0)) * interval_hours,
        )
        .groupby("participant", sort=False)[["grid_in_kwh", "use_kwh"]]
        .sum()
    )
    per = per.join(energy)
    per["renewable_access"] = 1 - per.grid_in_kwh / per.use_kwh.where(per.use_kwh > 0)
    per["energy_burden_pct"] = 100 * per.bill * (365.0 / days) / per.income_per_year
    equity = per[~per.socio_class.isin(EQUITY_EXCLUDED_CLASSES)]
    r = equity.normalised_benefit.to_numpy()
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
        "self_sufficiency_pct": 100 * (consumption - grid_in) / consumption if consumption > 0 else 0.0,
        "solar_utilisation_pct": 100 * max(pv - curtailed - exported, 0.0) / pv if pv > 0 else 0.0,
        "gini_benefit": gini(r),
        "jain_benefit": jain(r),
        "min_relative_saving_pct": 100 * float(r.min()) if r.size else 0.0,
        "losers_pct": 100 * float((r < -1e-9).mean()) if r.size else 0.0,
        "pool_energy_kwh": float(dispatch.pool_buy_kw.sum() * interval_hours),
    }
    per_class = equity.groupby("socio_class").agg(
        n=("bill", "size"),
        bill=("bill", "mean"),
        standalone_bill=("standalone_bill", "mean"),
        benefit=("benefit", "mean"),
        relative_saving_pct=("normalised_benefit", lambda s: 100 * s.mean()),
        energy_burden_pct=("energy_burden_pct", "mean"),
        renewable_access_pct=("renewable_access", lambda s: 100 * s.mean()),
    )
    return summary, per.reset_index(), per_class.reset_index()
