"""Grid-origin tracing by hand (batteries, losses, the pool) and its invariants on random balanced flows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psim.metrics.provenance import trace_grid_origin

KEYS = ("load_kw", "shift_kw", "pv_kw", "curtail_kw", "charge_kw", "discharge_kw", "grid_import_kw",
        "imbalance_import_kw", "pool_buy_kw", "pool_sell_kw")


def flows(n: int, horizon: int, **given_flows) -> dict[str, np.ndarray]:
    out = {k: np.zeros((n, horizon)) for k in KEYS}
    out.update({k: np.array(v, dtype=float) for k, v in given_flows.items()})
    return out


def test_pv_alone_and_half_from_the_grid():
    # h0: PV 2 covers its 1 kW load; h1: PV 1 + grid 1 for a 2 kW load
    f = flows(2, 1, load_kw=[[1], [2]], pv_kw=[[2], [1]], grid_import_kw=[[0], [1]])
    out = trace_grid_origin(f, np.zeros((2, 1)), np.ones(2), 1.0)
    np.testing.assert_allclose(out.grid_kwh, [[0.0], [1.0]])
    np.testing.assert_allclose(out.local_kwh, [[1.0], [1.0]])


def test_grid_charged_battery_is_grid_energy_when_discharged():
    # t0: import 3, 1 to the load and 2 into an empty battery; t1: the battery covers the load
    f = flows(1, 2, load_kw=[[1, 1]], grid_import_kw=[[3, 0]], charge_kw=[[2, 0]], discharge_kw=[[0, 1]])
    out = trace_grid_origin(f, np.array([[2.0, 1.0]]), np.ones(1), 1.0, initial_fraction=0.0)
    np.testing.assert_allclose(out.grid_kwh, [[1.0, 1.0]])
    assert out.battery_fraction[0] == pytest.approx(1.0)


def test_pv_charged_battery_and_a_mixed_battery():
    # charge efficiency 0.5: t0 charges 2 kWh of PV surplus (PV 3 - load 1) and stores 1 local kWh; t1 charges
    # 2 kWh from the grid and stores 1 grid kWh, so the battery is half grid; t2 discharges 1 kWh to the load
    # (losses take the same mix): 0.5 kWh of grid origin
    f = flows(1, 3, load_kw=[[1, 0, 1]], pv_kw=[[3, 0, 0]], charge_kw=[[2, 2, 0]], grid_import_kw=[[0, 2, 0]],
              discharge_kw=[[0, 0, 1]])
    soc = np.array([[1.0, 2.0, 2.0 - 1.0 / 0.9]])
    out = trace_grid_origin(f, soc, np.array([0.5]), 1.0, initial_fraction=0.0)
    np.testing.assert_allclose(out.grid_kwh, [[0.0, 0.0, 0.5]])
    assert out.battery_fraction[0] == pytest.approx(0.5)


def test_initial_content_counts_as_grid_by_default():
    f = flows(1, 1, load_kw=[[1]], discharge_kw=[[1]])
    assert trace_grid_origin(f, np.array([[1.0]]), np.ones(1), 1.0).grid_kwh[0, 0] == pytest.approx(1.0)
    assert trace_grid_origin(f, np.array([[1.0]]), np.ones(1), 1.0, 0.0).grid_kwh[0, 0] == 0.0


def test_the_pool_carries_its_sellers_mix():
    # a community battery c (no load, grid-charged content) sells 1 kWh, seller s sells 1 kWh of PV; the
    # pool is half grid, so buyer b's 2 kWh for its load hold 1 kWh of grid origin
    f = flows(3, 1, load_kw=[[0], [0], [2]], pv_kw=[[0], [1], [0]], discharge_kw=[[1], [0], [0]],
              pool_sell_kw=[[1], [1], [0]], pool_buy_kw=[[0], [0], [2]])
    out = trace_grid_origin(f, np.array([[5.0], [0.0], [0.0]]), np.ones(3), 1.0, initial_fraction=1.0)
    np.testing.assert_allclose(out.grid_kwh[:, 0], [0.0, 0.0, 1.0])


def test_interval_length_scales_energy():
    f = flows(1, 1, load_kw=[[2]], grid_import_kw=[[2]])
    out = trace_grid_origin(f, np.zeros((1, 1)), np.ones(1), 0.25)
    assert out.use_kwh[0, 0] == pytest.approx(0.5) and out.grid_kwh[0, 0] == pytest.approx(0.5)


@st.composite
def balanced(draw):
    """Random flows of n homes over T intervals that satisfy every home's energy balance and the pool's."""
    n, horizon = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    eta = rng.uniform(0.5, 1.0, n)
    load = rng.uniform(0, 3, (n, horizon)) * (rng.random((n, horizon)) < 0.9)
    pv = rng.uniform(0, 4, (n, horizon)) * (rng.random((n, horizon)) < 0.5)
    curtail = pv * rng.uniform(0, 0.3, (n, horizon)) * (rng.random((n, horizon)) < 0.3)
    charge = rng.uniform(0, 2, (n, horizon)) * (rng.random((n, horizon)) < 0.4)
    discharge = rng.uniform(0, 2, (n, horizon)) * (rng.random((n, horizon)) < 0.4)
    soc0 = rng.uniform(0, 5, n) + 2 * horizon  # deep enough never to run dry
    soc = soc0[:, None] + np.cumsum(eta[:, None] * charge - discharge / 0.95, axis=1)
    sell = rng.uniform(0, 1, (n, horizon)) * (rng.random((n, horizon)) < 0.4)
    weights = rng.random((n, horizon)) + 1e-9
    buy = sell.sum(axis=0) * weights / weights.sum(axis=0)  # the pool balances every interval
    net = load - pv + curtail + charge - discharge - (buy - sell)
    f = {"load_kw": load, "shift_kw": np.zeros((n, horizon)), "pv_kw": pv, "curtail_kw": curtail,
         "charge_kw": charge, "discharge_kw": discharge, "grid_import_kw": np.clip(net, 0, None),
         "imbalance_import_kw": np.zeros((n, horizon)), "pool_buy_kw": buy, "pool_sell_kw": sell}
    initial = rng.random(n)
    return f, soc, eta, initial, soc0


@settings(max_examples=150, deadline=None)
@given(balanced())
def test_grid_origin_is_bounded_and_conserved(case):
    f, soc, eta, initial, soc0 = case
    out = trace_grid_origin(f, soc, eta, 1.0, initial_fraction=initial)
    assert np.all(out.grid_kwh >= -1e-12) and np.all(out.grid_kwh <= out.use_kwh + 1e-12)
    assert np.all((out.battery_fraction >= 0) & (out.battery_fraction <= 1))
    # no grid energy is created: what is consumed as grid energy plus what stays in the batteries as grid
    # energy never exceeds what came from the grid plus what the batteries held as grid energy at the start
    consumed = out.grid_kwh.sum() + (out.battery_fraction * soc[:, -1]).sum()
    supplied = f["grid_import_kw"].sum() + (initial * soc0).sum()
    assert consumed <= supplied + 1e-6
