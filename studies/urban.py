"""Urban: apartment blocks of mostly renters without roofs, sharing a solar garden and a battery.

Data: SimBench ``1-LV-urban6--0-sw`` (ODbL 1.0 + DbCL): 58 buses, a 630 kVA transformer, 111 loads
(102 households on H0-A/B/C/G/L profiles, 9 shops and offices on G1/G4/G6) and 5 PV units
(57 kWp, profiles PV2/5/6/8); real 2016 15-minute profiles averaged to hourly intervals; one summer
week from 1 June by default.

Assumptions (documented; classes, incomes and profile diversity seeded from the run's seed exactly
as ``p2psim.world.community`` does for a SimBench community, then changed as follows):

- Nobody owns a roof: 50 % of participants are low income, 35 % middle, 15 % high (an
  inner-city quarter of renters); median incomes 16,000 / 36,000 / 75,000 EUR a year (log-normal
  spread 0.25); no home PV and no home batteries.
- Solar garden: each SimBench PV unit becomes a ``solar_garden`` participant on its own bus
  (``garden-001`` ...), owned by the aggregator (class ``community``, left out of the equity
  metrics like the community battery), keeping its real profile scaled by 171.2 / 57.1 = 3.0 so
  the garden totals 171.2 kWp, the PV that SimBench's own future scenario of this grid
  (``1-LV-urban6--2-sw``) installs. The garden sells only through the community: households buy
  its output from the pool, which is how renters without roofs get solar.
- Community battery: 150 kWh / 75 kW, owned by the aggregator on the transformer bus.
- 10 % of household load may shift within 4-hour windows (shops and offices: none).
- The ``solar_garden`` kind uses the household agent (noisy day-ahead forecast of its PV).

The community is derived from the SimBench one by ``UrbanStudy`` (a ``p2psim.world.community.DerivedStudy``,
whose ``derive`` removes roofs and adds the solar garden); it is rebuilt whenever ``days``, ``start_day``,
``interval_minutes`` or ``seed`` change, so ``--days 1`` and seed sweeps work as for a SimBench
community.

Tariffs (the same illustrative German-style retail levels as ``studies/rural.py``, 2024): import
0.24 EUR/kWh at night (0-7 h), 0.32 by day, 0.40 in the evening peak (17-21 h); feed-in 0.08
EUR/kWh (EEG rate for small PV, about 8 ct in 2024); P2P network fee 0.02 EUR/kWh (reduced local
grid charge); demand charge 0.30 EUR per kW of the community's daily peak (about 110 EUR/kW a year).
"""

from dataclasses import replace

import numpy as np
from p2psim.agents import PARTICIPANT_TYPES, Household, register_participant

from p2psim.config.study import SimBenchCommunity
from p2psim.world.community import DerivedStudy
from p2psim.world.scenario import GERMAN_RETAIL_2024, BatterySpec, ParticipantSpec
from p2psim.world.simbench import load_simbench_grid, window

GRID = "1-LV-urban6--0-sw"
GARDEN_KWP = 171.2
"""Installed PV of SimBench's future scenario of this grid (1-LV-urban6--2-sw), all in the garden."""

if "solar_garden" not in PARTICIPANT_TYPES:
    register_participant("solar_garden", Household)

BASE_COMMUNITY = SimBenchCommunity(
    grid_code=GRID,
    class_shares=(("low", 0.5), ("middle", 0.35), ("high", 0.15)),
    income_per_year=(("low", 16_000.0), ("middle", 36_000.0), ("high", 75_000.0)),
    income_spread=0.25,
    home_battery_classes=(),
    community_battery=BatterySpec(capacity_kwh=150.0, max_charge_kw=75.0, max_discharge_kw=75.0, initial_soc=0.3),
)


class UrbanStudy(DerivedStudy):
    """The urban study: renters without roofs plus the aggregator's solar garden."""

    base_community = BASE_COMMUNITY

    def derive(self, base) -> list[ParticipantSpec]:
        """Remove home PV and batteries; add each SimBench PV unit as a solar-garden participant."""
        participants = [
            replace(p, pv_kw=np.zeros_like(p.pv_kw), pv_peak_kw=0.0, battery=None) if p.kind != "aggregator" else p
            for p in base.participants
        ]
        grid = load_simbench_grid(GRID)
        scale = GARDEN_KWP / sum(grid.pv_peak_kw)
        for k, bus in enumerate(grid.pv_bus):
            pv = window(grid.pv_kw_15min[k], self.start_day, self.days, self.interval_minutes) * scale
            participants.append(ParticipantSpec(
                id=f"garden-{k + 1:03d}", kind="solar_garden", socio_class="community", income_per_year=1e6,
                bus=bus, load_kw=np.zeros_like(pv), pv_kw=pv, pv_peak_kw=grid.pv_peak_kw[k] * scale,
            ))
        return participants


STUDY = UrbanStudy(
    name="urban",
    description=__doc__,
    community=BASE_COMMUNITY,
    tariffs=GERMAN_RETAIL_2024,
    market="eqwm_v1",
    days=7,
    start_day=152,
    interval_minutes=60,
    class_weights=(("low", 1.0), ("middle", 1.0), ("high", 1.0)),
    coordinator_policy="feedback",  # the equity coordinator (p2psim/assets/policies/feedback); None switches it off
)
