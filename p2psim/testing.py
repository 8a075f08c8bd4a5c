"""Conformance checks shipped for users who write their own market rules or participant types.

The checks are the project's own invariants (:mod:`p2psim.sim.invariants`: the co-simulation raises the
same ones), so a rule or participant that passes here behaves in a run:

- :func:`check_clearing` / :func:`check_money`: the physics (energy balance per participant and
  interval, pool balance, flexible load that only moves, every device's power limits, availability,
  energy continuity, bounds, targets and carried obligations, shiftable loads' windows and energy)
  and the money (pool payments net to zero every interval, per-participant prices included; the
  community pays exactly what the grid and the network operator collect) of one clearing;
- :func:`check_bilateral_trades`: the trades matched from the pool add up to every participant's
  pool purchases and sales, at the buyer's price;
- :func:`check_individual_rationality` / :func:`check_price_band`: nobody pays more than alone with
  self-consumption, and every traded pool price lies within [feed-in, retail - fee];
- :func:`check_market` clears random books (with and without EVs, heat pumps and shiftable loads)
  and asserts all of these (the last two for rules that promise individual rationality) and
  determinism;
- :func:`check_participant` builds a participant type in a one-member community, checks its forecast,
  devices and bids, and runs it for a few days under an optimising and a rule-based market, checking
  every day's clearing, the energy its devices carry from one day to the next and its bills.

Each raises ``AssertionError`` naming the rule or class and the numbers. The project's own tests
(``tests/test_market_invariants.py``) use these functions; they add only rule-specific properties.
"""

from __future__ import annotations

import numpy as np

from p2psim.markets import ClearingContext, Market, OrderBook, make_market
from p2psim.markets.devices import ShiftableArrays, StorageArrays
from p2psim.sim.invariants import clearing_problems, money_problems
from p2psim.sim.settlement import Prices, interval_costs, pool_price_matrix
from p2psim.world.feeder import Feeder, LineSpec

TOLERANCE = 1e-6


def random_devices(rng: np.random.Generator, n: int, horizon: int, interval_hours: float = 1.0
                   ) -> tuple[StorageArrays, ShiftableArrays]:
    """Feasible random devices: EVs (some V2G), heat pumps with stores and shiftable loads on some participants.

    Every need fits in at most half of what the device's power could deliver in its window, so each
    device can meet its obligations alone.
    """
    dt = interval_hours
    kinds = rng.choice(["none", "ev", "heat_pump"], size=n, p=[0.4, 0.3, 0.3])
    own = np.flatnonzero(kinds != "none")
    m = len(own)
    power = rng.uniform(2, 11, m)
    ev = kinds[own] == "ev"
    start = rng.integers(0, max(horizon - 1, 1), m)
    stop = np.minimum(start + rng.integers(1, horizon + 1, m), horizon)
    t = np.arange(horizon)
    plugged = np.where(ev[:, None], (t >= start[:, None]) & (t < stop[:, None]), True)
    cop = np.where(ev[:, None], 0.92, rng.uniform(2.5, 4.0, (m, 1)) * np.ones(horizon))
    capacity = np.where(ev, rng.uniform(20, 60, m), rng.uniform(5, 15, m))
    arrival = np.full((m, horizon), np.nan)
    target = np.full((m, horizon), np.nan)
    rows = np.flatnonzero(ev)
    arrival[rows, start[rows]] = 0.1 * capacity[rows]
    need = rng.uniform(0, 0.5, m) * power * 0.92 * dt * (stop - start)
    target[rows, stop[rows] - 1] = np.minimum(0.1 * capacity[rows] + need[rows], capacity[rows])
    demand = np.where(ev[:, None], 0.0, rng.uniform(0, 0.5, (m, horizon)) * power[:, None] * cop)
    v2g = ev & (rng.uniform(size=m) < 0.5)
    storage = StorageArrays(
        owner=own, device_id=tuple(np.where(ev, "car", "heat-pump")), kind=tuple(np.where(ev, "ev", "heat_pump")),
        charge_max_kw=power[:, None] * plugged, discharge_max_kw=np.where(v2g, power, 0.0)[:, None] * plugged,
        charge_efficiency=cop, discharge_efficiency=np.where(v2g, 0.92, 1.0), retention=np.where(ev, 1.0, 0.99),
        demand_kw=demand, arrival_kwh=arrival, energy_min_kwh=np.fmax(np.zeros((m, horizon)), target),
        energy_max_kwh=np.repeat(capacity[:, None], horizon, axis=1), target_kwh=target,
        initial_kwh=np.where(ev, 0.1, 0.5) * capacity, final_min_kwh=np.zeros(m), conserve=~ev,
    )
    shiftable = rng.uniform(size=n) < 0.3
    loads_own = np.flatnonzero(shiftable)
    k = len(loads_own)
    a = rng.integers(0, horizon, k)
    b = np.minimum(a + rng.integers(1, horizon + 1, k), horizon)
    cap = rng.uniform(0.5, 3, k)
    window = (t >= a[:, None]) & (t < b[:, None])
    energy = rng.uniform(0.1, 0.9, k) * cap * dt * (b - a)
    block = np.where(rng.uniform(size=k) < 0.3, np.ceil(energy / (cap * dt) - 1e-9).astype(int), 0)
    loads = ShiftableArrays(owner=loads_own, device_id=("load",) * k, power_max_kw=cap[:, None] * window,
                            energy_min_kwh=energy, energy_max_kwh=energy, block_intervals=block)
    return storage, loads


def random_book(
    rng: np.random.Generator, n: int = 4, horizon: int = 6, *, battery_share: float = 0.5, fee_per_kwh: float = 0.02,
    devices: bool = False,
) -> tuple[OrderBook, Feeder]:
    """A random but valid book on a star feeder (every participant on its own bus); ``devices`` adds EVs etc."""
    buses = ("root", *[f"b{k}" for k in range(n)])
    feeder = Feeder(
        buses=buses,
        lines=tuple(LineSpec(id=f"l{k}", from_bus="root", to_bus=f"b{k}", rating_kw=1e3) for k in range(n)),
        root_bus="root",
        transformer_limit_kw=1e4,
    )
    has_battery = rng.uniform(size=n) < battery_share
    capacity = np.where(has_battery, rng.uniform(2, 10, n), 0.0)
    export = np.full(horizon, 0.08)
    book = OrderBook(
        participant_ids=tuple(f"p{k}" for k in range(n)),
        socio_class=tuple(rng.choice(["low", "middle", "high"], size=n)),
        bus_index=np.arange(1, n + 1),
        interval_hours=1.0,
        load_kw=rng.uniform(0, 3, (n, horizon)),
        pv_kw=rng.uniform(0, 4, (n, horizon)) * (rng.uniform(size=(n, 1)) < 0.6),
        flexible_share=np.zeros(n),
        capacity_kwh=capacity,
        max_charge_kw=capacity / 2,
        max_discharge_kw=capacity / 2,
        charge_efficiency=np.where(has_battery, 0.95, 1.0),
        discharge_efficiency=np.where(has_battery, 0.95, 1.0),
        soc_min_kwh=0.1 * capacity,
        soc_max_kwh=0.9 * capacity,
        soc_initial_kwh=0.5 * capacity,
        import_price_per_kwh=rng.uniform(0.2, 0.4, horizon),
        export_price_per_kwh=export,
        p2p_fee_per_kwh=np.full(horizon, fee_per_kwh),
        peak_price_per_kw=0.3,
        class_weight=np.ones(n),
        income_per_year=rng.uniform(15_000, 90_000, n),
    )
    if devices:
        storage, loads = random_devices(rng, n, horizon)
        from dataclasses import replace

        book = replace(book, storage_devices=storage, shiftable_loads=loads)
    return book, feeder


def energy_cost(book: OrderBook, clearing) -> np.ndarray:
    """Energy and pool cost per participant over the book's day (no demand charge)."""
    flows = {
        name: getattr(clearing, name) for name in ("grid_import_kw", "grid_export_kw", "pool_buy_kw", "pool_sell_kw")
    }
    zeros = np.zeros_like(book.load_kw)
    flows.update(imbalance_import_kw=zeros, imbalance_export_kw=zeros)
    prices = Prices(
        book.import_price_per_kwh,
        book.export_price_per_kwh,
        clearing.pool_price_per_kwh,
        book.p2p_fee_per_kwh,
        book.peak_price_per_kw,
    )
    return sum(c.sum(axis=1) for c in interval_costs(flows, prices, book.interval_hours).values())


def self_consumption_cost(book: OrderBook) -> np.ndarray:
    """Each participant's energy cost alone under the self-consumption device rule.

    This is the outside option the baseline rules promise not to undercut.
    """
    from p2psim.markets._selfconsumption import self_consumption

    net = self_consumption(book).net_import_kw
    dt = book.interval_hours
    return dt * (
        np.clip(net, 0, None) * book.import_price_per_kwh - np.clip(-net, 0, None) * book.export_price_per_kwh
    ).sum(axis=1)


def check_clearing(book: OrderBook, clearing, name: str) -> None:
    """Assert every physical invariant of ``clearing`` (see :mod:`p2psim.sim.invariants`)."""
    problems = clearing_problems(book, clearing)
    assert not problems, f"{name}: " + "; ".join(problems)


def check_money(book: OrderBook, clearing, name: str) -> None:
    """Assert the money balances of ``clearing``: pool payments per interval and the community's cost."""
    problems = money_problems(book, clearing)
    assert not problems, f"{name}: " + "; ".join(problems)


def check_price_band(book: OrderBook, clearing, name: str) -> None:
    """Assert that every traded pool price lies within [feed-in, retail - fee] (per participant too)."""
    price = pool_price_matrix(clearing.pool_price_per_kwh, book.n_participants, book.n_intervals)
    trading = (clearing.pool_buy_kw > TOLERANCE) | (clearing.pool_sell_kw > TOLERANCE)
    floor = np.broadcast_to(book.export_price_per_kwh, price.shape)
    ceiling = np.broadcast_to(book.import_price_per_kwh - book.p2p_fee_per_kwh, price.shape)
    assert (price[trading] >= floor[trading] - TOLERANCE).all(), f"{name}: pool price below feed-in"
    assert (price[trading] <= ceiling[trading] + TOLERANCE).all(), f"{name}: pool price + fee above retail"


def check_individual_rationality(book: OrderBook, clearing, name: str, tol: float = 1e-6) -> None:
    """Assert that nobody's energy cost exceeds its cost alone with self-consumption (within ``tol``)."""
    excess = energy_cost(book, clearing) - self_consumption_cost(book)
    assert excess.max() <= tol, f"{name}: participant {int(excess.argmax())} pays {excess.max():.6f} more than alone"


def check_bilateral_trades(book: OrderBook, clearing, feeder: Feeder, name: str) -> None:
    """Assert that the bilateral trades matched from the pool conserve it.

    Per participant and interval, the energy bought in trades equals ``pool_buy_kw * dt`` and the
    energy sold equals ``pool_sell_kw * dt``; every trade is at the buyer's pool price and between
    two different participants (:func:`p2psim.markets.matching.bilateral_trades`).
    """
    from p2psim.markets.matching import bilateral_trades

    trades = bilateral_trades(clearing, book, feeder)
    dt = book.interval_hours
    bought = np.zeros_like(book.load_kw)
    sold = np.zeros_like(book.load_kw)
    index = {pid: k for k, pid in enumerate(book.participant_ids)}
    price = np.broadcast_to(clearing.pool_price_per_kwh, book.load_kw.shape)  # per participant: the buyer's price
    for r in trades.itertuples():
        bought[index[r.buyer], r.interval] += r.energy_kwh
        sold[index[r.seller], r.interval] += r.energy_kwh
        assert r.price_per_kwh == price[index[r.buyer], r.interval], f"{name}: a trade not at the buyer's price"
        assert r.buyer != r.seller, f"{name}: {r.buyer} trades with itself"
    assert np.allclose(bought, clearing.pool_buy_kw * dt, atol=1e-8), f"{name}: trades do not add up to the pool buys"
    assert np.allclose(sold, clearing.pool_sell_kw * dt, atol=1e-8), f"{name}: trades do not add up to the pool sales"


def check_market(market: Market | str, *, books: int = 8, seed: int = 0) -> None:
    """Clear ``books`` random books (every other one with devices) and assert every shared invariant.

    Checks: :func:`check_clearing`, :func:`check_money` and :func:`check_bilateral_trades`; determinism
    (same book and rng state, same clearing); and, for rules with ``promises_individual_rationality``,
    :func:`check_individual_rationality` and :func:`check_price_band`.
    """
    rule = make_market(market) if isinstance(market, str) else market
    rng = np.random.default_rng(seed)
    for k in range(books):
        book, feeder = random_book(rng, n=int(rng.integers(2, 7)), horizon=int(rng.integers(2, 9)),
                                   devices=bool(k % 2))
        state = int(rng.integers(1 << 31))
        first = rule.clear(book, ClearingContext(feeder=feeder, rng=np.random.default_rng(state)))
        again = rule.clear(book, ClearingContext(feeder=feeder, rng=np.random.default_rng(state)))
        check_clearing(book, first, rule.name)
        check_money(book, first, rule.name)
        check_bilateral_trades(book, first, feeder, rule.name)
        assert np.allclose(first.net_import_kw(), again.net_import_kw()), f"{rule.name}: not deterministic"
        if rule.promises_individual_rationality and rule.name != "grid_only_v1":
            check_price_band(book, first, rule.name)
            check_individual_rationality(book, first, rule.name)


def check_participant(cls, spec=None, *, days: int = 2, markets: tuple[str, ...] = ("eqwm_v1", "mid_market_rate_v1")
                      ) -> None:
    """Build a participant of ``cls`` alone on a feeder, check it and run it ``days`` days per market.

    Checks: the forecast's shape and sign; that its devices pass the fleet's checks (the message
    names the device and the numbers); its bids' shape; then, per market, every day's clearing and
    money (:func:`check_clearing`, :func:`check_money`), that each day's devices start from the energy
    the previous day ended with, and that the settled bills balance.
    """
    from p2psim.errors import OrderError, ScenarioError
    from p2psim.sim.model import CommunityModel, RunOptions
    from p2psim.world.scenario import ParticipantSpec, Scenario, Tariffs

    horizon = 24 * days
    feeder = Feeder(buses=("root",), lines=(), root_bus="root", transformer_limit_kw=100.0)
    spec = spec or ParticipantSpec(id="x-001", bus="root", load_kw=np.ones(horizon), pv_kw=np.zeros(horizon))
    scenario = Scenario(name="check", participants=(spec,), feeder=feeder, days=days,
                        tariffs=Tariffs(import_price_per_kwh=(0.3,) * 24, export_price_per_kwh=0.1)).check()
    name = cls.__name__
    for market in markets:
        from p2psim.agents import PARTICIPANT_TYPES

        kinds = dict(PARTICIPANT_TYPES)
        PARTICIPANT_TYPES[spec.kind] = cls
        try:
            model = CommunityModel(scenario, make_market(market), seed=0, options=RunOptions(forecast_error=0.0))
        except ScenarioError as exc:
            raise AssertionError(f"{name}: its devices are refused: {exc}") from exc
        finally:
            PARTICIPANT_TYPES.clear()
            PARTICIPANT_TYPES.update(kinds)
        member = model.members[0]
        profile = member.forecast(0, np.random.default_rng(0))
        per_day = scenario.intervals_per_day
        assert profile.load_kw.shape == (per_day,), f"{name}.forecast load has shape {profile.load_kw.shape}"
        assert profile.pv_kw.shape == (per_day,), f"{name}.forecast pv has shape {profile.pv_kw.shape}"
        assert (profile.load_kw >= 0).all() and (profile.pv_kw >= 0).all(), f"{name}: negative forecast"
        try:
            model.bids(0, [profile])
        except OrderError as exc:
            raise AssertionError(f"{name}: {exc}") from exc
        model.run()
        ended = None
        for day, today in enumerate(model.day_results):
            book, clearing = today["book"], today["clearing"]
            if ended is not None:
                gap = np.abs(book.storage.initial_kwh - ended).max(initial=0.0)
                assert gap <= TOLERANCE, f"{name} under {market}: day {day} starts {gap:.6g} kWh off yesterday's end"
            check_clearing(book, clearing, f"{name} under {market}")
            check_money(book, clearing, f"{name} under {market}")
            _, _, energy = clearing.device_flows(book)
            ended = energy[: book.storage.n_devices, -1]
            bills = today["bills"]
            assert np.isfinite(bills["bill"]).all(), f"{name} under {market}: bill is not finite"
