"""The self-consumption device rule used by the baseline (non-optimising) market rules.

Documented rule, applied interval by interval from the book's initial energies, vectorised over
devices (storage-like devices and shiftable loads of :mod:`p2psim.markets.devices`):

1. *Obligations first* (as late as possible): a storage-like device charges exactly what it needs to
   stay above its floor ``need[t]``, the least energy at the end of t from which every later floor
   and target of the day (and the obligation carried past midnight) can still be met at full power
   (computed backwards: need[T-1] = max(energy_min, final_min), need[t-1] = max(energy_min[t-1],
   (need[t] + dt demand[t] - dt eta_c[t] charge_max[t]) / r)); a shiftable load draws what it can
   no longer postpone, (remaining least energy - the most it can draw after t) / dt; an
   uninterruptible load starts when the surplus covers its power or at its latest possible start.
2. *Surplus* s = pv - load - obligations > 0 goes, per participant, first to its shiftable loads,
   then to its storage-like devices (in the book's order), each up to its power and room:
   min(s, charge_max, room / (eta_c dt)).
3. *Deficit* d = load - pv + obligations > 0 is served by discharging devices that did not charge:
   min(d, discharge_max, (energy - need) eta_d / dt).
4. No curtailment, no load shifting, never charges from the grid or the pool beyond obligations.

For a plain battery (no targets) the floor is its SoC minimum, so this is the classic rule:
charge min(s, max_charge, room / (eta_c dt)) from surplus, discharge min(d, max_discharge,
(soc - soc_min) eta_d / dt) on deficit. The energy carries over to the next day in the
co-simulation, so the rule takes no free energy over a run (the day's end is not forced back to the
initial energy; only obligations such as an EV's next-morning target are kept).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from p2psim.markets._device_rows import block_starts
from p2psim.markets.base import Clearing
from p2psim.markets.book import OrderBook
from p2psim.markets.devices import StorageArrays, block_power, per_participant

FLOOR_TOLERANCE_KWH = 1e-9


@dataclass(frozen=True)
class SelfConsumption:
    """Device schedule and resulting net import (n x T, kW; energies in kWh at interval ends)."""

    charge_kw: np.ndarray
    discharge_kw: np.ndarray
    soc_kwh: np.ndarray
    net_import_kw: np.ndarray
    device_charge_kw: np.ndarray
    """Per device (storage-like devices, then shiftable loads) x T."""
    device_discharge_kw: np.ndarray
    device_energy_kwh: np.ndarray


def storage_floor(storage: StorageArrays, interval_hours: float) -> np.ndarray:
    """Need (m x T): the least energy at the end of each interval that keeps the day's floors reachable."""
    m, horizon = storage.energy_min_kwh.shape
    need = storage.energy_min_kwh.astype(float, copy=True)
    if not m or not horizon:
        return need
    dt = interval_hours
    restart = np.isfinite(storage.arrival_kwh)
    need[:, -1] = np.maximum(need[:, -1], storage.final_min_kwh)
    for t in range(horizon - 1, 0, -1):  # sequential in time by nature; vectorised over devices
        before = (need[:, t] + dt * storage.demand_kw[:, t] - dt * storage.charge_efficiency[:, t]
                  * storage.charge_max_kw[:, t]) / storage.retention
        need[:, t - 1] = np.where(restart[:, t], need[:, t - 1], np.maximum(need[:, t - 1], before))
    return need


def _share(owner: np.ndarray, capacity: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Give each owner's ``amount`` (n) to its sinks in order, each up to its ``capacity`` (sinks)."""
    if not len(owner):
        return np.zeros(0)
    order = np.argsort(owner, kind="stable")
    cap = capacity[order]
    total = np.cumsum(cap)
    first = np.r_[True, owner[order][1:] != owner[order][:-1]]
    offset = np.maximum.accumulate(np.where(first, total - cap, 0.0))
    before = total - cap - offset
    out = np.empty_like(capacity)
    out[order] = np.clip(np.minimum(cap, amount[owner[order]] - before), 0, None)
    return out


def self_consumption(book: OrderBook) -> SelfConsumption:
    """Run the self-consumption rule for every participant of ``book`` (vectorised over devices)."""
    n, horizon = book.load_kw.shape
    dt = book.interval_hours
    s, loads = book.storage, book.shiftable
    m, k = s.n_devices, loads.n_devices
    need = storage_floor(s, dt)
    charge, discharge, energy = np.zeros((m, horizon)), np.zeros((m, horizon)), np.zeros((m, horizon))
    task = np.zeros((k, horizon))
    level = s.initial_kwh.astype(float).copy()
    drawn = np.zeros(k)
    later = dt * (np.cumsum(loads.power_max_kw[:, ::-1], axis=1)[:, ::-1] - loads.power_max_kw)
    block = np.flatnonzero(loads.block_intervals > 0)
    run_kw = block_power(loads, dt)[block]
    allowed = block_starts(loads, block, horizon)
    latest = np.where(allowed.any(axis=1), horizon - 1 - np.argmax(allowed[:, ::-1], axis=1), -1)
    started = np.full(len(block), -1)
    surplus = book.pv_kw - book.load_kw
    for t in range(horizon):  # sequential in time by nature; vectorised over participants and devices
        restart = np.isfinite(s.arrival_kwh[:, t])
        base = np.where(restart, s.arrival_kwh[:, t], s.retention * level) - dt * s.demand_kw[:, t]
        gain = s.charge_efficiency[:, t]
        short = need[:, t] - base
        forced = np.where(short > FLOOR_TOLERANCE_KWH, short / (dt * gain), 0.0)
        forced = np.minimum(forced, s.charge_max_kw[:, t])
        left = np.maximum(loads.energy_min_kwh - drawn, 0.0)
        must = np.clip((left - later[:, t]) / dt, 0, loads.power_max_kw[:, t])
        must[block] = 0.0
        spare = surplus[:, t] - per_participant(s.owner, forced, n) - per_participant(loads.owner, must, n)
        if len(block):  # uninterruptible loads: start when the surplus covers them, or at the latest start
            owner_b = loads.owner[block]
            go = (started < 0) & allowed[:, t] & ((spare[owner_b] >= run_kw) | (latest == t))
            started[go] = t
            running = (started >= 0) & (t < started + loads.block_intervals[block])
            must[block] = np.where(running, run_kw, 0.0)
            spare = spare - per_participant(owner_b, must[block], n)
        task_cap = np.clip(np.minimum(loads.power_max_kw[:, t], (loads.energy_max_kwh - drawn) / dt) - must, 0, None)
        task_cap[block] = 0.0
        room = (s.energy_max_kwh[:, t] - base) / (gain * dt) - forced
        store_cap = np.clip(np.minimum(s.charge_max_kw[:, t] - forced, room), 0, None)
        owner = np.concatenate([loads.owner, s.owner]).astype(int)
        extra = _share(owner, np.concatenate([task_cap, store_cap]), spare)
        task[:, t] = must + extra[:k]
        charge[:, t] = forced + extra[k:]
        deficit = -(spare - per_participant(owner, extra, n))
        idle = charge[:, t] <= 0
        stock = np.where(idle, (base - need[:, t]) * s.discharge_efficiency / dt, 0.0)
        discharge[:, t] = _share(s.owner, np.clip(np.minimum(s.discharge_max_kw[:, t], stock), 0, None), deficit)
        level = base + dt * (gain * charge[:, t] - discharge[:, t] / s.discharge_efficiency)
        energy[:, t] = level
        drawn = drawn + dt * task[:, t]
    net = book.load_kw - book.pv_kw + per_participant(s.owner, charge, n) + per_participant(loads.owner, task, n) \
        - per_participant(s.owner, discharge, n)
    return SelfConsumption(
        charge_kw=per_participant(s.owner, charge, n) + per_participant(loads.owner, task, n),
        discharge_kw=per_participant(s.owner, discharge, n), soc_kwh=per_participant(s.owner, energy, n),
        net_import_kw=net, device_charge_kw=np.vstack([charge, task]),
        device_discharge_kw=np.vstack([discharge, np.zeros_like(task)]),
        device_energy_kwh=np.vstack([energy, dt * np.cumsum(task, axis=1)]),
    )


def split_pool(
    net_import_kw: np.ndarray,
    traded_kw: np.ndarray,
    eligible_buy: np.ndarray | None = None,
    eligible_sell: np.ndarray | None = None,
) -> tuple[np.ndarray, ...]:
    """Share ``traded_kw`` (T) pro rata among buyers and sellers; the rest goes to the grid.

    Buyers are participants with positive net import (and ``eligible_buy``), sellers those with
    negative net import (and ``eligible_sell``). Returns grid import, grid export, pool buy, pool
    sell (n x T each).
    """
    demand = np.clip(net_import_kw, 0, None)
    supply = np.clip(-net_import_kw, 0, None)
    bid = demand if eligible_buy is None else demand * eligible_buy
    ask = supply if eligible_sell is None else supply * eligible_sell
    total_bid = bid.sum(axis=0)
    total_ask = ask.sum(axis=0)
    share_buy = np.divide(traded_kw, total_bid, out=np.zeros_like(traded_kw), where=total_bid > 0)
    share_sell = np.divide(traded_kw, total_ask, out=np.zeros_like(traded_kw), where=total_ask > 0)
    pool_buy = bid * share_buy
    pool_sell = ask * share_sell
    return demand - pool_buy, supply - pool_sell, pool_buy, pool_sell


def pool_clearing(market: str, plan: SelfConsumption, flows: tuple[np.ndarray, ...], price_per_kwh: np.ndarray,
                  extra: dict | None = None) -> Clearing:
    """The Clearing of a baseline rule: ``plan``'s battery schedule, ``flows`` from :func:`split_pool`.

    No curtailment and no load shifting (the self-consumption rule has neither).
    """
    grid_import, grid_export, pool_buy, pool_sell = flows
    zeros = np.zeros_like(grid_import)
    return Clearing(market=market, grid_import_kw=grid_import, grid_export_kw=grid_export, pool_buy_kw=pool_buy,
                    pool_sell_kw=pool_sell, charge_kw=plan.charge_kw, discharge_kw=plan.discharge_kw,
                    soc_kwh=plan.soc_kwh, curtail_kw=zeros, shift_kw=zeros.copy(), pool_price_per_kwh=price_per_kwh,
                    extra=extra or {}, device_charge_kw=plan.device_charge_kw,
                    device_discharge_kw=plan.device_discharge_kw, device_energy_kwh=plan.device_energy_kwh)
