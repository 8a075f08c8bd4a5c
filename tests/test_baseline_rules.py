"""Known answers of the baseline rules on the tiny study's book, every number worked out by hand.

The book (studies/tiny.py, perfect forecasts, dt = 6 h, intervals 00-06, 06-12, 12-18, 18-24):

    hh-a  load 1 2 2 3                          -> net import  1  2  2  3
    hh-b  load 1 1 1 1, PV 0 3 4 0              -> net import  1 -2 -3  1
    hh-c  load 1 1 2 1, 6 kWh battery, empty    -> net import  1  1  2  1
          (no PV, so the self-consumption rule never charges and the empty battery never discharges)

import 0.30 (0.40 from 18:00), feed-in 0.10, P2P fee 0.02, demand charge 0.50 per kW of the peak.

Pool volume (all pool rules): Q = min(total demand D, total supply S) per interval:
    interval 0: D = 3, S = 0 -> Q = 0
    interval 1: D = 2 + 1 = 3, S = 2 -> Q = 2: hh-a buys 2 * 2/3 = 4/3, hh-c 1 * 2/3 = 2/3; hh-b sells 2
    interval 2: D = 2 + 2 = 4, S = 3 -> Q = 3: hh-a and hh-c buy 1.5 each; hh-b sells 3
    interval 3: D = 5, S = 0 -> Q = 0
Grid import then: hh-a 1, 2/3, 1/2, 3; hh-b 1, 0, 0, 1; hh-c 1, 1/3, 1/2, 1; community 3, 1, 1, 5.
Peak: 5 kW in interval 3, shared by positive grid import there: hh-a 3/5, hh-b 1/5, hh-c 1/5 of
0.50 * 5 = 2.50 -> 1.50, 0.50, 0.50.

Price-independent parts of the day bill (kWh = kW * 6 h):
    hh-a energy 6 * (0.30 * (1 + 2/3 + 1/2) + 0.40 * 3) = 1.8 + 1.2 + 0.9 + 7.2 = 11.1
         fee    6 * 0.02 * (4/3 + 3/2) = 0.34
    hh-b energy 6 * (0.30 * 1 + 0.40 * 1) = 4.2, no fee
    hh-c energy 6 * (0.30 * (1 + 1/3 + 1/2) + 0.40 * 1) = 1.8 + 0.6 + 0.9 + 2.4 = 5.7
         fee    6 * 0.02 * (2/3 + 3/2) = 0.26
Pool part: price p1 in interval 1 and p2 in interval 2:
    hh-a 6 * (4/3 p1 + 3/2 p2) = 8 p1 + 9 p2;  hh-b -6 * (2 p1 + 3 p2) = -12 p1 - 18 p2;
    hh-c 6 * (2/3 p1 + 3/2 p2) = 4 p1 + 9 p2   (sums to zero: the pool is budget balanced)
The community total is always what the grid collects: imports 6 * (0.30 * (3 + 1 + 1) + 0.40 * 5) = 21.0,
fees 6 * 0.02 * 5 = 0.6 and the demand charge 2.5, so 24.1 for every pool rule.
"""

from __future__ import annotations

import numpy as np
import pytest
from p2psim.markets import ClearingContext, OrderBook, make_market

from p2psim.testing import energy_cost, self_consumption_cost

BUY = np.array([[0, 4 / 3, 1.5, 0], [0, 0, 0, 0], [0, 2 / 3, 1.5, 0]])
SELL = np.array([[0, 0, 0, 0], [0, 2, 3, 0], [0, 0, 0, 0]])
GRID_IMPORT = np.array([[1, 2 / 3, 0.5, 3], [1, 0, 0, 1], [1, 1 / 3, 0.5, 1]])
PEAK_SHARE = np.array([1.5, 0.5, 0.5])


def pool_bills(p1: float, p2: float) -> np.ndarray:
    """The day bills of the module docstring for pool prices p1 (06-12) and p2 (12-18)."""
    return np.array([
        11.1 + 0.34 + 1.5 + 8 * p1 + 9 * p2,
        4.2 + 0.5 - 12 * p1 - 18 * p2,
        5.7 + 0.26 + 0.5 + 4 * p1 + 9 * p2,
    ])


@pytest.fixture
def tiny(tiny_book_and_model, helpers):
    book, model = tiny_book_and_model
    return book, model.scenario.feeder, helpers


def test_tiny_book_is_the_documented_one(tiny):
    book, _, _ = tiny
    assert book.participant_ids == ("hh-a", "hh-b", "hh-c")
    assert book.interval_hours == 6.0
    np.testing.assert_allclose(book.load_kw - book.pv_kw, [[1, 2, 2, 3], [1, -2, -3, 1], [1, 1, 2, 1]])
    np.testing.assert_allclose(book.import_price_per_kwh, [0.30, 0.30, 0.30, 0.40])
    np.testing.assert_allclose(book.soc_initial_kwh, [0, 0, 0])


@pytest.mark.parametrize("name", ["mid_market_rate_v1", "sdr_v1", "bill_sharing_v1"])
def test_pool_rules_share_the_same_volumes(tiny, name):
    book, feeder, h = tiny
    clearing = h.clear(name, book, feeder)
    np.testing.assert_allclose(clearing.pool_buy_kw, BUY, atol=1e-12)
    np.testing.assert_allclose(clearing.pool_sell_kw, SELL, atol=1e-12)
    np.testing.assert_allclose(clearing.grid_import_kw, GRID_IMPORT, atol=1e-12)
    np.testing.assert_allclose(clearing.grid_export_kw, 0, atol=1e-12)
    # hh-c's battery is idle: no PV to charge from, nothing stored to discharge
    np.testing.assert_allclose(clearing.charge_kw + clearing.discharge_kw, 0)


def test_mid_market_rate_known_answer(tiny):
    book, feeder, h = tiny
    clearing = h.clear("mid_market_rate_v1", book, feeder)
    # p = (import + export) / 2 = (0.30 + 0.10) / 2 = 0.20; after 18:00 (0.40 + 0.10) / 2 = 0.25
    np.testing.assert_allclose(clearing.pool_price_per_kwh, [0.20, 0.20, 0.20, 0.25])
    bills = h.settle(book, clearing)
    # hh-a: 11.1 + 0.34 + 1.5 + 8 * 0.2 + 9 * 0.2 = 16.34
    # hh-b: 4.2 + 0.5 - 12 * 0.2 - 18 * 0.2 = -1.30 (paid for its surplus)
    # hh-c: 5.7 + 0.26 + 0.5 + 4 * 0.2 + 9 * 0.2 = 9.06
    np.testing.assert_allclose(bills["bill"], [16.34, -1.30, 9.06], atol=1e-9)
    np.testing.assert_allclose(bills["bill"], pool_bills(0.20, 0.20), atol=1e-9)
    np.testing.assert_allclose(bills["peak_charge"], PEAK_SHARE, atol=1e-12)
    np.testing.assert_allclose(bills["fee_cost"], [0.34, 0.0, 0.26], atol=1e-12)
    np.testing.assert_allclose(bills["pool_cost"], [3.4, -6.0, 2.6], atol=1e-12)
    np.testing.assert_allclose(bills["community_peak_kw"], 5.0)
    assert bills["bill"].sum() == pytest.approx(24.1)


def test_sdr_known_answer(tiny):
    book, feeder, h = tiny
    clearing = h.clear("sdr_v1", book, feeder)
    # SDR = S / D; p = e * i / ((i - e) * SDR + e) with i = 0.30, e = 0.10 (i * e = 0.03):
    #   interval 1: SDR = 2/3 -> 0.03 / (0.2 * 2/3 + 0.1) = 0.03 / (7/30) = 9/70 = 0.128571...
    #   interval 2: SDR = 3/4 -> 0.03 / (0.2 * 3/4 + 0.1) = 0.03 / 0.25 = 0.12
    #   intervals 0 and 3: SDR = 0 -> p = i = 0.30 / 0.40, capped at i - fee = 0.28 / 0.38 (nothing trades)
    np.testing.assert_allclose(clearing.pool_price_per_kwh, [0.28, 9 / 70, 0.12, 0.38], atol=1e-12)
    bills = h.settle(book, clearing)
    # hh-a: 11.1 + 0.34 + 1.5 + 8 * 9/70 + 9 * 0.12 = 14.02 + 36/35 = 15.048571...
    # hh-b: 4.7 - 12 * 9/70 - 18 * 0.12 = 2.54 - 54/35 = 0.997142...
    # hh-c: 6.46 + 4 * 9/70 + 9 * 0.12 = 7.54 + 18/35 = 8.054285...
    np.testing.assert_allclose(bills["bill"], [14.02 + 36 / 35, 2.54 - 54 / 35, 7.54 + 18 / 35], atol=1e-9)
    np.testing.assert_allclose(bills["bill"], pool_bills(9 / 70, 0.12), atol=1e-9)
    assert bills["bill"].sum() == pytest.approx(24.1)
    # a buyer's average price over its whole demand is p * SDR + i * (1 - SDR) (the published formula):
    # interval 1: 9/70 * 2/3 + 0.3 * 1/3 = 0.185714..., strictly between feed-in and retail
    assert 0.10 < 9 / 70 * 2 / 3 + 0.30 / 3 < 0.30


def test_bill_sharing_known_answer(tiny):
    book, feeder, h = tiny
    clearing = h.clear("bill_sharing_v1", book, feeder)
    # local energy is unpriced: p = 0 in every interval
    np.testing.assert_allclose(clearing.pool_price_per_kwh, 0.0)
    bills = h.settle(book, clearing)
    # hh-a: 11.1 + 0.34 + 1.5 = 12.94; hh-b: 4.2 + 0.5 = 4.70; hh-c: 5.7 + 0.26 + 0.5 = 6.46
    np.testing.assert_allclose(bills["bill"], [12.94, 4.70, 6.46], atol=1e-9)
    np.testing.assert_allclose(bills["pool_cost"], 0.0)
    assert bills["bill"].sum() == pytest.approx(24.1)
    # the seller gives its 5 kW * 6 h away: it pays 4.70 where selling to the grid would have paid
    # 4.2 + 0.5 - 0.10 * 30 = 1.70 -> the rule does not promise individual rationality
    assert not make_market("bill_sharing_v1").promises_individual_rationality
    assert bills["bill"][1] > 4.2 + 0.5 - 0.10 * 30


def test_double_auction_known_answer(tiny):
    book, feeder, h = tiny
    seed = 0
    # preferences u drawn from the rule's rng; limit = e + u * (i - fee - e) = 0.10 + 0.18 u before 18:00
    u = np.random.default_rng(seed).uniform(0.0, 1.0, size=3)
    limit = 0.10 + 0.18 * u
    # with seed 0: u = (0.637, 0.270, 0.041) -> limits hh-a 0.2147, hh-b 0.1486, hh-c 0.1074
    np.testing.assert_allclose(limit, [0.2147, 0.1486, 0.1074], atol=1e-4)
    clearing = h.clear("double_auction_v1", book, feeder, seed=seed)
    # interval 1 (buyers hh-a 2 kW, hh-c 1 kW; seller hh-b 2 kW), candidate prices = the three limits:
    #   p = 0.1074: demand 3, supply 0 (hh-b asks more)            -> Q = 0
    #   p = 0.1486: demand 2 (hh-c's bid is lower), supply 2       -> Q = 2
    #   p = 0.2147: demand 2, supply 2                             -> Q = 2
    #   best Q = 2 at {hh-b's ask, hh-a's bid}; p = their midpoint = 0.10 + 0.09 (u_a + u_b) = 0.18161
    # interval 2 (buyers 2 + 2, seller 3): same candidates -> Q = 2 at the same two prices, same p.
    # hh-c's bid lies below every winning price: it buys nothing from the pool and imports instead.
    p = 0.10 + 0.09 * (u[0] + u[1])
    assert p == pytest.approx(0.18161, abs=1e-5)
    np.testing.assert_allclose(clearing.pool_price_per_kwh[1:3], [p, p], atol=1e-12)
    np.testing.assert_allclose(clearing.pool_buy_kw, [[0, 2, 2, 0], [0, 0, 0, 0], [0, 0, 0, 0]], atol=1e-12)
    np.testing.assert_allclose(clearing.pool_sell_kw, [[0, 0, 0, 0], [0, 2, 2, 0], [0, 0, 0, 0]], atol=1e-12)
    np.testing.assert_allclose(clearing.grid_export_kw[1], [0, 0, 1, 0], atol=1e-12)  # hh-b's unsold 1 kW
    np.testing.assert_allclose(clearing.grid_import_kw[2], [1, 1, 2, 1], atol=1e-12)  # hh-c buys all from grid
    bills = h.settle(book, clearing)
    # hh-a: energy 6 * (0.3 * 1 + 0.4 * 3) = 9.0, pool 6 * 4 p = 24 p, fee 6 * 0.02 * 4 = 0.48, peak 1.5
    # hh-b: energy 1.8 - 0.6 (1 kW exported at 12-18) + 2.4 = 3.6, pool -24 p, peak 0.5
    # hh-c: energy 6 * (0.3 * (1 + 1 + 2) + 0.4) = 9.6, peak 0.5 -> 10.1 (as without a pool)
    np.testing.assert_allclose(bills["bill"], [10.98 + 24 * p, 4.1 - 24 * p, 10.1], atol=1e-9)
    # total: imports 6 * (0.3 * (3 + 1 + 2) + 0.4 * 5) = 22.8, export -0.6, fees 0.48, peak 2.5 = 25.18
    assert bills["bill"].sum() == pytest.approx(25.18)


def test_double_auction_same_seed_same_clearing_other_seed_other_prices(tiny):
    book, feeder, h = tiny
    a = h.clear("double_auction_v1", book, feeder, seed=0)
    b = h.clear("double_auction_v1", book, feeder, seed=0)
    c = h.clear("double_auction_v1", book, feeder, seed=9)
    np.testing.assert_array_equal(a.pool_price_per_kwh, b.pool_price_per_kwh)
    np.testing.assert_array_equal(a.pool_buy_kw, b.pool_buy_kw)
    # seed 9 puts hh-b's ask below both bids (u = 0.870, 0.287, 0.603): all three trade, pro rata
    np.testing.assert_allclose(c.pool_buy_kw, BUY, atol=1e-12)
    assert not np.allclose(a.pool_price_per_kwh, c.pool_price_per_kwh)


@pytest.mark.parametrize("name", ["mid_market_rate_v1", "sdr_v1", "double_auction_v1"])
def test_individually_rational_rules_beat_the_self_consumption_option_on_tiny(tiny, name):
    book, feeder, h = tiny
    clearing = h.clear(name, book, feeder)
    # alone (no pool): hh-a 6 * (0.3 * 5 + 0.4 * 3) = 16.2, hh-b 1.8 - 6 * 0.1 * 5 + 2.4 = 1.2,
    # hh-c 6 * (0.3 * 4 + 0.4) = 9.6 (energy only, no demand charge)
    np.testing.assert_allclose(self_consumption_cost(book), [16.2, 1.2, 9.6], atol=1e-9)
    assert (energy_cost(book, clearing) <= self_consumption_cost(book) + 1e-9).all()


def _two_party_book(fee: float) -> OrderBook:
    """One 1-kW buyer and one 1-kW seller for one hour; import 0.20, feed-in 0.10, no batteries."""
    z = np.zeros(2)
    return OrderBook(
        participant_ids=("buyer", "seller"), socio_class=("low", "high"), bus_index=np.array([1, 2]),
        interval_hours=1.0, load_kw=np.array([[1.0], [0.0]]), pv_kw=np.array([[0.0], [1.0]]),
        flexible_share=z, capacity_kwh=z, max_charge_kw=z, max_discharge_kw=z,
        charge_efficiency=np.ones(2), discharge_efficiency=np.ones(2), soc_min_kwh=z, soc_max_kwh=z,
        soc_initial_kwh=z, import_price_per_kwh=np.array([0.20]), export_price_per_kwh=np.array([0.10]),
        p2p_fee_per_kwh=np.array([fee]), peak_price_per_kw=0.0, class_weight=np.ones(2),
        income_per_year=np.full(2, 30_000.0),
    )


@pytest.mark.parametrize("name", ["mid_market_rate_v1", "sdr_v1", "double_auction_v1"])
def test_two_party_known_answer_with_small_fee(helpers, name):
    from p2psim.testing import random_book

    _, feeder = random_book(np.random.default_rng(0), n=2, horizon=1)
    book = _two_party_book(fee=0.02)
    clearing = helpers.clear(name, book, feeder)
    # 1 kW traded; alone the buyer pays 0.20 and the seller earns 0.10
    np.testing.assert_allclose(clearing.pool_buy_kw, [[1.0], [0.0]])
    cost = energy_cost(book, clearing)
    assert cost[0] <= 0.20 + 1e-12 and cost[1] <= -0.10 + 1e-12
    if name == "mid_market_rate_v1":
        # p = 0.15: buyer 0.15 + 0.02 = 0.17, seller -0.15
        np.testing.assert_allclose(cost, [0.17, -0.15])
    if name == "sdr_v1":
        # SDR = 1: p = 0.02 / (0.1 * 1 + 0.1) = 0.10 (= feed-in): buyer 0.12, seller -0.10
        np.testing.assert_allclose(cost, [0.12, -0.10])


@pytest.mark.parametrize("name", ["mid_market_rate_v1", "sdr_v1", "double_auction_v1"])
def test_individual_rationality_when_fee_exceeds_the_spread(helpers, name):
    # import 0.20, feed-in 0.10, fee 0.15 > 0.20 - 0.10: no pool trade can leave both sides at least as
    # well off as the grid (the buyer pays p + 0.15 <= 0.20 only if p <= 0.05 < 0.10 = the seller's floor).
    # MMR: p = min(0.15, 0.20 - 0.15) = 0.05 -> the seller earns 0.05 instead of 0.10 (worse off).
    # DA: limits collapse to the feed-in 0.10 -> the buyer pays 0.25 instead of 0.20 (worse off).
    # Expected: no trade (both go to the grid), costs exactly the grid-only ones (0.20 and -0.10).
    from p2psim.testing import random_book

    _, feeder = random_book(np.random.default_rng(0), n=2, horizon=1)
    book = _two_party_book(fee=0.15)
    rule = make_market(name)
    assert rule.promises_individual_rationality
    clearing = rule.clear(book, ClearingContext(feeder=feeder, rng=np.random.default_rng(0)))
    np.testing.assert_allclose(energy_cost(book, clearing), [0.20, -0.10], atol=1e-12)
