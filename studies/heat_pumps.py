"""Heat pumps: a semi-urban feeder in a cold January week, with heat pumps that can pre-heat.

Data: SimBench ``1-LV-semiurb4--0-sw`` (ODbL 1.0 + DbCL): 41 loads (households on H0 profiles and
small businesses on G1/G2/G4/G6), rooftop PV and a 400 kVA transformer; real 2016 15-minute
profiles averaged to hourly intervals; the week from Monday 11 January 2016 (day 10). Heat from
demandlib (MIT licence; ``p2psim.world.heat``): the German weather service's test reference year
(DWD TRY 2010, region 4, Potsdam: a mean of -2.3 deg C that week, down to -7.8 deg C) drives the BDEW
standard heat load profile of a single-family house (SigLinDe, ``EFH``, hot water included); the
heat pumps' COP follows the air temperature by the regression of Ruhnau et al. (2019, Scientific
Data 6:189) for air-source heat pumps on radiators, with their 0.85 real-world correction (2.1 at
-10 deg C, 2.8 at 0 deg C).

Every heat pump is a device of its household (``p2psim.agents.HeatPump``): electric power x COP[t]
fills a thermal store (a buffer tank) that the house's heat demand empties, so the market can move
the heat pump's consumption to cheap hours and to the community's own PV within the store's room.

Assumptions (documented; classes, incomes and profile diversity seeded from the run's seed exactly
as ``p2psim.world.community`` does for a SimBench community, then heat pumps added from a second
seeded stream):

- 40 % of participants low income, 40 % middle, 20 % high; median incomes 18,000 / 42,000 /
  85,000 EUR a year (log-normal spread 0.2); low-income slots go to members without PV first;
  PV-owning high-income members own a 10 kWh home battery; the aggregator owns a 60 kWh / 30 kW
  community battery on the transformer bus; 10 % of household load may shift within 4-hour windows.
- Heat-pump ownership rises with income (owner-occupied detached houses): a household has one with
  probability 0.3 (low), 0.5 (middle), 0.7 (high); businesses have none.
- Each house uses 15,000 kWh of heat a year (times a seeded log-normal factor, sigma 0.25), its
  profile shifted by a seeded 0-2 hours so that houses sharing the standard profile are not in
  lockstep; the heat pump's electric rating is 1.25 x the year's largest heat / COP, rounded up to
  0.5 kW; the buffer tank holds 12 kWh of heat (about 300 l over 35 K), is kept between 2 and 12 kWh,
  loses 0.5 % of its heat an hour and starts at 7 kWh; each day ends with at least the heat it
  started with (no free heat).
- The heat pumps' electricity is device consumption (``devices.parquet``, dispatch column
  ``device_use_kw``), not part of the households' H0 load: the report's raw-load peak (and so its peak
  reduction) is that of the households' own load, without the heat pumps.

Tariffs (the same illustrative German-style retail levels as ``studies/rural.py``, 2024): import
0.24 EUR/kWh at night (0-7 h), 0.32 by day, 0.40 in the evening peak (17-21 h); feed-in 0.08
EUR/kWh (EEG rate for small rooftop PV, about 8 ct in 2024); P2P network fee 0.02 EUR/kWh
(reduced local grid charge); demand charge 0.30 EUR per kW of the community's daily peak (about
110 EUR/kW a year). No special heat-pump tariff.
"""

from dataclasses import replace

import numpy as np
from p2psim.agents import HeatPump

from p2psim.config.study import SimBenchCommunity
from p2psim.world.community import DerivedStudy
from p2psim.world.heat import air_source_cop, hourly_window, house_heat_profile, try_temperature_c
from p2psim.world.scenario import GERMAN_RETAIL_2024, ParticipantSpec

GRID = "1-LV-semiurb4--0-sw"
TRY_REGION = 4
HEAT_PUMP_PROBABILITY = {"low": 0.3, "middle": 0.5, "high": 0.7}
ANNUAL_HEAT_KWH = 15_000.0
HEAT_SPREAD = 0.25
MAX_SHIFT_H = 2
SIZING_MARGIN = 1.25
STORE_KWH, STORE_MIN_KWH, STORE_START_KWH, STORE_LOSS_PER_H = 12.0, 2.0, 7.0, 0.005

BASE_COMMUNITY = SimBenchCommunity(grid_code=GRID)


class HeatPumpStudy(DerivedStudy):
    """The heat-pump study: the SimBench community with heat pumps in some households."""

    base_community = BASE_COMMUNITY

    def derive(self, base) -> list[ParticipantSpec]:
        """Give households a heat pump (probability by class) with demandlib heat and a TRY-driven COP."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 10]))
        shape = house_heat_profile(TRY_REGION)
        cop_year = air_source_cop(try_temperature_c(TRY_REGION))
        cop = hourly_window(cop_year, self.start_day, self.days, self.interval_minutes)
        participants = []
        for p in base.participants:
            if p.kind == "household" and rng.uniform() < HEAT_PUMP_PROBABILITY.get(p.socio_class, 0.0):
                annual = ANNUAL_HEAT_KWH * rng.lognormal(0.0, HEAT_SPREAD)
                shift = int(rng.integers(0, MAX_SHIFT_H + 1))
                year = np.roll(shape * annual, shift)
                rating = np.ceil(2 * SIZING_MARGIN * (year / cop_year).max()) / 2
                pump = HeatPump(id="heat-pump", max_power_kw=float(rating), cop=cop,
                                heat_demand_kw=hourly_window(year, self.start_day, self.days, self.interval_minutes),
                                store_kwh=STORE_KWH, min_kwh=STORE_MIN_KWH, loss_per_h=STORE_LOSS_PER_H,
                                initial_kwh=STORE_START_KWH)
                p = replace(p, id=p.id.replace("hh-", "hp-"), devices=(*p.devices, pump))
            participants.append(p)
        return participants


STUDY = HeatPumpStudy(
    name="heat_pumps",
    description=__doc__,
    community=BASE_COMMUNITY,
    tariffs=GERMAN_RETAIL_2024,
    market="eqwm_v1",
    days=7,
    start_day=10,
    interval_minutes=60,
    class_weights=(("low", 1.0), ("middle", 1.0), ("high", 1.0)),
)
