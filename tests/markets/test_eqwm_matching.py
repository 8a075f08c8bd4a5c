"""Bilateral attribution of pool trades: nearest seller first, energy conserved, any rule."""

from __future__ import annotations

import numpy as np
import pytest
from p2psim.markets import EqWM, make_market
from p2psim.markets.matching import bilateral_trades

from tests.markets._books import make_book, make_context, make_feeder, random_book


def test_nearest_seller_first() -> None:
    # Chain b0-b1-b2-b3 (0.1 km per line). Buyers p0 on b1 (2 kW) and p3 on b2 (1 kW); sellers p1 on
    # b3 (2.5 kW) and p2 on b2 (0.5 kW). Pairs by distance: (p3, p2) at 0 km trades 0.5; at 0.1 km
    # (p0, p2) finds p2 empty and (p3, p1) trades p3's other 0.5; at 0.2 km (p0, p1) trades 2.0.
    feeder = make_feeder(4)
    book = make_book([[2.0], [0.0], [0.0], [1.0]], [[0.0], [2.5], [0.5], [0.0]], bus_index=[1, 3, 2, 2])
    clearing = make_market("mid_market_rate").clear(book, make_context(feeder))
    trades = bilateral_trades(clearing, book, feeder)
    assert list(zip(trades.buyer, trades.seller, strict=True)) == [("p0", "p1"), ("p3", "p2"), ("p3", "p1")]
    np.testing.assert_allclose(trades.energy_kwh, [2.0, 0.5, 0.5])
    np.testing.assert_allclose(trades.distance_km, [0.2, 0.0, 0.1])
    np.testing.assert_allclose(trades.price_per_kwh, 0.20)


@pytest.mark.parametrize("seed", range(3))
def test_energy_is_conserved(seed: int) -> None:
    book, feeder = random_book(seed, n=8, horizon=12)
    clearing = EqWM().clear(book, make_context(feeder))
    trades = bilateral_trades(clearing, book, feeder)
    dt = book.interval_hours
    by_buyer = trades.groupby(["buyer", "interval"]).energy_kwh.sum()
    by_seller = trades.groupby(["seller", "interval"]).energy_kwh.sum()
    for i, pid in enumerate(book.participant_ids):
        for t in range(book.n_intervals):
            assert by_buyer.get((pid, t), 0.0) == pytest.approx(clearing.pool_buy_kw[i, t] * dt, abs=1e-6)
            assert by_seller.get((pid, t), 0.0) == pytest.approx(clearing.pool_sell_kw[i, t] * dt, abs=1e-6)
    assert list(trades.columns) == ["interval", "buyer", "seller", "energy_kwh", "price_per_kwh", "distance_km"]


def test_no_trades_gives_an_empty_frame() -> None:
    book = make_book([[1.0]])
    trades = bilateral_trades(make_market("grid_only").clear(book, make_context()), book, make_feeder(1))
    assert trades.empty and "energy_kwh" in trades.columns
