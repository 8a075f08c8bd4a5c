"""Mixed income: a semi-urban feeder with a wide income spread and a public building as anchor prosumer.

Data: SimBench ``1-LV-semiurb5--0-sw`` (ODbL 1.0 + DbCL): 110 buses, a 630 kVA transformer, 104
loads (92 households on H0-A/B/C/G/L profiles, 12 businesses on G1/G3/G4/G5/G6) and 9 rooftop PV
units (137 kWp); real 2016 15-minute profiles averaged to hourly intervals; one summer week from
1 June by default.

Assumptions (documented; classes, incomes and profile diversity seeded from the run's seed exactly
as ``p2psim.world.community`` does for a SimBench community):

- A strong income spread: 40 % of participants low income, 35 % middle, 25 % high, median
  incomes 13,000 / 40,000 / 120,000 EUR a year with a log-normal spread of 0.35 (a top-to-bottom
  median ratio of about 9, against 4.7 in ``studies/rural.py``); a PV owner takes a low-income slot
  with probability 0.05 only; PV-owning high-income members own a 10 kWh home battery.
- Public building (``pub-001``, kind ``public``, class ``public``): a school / town hall on bus
  ``bus-064`` (the site of a SimBench G1 office load) with the SimBench ``G1-C`` weekday-daytime
  profile at 30 kW reference power (about 40 MWh a year) and a 100 kWp roof PV array with the
  grid's ``PV5`` profile; budget 500,000 EUR a year (the denominator of its energy burden). Its
  midday surplus is the community's largest single source of solar.
- The aggregator owns a 60 kWh / 30 kW community battery on the transformer bus; 10 % of household
  load may shift within 4-hour windows.

The community is derived from the SimBench one by ``MixedIncomeStudy`` (a ``p2psim.world.community.DerivedStudy``,
whose ``derive`` adds the public building); it is rebuilt whenever ``days``, ``start_day``,
``interval_minutes`` or ``seed`` change, so ``--days 1`` and seed sweeps work as for a SimBench
community.

Tariffs (the same illustrative German-style retail levels as ``studies/rural.py``, 2024): import
0.24 EUR/kWh at night (0-7 h), 0.32 by day, 0.40 in the evening peak (17-21 h); feed-in 0.08
EUR/kWh (EEG rate for small rooftop PV, about 8 ct in 2024; the public array is paid the same);
P2P network fee 0.02 EUR/kWh (reduced local grid charge); demand charge 0.30 EUR per kW of the
community's daily peak (about 110 EUR/kW a year).
"""


import numpy as np

from p2psim.config.study import SimBenchCommunity
from p2psim.world.community import DerivedStudy
from p2psim.world.scenario import GERMAN_RETAIL_2024, ParticipantSpec
from p2psim.world.simbench import load_simbench_grid, window

GRID = "1-LV-semiurb5--0-sw"
PUBLIC_BUS = "bus-064"
PUBLIC_LOAD_PROFILE = "G1-C"
PUBLIC_REFERENCE_KW = 30.0
PUBLIC_PV_PROFILE = "PV5"
PUBLIC_PV_KWP = 100.0
PUBLIC_BUDGET_PER_YEAR = 500_000.0

BASE_COMMUNITY = SimBenchCommunity(
    grid_code=GRID,
    class_shares=(("low", 0.4), ("middle", 0.35), ("high", 0.25)),
    income_per_year=(("low", 13_000.0), ("middle", 40_000.0), ("high", 120_000.0)),
    income_spread=0.35,
    low_income_pv_share=0.05,
)


def public_profiles() -> tuple[np.ndarray, np.ndarray]:
    """(relative G1-C load, relative PV5 output per kWp) over 2016 at 15 minutes.

    SimBench load profiles are normalised to a peak of 1, so a G1-C load of the grid divided by its
    own peak is the profile; a PV5 unit divided by its rating is PV5 per kWp.
    """
    grid = load_simbench_grid(GRID)
    load = grid.load_kw_15min[grid.load_profile.index(PUBLIC_LOAD_PROFILE)]
    unit = grid.pv_profile.index(PUBLIC_PV_PROFILE)
    return load / load.max(), grid.pv_kw_15min[unit] / grid.pv_peak_kw[unit]


class MixedIncomeStudy(DerivedStudy):
    """The mixed-income study: the SimBench community plus the public building."""

    base_community = BASE_COMMUNITY

    def derive(self, base) -> tuple[ParticipantSpec, ...]:
        """Add the public building (anchor prosumer) to the seeded SimBench community."""
        if PUBLIC_BUS not in base.feeder.buses:
            raise ValueError(f"{PUBLIC_BUS} is not a bus of {GRID}")
        load, pv = public_profiles()
        public = ParticipantSpec(
            id="pub-001", kind="public", socio_class="public", income_per_year=PUBLIC_BUDGET_PER_YEAR,
            bus=PUBLIC_BUS,
            load_kw=window(load, self.start_day, self.days, self.interval_minutes) * PUBLIC_REFERENCE_KW,
            pv_kw=window(pv, self.start_day, self.days, self.interval_minutes) * PUBLIC_PV_KWP,
            pv_peak_kw=PUBLIC_PV_KWP,
        )
        return (*base.participants, public)


STUDY = MixedIncomeStudy(
    name="mixed_income",
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
