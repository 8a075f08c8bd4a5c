"""Small order books and feeders for the market tests (import as tests.markets._books)."""

from __future__ import annotations

import numpy as np
from p2psim.markets.base import ClearingContext, EquityOptions, SolverOptions
from p2psim.markets.book import OrderBook

from p2psim.world.feeder import Feeder, LineSpec


def make_feeder(n_buses: int = 2, *, transformer_limit_kw: float = 1e4, rating_kw: float = 1e4,
                r_ohm: float = 0.0, star: bool = False) -> Feeder:
    """Buses b0 (root), b1, ...; a chain b0-b1-b2-... (or a star around b0), 0.1 km per line."""
    buses = tuple(f"b{k}" for k in range(n_buses))
    lines = tuple(
        LineSpec(id=f"line-{k:02d}", from_bus="b0" if star else f"b{k - 1}", to_bus=f"b{k}",
                 rating_kw=rating_kw, r_ohm=r_ohm, length_km=0.1)
        for k in range(1, n_buses)
    )
    return Feeder(buses=buses, lines=lines, root_bus="b0", transformer_limit_kw=transformer_limit_kw)


def make_book(load_kw, pv_kw=None, *, capacity_kwh=None, power_kw=None, efficiency=1.0, soc_initial=None,
              soc_min=None, soc_max=None, flexible_share=None, import_price=0.30, export_price=0.10,
              fee=0.0, peak_price=0.0, interval_hours=1.0, bus_index=None, socio_class=None,
              class_weight=None, shift_window=4, income=None) -> OrderBook:
    """Build an OrderBook from arrays (n x T); scalars broadcast, batteries default to none."""
    load = np.atleast_2d(np.asarray(load_kw, dtype=float))
    n, horizon = load.shape
    pv = np.zeros_like(load) if pv_kw is None else np.broadcast_to(np.asarray(pv_kw, float), load.shape).copy()

    def per(value, default):
        return np.broadcast_to(np.asarray(default if value is None else value, dtype=float), (n,)).copy()

    def per_t(value):
        return np.broadcast_to(np.asarray(value, dtype=float), (horizon,)).copy()

    cap = per(capacity_kwh, 0.0)
    return OrderBook(
        participant_ids=tuple(f"p{i}" for i in range(n)),
        socio_class=tuple(socio_class) if socio_class is not None else ("middle",) * n,
        bus_index=np.asarray(bus_index if bus_index is not None else np.zeros(n), dtype=int),
        interval_hours=interval_hours,
        load_kw=load, pv_kw=pv,
        flexible_share=per(flexible_share, 0.0),
        capacity_kwh=cap, max_charge_kw=per(power_kw, 0.0), max_discharge_kw=per(power_kw, 0.0),
        charge_efficiency=per(efficiency, 1.0), discharge_efficiency=per(efficiency, 1.0),
        soc_min_kwh=per(soc_min, 0.0), soc_max_kwh=per(soc_max, cap), soc_initial_kwh=per(soc_initial, 0.0),
        import_price_per_kwh=per_t(import_price), export_price_per_kwh=per_t(export_price),
        p2p_fee_per_kwh=per_t(fee), peak_price_per_kw=float(peak_price),
        class_weight=per(class_weight, 1.0), income_per_year=per(income, 30_000.0),
        shift_window_intervals=shift_window,
    )


def make_context(feeder: Feeder | None = None, *, day: int = 0, backend: str = "highs", welfare: float = 1.0,
                 rawlsian: float = 0.0, use_binaries: str = "auto", options: dict | None = None,
                 time_limit_s: float = 60.0, on_time_limit: str = "fail") -> ClearingContext:
    """A context with a generous one-bus feeder unless one is given."""
    return ClearingContext(
        feeder=feeder if feeder is not None else make_feeder(1),
        rng=np.random.default_rng(0), day=day,
        solver=SolverOptions(backend=backend, time_limit_s=time_limit_s, on_time_limit=on_time_limit),
        equity=EquityOptions(welfare_weight=welfare, rawlsian_weight=rawlsian, use_binaries=use_binaries),
        options=dict(options or {}),
    )


def random_book(seed: int, n: int = 6, horizon: int = 12, *, n_buses: int = 4, peak_price: float = 0.2,
                fee: float = 0.01, class_weight=None) -> tuple[OrderBook, Feeder]:
    """A seeded random community: evening loads, midday PV on half, batteries on a third."""
    rng = np.random.default_rng(seed)
    hours = np.arange(horizon) * 24.0 / horizon
    base = 0.4 + 0.8 * np.exp(-((hours - 19) ** 2) / 6)
    load = base * rng.uniform(0.5, 1.5, (n, 1)) + rng.uniform(0, 0.3, (n, horizon))
    sun = np.clip(np.sin((hours - 6) / 12 * np.pi), 0, None)
    pv = sun * rng.uniform(1.0, 4.0, (n, 1)) * (rng.random((n, 1)) < 0.5)
    cap = np.where(rng.random(n) < 0.35, rng.uniform(3, 8, n), 0.0)
    book = make_book(
        load, pv, capacity_kwh=cap, power_kw=cap / 2, efficiency=0.95, soc_initial=cap * 0.5, soc_min=cap * 0.1,
        flexible_share=np.where(rng.random(n) < 0.5, 0.2, 0.0), import_price=0.25 + 0.1 * (hours >= 17),
        export_price=0.06, fee=fee, peak_price=peak_price, interval_hours=24.0 / horizon,
        bus_index=rng.integers(0, n_buses, n), class_weight=class_weight,
        socio_class=tuple(rng.choice(["low", "middle", "high"], n)),
    )
    return book, make_feeder(n_buses, rating_kw=8.0, transformer_limit_kw=30.0)
