"""The self-consumption battery rule used by the baseline (non-optimising) market rules.

Documented rule, applied interval by interval from the book's initial state of charge:

- surplus s = pv - load > 0: charge min(s, max_charge_kw, room / (eta_c * dt));
- deficit d = load - pv > 0: discharge min(d, max_discharge_kw, (soc - soc_min) * eta_d / dt);
- no curtailment, no load shifting, never charges from the grid or the pool.

The state of charge carries over to the next day in the co-simulation, so the rule takes no free
energy over a run (the day's end is not forced back to the initial state).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from p2psim.markets.base import Clearing
from p2psim.markets.book import OrderBook


@dataclass(frozen=True)
class SelfConsumption:
    """Battery schedule and resulting net import (all n x T, kW; soc in kWh at interval ends)."""

    charge_kw: np.ndarray
    discharge_kw: np.ndarray
    soc_kwh: np.ndarray
    net_import_kw: np.ndarray


def self_consumption(book: OrderBook) -> SelfConsumption:
    """Run the self-consumption rule for every participant of ``book`` (vectorised over n)."""
    n, horizon = book.load_kw.shape
    dt = book.interval_hours
    charge = np.zeros((n, horizon))
    discharge = np.zeros((n, horizon))
    soc = np.zeros((n, horizon))
    level = book.soc_initial_kwh.astype(float).copy()
    surplus = book.pv_kw - book.load_kw
    for t in range(horizon):  # sequential in time by nature; vectorised over participants
        room_kw = (book.soc_max_kwh - level) / (book.charge_efficiency * dt)
        stock_kw = (level - book.soc_min_kwh) * book.discharge_efficiency / dt
        charge[:, t] = np.clip(np.minimum(surplus[:, t], np.minimum(book.max_charge_kw, room_kw)), 0, None)
        discharge[:, t] = np.clip(np.minimum(-surplus[:, t], np.minimum(book.max_discharge_kw, stock_kw)), 0, None)
        level = level + dt * (book.charge_efficiency * charge[:, t] - discharge[:, t] / book.discharge_efficiency)
        soc[:, t] = level
    net = book.load_kw - book.pv_kw + charge - discharge
    return SelfConsumption(charge, discharge, soc, net)


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
                    extra=extra or {})
