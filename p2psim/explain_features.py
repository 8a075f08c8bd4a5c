"""Participant-day samples for the explanations: features and benefit targets of one or more runs.

A sample is one participant on one day (the aggregator's community battery, class ``community``,
is left out: it has no household to explain). Features (``FEATURES``, all numbers):

- ``class_rank``: the socio-economic class as an ordinal, classes ranked by their median income
  (0 = poorest class); one column keeps the class's attribution in one place.
- ``income_k``: income per year in thousands.
- ``load_kwh``, ``peak_load_kw``: the day's load energy and own peak load.
- ``pv_peak_kw``, ``pv_kwh``: PV size and the PV energy available that day (size x weather).
- ``battery_kwh``: own battery size.
- ``surplus_load_kwh``: own load in the day's intervals when the community's PV exceeds its load
  (how much local solar the participant can absorb).
- ``peak_coincidence``: own load in the community's peak-load interval of the day / own peak load
  (1 = the participant peaks when the community peaks).
- ``export_share``: energy sent out (grid export + pool sales) / PV energy available that day
  (0 without PV).
- ``distance_km``: feeder distance to the transformer.
- ``community_pv_kwh``: the community's PV energy that day (the day's context: sunny or not).
- ``community_battery_kwh``: capacity of the community (aggregator) storage in the run (0 = none).
- ``storage_pool_share``: share of the day's pool energy that came from batteries (discharge sold
  into the pool), the community's access to storage that day.

Targets (``TARGETS``): ``weighted_shapley`` (the day's weighted Shapley allocation, from
``allocation_daily``), ``market`` (the settled benefit of the day, from ``bills``) and
``normalised`` (market benefit / need, the relative benefit of :mod:`p2psim.equity`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from p2psim.errors import P2PSimError
from p2psim.metrics import EQUITY_EXCLUDED_CLASSES

FEATURES = (
    "class_rank", "income_k", "load_kwh", "peak_load_kw", "pv_peak_kw", "pv_kwh", "battery_kwh",
    "surplus_load_kwh", "peak_coincidence", "export_share", "distance_km", "community_pv_kwh",
    "community_battery_kwh", "storage_pool_share",
)
FEATURE_LABELS = {
    "class_rank": "income class", "income_k": "income", "load_kwh": "daily load energy",
    "peak_load_kw": "own peak load", "pv_peak_kw": "PV size", "pv_kwh": "PV energy that day",
    "battery_kwh": "home battery size", "surplus_load_kwh": "load in community-surplus hours",
    "peak_coincidence": "peak coincidence with the community",
    "export_share": "share of PV exported", "distance_km": "feeder distance",
    "community_pv_kwh": "community PV that day",
    "community_battery_kwh": "community battery", "storage_pool_share": "pool energy from storage",
}
TARGETS = {
    "settled": "benefit as paid under the settlement rule ({currency}/day)",
    "weighted_shapley": "weighted Shapley benefit ({currency}/day)",
    "market": "market settlement benefit ({currency}/day)",
    "normalised": "relative saving (benefit as paid / need)",
}
"""Explanation targets per participant-day. ``settled``: stand-alone bill minus what the member pays under
the study's settlement rule (only in runs settled by a rule: under ``market`` it is ``market``);
``weighted_shapley``: the allocation stage's day-ahead amount; ``market``: stand-alone bill minus the
market bill; ``normalised``: the benefit as paid over the need."""


def target_label(target: str, currency: str) -> str:
    """The label of an explanation target with the study's currency."""
    return TARGETS.get(target, target).replace("{currency}", currency)


class ExplanationInputError(P2PSimError, ValueError):
    """An explanation was asked of a run that lacks what it needs (allocations, enough days)."""


RUN_TABLES = ("participants.parquet", "dispatch.parquet", "bills.parquet", "run.json")


def check_run_files(directory: Path, required: tuple[str, ...] = RUN_TABLES) -> None:
    """ExplanationInputError naming the first missing ``required`` file or damaged JSON/Parquet file."""
    import pyarrow.parquet as pq

    rerun = f"write the run again: python -m p2psim STUDY.py --out {directory}"
    missing = [f for f in required if not (directory / f).is_file()]
    if missing:
        raise ExplanationInputError(f"{directory} is not a complete run directory (missing {', '.join(missing)}); "
                                    f"{rerun}")
    for path in sorted(directory.iterdir()):
        if path.suffix not in (".json", ".parquet") or not path.is_file():
            continue
        try:
            json.loads(path.read_text()) if path.suffix == ".json" else pq.read_table(path)
        except Exception as exc:  # any reader error means the file is damaged; name it, never a traceback
            reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise ExplanationInputError(f"{path} is damaged or truncated ({reason}); {rerun}") from None


@dataclass
class RunData:
    """The tables of one finished run that the explanations read."""

    name: str
    participants: pd.DataFrame
    dispatch: pd.DataFrame
    bills: pd.DataFrame
    interval_hours: float
    benefit_floor: float = 1.0
    allocation_daily: pd.DataFrame | None = None
    coordinator: pd.DataFrame | None = None
    currency: str = "EUR"
    settlement_rule: str = "market"
    """What members were paid by (``Study.settlement_rule``)."""

    @classmethod
    def from_result(cls, result) -> RunData:
        """The tables of an in-memory :class:`~p2psim.runner.RunResult`."""
        allocation = result.extras.get("allocation") or {}
        coordinator = result.extras.get("coordinator")
        if isinstance(coordinator, dict):
            coordinator = coordinator.get("log")
        return cls(
            name=result.study.name, participants=result.participants, dispatch=result.dispatch,
            bills=result.bills, interval_hours=result.scenario.interval_hours,
            benefit_floor=float(result.study.equity.benefit_floor), allocation_daily=allocation.get("daily"),
            coordinator=coordinator if isinstance(coordinator, pd.DataFrame) else None,
            currency=result.scenario.tariffs.currency, settlement_rule=result.study.settlement_rule,
        )

    @classmethod
    def from_directory(cls, directory: str | Path) -> RunData:
        """The tables of a run directory written by :func:`p2psim.runner.write_run`."""
        directory = Path(directory)
        check_run_files(directory)
        run = json.loads((directory / "run.json").read_text())
        settings: dict[str, Any] = run.get("settings", {})
        minutes = settings.get("interval_minutes")
        if minutes is None:
            raise ExplanationInputError(f"{directory}/run.json has no settings.interval_minutes")
        optional = {name: pd.read_parquet(directory / f"{name}.parquet")
                    for name in ("allocation_daily", "coordinator") if (directory / f"{name}.parquet").exists()}
        return cls(
            name=str(run.get("study", directory.name)),
            participants=pd.read_parquet(directory / "participants.parquet"),
            dispatch=pd.read_parquet(directory / "dispatch.parquet"),
            bills=pd.read_parquet(directory / "bills.parquet"),
            interval_hours=float(minutes) / 60.0,
            benefit_floor=float((settings.get("equity") or {}).get("benefit_floor", 1.0)),
            allocation_daily=optional.get("allocation_daily"), coordinator=optional.get("coordinator"),
            currency=str((settings.get("tariffs") or {}).get("currency", "EUR")),
            settlement_rule=str(settings.get("settlement_rule", "market")),
        )


def as_run_data(source) -> RunData:
    """A RunData from a RunData, a RunResult or a run directory."""
    if isinstance(source, RunData):
        return source
    if isinstance(source, str | Path):
        return RunData.from_directory(source)
    return RunData.from_result(source)


def class_ranks(participants: pd.DataFrame) -> dict[str, int]:
    """Ordinal of each class by its median income (0 = poorest)."""
    medians = participants.groupby("socio_class").income_per_year.median().sort_values(kind="stable")
    return {cls: k for k, cls in enumerate(medians.index)}


def _daily_features(data: RunData) -> pd.DataFrame:
    """The per participant-day features that come from the dispatch."""
    h = data.interval_hours
    d = data.dispatch
    frame = d.assign(
        load_kwh=d.load_kw * h, pv_kwh=d.pv_kw * h,
        out_kwh=(d.grid_export_kw + d.pool_sell_kw) * h,
        stored_sale_kwh=np.minimum(d.pool_sell_kw, d.discharge_kw) * h, pool_kwh=d.pool_sell_kw * h,
    )
    community = frame.groupby(["day", "interval"], sort=True)[["load_kw", "pv_kw"]].sum().reset_index()
    peak_at = community.loc[community.groupby("day").load_kw.idxmax(), ["day", "interval"]]
    surplus = community.loc[community.pv_kw > community.load_kw, ["day", "interval"]].assign(surplus=True)
    frame = frame.merge(surplus, on=["day", "interval"], how="left")
    frame["surplus_load_kwh"] = np.where(frame.surplus.eq(True), frame.load_kwh, 0.0)
    at_peak = frame.merge(peak_at, on=["day", "interval"])[["day", "participant", "load_kw"]]
    out = frame.groupby(["day", "participant"], sort=False).agg(
        load_kwh=("load_kwh", "sum"), peak_load_kw=("load_kw", "max"), pv_kwh=("pv_kwh", "sum"),
        surplus_load_kwh=("surplus_load_kwh", "sum"), out_kwh=("out_kwh", "sum")).reset_index()
    out = out.merge(at_peak.rename(columns={"load_kw": "load_at_peak_kw"}), on=["day", "participant"], how="left")
    out["peak_coincidence"] = (out.load_at_peak_kw / out.peak_load_kw.where(out.peak_load_kw > 0)).fillna(0.0)
    out["export_share"] = (out.out_kwh / out.pv_kwh.where(out.pv_kwh > 1e-9)).fillna(0.0).clip(0.0, None)
    pool = frame.groupby("day").agg(stored=("stored_sale_kwh", "sum"), pool=("pool_kwh", "sum"),
                                    pv=("pv_kwh", "sum"))
    out["community_pv_kwh"] = out.day.map(pool.pv)
    out["storage_pool_share"] = out.day.map((pool.stored / pool.pool.where(pool.pool > 1e-9)).fillna(0.0))
    return out.drop(columns=["out_kwh", "load_at_peak_kw"])


def build_samples(source, *, run_label: str | None = None) -> pd.DataFrame:
    """Participant-day samples of one run: keys (run, day, participant, socio_class, kind), features, targets.

    Targets that the run cannot give (no allocations) are NaN columns.
    """
    data = as_run_data(source)
    people = data.participants
    ranks = class_ranks(people)
    community_kwh = float(people.loc[people.socio_class.isin(EQUITY_EXCLUDED_CLASSES), "battery_kwh"].sum())
    static = pd.DataFrame({
        "participant": people.participant, "socio_class": people.socio_class,
        "kind": people.get("kind", "participant"),
        "class_rank": people.socio_class.map(ranks).astype(float),
        "income_k": people.income_per_year.astype(float) / 1000.0,
        "pv_peak_kw": people.pv_peak_kw.astype(float), "battery_kwh": people.battery_kwh.astype(float),
        "distance_km": people.distance_km.astype(float).fillna(0.0),
    })
    frame = _daily_features(data).merge(static, on="participant")
    frame["community_battery_kwh"] = community_kwh
    bills = data.bills if "need_cost" in data.bills else data.bills.assign(need_cost=np.nan)
    if "market_bill" not in bills:  # a run written before settlement rules: members paid their market bills
        bills = bills.assign(market_bill=bills.standalone_bill - bills.benefit)
    bills = bills[["day", "participant", "benefit", "standalone_bill", "market_bill", "need_cost"]]
    frame = frame.merge(bills, on=["day", "participant"], how="left")
    frame["settled"] = frame.benefit if data.settlement_rule != "market" else np.nan
    frame["market"] = frame.standalone_bill - frame.market_bill
    # relative benefit (p2psim.equity): benefit as paid / need; undefined (left out) without a need or in a
    # run written before bills carried need_cost
    frame["normalised"] = frame.benefit / frame.need_cost.where(frame.need_cost > 0)
    frame["weighted_shapley"] = np.nan
    daily = data.allocation_daily
    if daily is not None and len(daily):
        ws = daily[daily.rule == "weighted_shapley"][["day", "participant", "amount"]]
        frame = frame.drop(columns="weighted_shapley").merge(
            ws.rename(columns={"amount": "weighted_shapley"}), on=["day", "participant"], how="left")
    frame = frame[~frame.socio_class.isin(EQUITY_EXCLUDED_CLASSES)]
    frame.insert(0, "run", run_label or data.name)
    keys = ["run", "day", "participant", "socio_class", "kind"]
    return frame[keys + list(FEATURES) + list(TARGETS)].sort_values(["run", "day", "participant"]).reset_index(
        drop=True)


def concat_samples(sources, labels=None) -> pd.DataFrame:
    """Samples of several runs, one after another; each run's days stay separate groups."""
    sources = list(sources)
    labels = list(labels) if labels is not None else [f"run{k}" for k in range(len(sources))]
    return pd.concat([build_samples(s, run_label=lab) for s, lab in zip(sources, labels, strict=True)],
                     ignore_index=True)
