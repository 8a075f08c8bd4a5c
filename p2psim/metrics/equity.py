"""Equity quantities defined on all the data they meet, and their inequity over time (docs/model.md section 9).

Per member i over a window of D days (one day, or days 0..d for the cumulative-to-date outcome), from
the bills (``bill``, ``standalone_bill``, ``benefit = standalone_bill - bill``, ``need_cost``) and
the grid-origin trace of the dispatch (:mod:`p2psim.metrics.provenance`):

- relative benefit ``r_i = sum b_i / sum need_i``: the saving against the stand-alone bill as a
  share of the member's need, the stand-alone cost of its consumption (its load bought from the
  grid at import prices with its own-peak demand charge; :func:`p2psim.sim.settlement.need_costs`). The
  need is positive for anyone who consumes, so exporters are measured on the same scale as everyone
  else (never against their export revenue). Undefined (left out) when ``need = 0``;
- energy burden ``max(sum bill_i, 0) * 365 / D / income_i`` (annualised share of income spent on
  energy); a net exporter's credit is reported as ``earnings_i = max(-sum bill_i, 0)``, never as a
  negative burden. Per class as group totals: ``sum_i max(bill_i, 0) / sum_i income_i`` (annualised);
- renewable access ``a_i = sum local_i / sum use_i`` in [0, 1]: the share of its consumption
  (``load + shift``) met by local sources (own PV, own battery, the pool), grid energy traced
  through batteries and the pool. Self-sufficiency is the same ratio over the whole community.

Inequity: the Gini (:func:`p2psim.metrics.inequality.gini`, bounded on any real vector) of each quantity
over the members (the aggregator's ``community`` class excluded), per day and on cumulative-to-date
outcomes; :func:`trend` fits an OLS slope per day with a 95 % confidence interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from p2psim.metrics.inequality import gini, jain
from p2psim.metrics.provenance import participant_arrays, trace_grid_origin

EQUITY_EXCLUDED_CLASSES = ("community",)
"""Classes left out of equity metrics (the aggregator's community battery has no household)."""
QUANTITIES = ("relative_benefit", "energy_burden", "renewable_access")
SCOPES = ("daily", "cumulative")
DAYS_PER_YEAR = 365.0
LOSS_TOLERANCE = 1e-9
"""A member whose benefit is below minus this (currency) is counted as worse off than alone."""
TRACE_COLUMNS = ("load_kw", "shift_kw", "pv_kw", "curtail_kw", "charge_kw", "discharge_kw", "grid_import_kw",
                 "imbalance_import_kw", "pool_buy_kw", "pool_sell_kw", "soc_kwh")
MONEY = ("bill", "standalone_bill", "benefit", "need_cost")


def participant_days(dispatch: pd.DataFrame, bills: pd.DataFrame, participants: pd.DataFrame,
                     interval_hours: float) -> pd.DataFrame:
    """One row per (day, participant): the bill columns, ``use_kwh`` and ``grid_origin_kwh``, class, income."""
    ids = participants.participant.tolist()
    arrays = participant_arrays(dispatch, ids, TRACE_COLUMNS)
    efficiency = participants.get("charge_efficiency", pd.Series(1.0, index=participants.index))
    origin = trace_grid_origin(arrays, arrays["soc_kwh"], efficiency.fillna(1.0).to_numpy(float), interval_hours)
    days = np.sort(dispatch.day.unique())
    n = len(ids)
    energy = pd.DataFrame({
        "day": np.tile(days, n), "participant": np.repeat(ids, days.size),
        "use_kwh": origin.use_kwh.reshape(n, days.size, -1).sum(axis=2).reshape(-1),
        "grid_origin_kwh": origin.grid_kwh.reshape(n, days.size, -1).sum(axis=2).reshape(-1),
    })
    frame = bills[["day", "participant", *MONEY]].merge(energy, on=["day", "participant"], how="left")
    static = participants[["participant", "socio_class", "income_per_year"]]
    return frame.merge(static, on="participant", how="left").sort_values(["day", "participant"], kind="stable")


def outcomes(frame: pd.DataFrame, days: float) -> pd.DataFrame:
    """Per-participant equity outcomes of the rows in ``frame`` (a window of ``days`` days)."""
    sums = frame.groupby("participant", sort=False)[[*MONEY, "use_kwh", "grid_origin_kwh"]].sum()
    static = frame.groupby("participant", sort=False)[["socio_class", "income_per_year"]].first()
    out = static.join(sums)
    return out.assign(**derived(out, days))


def derived(sums: pd.DataFrame, days: float) -> dict[str, pd.Series]:
    """Relative benefit, burdens, earnings and renewable access of window sums (one row per member or class)."""
    year = DAYS_PER_YEAR / days
    income = sums.income_per_year.where(sums.income_per_year > 0)
    return {
        "relative_benefit": sums.benefit / sums.need_cost.where(sums.need_cost > 0),
        "energy_burden": sums.bill.clip(lower=0) * year / income,
        "energy_burden_standalone": sums.standalone_bill.clip(lower=0) * year / income,
        "earnings": (-sums.bill).clip(lower=0),
        "renewable_access": 1 - sums.grid_origin_kwh / sums.use_kwh.where(sums.use_kwh > 0),
    }


def members(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of equity members (classes in :data:`EQUITY_EXCLUDED_CLASSES` dropped)."""
    return frame[~frame.socio_class.isin(EQUITY_EXCLUDED_CLASSES)]


def indices(per: pd.DataFrame) -> dict[str, float]:
    """Inequity of per-member outcomes: Gini of each quantity, Jain of renewable access, worst saving, losers.

    Members whose quantity is undefined (zero need, zero consumption, no income) are left out of
    that quantity's index. Relative benefit and burden are fractions; ``*_pct`` are percentages.
    """
    people = members(per)

    def values(column: str) -> np.ndarray:
        return people[column].dropna().to_numpy(float)

    r = values("relative_benefit")
    return {
        "gini_relative_benefit": gini(r),
        "gini_energy_burden": gini(values("energy_burden")),
        "gini_energy_burden_standalone": gini(values("energy_burden_standalone")),
        "gini_renewable_access": gini(values("renewable_access")),
        "jain_renewable_access": jain(values("renewable_access")),
        "min_relative_saving_pct": 100 * float(r.min()) if r.size else 0.0,
        "losers_pct": 100 * float((people.benefit < -LOSS_TOLERANCE).mean()) if len(people) else 0.0,
    }


def class_table(per: pd.DataFrame, days: float) -> pd.DataFrame:
    """Per class: members, mean bills and benefit, and each quantity as a group total (docs/model.md section 9)."""
    people = members(per).assign(paid=lambda f: f.bill.clip(lower=0))
    groups = people.groupby("socio_class")
    sums = groups[[*MONEY, "use_kwh", "grid_origin_kwh", "income_per_year", "earnings", "paid"]].sum()
    total = derived(sums.assign(bill=sums.paid, standalone_bill=np.nan), days)
    table = pd.DataFrame({
        "n": groups.size(),
        "bill": groups.bill.mean(),
        "standalone_bill": groups.standalone_bill.mean(),
        "benefit": groups.benefit.mean(),
        "relative_saving_pct": 100 * total["relative_benefit"],
        "energy_burden_pct": 100 * total["energy_burden"],
        "earnings": sums.earnings,
        "renewable_access_pct": 100 * total["renewable_access"],
    })
    return table.rename_axis("socio_class").reset_index()


def class_observation(bill: np.ndarray, benefit: np.ndarray, need: np.ndarray, use_kwh: np.ndarray,
                      grid_kwh: np.ndarray, income: np.ndarray, class_index: np.ndarray, n_classes: int,
                      days: float = 1.0) -> np.ndarray:
    """Per class (columns): mean bill, energy burden, renewable access and relative benefit as group totals (4 x K).

    Arrays are per participant (n); ``class_index`` is -1 for participants outside the classes. An
    empty or undefined group (no members, no need, no consumption) gives 0.
    """
    out = np.zeros((4, n_classes))
    for k in range(n_classes):
        mask = class_index == k
        if not mask.any():
            continue
        need_k, use_k, income_k = need[mask].sum(), use_kwh[mask].sum(), income[mask].sum()
        out[:, k] = [
            bill[mask].mean(),
            np.clip(bill[mask], 0, None).sum() * DAYS_PER_YEAR / days / income_k if income_k > 0 else 0.0,
            1 - grid_kwh[mask].sum() / use_k if use_k > 0 else 0.0,
            benefit[mask].sum() / need_k if need_k > 0 else 0.0,
        ]
    return out


def trajectory(frame: pd.DataFrame) -> pd.DataFrame:
    """``equity_daily``: per day, the inequity of that day's outcomes and of the outcomes accumulated to it.

    Columns ``gini_<quantity>_<daily|cumulative>`` for every quantity in :data:`QUANTITIES`, and
    ``min_relative_saving_pct_*`` and ``losers_pct_*`` for both scopes.
    """
    frame = members(frame)
    days = np.sort(frame.day.unique())
    cumulative = frame.sort_values("day", kind="stable").copy()
    cumulative[[*MONEY, "use_kwh", "grid_origin_kwh"]] = cumulative.groupby("participant")[
        [*MONEY, "use_kwh", "grid_origin_kwh"]].cumsum()
    rows = []
    for k, day in enumerate(days):
        row: dict[str, float] = {"day": int(day)}
        for scope, window, span in (("daily", frame, 1.0), ("cumulative", cumulative, float(k + 1))):
            today = window[window.day == day]
            stats_ = indices(outcomes(today, span))
            for quantity in QUANTITIES:
                row[f"gini_{quantity}_{scope}"] = stats_[f"gini_{quantity}"]
            row[f"min_relative_saving_pct_{scope}"] = stats_["min_relative_saving_pct"]
            row[f"losers_pct_{scope}"] = stats_["losers_pct"]
        rows.append(row)
    return pd.DataFrame(rows)


def trend(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """OLS slope of ``y`` on ``x`` and its 95 % t-interval; NaN where undefined (< 2 points; < 3 for the interval)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2 or np.ptp(x) == 0:
        return float("nan"), float("nan"), float("nan")
    fit = stats.linregress(x, y)
    if x.size < 3:
        return float(fit.slope), float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, x.size - 2)) * float(fit.stderr)
    return float(fit.slope), float(fit.slope) - half, float(fit.slope) + half


def trajectory_summary(table: pd.DataFrame) -> dict[str, float]:
    """First, last and trend of every Gini series of ``equity_daily`` (summary.json keys).

    Keys ``gini_<quantity>_<scope>_first``, ``..._last``, ``..._slope_per_day``,
    ``..._slope_ci95_low`` and ``..._slope_ci95_high``. The cumulative series' points share their
    history, so its interval treats dependent points as independent (too narrow); the daily
    series' trend is the sounder test of whether inequity falls.
    """
    out: dict[str, float] = {}
    for quantity in QUANTITIES:
        for scope in SCOPES:
            column = f"gini_{quantity}_{scope}"
            series = table[column].to_numpy(float)
            slope, low, high = trend(table.day.to_numpy(float), series)
            out.update({f"{column}_first": float(series[0]), f"{column}_last": float(series[-1]),
                        f"{column}_slope_per_day": slope, f"{column}_slope_ci95_low": low,
                        f"{column}_slope_ci95_high": high})
    return out
