"""Benchmark of the EqWM clearing: assembly, LP-first exact solve, and the plain full MILP.

Synthetic communities from seeded random profiles on a radial feeder (4 participants per bus, each
bus hung below one of the three previous buses): household loads with an evening peak, PV on 40 %,
home batteries on 25 %, 20 % flexible load on 30 %, one community battery without load, classes
low/middle/high with weights 1.5/1.0/0.7, a Rawlsian weight of 0.5 and ratings that bind at times.

Device variants of the same community (``devices=``): ``batteries`` (the above), ``none`` (no storage
at all: the reference of the device speed target) and ``one_per_member`` (every member brings exactly
one storage-like device: the same 25 % home batteries, 40 % electric vehicles plugged in from 16-20 h
to 6-8 h with a departure target and the obligation carried past midnight, 35 % heat pumps with an
hourly COP, a heat demand and a lossy 12 kWh tank; plus the community battery). Both device variants
double the line and transformer ratings (the community without storage, or with cars and heat pumps,
would not fit the batteries' feeder, and the two must share one feeder to compare). The device speed
target: ``one_per_member`` at N = 1000 x T = 24 clears in under 60 s and, per member-interval, no more
than 20 % slower than ``none``.

    python benchmarks/bench_eqwm.py            # N=200x96 and the N=1000x24 variants, MILP at N=200
    python benchmarks/bench_eqwm.py --quick    # small sizes, no MILP comparison

Writes benchmarks/results/eqwm.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from p2psim.markets import EqWM
from p2psim.markets._community_lp import build_day_model
from p2psim.markets.base import ClearingContext, EquityOptions, SolverOptions
from p2psim.markets.book import OrderBook
from p2psim.markets.devices import StorageArrays
from p2psim.markets.grid_only import standalone_optimum

from p2psim.errors import ClearingError
from p2psim.outputs import write_text_atomic
from p2psim.world.feeder import Feeder, LineSpec

WEIGHTS = {"low": 1.5, "middle": 1.0, "high": 0.7, "public": 1.0}


def synthetic_community(n: int, horizon: int, seed: int = 0, devices: str = "batteries") -> tuple[OrderBook, Feeder]:
    """A seeded random community of n participants (the last a community battery) over one day."""
    rng = np.random.default_rng(seed)
    dt = 24.0 / horizon
    hours = (np.arange(horizon) + 0.5) * dt
    n_buses = n // 4 + 1
    parent = [max(j - int(rng.integers(1, 4)), 0) for j in range(1, n_buses)]
    bus = np.r_[rng.integers(1, n_buses, n - 1), 0]
    down_count = np.bincount(bus, minlength=n_buses).astype(float)
    for j in range(n_buses - 1, 0, -1):
        down_count[parent[j - 1]] += down_count[j]
    lines = tuple(
        LineSpec(id=f"line-{j:04d}", from_bus=f"b{parent[j - 1]}", to_bus=f"b{j}",
                 rating_kw=float(8.0 + 2.0 * down_count[j] ** 0.9), r_ohm=0.02, x_ohm=0.01, length_km=0.05)
        for j in range(1, n_buses)
    )
    feeder = Feeder(buses=tuple(f"b{j}" for j in range(n_buses)), lines=lines, root_bus="b0",
                    transformer_limit_kw=float(1.1 * n))
    shift = rng.integers(-2, 3, n) * (1.0 / dt)
    evening = np.exp(-((hours[None, :] - 19 - shift[:, None] * dt) ** 2) / 5)
    morning = np.exp(-((hours[None, :] - 7.5) ** 2) / 2)
    load = rng.uniform(0.2, 0.5, (n, 1)) + rng.uniform(0.8, 2.2, (n, 1)) * evening + 0.5 * morning
    load *= rng.lognormal(0, 0.15, (n, horizon))
    sun = np.clip(np.sin((hours - 6) / 13 * np.pi), 0, None) * rng.uniform(0.6, 1.0)
    pv = sun[None, :] * rng.uniform(3, 8, (n, 1)) * (rng.random((n, 1)) < 0.4)
    cap = np.where(rng.random(n) < 0.25, rng.uniform(5, 13.5, n), 0.0)
    load[-1], pv[-1], cap[-1] = 0.0, 0.0, 0.5 * n
    classes = (*rng.choice(["low", "middle", "high"], n - 1, p=[0.35, 0.45, 0.2]).tolist(), "public")
    book = OrderBook(
        participant_ids=(*(f"hh-{i:04d}" for i in range(n - 1)), "community-battery"),
        socio_class=classes, bus_index=bus, interval_hours=dt, load_kw=load, pv_kw=pv,
        flexible_share=np.where(rng.random(n) < 0.3, 0.2, 0.0), capacity_kwh=cap,
        max_charge_kw=cap / 2, max_discharge_kw=cap / 2, charge_efficiency=np.full(n, 0.95),
        discharge_efficiency=np.full(n, 0.95), soc_min_kwh=0.1 * cap, soc_max_kwh=0.95 * cap,
        soc_initial_kwh=0.5 * cap, import_price_per_kwh=np.where((hours >= 17) & (hours < 21), 0.38, 0.27),
        export_price_per_kwh=np.full(horizon, 0.07), p2p_fee_per_kwh=np.full(horizon, 0.02),
        peak_price_per_kw=0.25, class_weight=np.array([WEIGHTS[c] for c in classes]),
        income_per_year=rng.uniform(15_000, 90_000, n), shift_window_intervals=max(int(4 / dt), 1),
    )
    if devices == "batteries":
        return book, feeder
    feeder = replace(feeder, transformer_limit_kw=2 * feeder.transformer_limit_kw,
                     lines=tuple(replace(line, rating_kw=2 * line.rating_kw) for line in feeder.lines))
    if devices == "none":
        book = replace(book, capacity_kwh=np.zeros(n))
    elif devices == "one_per_member":
        book = replace(book, storage_devices=member_devices(rng, cap, hours, dt))
    else:
        raise ValueError(f"devices={devices!r}: use none, batteries or one_per_member")
    return book, feeder


def member_devices(rng: np.random.Generator, cap: np.ndarray, hours: np.ndarray, dt: float) -> StorageArrays:
    """One EV or heat pump for every member without a battery (vectorised; see the module docstring)."""
    free = np.flatnonzero(cap == 0)
    m, horizon = len(free), len(hours)
    ev = rng.random(m) < 40 / 75
    plug_in = rng.uniform(16, 20, m)
    plug_out = rng.uniform(6, 8, m)
    home = (hours[None, :] < plug_out[:, None]) | (hours[None, :] >= plug_in[:, None])
    power = np.where(ev, rng.choice([3.7, 7.4, 11.0], m), rng.uniform(2.0, 4.0, m))
    available = np.where(ev[:, None], home, True)
    cop = np.where(ev[:, None], 0.92, (2.6 + 0.6 * np.sin((hours - 9) / 24 * 2 * np.pi))[None, :])
    heat = rng.uniform(1.0, 2.5, (m, 1)) * (1.2 + 0.5 * np.cos((hours - 7) / 24 * 2 * np.pi))[None, :]
    need = rng.uniform(5, 25, m)
    departure = np.argmax(hours[None, :] >= plug_out[:, None], axis=1) - 1  # last plugged-in morning interval
    arrival = np.argmax(hours[None, :] >= plug_in[:, None], axis=1)
    rows = np.flatnonzero(ev)
    reach = 0.92 * power * dt * (departure + 1)
    start = np.full((m, horizon), np.nan)
    target = np.full((m, horizon), np.nan)
    start[rows, 0] = np.maximum(10 + need - reach, 10)[rows]  # the night's session under way, on track
    target[rows, departure[rows]] = (10 + need)[rows]
    start[rows, arrival[rows]] = 10.0
    obligation = np.where(ev, np.maximum(10 + need - reach, 0.0), 0.0)  # tomorrow morning's target
    capacity = np.where(ev, 50.0, 12.0)
    return StorageArrays(
        owner=free, device_id=tuple(np.where(ev, "ev", "heat-pump")), kind=tuple(np.where(ev, "ev", "heat_pump")),
        charge_max_kw=power[:, None] * available, discharge_max_kw=np.zeros((m, horizon)), charge_efficiency=cop,
        discharge_efficiency=np.ones(m), retention=np.where(ev, 1.0, 0.995 ** dt),
        demand_kw=np.where(ev[:, None], 0.0, heat), arrival_kwh=start,
        energy_min_kwh=np.fmax(np.where(ev, 0.0, 2.0)[:, None] * np.ones(horizon), target),
        energy_max_kwh=np.repeat(capacity[:, None], horizon, axis=1), target_kwh=target,
        initial_kwh=np.where(ev, 10.0, 7.0), final_min_kwh=obligation, conserve=~ev,
    )


def context_for(feeder: Feeder, use_binaries: str = "auto", time_limit_s: float = 300.0,
                backend: str = "highs") -> ClearingContext:
    return ClearingContext(
        feeder=feeder, rng=np.random.default_rng(0),
        solver=SolverOptions(backend=backend, time_limit_s=time_limit_s, on_time_limit="incumbent", threads=1),
        equity=EquityOptions(rawlsian_weight=0.5, use_binaries=use_binaries),
    )


def run_case(n: int, horizon: int, *, milp: bool, milp_limit_s: float, devices: str = "batteries") -> dict:
    book, feeder = synthetic_community(n, horizon, devices=devices)
    context = context_for(feeder)
    t0 = time.perf_counter()
    model = build_day_model(book, context)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    alone = standalone_optimum(book, context)
    alone_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    clearing = EqWM().clear_with(book, context, alone, model)
    clear_s = time.perf_counter() - t0
    records = clearing.solver_records
    row = {
        "case": f"N={n} x T={horizon}" + ("" if devices == "batteries" else f", {devices.replace('_', ' ')}"),
        "devices": book.storage.n_devices, "variables": model.lp.n_cols, "constraints": model.lp.n_rows,
        "nonzeros": model.lp.A.nnz, "build_s": build_s, "standalone_s": alone_s, "clear_s": clear_s,
        "total_s": build_s + alone_s + clear_s, "path": clearing.extra["path"],
        "solves": " + ".join(f"{r.path}:{r.solve_time_s:.2f}s/{r.n_binaries}bin" for r in records),
        "objective": clearing.extra["objective"], "community_cost": clearing.extra["community_cost"],
        "z": clearing.extra["z"],
    }
    row["assembly_share"] = build_s / row["total_s"]
    row["us_per_member_interval"] = 1e6 * row["total_s"] / (n * horizon)
    if milp:
        full = context_for(feeder, "always", milp_limit_s)
        t0 = time.perf_counter()
        try:
            full_clearing = EqWM().clear_with(book, full, alone, model)
        except ClearingError as exc:  # time limit without an incumbent
            row["milp_s"] = time.perf_counter() - t0
            row["milp_status"] = f"failed: {str(exc).splitlines()[0]}"
        else:
            row["milp_s"] = time.perf_counter() - t0
            rec = next(r for r in full_clearing.solver_records if r.path == "milp")
            row["milp_status"] = f"{rec.status}, gap {rec.mip_gap:.2e}, {rec.n_binaries} binaries"
            row["milp_objective"] = full_clearing.extra["objective"]
        row["speedup_vs_milp"] = row["milp_s"] / row["total_s"]
    return row


def coalition_timing(n: int = 10, horizon: int = 24, count: int = 1023) -> dict:
    """Time CoalitionSolver.cost over ``count`` coalitions (all of them for n = 10)."""
    from p2psim.markets._coalition import CoalitionSolver

    book, feeder = synthetic_community(n, horizon, seed=1)
    t0 = time.perf_counter()
    solver = CoalitionSolver(book, context_for(feeder))
    setup = time.perf_counter() - t0
    masks = (np.arange(1, count + 1)[:, None] >> np.arange(n)[None, :]) & 1
    t0 = time.perf_counter()
    for mask in masks.astype(bool):
        solver.cost(mask)
    per = (time.perf_counter() - t0) / len(masks)
    return {"case": f"coalitions N={n} x T={horizon}", "setup_s": setup, "coalitions": len(masks),
            "ms_per_coalition": 1000 * per, "solves": solver.n_solves}


def report(rows: list[dict], path: Path, coalitions: dict | None = None) -> str:
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    head = (f"# EqWM clearing benchmark\n\nMachine: {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores, load average {load} at the end of the run, Python "
            f"{platform.python_version()}, HiGHS, 1 thread. Times in seconds; `total` = assembly + "
            "stand-alone optimum (B_i) + EqWM clearing (LP first, binaries where needed).\n\n")
    cols = ["case", "devices", "variables", "constraints", "nonzeros", "build_s", "standalone_s", "clear_s",
            "total_s", "us_per_member_interval", "assembly_share", "path", "solves", "objective", "milp_s",
            "milp_status", "milp_objective",
            "speedup_vs_milp"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        cells = []
        for col in cols:
            value = row.get(col, "")
            cells.append(f"{value:.4g}" if isinstance(value, float) else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    text = head + "\n".join(lines) + "\n" + device_target(rows)
    if coalitions:
        text += (f"\nCoalition costs ({coalitions['case']}): {coalitions['coalitions']} coalitions, "
                 f"{coalitions['ms_per_coalition']:.2f} ms each on one persistent HiGHS model "
                 f"(setup {coalitions['setup_s']:.3f} s).\n")
    write_text_atomic(path, text)
    return text


def device_target(rows: list[dict]) -> str:
    """The device speed target's verdict from the N=1000 x T=24 rows (empty when they were not run)."""
    by = {r["case"]: r for r in rows}
    none, devices = by.get("N=1000 x T=24, none"), by.get("N=1000 x T=24, one per member")
    batteries = by.get("N=1000 x T=24")
    if not (none and devices and batteries):
        return ""
    per = devices["us_per_member_interval"]
    text = (f"\nDevice speed target (N = 1000 x T = 24, one storage-like device per member): "
            f"{devices['total_s']:.1f} s in total (target < 60 s: {'met' if devices['total_s'] < 60 else 'NOT met'}); "
            f"{per:.0f} us per member-interval")
    for name, ref in (("the battery community (25 % home batteries)", batteries),
                      ("the community without any storage", none)):
        change = per / ref["us_per_member_interval"] - 1
        text += (f"; against {name} {ref['us_per_member_interval']:.0f} us ({change:+.0%}, target <= +20 %: "
                 f"{'met' if change <= 0.2 else 'NOT met'})")
    return text + ". See results/devices.md for the before/after comparison and why.\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--milp-limit", type=float, default=300.0)
    parser.add_argument("--no-milp", action="store_true", help="skip the full-MILP comparison")
    args = parser.parse_args()
    cases = [(50, 24, False, "batteries"), (100, 48, False, "batteries"), (100, 24, False, "none"),
             (100, 24, False, "one_per_member")] if args.quick else [
        (200, 96, not args.no_milp, "batteries"), (1000, 24, False, "none"), (1000, 24, False, "batteries"),
        (1000, 24, False, "one_per_member")]
    rows = []
    for n, horizon, milp, devices in cases:
        rows.append(run_case(n, horizon, milp=milp, milp_limit_s=args.milp_limit, devices=devices))
        print(rows[-1], flush=True)
    coalitions = coalition_timing()
    print(coalitions, flush=True)
    out = Path(__file__).parent / "results" / ("eqwm_quick.md" if args.quick else "eqwm.md")
    print(report(rows, out, coalitions))


if __name__ == "__main__":
    main()

