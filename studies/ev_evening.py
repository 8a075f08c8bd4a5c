"""EV evening: home charging of electric cars piles onto the evening peak of a weak rural feeder.

Data: SimBench ``1-LV-rural2--0-sw`` (ODbL 1.0 + DbCL): 96 buses, a 250 kVA transformer, 99 loads
(92 households on H0-A/B/C/G/L profiles, 7 small businesses on G1-G6) and 8 rooftop PV units
(145 kWp); EV charging from the same grid's SimBench future scenario ``1-LV-rural2--2-sw``: its home
charging points (``HLS_*`` profiles, 3.7 / 11 / 22 kW, real 15-minute charging sessions; the
workplace ``APLS_*`` points are left out). Real 2016 profiles averaged to hourly intervals; the
autumn week from Monday 3 October 2016 (day 276), when PV is moderate and the evening is dark.
SimBench's home charging happens mostly between 12 and 20 h, on top of the household evening peak.

Every car is an electric-vehicle *device* of its household (``p2psim.agents.ElectricVehicle``): the
household keeps one bill and one share in the game, its own load stays its own, and the car's
charging is scheduled by the market within the car's sessions.

Assumptions (documented; classes, incomes and profile diversity seeded from the run's seed exactly
as ``p2psim.world.community`` does for a SimBench community, then EVs added from a second seeded
stream):

- 40 % of participants low income, 40 % middle, 20 % high; median incomes 18,000 / 42,000 /
  85,000 EUR a year (log-normal spread 0.2); low-income slots go to members without PV first;
  PV-owning high-income members own a 10 kWh home battery; the aggregator owns a 60 kWh / 30 kW
  community battery on the transformer bus.
- EV ownership rises with income: a household owns an EV with probability 0.15 (low), 0.45
  (middle), 0.75 (high) (businesses: none); each EV takes one of the grid's SimBench home-charging
  points (profile and rated power) at random, read from a seeded different week of the data year
  (0 to 8 weeks later, weekday pattern kept) so EVs sharing a profile do not charge in lockstep.
- Sessions from the profile (``p2psim.world.ev_sessions``): a session is a run of 15-minute steps
  with positive charging power; its energy need is the integral of that power x 0.92 (charging
  efficiency); SimBench's charging is uncontrolled, so charging starts at plug-in; the plug-out is
  not in the data, so the car stays plugged 4 hours after its uncontrolled charging ended (sessions
  whose windows overlap merge); on the hourly grid a session keeps the hours wholly inside its
  window. SimBench's sessions average about 4 kWh and 0.6 sessions a day per car.
- Cars: 50 kWh usable battery, arriving with 10 kWh, no V2G; they must leave with 10 kWh + the
  session's need (the charging the real car received). A session under way when the run starts
  begins there with the energy still to come; one that ends after the run has no target inside it.
- Households without an EV may shift 10 % of their load within the market's 4-interval (here
  4-hour) windows, EV households too (the car's flexibility is its device, not this share).
- The cars' charging is device consumption (``devices.parquet``, dispatch column ``device_use_kw``),
  not part of the households' load profiles: the report's raw-load peak (and so its peak reduction)
  is that of the households' own load, without the cars.

The community is derived from the SimBench one by ``EvEveningStudy`` (a ``p2psim.world.community.DerivedStudy``,
whose ``derive`` gives households their cars); it is rebuilt whenever ``days``, ``start_day``,
``interval_minutes`` or ``seed`` change, so ``--days 1`` and seed sweeps work as for a SimBench
community.

Tariffs (the same illustrative German-style retail levels as ``studies/rural.py``, 2024): import
0.24 EUR/kWh at night (0-7 h), 0.32 by day, 0.40 in the evening peak (17-21 h); feed-in 0.08
EUR/kWh (EEG rate for small rooftop PV, about 8 ct in 2024); P2P network fee 0.02 EUR/kWh
(reduced local grid charge); demand charge 0.30 EUR per kW of the community's daily peak (about
110 EUR/kW a year). No special EV tariff (a reduced §14a EnWG network charge for controllable
chargers is left out).
"""

import contextlib
import os
import tempfile
from dataclasses import replace
from functools import lru_cache
from importlib.metadata import version

import numpy as np
from p2psim.agents import ElectricVehicle

from p2psim.config.study import SimBenchCommunity
from p2psim.world.community import DerivedStudy
from p2psim.world.ev_sessions import charging_sessions
from p2psim.world.scenario import GERMAN_RETAIL_2024, ParticipantSpec
from p2psim.world.simbench import STEPS_PER_DAY_15MIN, cache_dir, window

GRID = "1-LV-rural2--0-sw"
EV_GRID = "1-LV-rural2--2-sw"
EV_PROBABILITY = {"low": 0.15, "middle": 0.45, "high": 0.75}
MAX_WEEK_SHIFT = 8
EV_CAPACITY_KWH = 50.0
EV_ARRIVAL_KWH = 10.0
EV_EFFICIENCY = 0.92
PLUGGED_AFTER_CHARGING_H = 4.0

BASE_COMMUNITY = SimBenchCommunity(grid_code=GRID)


@lru_cache(maxsize=1)
def ev_profiles() -> tuple[tuple[str, float, np.ndarray], ...]:
    """(profile, rated kW, absolute 15-minute charging power over 2016) of every home charging point.

    Read from SimBench once and kept next to p2psim's SimBench cache (keyed by the simbench
    version), since parsing the package's CSV files takes seconds.
    """
    path = cache_dir() / f"{EV_GRID}-home-charging-simbench{version('simbench')}.npz"
    if path.is_file():
        with contextlib.suppress(OSError, ValueError, KeyError), np.load(path) as data:
            return tuple((str(name), float(kw), power) for name, kw, power in
                         zip(data["profile"], data["rated_kw"], data["power_kw"], strict=True))
    import simbench

    net = simbench.get_simbench_net(EV_GRID)
    table = net.profiles["load"]
    points = net.load[net.load.profile.str.startswith("HLS")]
    profiles = tuple(
        (row.profile, float(row.p_mw) * 1000.0,
         float(row.p_mw) * 1000.0 * table[f"{row.profile}_pload"].to_numpy(dtype=float).clip(0, None))
        for row in points.itertuples()
    )
    with contextlib.suppress(OSError):  # a read-only home still runs, only slower
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(suffix=".npz", dir=path.parent)
        os.close(handle)
        try:
            np.savez(temp, profile=np.array([p for p, _, _ in profiles]),
                     rated_kw=np.array([k for _, k, _ in profiles]), power_kw=np.stack([w for _, _, w in profiles]))
            os.replace(temp, path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temp)
    return profiles


class EvEveningStudy(DerivedStudy):
    """The EV-evening study: the SimBench community with home EV charging added to households."""

    base_community = BASE_COMMUNITY

    def derive(self, base) -> list[ParticipantSpec]:
        """Give households an EV device (probability by class) with sessions from a real SimBench profile."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 276]))
        points = ev_profiles()
        participants = []
        for p in base.participants:
            if p.kind == "household" and rng.uniform() < EV_PROBABILITY.get(p.socio_class, 0.0):
                _, rated_kw, charging = points[int(rng.integers(len(points)))]
                weeks = int(rng.integers(0, MAX_WEEK_SHIFT + 1))
                steps = window(charging, self.start_day, self.days, 15, -weeks * 7 * STEPS_PER_DAY_15MIN)
                sessions = charging_sessions(steps, self.interval_minutes, margin_h=PLUGGED_AFTER_CHARGING_H,
                                             efficiency=EV_EFFICIENCY)
                car = ElectricVehicle(id="ev", capacity_kwh=EV_CAPACITY_KWH, max_power_kw=rated_kw,
                                      efficiency=EV_EFFICIENCY, sessions=sessions, arrival_kwh=EV_ARRIVAL_KWH)
                p = replace(p, id=p.id.replace("hh-", "ev-"), devices=(*p.devices, car))
            participants.append(p)
        return participants


STUDY = EvEveningStudy(
    name="ev_evening",
    description=__doc__,
    community=BASE_COMMUNITY,
    tariffs=GERMAN_RETAIL_2024,
    market="eqwm_v1",
    days=7,
    start_day=276,
    interval_minutes=60,
    class_weights=(("low", 1.0), ("middle", 1.0), ("high", 1.0)),
    coordinator_policy="feedback",  # the equity coordinator (p2psim/assets/policies/feedback); None switches it off
)
