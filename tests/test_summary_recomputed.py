"""Every figure of summary.json recomputed from the run directory's Parquet tables, independently.

The recomputation below does not call p2psim's metric code: the Gini is the O(n^2) double sum, the
grid-origin trace is a plain loop over participants, and the trend is numpy's polyfit with the
textbook slope interval. Every key of summary.json must be covered (a new key needs a recomputation
here), so a figure that cannot be rebuilt from the tables fails this test.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from p2psim.runner import run, write_run
from p2psim.runner.stages import finish_run

DAYS_PER_YEAR = 365.0
EXCLUDED = ("community",)


def gini(values) -> float:
    x = np.asarray([v for v in values if np.isfinite(v)], float)
    scale = np.abs(x).sum()
    return 0.0 if x.size < 2 or scale == 0 else float(np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size * scale))


def jain(values) -> float:
    x = np.asarray(values, float)
    return float(x.sum() ** 2 / (x.size * (x**2).sum()))


def grid_origin(dispatch: pd.DataFrame, people: pd.DataFrame, dt: float) -> pd.DataFrame:
    """Per (day, participant): consumption and its grid-origin part, by proportional sharing (loops)."""
    d = dispatch.sort_values(["day", "interval", "participant"])
    fraction = dict.fromkeys(people.participant, 1.0)  # battery content before the run: grid
    eta = dict(zip(people.participant, people.charge_efficiency, strict=True))
    rows = []
    for (day, _), group in d.groupby(["day", "interval"], sort=True):
        g = group.set_index("participant")
        own, own_grid, mix = {}, {}, {}
        for p, r in g.iterrows():
            grid = (r.grid_import_kw + r.imbalance_import_kw) * dt
            own[p] = max(r.pv_kw - r.curtail_kw, 0) * dt + r.discharge_kw * dt + grid
            own_grid[p] = fraction[p] * r.discharge_kw * dt + grid
            mix[p] = own_grid[p] / own[p] if own[p] > 1e-12 else 0.0
        sold = {p: min(r.pool_sell_kw * dt, own[p]) for p, r in g.iterrows()}
        pool = sum(sold[p] * mix[p] for p in sold) / sum(sold.values()) if sum(sold.values()) > 1e-12 else 0.0
        for p, r in g.iterrows():
            buy, sell = r.pool_buy_kw * dt, r.pool_sell_kw * dt
            rest = own[p] + buy - sell
            rest_grid = own_grid[p] - mix[p] * sold[p] + pool * (buy - (sell - sold[p]))
            m = min(max(rest_grid / rest, 0.0), 1.0) if rest > 1e-12 else mix[p]
            use = max(r.load_kw + r.shift_kw, 0) * dt
            rows.append({"day": day, "participant": p, "use_kwh": use, "grid_origin_kwh": m * use})
            stored, level = eta[p] * r.charge_kw * dt, r.soc_kwh
            if level > 1e-12:
                fraction[p] = min(max((fraction[p] * max(level - stored, 0) + m * stored) / level, 0.0), 1.0)
            elif stored > 1e-12:
                fraction[p] = m
    return pd.DataFrame(rows).groupby(["day", "participant"], as_index=False).sum()


def outcomes(frame: pd.DataFrame, days: float) -> pd.DataFrame:
    s = frame.groupby("participant").agg(bill=("bill", "sum"), standalone_bill=("standalone_bill", "sum"),
                                         benefit=("benefit", "sum"), need=("need_cost", "sum"),
                                         use=("use_kwh", "sum"), grid=("grid_origin_kwh", "sum"),
                                         income=("income_per_year", "first"), cls=("socio_class", "first"))
    s = s[~s.cls.isin(EXCLUDED)]
    s["r"] = s.benefit / s.need.where(s.need > 0)
    s["burden"] = s.bill.clip(lower=0) * DAYS_PER_YEAR / days / s.income
    s["burden_alone"] = s.standalone_bill.clip(lower=0) * DAYS_PER_YEAR / days / s.income
    s["access"] = 1 - s.grid / s.use.where(s.use > 0)
    return s


def equity_daily(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    days = sorted(frame.day.unique())
    for k, day in enumerate(days):
        row = {"day": day}
        for scope, window, span in (("daily", frame[frame.day == day], 1.0),
                                    ("cumulative", frame[frame.day <= day], float(k + 1))):
            o = outcomes(window, span)
            row |= {f"gini_relative_benefit_{scope}": gini(o.r), f"gini_energy_burden_{scope}": gini(o.burden),
                    f"gini_renewable_access_{scope}": gini(o.access),
                    f"min_relative_saving_pct_{scope}": 100 * o.r.min(),
                    f"losers_pct_{scope}": 100 * (o.benefit < -1e-9).mean()}
        rows.append(row)
    return pd.DataFrame(rows)


def trend(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2:
        return np.nan, np.nan, np.nan
    slope, intercept = np.polyfit(x, y, 1)
    if x.size < 3:
        return slope, np.nan, np.nan
    residual = y - (slope * x + intercept)
    se = np.sqrt((residual**2).sum() / (x.size - 2) / ((x - x.mean()) ** 2).sum())
    half = stats.t.ppf(0.975, x.size - 2) * se
    return slope, slope - half, slope + half


def recompute(directory) -> tuple[dict, pd.DataFrame]:
    """summary.json rebuilt from the directory's tables (and equity_daily rebuilt from the ledger)."""
    read = lambda name: pd.read_parquet(directory / f"{name}.parquet")  # noqa: E731
    run_json = json.loads((directory / "run.json").read_text())
    dt = run_json["settings"]["interval_minutes"] / 60
    dispatch, bills, people = read("dispatch"), read("bills"), read("participants")
    days = dispatch.day.nunique()
    origin = grid_origin(dispatch, people, dt)
    frame = bills.merge(origin, on=["day", "participant"]).merge(
        people[["participant", "socio_class", "income_per_year"]], on="participant")
    by_time = dispatch.groupby(["day", "interval"]).sum(numeric_only=True)
    net = by_time.grid_import_kw + by_time.imbalance_import_kw - by_time.grid_export_kw - by_time.imbalance_export_kw
    alone_peak = dispatch.groupby(["day", "interval"]).standalone_net_import_kw.sum().max()
    raw, peak = by_time.load_kw.max(), max(net.max(), 0)
    pv = by_time.pv_kw.sum() * dt
    out = by_time.grid_export_kw.sum() * dt + by_time.imbalance_export_kw.sum() * dt
    o = outcomes(frame, days)
    s = {"days": float(days), "total_cost": bills.bill.sum(), "standalone_total_cost": bills.standalone_bill.sum(),
         "cooperative_gain": bills.benefit.sum(), "cooperative_gain_per_day": bills.benefit.sum() / days,
         "peak_kw": peak, "raw_load_peak_kw": raw, "standalone_peak_kw": alone_peak,
         "peak_reduction_pct": 100 * (1 - peak / raw),
         "peak_reduction_vs_standalone_pct": 100 * (1 - peak / alone_peak),
         "self_sufficiency_pct": 100 * (1 - origin.grid_origin_kwh.sum() / origin.use_kwh.sum()),
         "solar_utilisation_pct": 100 * max(pv - by_time.curtail_kw.sum() * dt - out, 0) / pv if pv > 0 else 0.0,
         "gini_relative_benefit": gini(o.r), "gini_energy_burden": gini(o.burden),
         "gini_energy_burden_standalone": gini(o.burden_alone), "gini_renewable_access": gini(o.access),
         "jain_renewable_access": jain(o.access), "min_relative_saving_pct": 100 * o.r.min(),
         "losers_pct": 100 * (o.benefit < -1e-9).mean(), "pool_energy_kwh": dispatch.pool_buy_kw.sum() * dt,
         "member_days_paying_more_than_alone": float((bills.bill > bills.standalone_bill + 1e-9).sum()),
         "solve_time_s": read("solver_records").solve_time_s.sum()}
    if (directory / "settlement_days.parquet").exists():  # settled by a rule: the gap from the game to the gain
        table = read("settlement_days")
        realised = (bills.standalone_bill - bills.market_bill).sum()
        s |= {"settlement_game_value": table.game_value.sum(), "settlement_realised_gain": realised,
              "settlement_dispatch_gap": table.dispatch_gap.sum(),
              "settlement_forecast_gap": table.game_value.sum() - table.dispatch_gap.sum() - realised}
    daily = equity_daily(frame)
    for column in [c for c in daily if c.startswith("gini_")]:
        slope, low, high = trend(daily.day, daily[column])
        s |= {f"{column}_first": daily[column].iloc[0], f"{column}_last": daily[column].iloc[-1],
              f"{column}_slope_per_day": slope, f"{column}_slope_ci95_low": low, f"{column}_slope_ci95_high": high}
    classes = o.assign(paid=o.bill.clip(lower=0), earn=(-o.bill).clip(lower=0)).groupby("cls")
    s["per_class"] = {c: {"n": len(g), "bill": g.bill.mean(), "standalone_bill": g.standalone_bill.mean(),
                          "benefit": g.benefit.mean(), "relative_saving_pct": 100 * g.benefit.sum() / g.need.sum(),
                          "energy_burden_pct": 100 * g.paid.sum() * DAYS_PER_YEAR / days / g.income.sum(),
                          "earnings": g.earn.sum(), "renewable_access_pct": 100 * (1 - g.grid.sum() / g.use.sum())}
                      for c, g in classes}
    if (directory / "allocation.parquet").exists():
        s |= allocation_figures(read("allocation"), read("allocation_core"), read("allocation_days"))
        if "settlement_game_value" in s:  # the day loop's game is the stage's
            assert s["settlement_game_value"] == pytest.approx(s["cooperative_gain_game"])
    if (directory / "explain_fidelity.parquet").exists():
        fidelity = read("explain_fidelity")
        s["explain_r2_heldout"] = fidelity[fidelity.kind == "benefit"].r2_heldout.iloc[0]
    return s, daily


CORE_SUFFIX = {"exact": "", "exact (MILP oracle)": "_milp_oracle", "exact (LP-dual bounds)": "_dual_bounds",
               "sampled lower bound": "_sampled_lower_bound"}


def allocation_figures(per: pd.DataFrame, core: pd.DataFrame, days: pd.DataFrame) -> dict:
    s = {"cooperative_gain_game": days.cooperative_gain.sum()}
    assert per[per.rule == "shapley"].amount.sum() == pytest.approx(s["cooperative_gain_game"])  # efficiency
    households = per[~per.socio_class.isin(EXCLUDED)]
    for rule, g in households.groupby("rule"):
        amount = np.where(np.abs(g.amount) <= 1e-9, 0.0, g.amount)
        s[f"allocation_{rule}_gini_relative_benefit"] = gini(amount / g.need_cost.to_numpy())
    for rule, checks in core.groupby("rule"):  # one row per day: the largest over days, the days violated
        labels = set(checks.core_check)
        label = next(k for k in ("sampled lower bound", "exact (LP-dual bounds)", "exact (MILP oracle)", "exact")
                     if k in labels)
        assert (checks.max_core_excess[checks.violated] > 0).all()
        assert (checks.max_core_excess[~checks.violated] <= 1e-6).all()
        s[f"allocation_{rule}_max_core_excess{CORE_SUFFIX[label]}"] = checks.max_core_excess.max()
        s[f"allocation_{rule}_core_violated_days{CORE_SUFFIX[label]}"] = float(checks.violated.sum())
    poorest = households.groupby("socio_class").income_per_year.median().idxmin()
    share = households[households.socio_class == poorest].groupby("rule").amount.sum()
    exact = households[households.rule.isin(["weighted_shapley", "equitable_core"])].exact.all()
    suffix = "" if exact else "_estimate"
    s |= {f"stability_weighted_shapley{suffix}": share["weighted_shapley"],
          f"stability_equitable_core{suffix}": share["equitable_core"],
          f"stability_cost_of_stability{suffix}": share["weighted_shapley"] - share["equitable_core"]}
    if not exact:  # the sampled class total's standard error: independent days add in quadrature
        s["stability_cost_of_stability_estimate_se"] = np.sqrt((days.least_advantaged_weighted_shapley_se**2).sum())
    return s


def assert_same(written: dict, rebuilt: dict, where: str = "") -> None:
    assert written.keys() == rebuilt.keys(), (where, sorted(written.keys() ^ rebuilt.keys()))
    for key, value in written.items():
        if isinstance(value, dict):
            assert_same(value, rebuilt[key], f"{where}{key}.")
        elif value is None:  # JSON null: NaN in the run (a trend of fewer than 3 days)
            assert not np.isfinite(rebuilt[key]), f"{where}{key}"
        else:
            assert value == pytest.approx(rebuilt[key], rel=1e-7, abs=1e-9), f"{where}{key}"


def repeat_days(study, days: int):
    """The tiny study over ``days`` days (its one-day profiles repeated; the battery carries over)."""
    community = study.community
    people = tuple(replace(p, load_kw=np.tile(p.load_kw, days), pv_kw=np.tile(p.pv_kw, days))
                   for p in community.participants)
    return replace(study, days=days, community=replace(community, participants=people))


def written_run(study, directory):
    result = run(study)
    write_run(result, directory, writers=finish_run(result))
    return directory


@pytest.mark.parametrize(("market", "rule"), [("eqwm_v1", "market"), ("mid_market_rate_v1", "market"),
                                             ("mid_market_rate_v1", "equitable_core")])
def test_tiny_summary_recomputed_from_its_tables(tiny_study, tmp_path, market, rule):
    # three days, every stage (allocation, coordinator, explanation): every key of summary.json; settled by the
    # market or by a rule (every figure on what members pay)
    study = replace(repeat_days(tiny_study, 3), market=market, forecast_error=0.1, settlement_rule=rule)
    directory = written_run(study, tmp_path / "tiny")
    summary = json.loads((directory / "summary.json").read_text())
    rebuilt, daily = recompute(directory)
    assert_same(summary, rebuilt)
    pd.testing.assert_frame_equal(pd.read_parquet(directory / "equity_daily.parquet")[daily.columns], daily,
                                  check_dtype=False, rtol=1e-7, atol=1e-9)
    assert "explain_r2_heldout" in summary and "allocation_shapley_max_core_excess" in summary


def test_rural_summary_recomputed_from_its_tables(rural_study, tmp_path):
    # batteries (a community battery included), the pool and forecast errors; allocation and explanation off
    study = replace(rural_study, days=2, seed=0, allocation=False, explain=False)
    directory = written_run(study, tmp_path / "rural")
    assert_same(json.loads((directory / "summary.json").read_text()), recompute(directory)[0])


@pytest.mark.parametrize(("rowgen_max", "oracle", "suffix"),
                         [(16, "bounds", "_dual_bounds"), (16, "milp", "_milp_oracle"), (1, "bounds", "")])
def test_sampled_allocation_summary_recomputed(tiny_study, tmp_path, rowgen_max, oracle, suffix):
    # above exact_max_players: sampled Shapley values, the core check by an exact oracle, the cost of stability
    # an estimate carrying its standard error. Above rowgen_max_players the check samples coalitions, but at
    # n = 3 the samples cover all six, so it is labelled exact (keys without a suffix)
    from p2psim.energy_game.allocate import AllocationOptions
    from p2psim.energy_game.stage import allocation_stage

    result = run(replace(repeat_days(tiny_study, 3), forecast_error=0.1))
    options = AllocationOptions(seed=0, exact_max_players=1, rowgen_max_players=rowgen_max, core_check_budget=2,
                                workers=1, core_oracle=oracle)
    directory = tmp_path / "tiny"
    write_run(result, directory, writers=(allocation_stage(result, options),))
    summary = json.loads((directory / "summary.json").read_text())
    assert_same(summary, recompute(directory)[0])
    assert f"allocation_shapley_max_core_excess{suffix}" in summary
    assert f"allocation_owen_core_violated_days{suffix}" in summary
    # with the bounds oracle at n = 3 every coalition is costed before sampling: the control variate is the
    # game itself and the estimate has no error left
    se = summary["stability_cost_of_stability_estimate_se"]
    assert se == pytest.approx(0.0, abs=1e-12) if (oracle, rowgen_max) == ("bounds", 16) else se > 0
    core = pd.read_parquet(directory / "allocation_core.parquet")
    # the oracle proves the largest excess: the number of violated coalitions is known only when it is 0
    assert (core.violated_coalitions.isna() == (core.violated & (rowgen_max > 1))).all()
