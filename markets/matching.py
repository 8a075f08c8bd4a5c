"""Bilateral attribution of pool trades: who bought from whom, for any rule's Clearing.

A pool clears buyers against the pool, not against named sellers; reports and explanations still
want pairs. The documented rule: in every interval, pair each buyer with the sellers NEAREST to it
on the feeder first (cable distance between their buses, ``length_km`` along the tree), ties broken
by buyer id and then seller id; each pair trades min(buyer's remaining purchase, seller's remaining
sale). Processing all (buyer, seller) pairs in that single global order is a greedy nearest-first
matching; because every interval's pool is balanced (sum buy = sum sell), it exhausts both sides,
so energy is conserved: per buyer the rows sum to pool_buy * dt, per seller to pool_sell * dt (up to
rounding below 1e-9 kWh, which is dropped). The price is the interval's pool price (sellers receive
it; buyers pay it plus the P2P fee); with per-participant prices (pay-as-bid) it is the price the
buyer pays.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
from p2psim.markets.base import Clearing
from p2psim.markets.book import OrderBook

from p2psim.sim.settlement import pool_price_matrix
from p2psim.world.feeder import Feeder

COLUMNS = ["interval", "buyer", "seller", "energy_kwh", "price_per_kwh", "distance_km"]
TOLERANCE_KWH = 1e-9


def bus_distances_km(feeder: Feeder, buses: np.ndarray) -> np.ndarray:
    """Cable distance between every pair of the given bus positions (len x len, km)."""
    names = [feeder.buses[b] for b in buses]
    lengths = dict(nx.all_pairs_dijkstra_path_length(feeder.graph.subgraph(feeder.buses), weight="weight"))
    return np.array([[lengths[a][b] for b in names] for a in names], dtype=float)


def bilateral_trades(clearing: Clearing, book: OrderBook, feeder: Feeder) -> pd.DataFrame:
    """Attribute each interval's pool purchases to sellers, nearest seller first (module docstring).

    Returns:
        One row per (interval, buyer, seller) with positive energy: interval, buyer, seller (ids),
        energy_kwh, price_per_kwh (pool price), distance_km (cable distance between their buses).
    """
    dt = book.interval_hours
    remaining_buy = np.asarray(clearing.pool_buy_kw, float) * dt
    remaining_sell = np.asarray(clearing.pool_sell_kw, float) * dt
    buyers = np.flatnonzero(remaining_buy.max(axis=1, initial=0) > TOLERANCE_KWH)
    sellers = np.flatnonzero(remaining_sell.max(axis=1, initial=0) > TOLERANCE_KWH)
    if not len(buyers) or not len(sellers):
        return pd.DataFrame({c: pd.Series(dtype=float if c in COLUMNS[3:] else object) for c in COLUMNS})
    remaining_buy = remaining_buy.copy()
    remaining_sell = remaining_sell.copy()
    bus = np.asarray(book.bus_index)
    used = np.unique(bus[np.r_[buyers, sellers]])
    where = {b: k for k, b in enumerate(used)}
    dist = bus_distances_km(feeder, used)
    ids = np.asarray(book.participant_ids)
    bi, si = np.meshgrid(buyers, sellers, indexing="ij")
    bi, si = bi.ravel(), si.ravel()
    pair_km = dist[[where[b] for b in bus[bi]], [where[b] for b in bus[si]]]
    order = np.lexsort((ids[si], ids[bi], pair_km))
    parts = []
    for k in order:  # one vector operation over all intervals per pair
        b, s = bi[k], si[k]
        amount = np.minimum(remaining_buy[b], remaining_sell[s])
        hit = np.flatnonzero(amount > TOLERANCE_KWH)
        if not len(hit):
            continue
        remaining_buy[b, hit] -= amount[hit]
        remaining_sell[s, hit] -= amount[hit]
        parts.append((hit, np.full(len(hit), b), np.full(len(hit), s), amount[hit], np.full(len(hit), pair_km[k])))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=float if c in COLUMNS[3:] else object) for c in COLUMNS})
    t, b, s, energy, km = (np.concatenate(col) for col in zip(*parts, strict=True))
    frame = pd.DataFrame({
        "interval": t, "buyer": ids[b], "seller": ids[s], "energy_kwh": energy,
        "price_per_kwh": pool_price_matrix(clearing.pool_price_per_kwh, *remaining_buy.shape)[b, t],
        "distance_km": km,
    })
    return frame.sort_values(["interval", "buyer", "distance_km", "seller"], kind="stable").reset_index(drop=True)
