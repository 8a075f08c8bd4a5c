"""A synthetic run directory whose allocation is a known function of one feature (tests, docs).

``synthetic_run(directory, driver="distance_km")`` writes the files a real run writes
(participants, dispatch, bills, allocation_daily, summary.json, run.json, the report) for a made-up
community in which every participant's daily weighted Shapley allocation is
``2 * (z-score of the driver) + small noise``. An explanation of it must rank the driver first.
Seeded and fast (no market, no solver).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from p2psim.metrics import summarise
from p2psim.outputs import write_marker

CLASSES = ("low", "middle", "high")
INCOME = {"low": 18_000.0, "middle": 42_000.0, "high": 85_000.0}


def _participants(n: int, rng: np.random.Generator) -> pd.DataFrame:
    classes = [CLASSES[k % 3] for k in range(n)]
    return pd.DataFrame({
        "participant": [f"hh-{k:03d}" for k in range(n)], "kind": "household", "socio_class": classes,
        "income_per_year": [INCOME[c] * float(rng.lognormal(0, 0.2)) for c in classes],
        "bus": [f"b{k}" for k in range(n)], "distance_km": rng.uniform(0.05, 1.0, n),
        "pv_peak_kw": np.where(rng.random(n) < 0.5, rng.uniform(3, 10, n), 0.0),
        "battery_kwh": np.where(rng.random(n) < 0.3, 10.0, 0.0), "charge_efficiency": 1.0, "flexible_share": 0.1,
    })


def _dispatch(people: pd.DataFrame, days: int, rng: np.random.Generator) -> pd.DataFrame:
    hours = np.arange(24)
    sun = np.clip(np.sin((hours - 6) / 12 * np.pi), 0, None)
    frames = []
    for day in range(days):
        weather = rng.uniform(0.3, 1.0)
        for row in people.itertuples():
            load = rng.uniform(0.2, 1.5) * (1 + 0.8 * np.exp(-((hours - rng.integers(7, 21)) ** 2) / 6))
            pv = row.pv_peak_kw * weather * sun
            net = load - pv
            frames.append(pd.DataFrame({
                "day": day, "interval": hours, "timestamp": pd.Timestamp("2016-06-01") + pd.to_timedelta(
                    day * 24 + hours, unit="h"), "participant": row.participant, "load_kw": load, "pv_kw": pv,
                "curtail_kw": 0.0, "charge_kw": 0.0, "discharge_kw": 0.0, "shift_kw": 0.0,
                "grid_import_kw": np.clip(net, 0, None), "grid_export_kw": np.clip(-net, 0, None),
                "pool_buy_kw": 0.0, "pool_sell_kw": 0.0, "imbalance_import_kw": 0.0, "imbalance_export_kw": 0.0,
                "pool_price_per_kwh": 0.2, "soc_kwh": 0.0, "load_forecast_kw": load, "pv_forecast_kw": pv,
            }))
    return pd.concat(frames, ignore_index=True)


def synthetic_run(directory: str | Path, *, driver: str = "distance_km", days: int = 5, n: int = 12, seed: int = 0,
                  allocation: bool = True, report: bool = True) -> Path:
    """Write the synthetic run directory (see module docstring) and return its path."""
    from p2psim.explain.features import build_samples
    from p2psim.report import rewrite_report

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    people = _participants(n, rng)
    dispatch = _dispatch(people, days, rng)
    imports = dispatch.assign(cost=0.3 * dispatch.grid_import_kw - 0.08 * dispatch.grid_export_kw,
                              need_cost=0.3 * dispatch.load_kw).groupby(
        ["day", "participant"], sort=False)[["cost", "need_cost"]].sum().reset_index()
    bills = imports.rename(columns={"cost": "standalone_bill"})
    bills[["energy_cost", "pool_cost", "fee_cost", "imbalance_cost", "peak_charge"]] = 0.0
    bills["benefit"], bills["bill"] = 0.0, bills.standalone_bill
    stub = {"participants": people, "dispatch": dispatch, "bills": bills}
    for name, frame in stub.items():
        frame.to_parquet(directory / f"{name}.parquet", index=False)
    run = {"study": "synthetic", "seed": seed, "market": "none",
           "scenario_source": "synthetic (p2psim.explain.synthetic)",
           "settings": {"days": days, "interval_minutes": 60, "equity": {"benefit_floor": 1.0}},
           "solver_records": [], "timings_s": {}}
    (directory / "run.json").write_text(json.dumps(run))
    samples = build_samples(directory)
    value = samples[driver].to_numpy(float)
    amount = 2.0 * (value - value.mean()) / (value.std() or 1.0) + rng.normal(0, 0.05, len(value))
    daily = samples[["day", "participant"]].assign(rule="weighted_shapley", amount=amount, std_error=0.0, exact=True)
    daily = daily.merge(bills[["day", "participant", "standalone_bill"]], on=["day", "participant"]).rename(
        columns={"standalone_bill": "standalone_cost"})
    bills = bills.drop(columns="benefit").merge(daily[["day", "participant", "amount"]].rename(
        columns={"amount": "benefit"}), on=["day", "participant"])
    bills["bill"] = bills.standalone_bill - bills.benefit
    bills.to_parquet(directory / "bills.parquet", index=False)
    if allocation:
        daily.to_parquet(directory / "allocation_daily.parquet", index=False)
    summary, per, per_class, _ = summarise(dispatch, bills, people, interval_hours=1.0, days=days,
                                           standalone_peak_kw=float(dispatch.groupby("timestamp").load_kw.sum().max()))
    per.to_parquet(directory / "participants.parquet", index=False)
    summary["per_class"] = per_class.set_index("socio_class").to_dict(orient="index")
    (directory / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    if report:
        rewrite_report(directory, [])
    write_marker(directory, "run", [p.name for p in directory.iterdir()])
    return directory


def synthetic_coordinator_log(days: int = 30, seed: int = 0) -> pd.DataFrame:
    """A coordinator log: the next day's low-income weight rises by 0.5 x the day's Gini (other weights noise)."""
    rng = np.random.default_rng(seed)
    gini = rng.uniform(0.1, 0.6, days)
    burden = rng.uniform(0.02, 0.1, days)
    low = 1.0 + np.cumsum(np.r_[0.0, 0.5 * gini[:-1]])
    return pd.DataFrame({"day": np.arange(days), "obs_gini": gini, "obs_burden_low": burden,
                         "obs_pv_share": rng.uniform(0, 1, days), "weight_low": low,
                         "weight_high": 1.0 + rng.normal(0, 0.01, days)})
