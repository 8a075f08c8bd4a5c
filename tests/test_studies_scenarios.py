"""The six scenario studies: each builds on its SimBench feeder and runs one day through the runner.

SimBench grids are cached per process (``load_simbench_grid`` and the studies' own caches), so
the module loads each grid once; one day of every study is run once and shared by the checks.
"""

from __future__ import annotations

import pickle
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from p2psim.markets import MARKETS

from p2psim.config.study import ExplicitCommunity, SimBenchCommunity, Study, apply_overrides, load_study
from p2psim.runner import run

STUDIES = Path(__file__).resolve().parents[1] / "studies"
SCENARIOS = {
    "rural": "1-LV-rural1--0-sw",
    "semiurban": "1-LV-semiurb4--0-sw",
    "urban": "1-LV-urban6--0-sw",
    "winter": "1-LV-rural3--0-sw",
    "ev_evening": "1-LV-rural2--0-sw",
    "mixed_income": "1-LV-semiurb5--0-sw",
    "heat_pumps": "1-LV-semiurb4--0-sw",
}
NEW = ("semiurban", "urban", "winter", "ev_evening", "mixed_income", "heat_pumps")


@cache
def study(name: str) -> Study:
    return load_study(STUDIES / f"{name}.py")


@cache
def one_day(name: str):
    """One day of the study with its own market (eqwm_v1 once registered)."""
    market = study(name).market if study(name).market in MARKETS else "mid_market_rate_v1"
    return run(apply_overrides(study(name), ["days=1", f"market={market}"]))


@pytest.mark.parametrize("name", NEW)  # rural runs in test_cli.py
def test_study_runs_one_day(name):
    result = one_day(name)
    s = result.summary
    assert result.study.days == 1 and s["days"] == 1.0
    assert result.scenario.horizon == 24
    for key in ("peak_reduction_pct", "cooperative_gain_per_day", "self_sufficiency_pct", "solar_utilisation_pct",
                "gini_relative_benefit", "min_relative_saving_pct", "total_cost", "solve_time_s"):
        assert np.isfinite(s[key]), key
    assert s["standalone_total_cost"] > 0
    assert SCENARIOS[name] in result.scenario.source or isinstance(study(name).community, ExplicitCommunity)
    assert set(result.bills.participant) == set(result.scenario.ids)


@pytest.mark.parametrize("name", NEW)
def test_study_documents_its_assumptions(name):
    s = study(name)
    doc = s.description
    assert SCENARIOS[name] in doc
    for word in ("Assumptions", "Tariffs", "ODbL", "income"):
        assert word in doc, word
    assert s.market in {"eqwm_v1", "mid_market_rate_v1"}
    assert dict(s.class_weights) == {"low": 1.0, "middle": 1.0, "high": 1.0}
    if isinstance(s.community, SimBenchCommunity):
        assert s.community.grid_code == SCENARIOS[name]


def test_winter_is_a_january_week_with_little_pv():
    s = study("winter")
    assert s.start_day == 10 and s.days == 7
    winter = one_day("winter").dispatch
    summer = run(apply_overrides(s, ["days=1", "start_day=152", "market=grid_only_v1"])).dispatch
    assert winter.load_kw.sum() > summer.load_kw.sum()
    assert winter.pv_kw.sum() < 0.5 * summer.pv_kw.sum()


def test_urban_renters_have_no_roofs_and_share_a_garden():
    scenario = one_day("urban").scenario
    homes = [p for p in scenario.participants if p.kind in ("household", "commercial")]
    gardens = [p for p in scenario.participants if p.kind == "solar_garden"]
    assert homes and all(p.pv_peak_kw == 0 and not p.pv_kw.any() and p.battery is None for p in homes)
    assert len(gardens) == 5 and {p.socio_class for p in gardens} == {"community"}
    assert sum(p.pv_peak_kw for p in gardens) == pytest.approx(171.2)
    battery = next(p for p in scenario.participants if p.kind == "aggregator").battery
    assert battery.capacity_kwh == 150.0
    shares = {c: sum(p.socio_class == c for p in homes) / len(homes) for c in ("low", "middle", "high")}
    assert shares["low"] == pytest.approx(0.5, abs=0.02)


def test_ev_households_own_cars_with_real_simbench_sessions():
    from p2psim.agents import ElectricVehicle

    result = one_day("ev_evening")
    evs = [p for p in result.scenario.participants if p.id.startswith("ev-")]
    assert 20 <= len(evs) <= 60
    assert all(len(p.devices) == 1 and isinstance(p.devices[0], ElectricVehicle) for p in evs)
    by_class = {c: sum(p.socio_class == c for p in evs) for c in ("low", "middle", "high")}
    assert by_class["high"] > by_class["low"]
    # over the week: sessions start when SimBench's uncontrolled charging starts, need what it charged
    week = replace(study("ev_evening"), days=7).community.participants
    sessions = [s for p in week if p.id.startswith("ev-") for s in p.devices[0].sessions]
    need = np.array([e for _, _, e in sessions])
    assert len(sessions) > 50 and 1.0 < need.mean() < 10.0 and need.max() < 50.0 - 10.0
    # the 4-hour margin minus at most 45 minutes at each end lost to whole hours: at least 3 hours, in which
    # the charging point can deliver the need
    assert all(b - a >= 3 for a, b, _ in sessions)
    assert all(e <= car.max_power_kw * car.efficiency * (b - a) for p in week if p.id.startswith("ev-")
               for car in p.devices for a, b, e in car.sessions)
    # every departure target is met in the run, and the cars only charge while plugged in
    devices = result.devices[result.devices.kind == "ev"]
    met = devices[devices.target_kwh.notna()]
    assert len(met) and (met.energy_kwh >= met.target_kwh - 1e-6).all()
    assert (devices.loc[~devices.available, "power_kw"].abs() < 1e-9).all()


def test_heat_pumps_take_demandlib_heat_and_avoid_the_evening_peak():
    from p2psim.agents import HeatPump

    from p2psim.world.heat import air_source_cop, house_heat_profile

    result = one_day("heat_pumps")
    homes = [p for p in result.scenario.participants if p.kind == "household"]
    pumps = [p for p in homes if p.id.startswith("hp-")]
    assert 0.25 <= len(pumps) / len(homes) <= 0.75
    assert all(isinstance(p.devices[-1], HeatPump) for p in pumps)
    # the BDEW profile holds one year's heat (1 kWh scaled), the COP regression its published points
    assert house_heat_profile(4).sum() == pytest.approx(1.0, rel=1e-3)
    np.testing.assert_allclose(air_source_cop(np.array([-10.0, 0.0])), [0.85 * 2.48, 0.85 * 3.28], atol=1e-9)
    # a cold day: every house needs heat every hour and every pump can cover it
    for p in pumps:
        pump = p.devices[-1]
        assert (pump.heat_demand_kw > 0).all() and (pump.max_power_kw * pump.cop >= pump.heat_demand_kw).all()
    # the stores let the pumps leave the 17-21 h peak (0.40): they draw less there than at night (0.24) and
    # than running with the heat demand would (demand / COP, hour by hour)
    use = result.devices[result.devices.kind == "heat_pump"].groupby("interval").power_kw.sum()
    following = sum(p.devices[-1].heat_demand_kw / p.devices[-1].cop for p in pumps)
    assert use.loc[17:20].mean() < use.loc[0:6].mean()
    assert use.loc[17:20].sum() < 0.7 * following[17:21].sum()
    store = result.devices[result.devices.kind == "heat_pump"].energy_kwh
    assert store.min() >= 2.0 - 1e-6 and store.max() <= 12.0 + 1e-6


def test_mixed_income_has_a_public_anchor_and_a_wide_income_spread():
    scenario = one_day("mixed_income").scenario
    public = [p for p in scenario.participants if p.kind == "public"]
    assert len(public) == 1 and public[0].socio_class == "public" and public[0].pv_peak_kw == 100.0
    week = next(p for p in study("mixed_income").community.participants if p.kind == "public")
    assert week.pv_kw.sum() > 2 * week.load_kw.sum() > 0  # a net exporter over the June week
    income = {c: np.median([p.income_per_year for p in scenario.participants if p.socio_class == c])
              for c in ("low", "high")}
    assert income["high"] / income["low"] > 5


@pytest.mark.parametrize("name", ["urban", "ev_evening", "mixed_income"])
def test_explicit_communities_follow_days_and_seed(name):
    s = study(name)
    two = apply_overrides(s, ["days=2"])
    assert all(p.load_kw.shape == (48,) for p in two.community.participants)
    other_seed = replace(two, seed=5)
    assert [p.socio_class for p in other_seed.community.participants] != [
        p.socio_class for p in two.community.participants]
    same = replace(two, market="grid_only_v1")
    assert same.community is two.community  # no rebuild when neither calendar nor seed changes
    plain = pickle.loads(pickle.dumps(two))
    assert type(plain) is Study and type(plain.community) is ExplicitCommunity
    assert len(plain.community.participants) == len(two.community.participants)


@pytest.mark.slow
def test_scenarios_table_command_on_a_reduced_grid(tmp_path):
    """benchmarks/scenarios.py end to end (seed 0, 2 days, two scenarios, no scaling part)."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    out = tmp_path / "scenarios.md"
    subprocess.run([sys.executable, str(repo / "benchmarks" / "scenarios.py"), "--reduced", "--no-scaling",
                    "--scenarios", "rural,winter", "--sweep-dir", str(tmp_path / "sweep"), "--out", str(out)],
                   cwd=repo, check=True, capture_output=True, timeout=1200)
    text = out.read_text()
    for heading in ("## rural", "## winter"):
        assert heading in text
    assert "peak demand reduction vs raw load peak (%)" in text and "0 failed" in text
