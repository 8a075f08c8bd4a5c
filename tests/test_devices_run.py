"""Devices in the co-simulation: obligations across midnight, bids, prices, bad input and devices.parquet.

Hourly explicit communities on a two-bus feeder; every expected number is worked out in a comment.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from p2psim.agents import ElectricVehicle, HeatPump, Household, ShiftableLoad
from p2psim.markets.hooks import ConstraintHook

from p2psim.config.study import ExplicitCommunity, Study
from p2psim.errors import ClearingError, InvariantError, ScenarioError
from p2psim.runner import run
from p2psim.sim.fleet import DeviceFleet
from p2psim.sim.settlement import Prices, check_money_balance, interval_costs
from p2psim.world.feeder import Feeder, LineSpec
from p2psim.world.scenario import ParticipantSpec, Tariffs

DAYS = 2
TARIFFS = Tariffs(import_price_per_kwh=(0.20,) * 7 + (0.30,) * 10 + (0.40,) * 4 + (0.30,) * 3,
                  export_price_per_kwh=0.08, p2p_fee_per_kwh=0.01)


def home(pid, devices=(), *, load=1.0, pv=0.0, bus="b1"):
    hours = np.arange(24 * DAYS) % 24
    sun = pv * np.clip(np.sin((hours - 6) / 12 * np.pi), 0, None)
    return ParticipantSpec(id=pid, bus=bus, load_kw=np.full(24 * DAYS, load), pv_kw=sun, devices=tuple(devices))


def study(participants, *, rating=50.0, market="eqwm_v1", options=()):
    feeder = Feeder(buses=("b0", "b1"), root_bus="b0", transformer_limit_kw=100.0,
                    lines=(LineSpec(id="line-1", from_bus="b0", to_bus="b1", rating_kw=rating),))
    return Study(name="devices", community=ExplicitCommunity(participants=tuple(participants), feeder=feeder),
                 tariffs=TARIFFS, market=market, days=DAYS, forecast_error=0.0, allocation=False, explain=False,
                 market_options=tuple(options))


NIGHT_CAR = ElectricVehicle(id="car", plug_in="22:00", plug_out="02:00", need_kwh=20.0, max_power_kw=5.0,
                            efficiency=1.0, arrival_kwh=5.0)


def test_obligation_crossing_midnight_is_carried_as_the_days_floor():
    # plugged 22:00-02:00 at 5 kW, +20 kWh from 5 kWh: by 02:00 it must hold 25 kWh; tomorrow's two hours
    # add at most 10 kWh, so today must end with at least 15 kWh
    fleet = DeviceFleet(("hh",), [(NIGHT_CAR,)], 24 * DAYS, 60)
    assert fleet.problems() == []
    assert fleet.storage_day(0, np.array([5.0])).final_min_kwh[0] == pytest.approx(15.0)
    # the session under way when the run starts is on track: it starts at 25 - 10 = 15 kWh at 00:00
    day0 = fleet.storage_day(0, np.array([5.0]))
    assert day0.arrival_kwh[0, 0] == pytest.approx(15.0) and day0.target_kwh[0, 1] == pytest.approx(25.0)
    # with plug-out 04:00 tomorrow's four hours add 20 kWh: today's floor is 25 - 20 = 5
    later = DeviceFleet(("hh",), [(replace(NIGHT_CAR, plug_out="04:00"),)], 24 * DAYS, 60)
    assert later.storage_day(0, np.array([5.0])).final_min_kwh[0] == pytest.approx(5.0)
    # the last night's obligation lies after the run: no floor on the last day
    assert fleet.storage_day(1, np.array([5.0])).final_min_kwh[0] == pytest.approx(0.0)


def test_devices_run_meets_targets_and_carries_energy_over_days():
    heard = []

    class Recorder(Household):

        def on_cleared(self, schedule, prices):
            super().on_cleared(schedule, prices)
            heard.append((self.participant_id, schedule, prices))

    from p2psim.agents import PARTICIPANT_TYPES

    car = replace(NIGHT_CAR, plug_out="06:00")  # 8 hours at 5 kW for 20 kWh
    pump = HeatPump(max_power_kw=3.0, cop=3.0, heat_demand_kw=np.r_[np.full(7, 4.0), np.full(17, 1.0)],
                    store_kwh=20.0, min_kwh=2.0)
    washer = ShiftableLoad(id="washer", energy_kwh=2.0, max_power_kw=2.0, earliest="22:00", latest="03:00")
    people = [replace(home("hh-ev", [car]), kind="recorder"), home("hh-hp", [pump, washer]), home("hh-pv", pv=6.0)]
    PARTICIPANT_TYPES["recorder"] = Recorder
    try:
        for market in ("eqwm_v1", "mid_market_rate_v1", "double_auction_v1"):
            heard.clear()
            result = run(study(people, market=market))
            devices = result.devices
            assert list(devices.columns) == ["participant", "device", "kind", "day", "interval", "power_kw",
                                             "energy_kwh", "available", "target_kwh"]
            car_rows = devices[devices.device == "car"]
            # every departure target is met: 25 kWh by 06:00 (interval 5) of each day
            targets = car_rows[car_rows.target_kwh.notna()]
            assert len(targets) == DAYS and (targets.energy_kwh >= targets.target_kwh - 1e-6).all()
            # the car is only drawn on while plugged in
            assert (car_rows.loc[~car_rows.available, "power_kw"].abs() < 1e-9).all()
            # the washer's window crosses midnight: each window draws exactly its 2 kWh over two days
            washer_rows = devices[devices.device.str.startswith("washer")]
            assert washer_rows.groupby("device").power_kw.sum().round(9).isin([2.0]).sum() >= 1
            # energy carried over midnight: day 1 starts from day 0's end (the heat store)
            store = devices[devices.device == "heat-pump"]
            day0_end = store[(store.day == 0) & (store.interval == 23)].energy_kwh.iloc[0]
            first = result.day_results[1]["book"].storage
            assert first.initial_kwh[list(first.device_id).index("heat-pump")] == pytest.approx(day0_end)
            # members hear their full schedule, every device and their prices
            pid, schedule, prices = heard[0]
            assert pid == "hh-ev" and set(schedule["devices"]) == {"car"}
            assert schedule["devices"]["car"]["energy_kwh"].shape == (24,) and prices.pool_price_per_kwh.shape == (24,)
            # the report's device table: the car draws exactly its two needs (20 kWh each, lossless), the
            # session after the last night lies beyond the run; both targets are met
            from p2psim.report.devices import device_summary

            summary = device_summary(devices, 1.0).set_index("kind")
            assert summary.loc["ev", "drawn_kwh"] == pytest.approx(40.0, abs=1e-6)
            assert (summary.loc["ev", "targets"], summary.loc["ev", "targets_met"]) == (2, 2)
            # the washer's first window (22:00-03:00) draws its 2 kWh; the second ends after the run, whose
            # last three hours at 2 kW could take all of it: nothing is due inside the run
            assert summary.loc["shiftable", "drawn_kwh"] == pytest.approx(2.0, abs=1e-6)
            # the participant table names every participant's devices
            assert result.participants.set_index("participant").devices.to_dict() == {
                "hh-ev": "ev", "hh-hp": "heat_pump, shiftable", "hh-pv": ""}
            # consumption counts what the devices draw
            assert "device_use_kw" in result.dispatch.columns
            assert 0.0 <= result.summary["self_sufficiency_pct"] <= 100.0
    finally:
        PARTICIPANT_TYPES.pop("recorder")


def test_a_target_the_device_cannot_meet_is_refused_before_the_run():
    # 30 kWh in 2 hours at 11 kW (95 %): from 5 kWh at 05:00 the car reaches at most 5 + 20.9 = 25.9 kWh
    rushed = ElectricVehicle(id="car", plug_in="05:00", plug_out="07:00", need_kwh=30.0, efficiency=0.95,
                             arrival_kwh=5.0)
    with pytest.raises(ScenarioError) as info:
        run(study([home("ev-001", [rushed])]))
    assert info.value.exit_status == 2
    assert ("participant 'ev-001', device 'car' (ev): needs 35 kWh by 07:00 on day 0 (its target) but can hold at "
            "most 25.9 kWh then: from 5 kWh at 05:00 on day 0, 2 h of charging at up to 11 kW store at most 20.9 kWh"
            ) in str(info.value)


def test_a_target_only_the_feeder_prevents_exits_3_naming_line_and_device():
    # 7 hours at 11 kW would do, but the 5 kW line leaves 4 kW next to the 1 kW load: 28 kWh of 30
    car = ElectricVehicle(id="car", plug_in="00:00", plug_out="07:00", need_kwh=30.0, efficiency=1.0,
                          arrival_kwh=5.0)
    with pytest.raises(ClearingError) as info:
        run(study([home("ev-001", [car])], rating=5.0))
    text = str(info.value)
    assert info.value.exit_status == 3 and "line rating of 5 kW" in text
    assert "soc[ev-001/car,t=6]" in text and "falls short of its energy floor 35 kWh" in text and "by 2.000 kWh" in text


def test_hook_in_the_book_gives_the_same_grand_value_in_worker_processes():
    # an EV charging cap as data: v(N) rebuilt in two worker processes equals the value in this process.
    # Two cars plugged 15:00-19:00 must gain 10 kWh each at 5 kW; alone each charges in the two 0.30 hours,
    # together under a 5 kW cap one of them pays 0.40 for 10 kWh: c(N) rises by 1.00 a day, v(N) falls.
    from p2psim.energy_game.game import day_specs, grand_coalition_value, map_days

    car = replace(NIGHT_CAR, plug_in="15:00", plug_out="19:00", need_kwh=10.0)
    people = [home("ev-0", [car]), home("ev-1", [car]), home("hh-pv", pv=6.0)]
    cap = ConstraintHook("p2psim.markets.hooks:device_power_cap", (("kind", "ev"), ("limit_kw", 5.0)))
    result = run(study(people, options=(("extra_constraints", (cap,)),)))
    specs = day_specs(result)
    assert specs[0].book.constraints == (cap,)
    here = [grand_coalition_value(s) for s in specs]
    there = map_days(grand_coalition_value, specs, workers=2)
    np.testing.assert_allclose(there, here, atol=1e-9)
    free = [grand_coalition_value(replace(s, book=replace(s.book, constraints=()))) for s in specs]
    np.testing.assert_allclose(np.subtract(free, here), 1.0, atol=1e-6)  # the cap binds: 10 kWh x 0.10 less saving


def test_bids_set_the_auction_prices_by_hand():
    # hour 12: the PV home has 6 - 0.2 = 5.8 kW to sell, the others need 1 kW each; flat limits: buyers
    # 0.25 and 0.15, seller 0.10. Uniform price: 2 kW trade at the candidates 0.10 and 0.15, 1 kW at 0.25,
    # so the price is the midpoint of the maximising range, 0.125. Pay-as-bid: the same 2 kW, the buyers
    # pay 0.25 and 0.15, the seller gets their average, 0.20.
    class Bidder(Household):
        def bid(self, day, forecast, prices):
            return np.full(24, {"hh-a": 0.25, "hh-b": 0.15, "hh-pv": 0.10}[self.participant_id])

    from p2psim.agents import PARTICIPANT_TYPES

    people = [replace(home("hh-a"), kind="bidder"), replace(home("hh-b"), kind="bidder"),
              replace(home("hh-pv", load=0.2, pv=6.0), kind="bidder")]
    PARTICIPANT_TYPES["bidder"] = Bidder
    try:
        uniform = run(study(people, market="double_auction_v1"))
        pab = run(study(people, market="double_auction_pab_v1"))
    finally:
        PARTICIPANT_TYPES.pop("bidder")
    for result in (uniform, pab):
        book = result.day_results[0]["book"]
        np.testing.assert_allclose(book.bid_price_per_kwh[:, 12], [0.25, 0.15, 0.10])
    limit = uniform.day_results[0]["clearing"].extra["limit_price_per_kwh"]
    np.testing.assert_allclose(limit[:, 12], [0.25, 0.15, 0.10])  # the bids, not the rule's random limits
    assert uniform.day_results[0]["clearing"].pool_price_per_kwh[12] == pytest.approx(0.125)
    np.testing.assert_allclose(pab.day_results[0]["clearing"].pool_price_per_kwh[:, 12], [0.25, 0.15, 0.20])
    clearing = pab.day_results[0]["clearing"]
    price, buy, sell = clearing.pool_price_per_kwh, clearing.pool_buy_kw, clearing.pool_sell_kw
    assert price.shape == (3, 24)
    traded = buy.sum(axis=0) > 1e-9
    assert traded.any()
    # buyers pay their own bid; the seller gets what they paid per kWh; the pool's money balances
    for t in np.flatnonzero(traded):
        for i in np.flatnonzero(buy[:, t] > 1e-9):
            assert price[i, t] == pytest.approx([0.25, 0.15, 0.10][i])
        assert price[2, t] == pytest.approx((price[:, t] * buy[:, t]).sum() / sell[:, t].sum())
    bills = pab.bills
    assert bills.pool_cost.sum() == pytest.approx(0.0, abs=1e-9)


def test_settlement_takes_per_participant_prices_and_refuses_what_does_not_balance():
    zeros = np.zeros((2, 1))
    flows = {"grid_import_kw": zeros, "grid_export_kw": zeros, "pool_buy_kw": np.array([[2.0], [0.0]]),
             "pool_sell_kw": np.array([[0.0], [2.0]]), "imbalance_import_kw": zeros, "imbalance_export_kw": zeros}
    one = np.ones(1)

    def prices(pool):
        return Prices(0.3 * one, 0.1 * one, np.asarray(pool, float), 0.0 * one, 0.0)

    balanced = interval_costs(flows, prices([[0.25], [0.25]]), 1.0)
    np.testing.assert_allclose(balanced["pool_cost"], [[0.5], [-0.5]])
    check_money_balance(balanced, 0, 0)
    with pytest.raises(InvariantError, match=r"buyers pay 0\.500000, sellers receive 0\.400000"):
        check_money_balance(interval_costs(flows, prices([[0.25], [0.20]]), 1.0), 0, 0)
    with pytest.raises(ValueError, match=r"shape \(3,\); use \(1,\).*\(2, 1\)"):
        interval_costs(flows, prices([0.2, 0.2, 0.2]), 1.0)


def test_charging_sessions_from_a_profile_by_hand():
    from p2psim.world.ev_sessions import charging_sessions

    # 17:30-18:30 at 3.7 kW (3.7 kWh) and 22:30-00:30 at 11 kW (22 kWh), 15-minute steps over two days.
    # Plug-in = first charging step, rounded up to the hour; plug-out = end of charging + 4 h, rounded down:
    # 18:00-22:00 and 23:00-04:00 (the next day: intervals 23-27).
    power = np.zeros(192)
    power[70:74], power[90:98] = 3.7, 11.0
    assert charging_sessions(power, 60, margin_h=4.0) == ((18, 22, 3.7), (23, 28, 22.0))
    # with a 3-hour margin, a block inside the first window (19:00-19:30 at 2 kW) joins its session:
    # 3.7 + 1 kWh, plugged until 19:30 + 3 h = 22:30 -> 22:00; the 22:30 block starts a new one, plugged until
    # 03:30 -> 03:00 (interval 27); 90 % reaches the battery
    power[76:78] = 2.0
    (first, second) = charging_sessions(power, 60, margin_h=3.0, efficiency=0.9)
    assert first[:2] == (18, 22) and first[2] == pytest.approx(0.9 * 4.7)
    assert second == (23, 27, pytest.approx(0.9 * 22.0))


def test_a_battery_only_run_has_device_rows_but_keeps_its_report(tiny_study):
    # tiny's battery is a canonical storage device: its rows are in devices.parquet (energy follows the
    # schedule), while the report gets no Devices section (the golden report stays as it was)
    from p2psim.report.devices import devices_stage

    result = run(replace(tiny_study, market="mid_market_rate_v1"))
    rows = result.devices
    assert set(rows.kind) == {"battery"} and set(rows.participant) == {"hh-c"} and len(rows) == 4
    soc = result.dispatch.set_index("participant").loc["hh-c", "soc_kwh"].to_numpy()
    np.testing.assert_allclose(rows.energy_kwh.to_numpy(), soc)
    assert devices_stage(result) is None
