"""Run a study end to end: scenario -> co-simulation -> settlement -> metrics -> run directory.

:func:`run` returns a :class:`RunResult`; :func:`write_run` writes it atomically (everything goes to
a temporary sibling directory that is renamed into place only when complete, so a failed run leaves
nothing half-written).
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from p2psim.data.community import build_scenario
from p2psim.markets import make_market, resolve_market_name
from p2psim.metrics import summarise
from p2psim.model import CommunityModel, DayHook, RunOptions
from p2psim.outputs import staging_directory
from p2psim.scenario import Scenario
from p2psim.study import Study, check_study

VERSIONED_PACKAGES = ("p2psim", "numpy", "scipy", "pandas", "highspy", "mesa", "simpy", "networkx", "simbench")


@dataclass
class RunResult:
    """Everything a finished run produced."""

    study: Study
    scenario: Scenario
    summary: dict[str, float]
    participants: pd.DataFrame
    per_class: pd.DataFrame
    dispatch: pd.DataFrame
    trades: pd.DataFrame
    bills: pd.DataFrame
    solver_records: list[dict[str, Any]]
    day_results: list[dict[str, Any]]
    timings_s: dict[str, float]
    extras: dict[str, Any] = field(default_factory=dict)
    """Later stages (allocation, coordinator, explanations) add their tables here."""
    equity_daily: pd.DataFrame | None = None
    """Per day: the inequity of that day's outcomes and of the outcomes accumulated to it
    (:func:`p2psim.equity.trajectory`), written as ``equity_daily.parquet``."""


def participant_table(scenario: Scenario) -> pd.DataFrame:
    """One row per participant with its static attributes."""
    distance = scenario.feeder.distance_km
    return pd.DataFrame(
        {
            "participant": [p.id for p in scenario.participants],
            "kind": [p.kind for p in scenario.participants],
            "socio_class": [p.socio_class for p in scenario.participants],
            "income_per_year": [p.income_per_year for p in scenario.participants],
            "bus": [p.bus for p in scenario.participants],
            "distance_km": [distance.get(p.bus, np.nan) for p in scenario.participants],
            "pv_peak_kw": [p.pv_peak_kw for p in scenario.participants],
            "battery_kwh": [p.battery.capacity_kwh if p.battery else 0.0 for p in scenario.participants],
            "charge_efficiency": [p.battery.charge_efficiency if p.battery else 1.0 for p in scenario.participants],
            "flexible_share": [p.flexible_share for p in scenario.participants],
        }
    )


def run_options(study: Study) -> RunOptions:
    """The model options a study asks for."""
    return RunOptions(
        forecast_error=study.forecast_error,
        equity=study.equity,
        solver=study.solver,
        enforce_feeder=study.enforce_feeder,
        market_options=dict(study.market_options),
    )


def community_stream(seed: int) -> np.random.Generator:
    """The stream that builds the community (classes, incomes, profile diversity) from the seed."""
    return np.random.default_rng(np.random.SeedSequence([seed, 1]))


def run(
    study: Study, *, progress: Callable[[int], None] | None = None, day_hooks: tuple[DayHook, ...] = ()
) -> RunResult:
    """Run ``study`` (already overridden) and return its results; nothing is written."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    study = check_study(replace(study, market=resolve_market_name(study.market)))
    scenario = build_scenario(study, community_stream(study.seed))
    timings["build_scenario_s"] = time.perf_counter() - start
    from p2psim.coordinator import coordinator_hooks

    coordinator, note = coordinator_hooks(study)
    model = CommunityModel(
        scenario,
        make_market(study.market),
        seed=study.seed,
        options=run_options(study),
        day_hooks=(*coordinator, *day_hooks),
    )
    tick = time.perf_counter()
    model.run(progress)
    timings["simulate_s"] = time.perf_counter() - tick
    participants = participant_table(scenario)
    dispatch, bills = model.ledger.dispatch, model.ledger.bills
    summary, per, per_class, equity_daily = summarise(
        dispatch,
        bills,
        participants,
        interval_hours=scenario.interval_hours,
        days=scenario.days,
        standalone_peak_kw=max(r["standalone_peak_kw"] for r in model.day_results),
    )
    records = model.ledger.solver_records
    summary["solve_time_s"] = float(sum(r.get("solve_time_s", 0.0) for r in records))
    timings["total_s"] = time.perf_counter() - start
    return RunResult(
        study,
        scenario,
        summary,
        per,
        per_class,
        dispatch,
        model.ledger.trades,
        bills,
        records,
        model.day_results,
        timings,
        extras={"coordinator_note": note} if note else {},
        equity_daily=equity_daily,
    )


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def versions() -> dict[str, str]:
    """Installed versions of the packages that decide results."""
    out = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def study_settings(study: Study) -> dict[str, Any]:
    """The study's settings as JSON (the community's arrays left out)."""
    settings = _jsonable({k: v for k, v in study.__dict__.items() if k != "community"})
    community = study.community
    settings["community"] = (
        {"explicit": [p.id for p in community.participants]}
        if hasattr(community, "participants")
        else _jsonable(community)
    )
    return settings


def write_tables(result: RunResult, directory: Path) -> None:
    """Write the run's Parquet tables, summary.json and run.json into ``directory``."""
    result.dispatch.to_parquet(directory / "dispatch.parquet", index=False)
    result.trades.to_parquet(directory / "trades.parquet", index=False)
    result.bills.to_parquet(directory / "bills.parquet", index=False)
    result.participants.to_parquet(directory / "participants.parquet", index=False)
    if result.equity_daily is not None:
        result.equity_daily.to_parquet(directory / "equity_daily.parquet", index=False)
    pd.DataFrame(result.solver_records).to_parquet(directory / "solver_records.parquet", index=False)
    summary = dict(result.summary)
    summary["per_class"] = result.per_class.set_index("socio_class").to_dict(orient="index")
    (directory / "summary.json").write_text(json.dumps(_jsonable(summary), indent=2, sort_keys=True))
    run_json = {
        "study": result.study.name,
        "seed": result.study.seed,
        "market": result.study.market,
        "settings": study_settings(result.study),
        "scenario_source": result.scenario.source,
        "versions": versions(),
        "timings_s": result.timings_s,
        "solver_records": result.solver_records,
        "solvers_used": sorted({r.get("backend", "") for r in result.solver_records} - {""}),
    }
    (directory / "run.json").write_text(json.dumps(_jsonable(run_json), indent=2))


def write_run(
    result: RunResult,
    out: str | Path,
    *,
    report: bool = True,
    writers: tuple[Callable[[RunResult, Path], None], ...] = (),
) -> Path:
    """Write tables, summary, run metadata and report to ``out`` atomically; return the path."""
    out = Path(out)
    with staging_directory(out) as staging:
        write_tables(result, staging)
        for writer in writers:
            writer(result, staging)
        if report:
            from p2psim.report import write_report

            write_report(result, staging)
    return out
