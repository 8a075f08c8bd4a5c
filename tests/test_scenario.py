"""Scenario validation lists every problem at once, each naming the field, the value and the fix."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from p2psim.errors import ScenarioError
from p2psim.world.community import build_scenario, community_stream
from p2psim.world.scenario import BatterySpec, ParticipantSpec, Scenario, Tariffs, time_of_use


@pytest.fixture
def tiny_scenario(tiny_study) -> Scenario:
    return build_scenario(tiny_study, community_stream(0))


def test_tiny_scenario_is_valid(tiny_scenario):
    assert tiny_scenario.validate() == []
    assert tiny_scenario.check() is tiny_scenario
    assert tiny_scenario.horizon == 4 and tiny_scenario.interval_hours == 6.0
    assert tiny_scenario.ids == ("hh-a", "hh-b", "hh-c")


def test_every_problem_is_listed_with_its_fix(tiny_scenario):
    a, b, c = tiny_scenario.participants
    broken = replace(
        tiny_scenario,
        participants=(
            # unknown bus
            replace(a, bus="b9"),
            # NaN in the load at interval 2, and a PV profile of the wrong length
            replace(b, load_kw=np.array([1.0, 1.0, np.nan, 1.0]), pv_kw=np.array([0.0, 3.0, 4.0])),
            # negative capacity and an inverted SoC window
            replace(c, battery=BatterySpec(capacity_kwh=-6.0, max_charge_kw=1.0, max_discharge_kw=1.0,
                                           min_soc=0.9, max_soc=0.2, initial_soc=0.5)),
        ),
        class_weights={"low": 0.0, "middle": 1.0, "high": -1.0},
    )
    problems = broken.validate()
    assert len(problems) == 7, problems

    def one(*words: str) -> str:
        hits = [p for p in problems if all(w in p for w in words)]
        assert len(hits) == 1, (words, problems)
        return hits[0]

    # unknown bus: names the participant, the bus and how to fix it
    bus = one("'hh-a'", "'b9'")
    assert "add it to the feeder" in bus and "'b1'" in bus
    # NaN: names the profile and the first bad interval
    nan = one("'hh-b'", "load_kw", "NaN")
    assert "interval 2" in nan and "fill the gap" in nan
    # wrong length: names the shapes
    length = one("'hh-b'", "pv_kw", "shape")
    assert "(3,)" in length and "(4,)" in length
    # negative capacity
    capacity = one("'hh-c'", "battery.capacity_kwh=-6.0")
    assert ">= 0" in capacity
    # inverted SoC window: names both bounds and the fix
    soc = one("'hh-c'", "min_soc=0.9", "max_soc=0.2")
    assert "swap" in soc
    # nonpositive class weights, both of them
    one("class_weights['low']=0.0", "positive")
    one("class_weights['high']=-1.0", "positive")

    with pytest.raises(ScenarioError) as info:
        broken.check()
    assert info.value.problems == problems
    assert "7 problem(s)" in str(info.value)
    assert all(p in str(info.value) for p in problems)
    assert info.value.exit_status == 2


def test_more_scenario_problems(tiny_scenario):
    a, b, c = tiny_scenario.participants
    broken = replace(
        tiny_scenario,
        participants=(replace(a, load_kw=np.array([1.0, -2.0, 2.0, 3.0]), flexible_share=1.5),
                      replace(b, id="hh-a", income_per_year=0.0), c),
        tariffs=Tariffs(import_price_per_kwh=time_of_use({(0, 18): 0.30}), export_price_per_kwh=-0.1),
    )
    problems = broken.validate()
    text = "\n".join(problems)
    assert "load_kw[1]=-2.0 is negative" in text
    assert "flexible_share=1.5" in text
    assert "'hh-a' is empty or repeated" in text
    assert "income_per_year=0.0 must be positive" in text
    # time_of_use leaves uncovered hours as NaN, which validation reports
    assert "24 finite hourly prices" in text
    assert "tariffs.export_price_per_kwh=-0.1" in text
    assert len(problems) == 6, problems


def test_interval_that_does_not_divide_a_day(tiny_scenario):
    assert tiny_scenario.validate() == []
    problems = replace(tiny_scenario, interval_minutes=7).validate()
    assert len(problems) == 1 and "interval_minutes=7" in problems[0] and "1440" in problems[0]


def test_import_price_must_exceed_feed_in(tiny_scenario):
    tariffs = Tariffs(import_price_per_kwh=(0.30,) * 23 + (0.05,), export_price_per_kwh=0.10)
    problems = replace(tiny_scenario, tariffs=tariffs).validate()
    assert len(problems) == 1 and "min 0.05" in problems[0] and "export_price_per_kwh=0.1" in problems[0]


def test_time_of_use_and_price_series():
    prices = time_of_use({(0, 18): 0.30, (18, 24): 0.40})
    assert len(prices) == 24 and prices[17] == 0.30 and prices[18] == 0.40
    tariffs = Tariffs(import_price_per_kwh=prices, export_price_per_kwh=0.10)
    # 6-hour intervals take the price of their first hour: 00, 06, 12, 18
    np.testing.assert_allclose(tariffs.import_price_series(360), [0.30, 0.30, 0.30, 0.40])
    assert tariffs.import_price_series(15).shape == (96,)


def test_battery_initial_soc_outside_window():
    battery = BatterySpec(capacity_kwh=5.0, max_charge_kw=1.0, max_discharge_kw=1.0, min_soc=0.2, max_soc=0.8,
                          initial_soc=0.9)
    problems = battery.problems("participant 'x'")
    assert len(problems) == 1 and "initial_soc=0.9" in problems[0] and "[0.2, 0.8]" in problems[0]


def test_weight_of_missing_class_is_one(tiny_scenario):
    scenario = replace(tiny_scenario, class_weights={"low": 2.0})
    assert scenario.weight_of("low") == 2.0 and scenario.weight_of("middle") == 1.0


def test_unknown_participant_kind_is_a_scenario_error(tiny_scenario):
    from p2psim.markets import make_market

    from p2psim.sim.model import CommunityModel

    a, b, c = tiny_scenario.participants
    scenario = replace(tiny_scenario, participants=(replace(a, kind="spaceship"), b, c))
    with pytest.raises(ScenarioError, match=r"'spaceship'.*register_participant"):
        CommunityModel(scenario, make_market("grid_only_v1"), seed=0)


def test_participant_spec_defaults():
    spec = ParticipantSpec(id="x", bus="b0", load_kw=np.ones(24), pv_kw=np.zeros(24))
    assert spec.problems(24) == []
    assert spec.kind == "household" and spec.battery is None


# -- a SimBench community (rural1: 13 loads, 4 PV units, 14 LV buses) --------------------------------------


@pytest.fixture(scope="module")
def rural_scenario(rural_study):
    return build_scenario(replace(rural_study, days=2), community_stream(0))


def test_rural_community_by_the_documented_rules(rural_scenario, rural_study):
    from collections import Counter

    people = [p for p in rural_scenario.participants if p.kind != "aggregator"]
    assert len(people) == 13 and len(rural_scenario.participants) == 14
    # class shares 0.4 / 0.4 / 0.2 of 13: floors 5, 5, 2; the one left over goes to the largest remainder
    # (0.2, 0.2, 0.6 -> high): 5 low, 5 middle, 3 high
    assert Counter(p.socio_class for p in people) == {"low": 5, "middle": 5, "high": 3}
    spec = rural_study.community
    for p in people:
        assert p.load_kw.shape == p.pv_kw.shape == (48,)
        assert (p.load_kw >= 0).all() and (p.pv_kw >= 0).all()
        has_pv = p.pv_peak_kw > 0
        # home batteries go to PV owners of the battery classes, and only to them
        assert (p.battery is not None) == (has_pv and p.socio_class in spec.home_battery_classes), p.id
        assert p.flexible_share == (spec.flexible_share if p.kind == "household" else 0.0)
    # the 4 PV units (about 160 kWp) all have an owner
    assert sum(p.pv_peak_kw for p in people) == pytest.approx(160.381, abs=1e-3)
    aggregator = rural_scenario.participants[-1]
    assert aggregator.kind == "aggregator" and aggregator.socio_class == "community"
    assert aggregator.bus == rural_scenario.feeder.root_bus and aggregator.battery == spec.community_battery
    assert rural_scenario.validate() == []
    assert rural_scenario.start == "2016-06-01" and "ODbL" in rural_scenario.source
    assert len(rural_scenario.feeder.buses) == 14 and rural_scenario.feeder.transformer_limit_kw == 160.0


def test_rural_community_depends_only_on_the_seed(rural_study, rural_scenario):
    same = build_scenario(replace(rural_study, days=2), community_stream(0))
    other = build_scenario(replace(rural_study, days=2), community_stream(1))
    for a, b in zip(rural_scenario.participants, same.participants, strict=True):
        assert (a.id, a.socio_class, a.income_per_year) == (b.id, b.socio_class, b.income_per_year)
        np.testing.assert_array_equal(a.load_kw, b.load_kw)
    assert any(not np.array_equal(a.load_kw, b.load_kw)
               for a, b in zip(rural_scenario.participants[:-1], other.participants[:-1], strict=True))


def test_class_shares_must_sum_to_one(rural_study):
    from p2psim.errors import P2PSimError

    bad = replace(rural_study, days=1, community=replace(rural_study.community, class_shares=(("low", 0.5),)))
    with pytest.raises(P2PSimError, match="class_shares"):
        scenario = build_scenario(bad, community_stream(0))
        assert "" not in {p.socio_class for p in scenario.participants}


@pytest.mark.parametrize("field", ["income_spread", "load_scale_sigma"])
def test_negative_sigma_is_a_study_error(rural_study, field):
    from p2psim.errors import P2PSimError

    bad = replace(rural_study, days=1, community=replace(rural_study.community, **{field: -1.0}))
    with pytest.raises(P2PSimError, match=field):
        build_scenario(bad, community_stream(0))


def _with_profiles(study, **profiles):
    a, b, c = study.community.participants
    return replace(study, community=replace(study.community, participants=(a, replace(b, **profiles), c)))


def test_explicit_profiles_longer_than_the_run_are_cut_to_it(tiny_study):
    # a two-day profile with days=1 (--days 1 on a longer study) keeps day 0
    study = _with_profiles(tiny_study, pv_kw=np.array([0.0, 3.0, 4.0, 0.0, 9.0, 9.0, 9.0, 9.0]),
                           load_kw=np.ones(8))
    scenario = build_scenario(study, community_stream(0))
    np.testing.assert_array_equal(scenario.participants[1].pv_kw, [0.0, 3.0, 4.0, 0.0])


def test_explicit_profile_too_short_is_reported(tiny_study):
    with pytest.raises(ScenarioError, match=r"'hh-b': pv_kw has shape \(3,\), expected \(4,\)"):
        build_scenario(_with_profiles(tiny_study, pv_kw=np.zeros(3)), community_stream(0))


def test_explicit_profile_of_a_partial_day_is_reported(tiny_study):
    with pytest.raises(ScenarioError, match="pv_kw"):
        build_scenario(_with_profiles(tiny_study, pv_kw=np.array([0.0, 3.0, 4.0, 0.0, 1.0])), community_stream(0))
