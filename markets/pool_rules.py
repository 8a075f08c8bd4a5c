"""Pool-pricing baselines: mid-market rate, bill sharing and supply-demand ratio.

All three run the self-consumption battery rule (:mod:`p2psim.markets._selfconsumption`) and then
trade, every interval, the matched volume Q = min(D, S) of the community's total net demand D and
net supply S through the pool, shared pro rata among buyers and among sellers; the rest goes to the
grid at the tariff. They differ only in the pool price p (sellers receive p, buyers pay p + fee). Rules that promise
individual rationality cap p at import - fee, so a pool kWh never costs a buyer more than the grid,
and do not trade in intervals where the fee exceeds import - export (no price suits both sides):

- ``mid_market_rate_v1`` (Long et al. 2017): p = (import + export) / 2.
- ``sdr_v1`` supply-demand ratio (Liu et al. 2017), SDR = S / D:
  p = export * import / ((import - export) * SDR + export) if SDR <= 1, else export. A buyer's
  average price over its whole demand is then p * SDR + import * (1 - SDR), the published formula.
- ``bill_sharing_v1`` (Zhou et al. 2018): the community is billed as one meter; the grid import
  bill is shared by buyers pro rata to their demand and the export revenue by sellers pro rata to
  their supply; locally exchanged energy carries no price (p = 0). Sellers can therefore end up
  below their feed-in outside option when the community is short: the rule does not promise
  individual rationality, and its pool price lies outside [feed-in, retail] by design.

Version history: v1 first release.
"""

from __future__ import annotations

import numpy as np
from p2psim.markets._selfconsumption import pool_clearing, self_consumption, split_pool
from p2psim.markets.base import NO_OPTIONS, Clearing, ClearingContext, Market
from p2psim.markets.book import OrderBook


class PoolRule(Market):
    """Self-consumption dispatch, pro-rata pool matching, and a rule-specific pool price."""

    known_options = NO_OPTIONS  # only the feeder options every rule accepts (base.FEEDER_OPTIONS)

    def pool_price(self, book: OrderBook, demand_kw: np.ndarray, supply_kw: np.ndarray) -> np.ndarray:
        """Pool price per interval (T) from the total net demand and supply."""
        raise NotImplementedError

    def clear(self, book: OrderBook, context: ClearingContext) -> Clearing:
        """Clear one day (see module docstring)."""
        plan = self_consumption(book)
        demand = np.clip(plan.net_import_kw, 0, None).sum(axis=0)
        supply = np.clip(-plan.net_import_kw, 0, None).sum(axis=0)
        traded = np.minimum(demand, supply)
        if self.promises_individual_rationality:
            # a fee above import - export makes every local trade worse than the grid for someone
            worth_trading = book.import_price_per_kwh - book.p2p_fee_per_kwh >= book.export_price_per_kwh
            traded = np.where(worth_trading, traded, 0.0)
        flows = split_pool(plan.net_import_kw, traded)
        price = self.pool_price(book, demand, supply)
        if self.promises_individual_rationality:
            # with a P2P fee, buying locally must never cost more than importing
            price = np.minimum(price, book.import_price_per_kwh - book.p2p_fee_per_kwh)
        return pool_clearing(self.name, plan, flows, price)


class MidMarketRate(PoolRule):
    """Pool price halfway between the import and the feed-in tariff."""

    name = "mid_market_rate_v1"
    promises_individual_rationality = True  # when fee <= (import - export) / 2; checked

    def pool_price(self, book: OrderBook, demand_kw: np.ndarray, supply_kw: np.ndarray) -> np.ndarray:
        """(import + export) / 2."""
        return (book.import_price_per_kwh + book.export_price_per_kwh) / 2


class SupplyDemandRatio(PoolRule):
    """Pool price from the supply-demand ratio (Liu et al. 2017)."""

    name = "sdr_v1"
    promises_individual_rationality = True

    def pool_price(self, book: OrderBook, demand_kw: np.ndarray, supply_kw: np.ndarray) -> np.ndarray:
        """export*import / ((import-export)*SDR + export) for SDR <= 1, else export."""
        imp, exp = book.import_price_per_kwh, book.export_price_per_kwh
        sdr = np.divide(supply_kw, demand_kw, out=np.full_like(supply_kw, np.inf), where=demand_kw > 0)
        short = sdr <= 1
        price = exp.astype(float).copy()
        price[short] = exp[short] * imp[short] / ((imp[short] - exp[short]) * sdr[short] + exp[short])
        return price


class BillSharing(PoolRule):
    """One-meter community bill shared pro rata; local energy unpriced (Zhou et al. 2018)."""

    name = "bill_sharing_v1"

    def pool_price(self, book: OrderBook, demand_kw: np.ndarray, supply_kw: np.ndarray) -> np.ndarray:
        """Zero: local exchange is free, only the grid bill is shared."""
        return np.zeros(book.n_intervals)
