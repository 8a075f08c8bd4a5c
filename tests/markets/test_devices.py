"""Devices in the day model: batteries as canonical storage, EVs, heat pumps, shiftable loads, hooks.

Every case is small enough to check by hand; the expected numbers are in the comments.
"""

from __future__ import annotations

import pickle
from dataclasses import replace

import numpy as np
import pytest
from p2psim.markets import EqWM, GridOnly, make_market
from p2psim.markets._community_lp import build_day_model
from p2psim.markets._selfconsumption import self_consumption
from p2psim.markets.devices import ShiftableArrays, StorageArrays, battery_arrays
from p2psim.markets.hooks import ConstraintHook

from p2psim.errors import ClearingError, StudyError
from p2psim.testing import check_clearing, check_money, random_book
from tests.markets._books import make_book, make_context, make_feeder
from tests.markets._books import random_book as market_book


def storage(owner, *, charge_kw, horizon, discharge_kw=0.0, efficiency=1.0, demand=0.0, energy_max=100.0,
            energy_min=0.0, target=None, arrival=None, initial=0.0, retention=1.0, conserve=False, kind="ev",
            device_id="car") -> StorageArrays:
    """One storage device on participant ``owner`` (arrays broadcast over ``horizon``)."""
    def row(value):
        return np.broadcast_to(np.asarray(value, float), (1, horizon)).copy()

    target = row(np.nan if target is None else target)
    return StorageArrays(
        owner=np.array([owner]), device_id=(device_id,), kind=(kind,), charge_max_kw=row(charge_kw),
        discharge_max_kw=row(discharge_kw), charge_efficiency=row(efficiency), discharge_efficiency=np.ones(1),
        retention=np.array([retention]), demand_kw=row(demand),
        arrival_kwh=row(np.nan if arrival is None else arrival), energy_min_kwh=np.fmax(row(energy_min), target),
        energy_max_kwh=row(energy_max), target_kwh=target, initial_kwh=np.array([initial]), final_min_kwh=np.zeros(1),
        conserve=np.array([conserve]))


def test_battery_shorthand_and_canonical_device_build_the_same_model():
    # the per-participant battery shorthand IS a canonical storage device: same matrix, bounds and clearing
    book, feeder = market_book(3, n=6, horizon=12)
    devices = battery_arrays(book)
    canonical = replace(book, capacity_kwh=np.zeros(6), storage_devices=devices)
    context = make_context(feeder)
    a, b = build_day_model(book, context).lp, build_day_model(canonical, context).lp
    assert (a.A != b.A).nnz == 0
    for name in ("c", "row_lower", "row_upper", "col_lower", "col_upper"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    first, second = EqWM().clear(book, context), EqWM().clear(canonical, context)
    np.testing.assert_allclose(first.grid_import_kw, second.grid_import_kw, atol=1e-9)
    check_clearing(canonical, second, "eqwm_v1")


def test_ev_charges_in_the_cheap_hours_by_hand():
    # one home, 4 hours; the car is plugged in for hours 0-2, arrives with 2 kWh and must hold 8 kWh by
    # the end of hour 2 at 4 kW, 100 % efficient; import 0.40, 0.20, 0.30, 0.30. Cheapest: 4 kW in hour 1
    # (0.80) and the remaining 2 kW in hour 2 (0.60); the load of 1 kW costs 0.40+0.20+0.30+0.30 = 1.20.
    book = make_book([[1.0] * 4], import_price=[0.40, 0.20, 0.30, 0.30], export_price=0.05)
    ev = storage(0, charge_kw=[4, 4, 4, 0], horizon=4, arrival=[2, np.nan, np.nan, np.nan],
                 target=[np.nan, np.nan, 8, np.nan])
    book = replace(book, storage_devices=ev)
    clearing = GridOnly().clear(book, make_context())
    check_clearing(book, clearing, "grid_only_v1")
    np.testing.assert_allclose(clearing.device_charge_kw, [[0, 4, 2, 0]], atol=1e-7)
    np.testing.assert_allclose(clearing.device_energy_kwh, [[2, 6, 8, 8]], atol=1e-7)
    np.testing.assert_allclose(clearing.extra["standalone_cost"], [1.20 + 0.80 + 0.60], atol=1e-7)


def test_heat_pump_runs_when_its_cop_is_high_by_hand():
    # flat price 0.30; heat demand 4 kW in hour 1 only; COP 2 in hour 0 and 4 in hour 1; store 10 kWh,
    # starting at 2 kWh, which it must keep by the day's end (conserve). Cheapest: all heat in hour 1 at
    # COP 4: 1 kW electric. With 5 % loss per hour the stored 2 kWh shrink to 1.9 and 1.805: making them
    # good needs 0.1 kWh heat more in hour 0 (0.05 kW at COP 2) or 0.195 kWh in hour 1 (0.04875 kW at
    # COP 4); the solver picks hour 1: electric (0, 1.04875).
    book = make_book([[0.0, 0.0]], import_price=0.30, export_price=0.05)
    hp = storage(0, charge_kw=5.0, horizon=2, efficiency=[2.0, 4.0], demand=[0.0, 4.0], energy_max=10.0,
                 initial=2.0, retention=0.95, conserve=True, kind="heat_pump", device_id="heat-pump")
    book = replace(book, storage_devices=hp)
    clearing = GridOnly().clear(book, make_context())
    check_clearing(book, clearing, "grid_only_v1")
    np.testing.assert_allclose(clearing.device_charge_kw, [[0.0, 1.04875]], atol=1e-7)
    np.testing.assert_allclose(clearing.device_energy_kwh[0, -1], 2.0, atol=1e-7)


def test_shiftable_load_fills_the_cheapest_intervals_of_its_window_by_hand():
    # 3 kWh within hours 1-3 at up to 2 kW; prices 0.10 (outside), 0.40, 0.20, 0.30: 2 kW in hour 2 and
    # 1 kW in hour 3; cost 0.40 + 0.30 = 0.70.
    book = make_book([[0.0] * 4], import_price=[0.10, 0.40, 0.20, 0.30], export_price=0.05)
    loads = ShiftableArrays(owner=np.array([0]), device_id=("washer",), power_max_kw=np.array([[0, 2.0, 2.0, 2.0]]),
                            energy_min_kwh=np.array([3.0]), energy_max_kwh=np.array([3.0]),
                            block_intervals=np.zeros(1, int))
    book = replace(book, shiftable_loads=loads)
    clearing = GridOnly().clear(book, make_context())
    check_clearing(book, clearing, "grid_only_v1")
    np.testing.assert_allclose(clearing.charge_kw, [[0, 0, 2, 1]], atol=1e-7)
    np.testing.assert_allclose(clearing.extra["standalone_cost"], [0.70], atol=1e-7)


def test_uninterruptible_load_runs_in_one_block_by_hand():
    # 2 kWh at 1 kW, one run of 2 hours within hours 0-3; prices 0.20, 0.50, 0.20, 0.25. Split it would
    # take hours 0 and 2 (0.40); in one block the best is hours 2-3 (0.45). The coalition LP relaxes the
    # start binaries, but a lone block's rows have consecutive ones (an interval matrix, totally
    # unimodular), so its relaxation is integral: 0.45 as well, not the split 0.40.
    book = make_book([[0.0] * 4], import_price=[0.20, 0.50, 0.20, 0.25], export_price=0.05)
    loads = ShiftableArrays(owner=np.array([0]), device_id=("dryer",), power_max_kw=np.ones((1, 4)),
                            energy_min_kwh=np.array([2.0]), energy_max_kwh=np.array([2.0]),
                            block_intervals=np.array([2]))
    book = replace(book, shiftable_loads=loads)
    for rule in (GridOnly(), EqWM()):
        clearing = rule.clear(book, make_context())
        check_clearing(book, clearing, rule.name)
        np.testing.assert_allclose(clearing.charge_kw, [[0, 0, 1, 1]], atol=1e-7)
    assert clearing.extra["path"] == "lp+binaries"
    from p2psim.markets._coalition import CoalitionSolver

    assert CoalitionSolver(book, make_context()).cost(np.array([True])) == pytest.approx(0.45)


def test_every_rule_honours_every_device_on_random_books():
    # EVs (some V2G), heat pumps, shiftable loads (some uninterruptible), batteries: the physics and money
    # checks of p2psim.testing on every registered rule
    rng = np.random.default_rng(11)
    for _ in range(6):
        book, feeder = random_book(rng, n=5, horizon=8, devices=True)
        assert book.storage.n_devices or book.shiftable.n_devices
        for name in ("eqwm_v1", "grid_only_v1", "mid_market_rate_v1", "double_auction_v1", "double_auction_pab_v1"):
            clearing = make_market(name).clear(book, make_context(feeder))
            check_clearing(book, clearing, name)
            check_money(book, clearing, name)


def test_self_consumption_rule_meets_obligations_as_late_as_possible():
    # the car must gain 6 kWh by the end of hour 3 at 4 kW: no surplus, so it charges 2 kW in hour 2 and
    # 4 kW in hour 3 (as late as possible); with 3 kW of PV surplus in hour 0 it takes that first.
    book = make_book([[1.0] * 4], import_price=0.30, export_price=0.05)
    ev = storage(0, charge_kw=4.0, horizon=4, arrival=[0, np.nan, np.nan, np.nan], target=[np.nan] * 3 + [6.0])
    late = self_consumption(replace(book, storage_devices=ev))
    np.testing.assert_allclose(late.device_charge_kw, [[0, 0, 2, 4]], atol=1e-9)
    sunny = replace(book, pv_kw=np.array([[4.0, 0, 0, 0]]), storage_devices=ev)
    early = self_consumption(sunny)
    np.testing.assert_allclose(early.device_charge_kw, [[3, 0, 0, 3]], atol=1e-9)


def test_extra_constraint_hook_is_data_and_binds_in_every_model():
    # two cars that must each gain 8 kWh in hours 0-1 at 8 kW; a community cap of 8 kW on EV charging
    # forces 16 kWh into two hours at 8 kW in total: every interval is at the cap
    book = make_book([[0.0, 0.0], [0.0, 0.0]], import_price=[0.2, 0.3], export_price=0.05)
    cars = [storage(i, charge_kw=8.0, horizon=2, arrival=[0, np.nan], target=[np.nan, 8.0]) for i in (0, 1)]
    from p2psim.markets.devices import concat_storage

    hook = ConstraintHook("p2psim.markets.hooks:device_power_cap", (("kind", "ev"), ("limit_kw", 8.0)))
    capped = replace(book, storage_devices=concat_storage(cars, 2), constraints=(hook,))
    clone = pickle.loads(pickle.dumps(capped))  # what a worker process receives
    clearing = EqWM().clear(clone, make_context())
    check_clearing(clone, clearing, "eqwm_v1")
    np.testing.assert_allclose(clearing.device_charge_kw.sum(axis=0), [8.0, 8.0], atol=1e-7)
    free = EqWM().clear(replace(capped, constraints=()), make_context())
    np.testing.assert_allclose(free.device_charge_kw.sum(axis=0), [16.0, 0.0], atol=1e-7)
    assert "ev_power_cap" in [b.prefix for b in build_day_model(clone, make_context()).lp.row_blocks]


def test_a_hook_that_cannot_cross_processes_is_refused():
    with pytest.raises(StudyError, match=r"package\.module:function"):
        ConstraintHook("not_a_path").resolve()
    with pytest.raises(StudyError, match="cannot be imported"):
        ConstraintHook("p2psim.nowhere:cap").resolve()


def test_target_infeasible_only_with_the_feeder_names_line_and_device():
    # 1 kW load behind a 5 kW line; the car must gain 30 kWh in 7 hours: alone (11 kW) it could, behind
    # the line it gets at most 4 kW x 7 h = 28 kWh: ClearingError (exit 3) naming the line and the car
    book = make_book([[1.0] * 8], import_price=0.3, export_price=0.05, bus_index=[1])
    ev = storage(0, charge_kw=[11.0] * 7 + [0.0], horizon=8, arrival=[5] + [np.nan] * 7,
                 target=[np.nan] * 6 + [35.0, np.nan])
    book = replace(book, storage_devices=ev)
    with pytest.raises(ClearingError) as info:
        EqWM().clear(book, make_context(make_feeder(2, rating_kw=5.0)))
    text = str(info.value)
    assert info.value.exit_status == 3
    assert "line rating of 5 kW" in text and "soc[p0/car,t=6]" in text and "falls short" in text
    assert "by 2.000 kWh" in text  # 35 - 5 - 28


def test_devices_subset_with_their_owners():
    rng = np.random.default_rng(3)
    book, _ = random_book(rng, n=6, horizon=4, devices=True)
    keep = np.array([5, 1])
    sub = book.subset(keep)

    def pairs(b):
        ids = np.asarray(b.participant_ids)
        return sorted(zip(ids[b.device_owner], b.device_ids, strict=True))

    assert pairs(sub) == sorted(p for p in pairs(book) if p[0] in ("p5", "p1"))
    assert sub.participant_ids == ("p5", "p1")


def test_aggregate_shortcut_reads_canonical_batteries_and_stays_off_for_other_devices():
    # no fee, no binding feeder: coalitions of scaled-copy batteries are one aggregate prosumer, whether
    # the batteries come as the shorthand or as canonical devices; a car makes the day ineligible
    from p2psim.energy_game.game import DayGameSpec, EnergyDayGame

    book = make_book([[1.0, 2.0, 0.5], [0.5, 1.0, 2.0], [0.0, 0.0, 0.0]], [[2.0, 0.0, 0.0], [0, 1.0, 0], [0, 0, 0]],
                     capacity_kwh=[4.0, 2.0, 0.0], power_kw=[2.0, 1.0, 0.0], soc_initial=[2.0, 1.0, 0.0],
                     import_price=[0.3, 0.4, 0.3], export_price=0.1, fee=0.0)
    canonical = replace(book, capacity_kwh=np.zeros(3), storage_devices=battery_arrays(book))
    costs = []
    for b in (book, canonical):
        fast = EnergyDayGame(DayGameSpec(day=0, book=b, feeder=make_feeder(1), solver=make_context().solver))
        full = EnergyDayGame(DayGameSpec(day=0, book=b, feeder=make_feeder(1), solver=make_context().solver),
                             aggregate="never")
        assert fast.uses_aggregate(0b011)
        np.testing.assert_allclose(fast.all_costs(), full.all_costs(), atol=1e-7)
        costs.append(fast.all_costs())
    np.testing.assert_allclose(costs[0], costs[1], atol=1e-9)
    car = storage(2, charge_kw=3.0, horizon=3, arrival=[1.0, np.nan, np.nan], target=[np.nan, np.nan, 4.0])
    from p2psim.markets.devices import concat_storage

    with_car = replace(canonical, storage_devices=concat_storage([canonical.storage_devices, car], 3))
    game = EnergyDayGame(DayGameSpec(day=0, book=with_car, feeder=make_feeder(1), solver=make_context().solver))
    assert not game.uses_aggregate(0b011)
