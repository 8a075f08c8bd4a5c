"""Double auctions over the self-consumption net positions: uniform price, and pay-as-bid.

Every interval each buyer bids its net demand at a limit price and each seller offers its net
supply at an ask price. A participant that bids (``Participant.bid``, carried in
``book.bid_price_per_kwh``) sets its own limit in the intervals it prices; elsewhere the limit comes
from a per-participant, per-day preference u_i drawn from the rule's seeded ``context.rng`` (uniform
on [0, 1]; drawn whether or not anyone bids, so bids never shift the random stream):

    bid_i = export + u_i * (import - fee - export)     (never above what the grid charges)
    ask_i = export + u_i * (import - fee - export)     (never below what the grid pays)

Submitted limits are clipped into [export, import - fee]: outside it no trade beats the grid for the
participant itself.

The clearing price p is chosen among all limit prices to maximise the traded volume
Q(p) = min(demand with bid >= p, supply with ask <= p); ties are broken towards the midpoint of the
maximising price range, so reruns with the same seed are identical. Accepted buyers and sellers
share Q pro rata; the rest goes to the grid. Buyers pay p + fee <= import and sellers get
p >= export, so nobody is worse off than with the grid under the same battery rule.

``double_auction_pab_v1`` (pay-as-bid, discriminatory) matches exactly the same volumes, but each
accepted buyer pays its own limit price and the sellers share what the buyers paid: every seller
receives the buyers' volume-weighted average price p_s = sum_b bid_b buy_b / sum_s sell_s >= p. The
pool price is then one per participant and interval (n x T), and the pool's money balances in every
interval by construction. Buyers pay bid + fee <= import, sellers get p_s >= p >= export.

Version history: v1 first release; v1 takes participants' bids when they submit them.
"""

from __future__ import annotations

import numpy as np
from p2psim.markets._selfconsumption import pool_clearing, self_consumption, split_pool
from p2psim.markets.base import NO_OPTIONS, Clearing, ClearingContext, Market
from p2psim.markets.book import OrderBook


def uniform_price(
    bid_price: np.ndarray, bid_kw: np.ndarray, ask_price: np.ndarray, ask_kw: np.ndarray
) -> tuple[float, float]:
    """Clear one interval; return (price, traded_kw). Price is NaN when nothing trades."""
    candidates = np.unique(np.concatenate([bid_price[bid_kw > 0], ask_price[ask_kw > 0]]))
    if candidates.size == 0:
        return float("nan"), 0.0
    demand = (bid_kw[None, :] * (bid_price[None, :] >= candidates[:, None])).sum(axis=1)
    supply = (ask_kw[None, :] * (ask_price[None, :] <= candidates[:, None])).sum(axis=1)
    traded = np.minimum(demand, supply)
    best = traded.max()
    if best <= 0:
        return float("nan"), 0.0
    winners = candidates[np.isclose(traded, best, rtol=0, atol=1e-12)]
    return float((winners.min() + winners.max()) / 2), float(best)


class UniformDoubleAuction(Market):
    """Uniform-price double auction with seeded limit prices (see module docstring)."""

    name = "double_auction_v1"
    promises_individual_rationality = True
    known_options = NO_OPTIONS  # only the feeder options every rule accepts (base.FEEDER_OPTIONS)

    def clear(self, book: OrderBook, context: ClearingContext) -> Clearing:
        """Clear one day interval by interval."""
        plan = self_consumption(book)
        net = plan.net_import_kw
        preference = context.rng.uniform(0.0, 1.0, size=book.n_participants)
        span = book.import_price_per_kwh - book.p2p_fee_per_kwh - book.export_price_per_kwh
        limit = book.export_price_per_kwh[None, :] + preference[:, None] * np.clip(span, 0, None)[None, :]
        if book.bid_price_per_kwh is not None:
            ceiling = np.maximum(book.import_price_per_kwh - book.p2p_fee_per_kwh, book.export_price_per_kwh)
            submitted = np.minimum(np.maximum(book.bid_price_per_kwh, book.export_price_per_kwh), ceiling)
            limit = np.where(np.isfinite(book.bid_price_per_kwh), submitted, limit)
        demand = np.clip(net, 0, None)
        supply = np.clip(-net, 0, None)
        horizon = book.n_intervals
        price = np.array(book.export_price_per_kwh, dtype=float)
        eligible_buy = np.zeros_like(net)
        eligible_sell = np.zeros_like(net)
        traded = np.zeros(horizon)
        for t in range(horizon):
            if span[t] < 0:  # the fee exceeds import - export: no price suits both sides
                continue
            p, q = uniform_price(limit[:, t], demand[:, t], limit[:, t], supply[:, t])
            if q > 0:
                price[t], traded[t] = p, q
                eligible_buy[:, t] = limit[:, t] >= p
                eligible_sell[:, t] = limit[:, t] <= p
        flows = split_pool(net, traded, eligible_buy, eligible_sell)
        return pool_clearing(self.name, plan, flows, self.prices(price, limit, flows),
                             {"limit_price_per_kwh": limit, "clearing_price_per_kwh": price})

    def prices(self, price: np.ndarray, limit: np.ndarray, flows: tuple[np.ndarray, ...]) -> np.ndarray:
        """The pool price of the clearing: here the uniform clearing price (T)."""
        return price


class PayAsBidDoubleAuction(UniformDoubleAuction):
    """Same matching as the uniform auction; buyers pay their bids, sellers the buyers' average."""

    name = "double_auction_pab_v1"
    promises_individual_rationality = True

    def prices(self, price: np.ndarray, limit: np.ndarray, flows: tuple[np.ndarray, ...]) -> np.ndarray:
        """Per participant (n x T): accepted buyers their limit, sellers the buyers' volume-weighted average."""
        _, _, pool_buy, pool_sell = flows
        paid = (limit * pool_buy).sum(axis=0)
        sold = pool_sell.sum(axis=0)
        average = np.divide(paid, sold, out=np.array(price, dtype=float), where=sold > 0)
        out = np.broadcast_to(price, limit.shape).copy()
        out = np.where(pool_buy > 0, limit, out)
        return np.where(pool_sell > 0, average[None, :], out)
