"""Properties every registered market rule must keep, over random books drawn by hypothesis.

Books come from ``p2psim.testing.random_book`` (imports 0.20-0.40, feed-in 0.08) with a hypothesis-
drawn seed, size, battery share, fee and, half the time, EVs, heat pumps and shiftable loads. The
fee stays below the smallest import - feed-in spread (0.12), the range in which individual
rationality is possible at all (the case above it is a known bug, see test_baseline_rules.py). Rules
are the ones registered at collection time. The invariants themselves are p2psim.testing's (the same
ones the co-simulation raises), so the project's tests and a user's ``check_market`` agree.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from p2psim.agents import Aggregator, Battery, Household
from p2psim.markets import MARKETS, ClearingContext, make_market

from p2psim.testing import (
    check_bilateral_trades,
    check_clearing,
    check_individual_rationality,
    check_market,
    check_money,
    check_participant,
    check_price_band,
    random_book,
)

TOL = 1e-6
# Reproducible in CI, no deadline (a rule's first call may import its solver), nothing written to the tree;
# P2PSIM_HYPOTHESIS_EXAMPLES=500 for a thorough local run.
SETTINGS = settings(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow],
                    max_examples=int(os.environ.get("P2PSIM_HYPOTHESIS_EXAMPLES", "30")))
RULES = sorted(MARKETS)
IR_RULES = [name for name in RULES if MARKETS[name].promises_individual_rationality and name != "grid_only_v1"]
POOL_RULES = [name for name in ("mid_market_rate_v1", "sdr_v1", "bill_sharing_v1") if name in MARKETS]

books = st.builds(
    lambda seed, n, horizon, battery_share, fee, devices: random_book(
        np.random.default_rng(seed), n=n, horizon=horizon, battery_share=battery_share, fee_per_kwh=fee,
        devices=devices),
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 6),
    horizon=st.integers(1, 8),
    battery_share=st.sampled_from([0.0, 0.5, 1.0]),
    fee=st.sampled_from([0.0, 0.02, 0.05, 0.1]),
    devices=st.booleans(),
)


def _clear(name, book, feeder, seed=0):
    return make_market(name).clear(book, ClearingContext(feeder=feeder, rng=np.random.default_rng(seed)))


@pytest.mark.parametrize("name", RULES)
@SETTINGS
@given(drawn=books)
def test_energy_balance_and_physical_limits(name, drawn):
    # balances, pool, curtailment, flexible load, every device's limits, continuity, bounds and targets
    book, feeder = drawn
    check_clearing(book, _clear(name, book, feeder), name)


@pytest.mark.parametrize("name", RULES)
@SETTINGS
@given(drawn=books)
def test_pool_money_balances(name, drawn):
    # pool payments net to zero per interval; the community pays what the grid and the operator collect
    book, feeder = drawn
    check_money(book, _clear(name, book, feeder), name)


@pytest.mark.parametrize("name", IR_RULES)
@SETTINGS
@given(drawn=books)
def test_clearing_price_within_feed_in_and_retail_minus_fee(name, drawn):
    book, feeder = drawn
    check_price_band(book, _clear(name, book, feeder), name)


@pytest.mark.parametrize("name", IR_RULES)
@SETTINGS
@given(drawn=books)
def test_nobody_pays_more_than_alone_with_self_consumption(name, drawn):
    book, feeder = drawn
    check_individual_rationality(book, _clear(name, book, feeder), name, tol=TOL)


@pytest.mark.parametrize("name", POOL_RULES)
@SETTINGS
@given(drawn=books)
def test_pool_rules_match_the_whole_possible_volume(name, drawn):
    # Q = min(D, S): in no interval does one participant import while another exports
    book, feeder = drawn
    c = _clear(name, book, feeder)
    both = np.minimum(c.grid_import_kw.sum(0), c.grid_export_kw.sum(0))
    np.testing.assert_allclose(both, 0.0, atol=TOL)
    # and the volumes are those of mid-market rate (the three differ only in the price)
    reference = _clear("mid_market_rate_v1", book, feeder)
    np.testing.assert_allclose(c.pool_buy_kw, reference.pool_buy_kw, atol=1e-12)


@SETTINGS
@given(drawn=books)
def test_bill_sharing_prices_local_energy_at_zero(drawn):
    book, feeder = drawn
    np.testing.assert_array_equal(_clear("bill_sharing_v1", book, feeder).pool_price_per_kwh, 0.0)


@SETTINGS
@given(drawn=books)
def test_grid_only_never_trades(drawn):
    book, feeder = drawn
    c = _clear("grid_only_v1", book, feeder)
    np.testing.assert_array_equal(c.pool_buy_kw, 0.0)
    np.testing.assert_array_equal(c.pool_sell_kw, 0.0)


@pytest.mark.parametrize("name", RULES, ids=RULES)
def test_check_market_passes(name):
    check_market(name, books=8, seed=0)


def _broken(name, change):
    """A mid-market-rate rule whose clearing ``change`` edits (a dict of Clearing fields)."""
    def clear(self, book, context):
        c = MARKETS["mid_market_rate_v1"].clear(self, book, context)
        return type(c)(**{**c.__dict__, **change(book, c)})

    return type("Broken", (MARKETS["mid_market_rate_v1"],), {"name": name, "clear": clear})()


def test_check_market_catches_a_broken_rule():
    # a rule that forgets the sellers' side of the pool must be refused, with the rule named
    leaky = _broken("leaky_v1", lambda book, c: {"pool_sell_kw": np.zeros_like(c.pool_sell_kw)})
    with pytest.raises(AssertionError, match="leaky_v1"):
        check_market(leaky, books=8, seed=0)


def test_check_market_catches_imports_erased_through_shift():
    # energy that "disappears" into shift_kw keeps every participant's balance but no flexible load
    eraser = _broken("eraser_v1", lambda book, c: {"grid_import_kw": np.zeros_like(c.grid_import_kw),
                                                   "shift_kw": c.shift_kw - c.grid_import_kw})
    with pytest.raises(AssertionError, match=r"eraser_v1.*(flexible band|does not sum to 0)"):
        check_market(eraser, books=8, seed=0)


def test_check_market_catches_discharge_without_the_battery_emptying():
    # a battery that discharges 1 kW more (replacing grid import) while its energy does not move
    def free_energy(book, c):
        charge, discharge, energy = c.device_flows(book)
        m = book.storage.n_devices
        extra = np.zeros_like(discharge)
        extra[:m] = np.minimum(book.storage.discharge_max_kw - discharge[:m], 1.0).clip(0, None)
        owner = np.zeros_like(c.discharge_kw)
        np.add.at(owner, book.device_owner, extra)
        return {"discharge_kw": c.discharge_kw + owner, "grid_export_kw": c.grid_export_kw + owner,
                "device_charge_kw": charge, "device_discharge_kw": discharge + extra, "device_energy_kwh": energy}

    with pytest.raises(AssertionError, match=r"free_v1.*energy continuity"):
        check_market(_broken("free_v1", free_energy), books=8, seed=0)


@pytest.mark.parametrize("cls", [Household, Battery, Aggregator], ids=lambda c: c.__name__)
def test_check_participant_passes(cls):
    check_participant(cls)


def test_check_participant_names_a_device_that_cannot_meet_its_target():
    from p2psim.agents import ElectricVehicle

    class Rushed(Household):  # 30 kWh in 2 hours at 11 kW (95 %): at most 20.9 kWh
        def devices(self):
            return (ElectricVehicle(id="car", plug_in="05:00", plug_out="07:00", need_kwh=30.0, efficiency=0.95,
                                    arrival_kwh=5.0),)

    with pytest.raises(AssertionError, match=r"(?s)Rushed.*'car'.*needs 35 kWh by 07:00 on day 0.*20.9 kWh"):
        check_participant(Rushed)


def test_check_participant_catches_a_wrong_shape():
    class Broken(Household):
        def forecast(self, day, rng):
            profile = super().forecast(day, rng)
            return type(profile)(profile.load_kw[:-1], profile.pv_kw)

    with pytest.raises(AssertionError, match="Broken"):
        check_participant(Broken)


# -- the registry ---------------------------------------------------------------------------------------


def _versions(*names):
    """Dummy mid-market-rate subclasses registered under ``names``."""
    return {name: type(name, (MARKETS["mid_market_rate_v1"],), {"name": name}) for name in names}


def test_alias_resolves_to_the_newest_version(monkeypatch):
    from p2psim.markets import resolve_market_name

    for name, cls in _versions("toy_v1", "toy_v2").items():
        monkeypatch.setitem(MARKETS, name, cls)
    assert resolve_market_name("toy") == "toy_v2"
    assert resolve_market_name("toy_v1") == "toy_v1"


def test_alias_resolves_to_the_newest_of_ten_versions(monkeypatch):
    from p2psim.markets import resolve_market_name

    for name, cls in _versions("toy_v1", "toy_v2", "toy_v10").items():
        monkeypatch.setitem(MARKETS, name, cls)
    assert resolve_market_name("toy") == "toy_v10"


def test_unknown_market_and_bad_registration():
    from p2psim.markets import register_market

    from p2psim.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match=r"no market named 'sdr_v2'.*did you mean 'sdr_v1'\?") as info:
        make_market("sdr_v2")
    assert info.value.exit_status == 2
    with pytest.raises(TypeError, match="Market subclass"):
        register_market("nope_v1", dict)
    assert "nope_v1" not in MARKETS


# -- bilateral attribution of pool trades (markets/matching.py) -------------------------------------------


def _clearing_with_pool(book, buy, sell):
    from p2psim.markets import Clearing

    zeros = np.zeros_like(book.load_kw)
    buy, sell = np.asarray(buy, float), np.asarray(sell, float)
    return Clearing(market="hand", grid_import_kw=zeros, grid_export_kw=zeros, pool_buy_kw=buy, pool_sell_kw=sell,
                    charge_kw=zeros, discharge_kw=zeros, soc_kwh=zeros, curtail_kw=zeros, shift_kw=zeros,
                    pool_price_per_kwh=np.full(book.n_intervals, 0.2))


def test_bilateral_trades_nearest_seller_first_by_hand():
    from dataclasses import replace

    from p2psim.markets.matching import bilateral_trades

    from p2psim.world.feeder import Feeder, LineSpec

    # root -0.1- a -0.2- b ; root -0.4- c.  P0 buys 2 at a, P1 sells 1 at b, P2 sells 2 at c, P3 buys 1 at c.
    feeder = Feeder(buses=("root", "a", "b", "c"), root_bus="root", transformer_limit_kw=100.0, lines=(
        LineSpec(id="l1", from_bus="root", to_bus="a", rating_kw=50.0, length_km=0.1),
        LineSpec(id="l2", from_bus="a", to_bus="b", rating_kw=50.0, length_km=0.2),
        LineSpec(id="l3", from_bus="root", to_bus="c", rating_kw=50.0, length_km=0.4)))
    book, _ = random_book(np.random.default_rng(0), n=4, horizon=1)
    book = replace(book, participant_ids=("P0", "P1", "P2", "P3"), bus_index=np.array([1, 2, 3, 3]))
    clearing = _clearing_with_pool(book, buy=[[2], [0], [0], [1]], sell=[[0], [1], [2], [0]])
    trades = bilateral_trades(clearing, book, feeder)
    # pairs by distance: P3-P2 0 km (1 kWh, P2 keeps 1), P0-P1 0.2 km (1 kWh), P0-P2 0.1 + 0.4 = 0.5 km (1 kWh);
    # P3-P1 (0.7 km) has nothing left to trade
    rows = {(r.buyer, r.seller): (round(r.energy_kwh, 9), round(r.distance_km, 9)) for r in trades.itertuples()}
    assert rows == {("P0", "P1"): (1.0, 0.2), ("P0", "P2"): (1.0, 0.5), ("P3", "P2"): (1.0, 0.0)}
    np.testing.assert_allclose(trades.price_per_kwh, 0.2)


@pytest.mark.parametrize("name", RULES)
@SETTINGS
@given(drawn=books)
def test_bilateral_trades_conserve_the_pool(name, drawn):
    book, feeder = drawn
    check_bilateral_trades(book, _clear(name, book, feeder), feeder, name)
