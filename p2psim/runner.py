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

from p2psim.allocate import allocation_options
from p2psim.data.community import build_scenario
from p2psim.markets import make_market, resolve_market_name
from p2psim.metrics import summarise
from p2psim.model import CommunityModel, DayHook, RunOptions
from p2psim.scenario import Scenario
from p2psim.settlement_rule import settlement_summary, settlement_table
from p2psim.study import Study
from p2psim.study_checks import check_study

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
    """Seconds per stage in order, and ``total_s``: from the start of the run to the last stamp
    (:meth:`stamp_total`), so it is never less than the sum of the stages."""
    extras: dict[str, Any] = field(default_factory=dict)
    """Later stages (allocation, coordinator, explanations) add their tables here."""
    devices: pd.DataFrame = field(default_factory=pd.DataFrame)
    """One row per (device, day, interval) in runs with devices (written as devices.parquet)."""
    equity_daily: pd.DataFrame | None = None
    """Per day: the inequity of that day's outcomes and of the outcomes accumulated to it
    (:func:`p2psim.equity.trajectory`), written as ``equity_daily.parquet``."""
    settlement_days: pd.DataFrame | None = None
    """Per day of a run settled by an allocation rule: the game value, the realised gain and the gap
    between them (:mod:`p2psim.settlement_rule`), written as ``settlement_days.parquet``; None under
    ``market``."""
    started_s: float = field(default_factory=time.perf_counter)
    """``time.perf_counter()`` when the run started."""

    def stamp_total(self) -> float:
        """Set ``timings_s["total_s"]`` to the time since the run started (kept as the last entry)."""
        self.timings_s.pop("total_s", None)
        self.timings_s["total_s"] = time.perf_counter() - self.started_s
        return self.timings_s["total_s"]


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


def device_kinds(model: CommunityModel) -> list[str]:
    """The kinds of every participant's devices, comma-separated ('' for none), in ledger order."""
    fleet = model.fleet
    owner = np.concatenate([fleet.storage.owner, fleet.tasks.owner]).astype(int)
    kinds = (*fleet.storage.kind, *("shiftable",) * len(fleet.tasks.owner))
    out: list[list[str]] = [[] for _ in model.ids]
    for k, kind in zip(owner, kinds, strict=True):
        if kind not in out[k]:
            out[k].append(kind)
    return [", ".join(names) for names in out]


def run_options(study: Study) -> RunOptions:
    """The model options a study asks for."""
    return RunOptions(
        forecast_error=study.forecast_error,
        equity=study.equity,
        solver=study.solver,
        enforce_feeder=study.enforce_feeder,
        market_options=dict(study.market_options),
        settlement_rule=study.settlement_rule,
        allocation=allocation_options(study),
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
    timings["setup_s"] = tick - start - timings["build_scenario_s"]
    model.run(progress)
    timings["simulate_s"] = time.perf_counter() - tick
    tick = time.perf_counter()
    participants = participant_table(scenario)
    participants["devices"] = device_kinds(model)
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
    settlement_days = settlement_table(model.day_results)
    summary.update(settlement_summary(settlement_days))
    timings["summarise_s"] = time.perf_counter() - tick
    result = RunResult(
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
        devices=model.ledger.devices,
        started_s=start,
        equity_daily=equity_daily,
        settlement_days=settlement_days,
    )
    result.stamp_total()
    return result


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
    """Write the run's Parquet tables and summary.json into ``directory``."""
    result.dispatch.to_parquet(directory / "dispatch.parquet", index=False)
    result.trades.to_parquet(directory / "trades.parquet", index=False)
    result.bills.to_parquet(directory / "bills.parquet", index=False)
    result.participants.to_parquet(directory / "participants.parquet", index=False)
    if result.equity_daily is not None:
        result.equity_daily.to_parquet(directory / "equity_daily.parquet", index=False)
    if result.settlement_days is not None:
        result.settlement_days.to_parquet(directory / "settlement_days.parquet", index=False)
    pd.DataFrame(result.solver_records).to_parquet(directory / "solver_records.parquet", index=False)
    if len(result.devices):
        result.devices.to_parquet(directory / "devices.parquet", index=False)
    summary = dict(result.summary)
    summary["per_class"] = result.per_class.set_index("socio_class").to_dict(orient="index")
    (directory / "summary.json").write_text(json.dumps(_jsonable(summary), indent=2, sort_keys=True))


def write_run_json(result: RunResult, directory: Path) -> None:
    """Write run.json (settings, versions, solver calls, timings up to now) into ``directory``."""
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


def write_run_into(
    result: RunResult,
    directory: Path,
    *,
    report: bool = True,
    writers: tuple[Callable[[RunResult, Path], None], ...] = (),
) -> None:
    """Write tables, stage outputs, report and (last, with the final timings) run.json into ``directory``."""
    start = time.perf_counter()
    write_tables(result, directory)
    for writer in writers:
        writer(result, directory)
    if report:
        from p2psim.report import write_report

        write_report(result, directory)
    result.timings_s["write_s"] = time.perf_counter() - start
    result.stamp_total()
    write_run_json(result, directory)


def write_run(
    result: RunResult,
    out: str | Path,
    *,
    report: bool = True,
    writers: tuple[Callable[[RunResult, Path], None], ...] = (),
) -> Path:
    """Write the run directory ``out`` atomically (staged, see :mod:`p2psim.outputs`); return the path."""
    from p2psim.staging import output_directory

    with output_directory(out, "run") as staging:
        write_run_into(result, staging, report=report, writers=writers)
    return Path(out)
