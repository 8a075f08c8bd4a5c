"""Grid only: no trading; every participant runs its battery alone (the stand-alone baseline).

Placeholder dispatch: the self-consumption rule. Replaced by the per-participant cost optimum.
"""

from __future__ import annotations

import numpy as np
from p2psim.markets._selfconsumption import self_consumption
from p2psim.markets.base import Clearing, ClearingContext, Market
from p2psim.markets.book import OrderBook


class GridOnly(Market):
    """No pool: each participant imports its deficit and exports its surplus."""

    name = "grid_only_v1"
    promises_individual_rationality = True

    def clear(self, book: OrderBook, context: ClearingContext) -> Clearing:
        """Clear one day."""
        plan = self_consumption(book)
        zeros = np.zeros_like(book.load_kw)
        return Clearing(
            market=self.name,
            grid_import_kw=np.clip(plan.net_import_kw, 0, None),
            grid_export_kw=np.clip(-plan.net_import_kw, 0, None),
            pool_buy_kw=zeros,
            pool_sell_kw=zeros.copy(),
            charge_kw=plan.charge_kw,
            discharge_kw=plan.discharge_kw,
            soc_kwh=plan.soc_kwh,
            curtail_kw=zeros.copy(),
            shift_kw=zeros.copy(),
            pool_price_per_kwh=np.asarray(book.export_price_per_kwh, dtype=float),
        )
