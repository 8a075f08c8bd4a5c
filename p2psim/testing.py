"""Conformance checks shipped for users who write their own market rules or participant types.

``check_market(market)`` clears random books and asserts the shared invariants; it raises
``AssertionError`` with the numbers when a rule misbehaves. ``check_participant(cls)`` checks that
a participant subclass builds, forecasts the right shape and keeps forecasts non-negative.
"""

from __future__ import annotations

import numpy as np

from p2psim.feeder import Feeder, LineSpec
from p2psim.markets import ClearingContext, Market, OrderBook, make_market
from p2psim.settlement import Prices, interval_costs

TOLERANCE = 1e-6


def random_book(
    rng: np.random.Generator, n: int = 4, horizon: int = 6, *, battery_share: float = 0.5, fee_per_kwh: float = 0.02
) -> tuple[OrderBook, Feeder]:
    """A random but valid book on a star feeder (every participant on its own bus)."""
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
    """Each participant's energy cost alone under the self-consumption battery rule.

    This is the outside option the baseline rules promise not to undercut.
    """
    from p2psim.markets._selfconsumption import self_consumption

    net = self_consumption(book).net_import_kw
    dt = book.interval_hours
    return dt * (
        np.clip(net, 0, None) * book.import_price_per_kwh - np.clip(-net, 0, None) * book.export_price_per_kwh
    ).sum(axis=1)


def check_clearing(book: OrderBook, clearing, name: str) -> None:
    """Assert non-negative flows, participant energy balance, pool balance and battery bounds."""
    for field in (
        "grid_import_kw",
        "grid_export_kw",
        "pool_buy_kw",
        "pool_sell_kw",
        "charge_kw",
        "discharge_kw",
        "curtail_kw",
    ):
        values = getattr(clearing, field)
        assert values.shape == book.load_kw.shape, f"{name}: {field} has shape {values.shape}"
        assert values.min() >= -TOLERANCE, f"{name}: {field} has negative value {values.min()}"
    use = (
        book.load_kw - book.pv_kw + clearing.curtail_kw + clearing.charge_kw - clearing.discharge_kw + clearing.shift_kw
    )
    gap = np.abs(use - clearing.net_import_kw()).max()
    assert gap <= TOLERANCE, f"{name}: participant energy balance off by {gap} kW"
    pool_gap = np.abs(clearing.pool_buy_kw.sum(0) - clearing.pool_sell_kw.sum(0)).max()
    assert pool_gap <= TOLERANCE, f"{name}: pool unbalanced by {pool_gap} kW"
    assert (clearing.soc_kwh >= book.soc_min_kwh[:, None] - TOLERANCE).all(), f"{name}: SoC below window"
    assert (clearing.soc_kwh <= book.soc_max_kwh[:, None] + TOLERANCE).all(), f"{name}: SoC above window"


def check_market(market: Market | str, *, books: int = 8, seed: int = 0) -> None:
    """Clear ``books`` random books and assert every shared invariant of a market rule.

    Checks: shapes and non-negative flows; energy balance per participant and interval; pool
    balance; battery within its window; determinism (same book and rng state, same clearing);
    and, for rules with ``promises_individual_rationality``, that nobody's energy cost exceeds its
    grid-only cost (within tolerance) and the pool price lies within [feed-in, retail - fee].
    """
    rule = make_market(market) if isinstance(market, str) else market
    rng = np.random.default_rng(seed)
    for _ in range(books):
        book, feeder = random_book(rng, n=int(rng.integers(2, 7)), horizon=int(rng.integers(2, 9)))
        state = int(rng.integers(1 << 31))
        first = rule.clear(book, ClearingContext(feeder=feeder, rng=np.random.default_rng(state)))
        again = rule.clear(book, ClearingContext(feeder=feeder, rng=np.random.default_rng(state)))
        check_clearing(book, first, rule.name)
        assert np.allclose(first.net_import_kw(), again.net_import_kw()), f"{rule.name}: not deterministic"
        if rule.promises_individual_rationality and rule.name != "grid_only_v1":
            traded = first.pool_buy_kw.sum(0) > TOLERANCE
            price = first.pool_price_per_kwh[traded]
            assert (price >= book.export_price_per_kwh[traded] - TOLERANCE).all(), f"{rule.name}: price < feed-in"
            ceiling = book.import_price_per_kwh[traded] - book.p2p_fee_per_kwh[traded]
            assert (price <= ceiling + TOLERANCE).all(), f"{rule.name}: price + fee > retail"
            excess = energy_cost(book, first) - self_consumption_cost(book)
            assert excess.max() <= 1e-6, f"{rule.name}: a participant pays {excess.max():.6f} more than alone"


def check_participant(cls, spec=None) -> None:
    """Build a participant of ``cls`` in a one-member model and check its forecast."""
    from p2psim.markets import MARKETS
    from p2psim.model import CommunityModel
    from p2psim.scenario import ParticipantSpec, Scenario, Tariffs

    feeder = Feeder(buses=("root",), lines=(), root_bus="root", transformer_limit_kw=100.0)
    spec = spec or ParticipantSpec(id="x-001", bus="root", load_kw=np.ones(24), pv_kw=np.zeros(24))
    scenario = Scenario(
        name="check",
        participants=(spec,),
        feeder=feeder,
        tariffs=Tariffs(import_price_per_kwh=(0.3,) * 24, export_price_per_kwh=0.1),
    ).check()
    model = CommunityModel(scenario, MARKETS["grid_only_v1"](), seed=0)
    member = cls(model, spec)
    profile = member.forecast(0, np.random.default_rng(0))
    horizon = scenario.intervals_per_day
    assert profile.load_kw.shape == (horizon,), f"{cls.__name__}.forecast load has shape {profile.load_kw.shape}"
    assert profile.pv_kw.shape == (horizon,), f"{cls.__name__}.forecast pv has shape {profile.pv_kw.shape}"
    assert (profile.load_kw >= 0).all() and (profile.pv_kw >= 0).all(), f"{cls.__name__}: negative forecast"
