"""Semi-urban: a suburban low-voltage feeder of homes and small businesses with hardly any PV.

Data: SimBench ``1-LV-semiurb4--0-sw`` (ODbL 1.0 + DbCL): 43 buses, a 400 kVA transformer, 41 loads
(32 households on H0-A/B/G/L profiles, 9 businesses on G1/G2/G4/G6 commercial profiles) and one
6.5 kWp PV unit; real 2016 15-minute profiles averaged to hourly intervals; one summer week from
1 June by default. With so little PV the community's value comes from the community battery,
load shifting and the shared demand charge, not from trading solar surplus: it is the low-PV
baseline of the six scenarios.

Assumptions (documented, seeded from the run's seed by ``p2psim.world.community``): 35 % of
participants low income, 45 % middle, 20 % high (businesses draw a class like homes: the builder
has no separate business class); low-income slots go to members without PV first (a PV owner takes
one with probability 0.1); median incomes 18,000 / 42,000 / 85,000 EUR a year (log-normal spread
0.25); PV-owning high-income members own a 10 kWh home battery; the aggregator owns a
100 kWh / 50 kW community battery on the transformer bus (sized for the larger load, about
1,000 kWh a day); 10 % of household load may shift within 4-hour windows (businesses: none).

Tariffs (the same illustrative German-style retail levels as ``studies/rural.py``, 2024): import
0.24 EUR/kWh at night (0-7 h), 0.32 by day, 0.40 in the evening peak (17-21 h); feed-in 0.08
EUR/kWh (EEG rate for small rooftop PV, about 8 ct in 2024); P2P network fee 0.02 EUR/kWh
(reduced local grid charge); demand charge 0.30 EUR per kW of the community's daily peak (about
110 EUR/kW a year).
"""

from p2psim import Study
from p2psim.config.study import SimBenchCommunity
from p2psim.world.scenario import GERMAN_RETAIL_2024, BatterySpec

STUDY = Study(
    name="semiurban",
    description=__doc__,
    community=SimBenchCommunity(
        grid_code="1-LV-semiurb4--0-sw",
        class_shares=(("low", 0.35), ("middle", 0.45), ("high", 0.2)),
        income_per_year=(("low", 18_000.0), ("middle", 42_000.0), ("high", 85_000.0)),
        income_spread=0.25,
        community_battery=BatterySpec(capacity_kwh=100.0, max_charge_kw=50.0, max_discharge_kw=50.0,
                                      initial_soc=0.3),
    ),
    tariffs=GERMAN_RETAIL_2024,
    market="eqwm_v1",
    days=7,
    start_day=152,
    interval_minutes=60,
    class_weights=(("low", 1.0), ("middle", 1.0), ("high", 1.0)),
    coordinator_policy="feedback",  # the equity coordinator (p2psim/assets/policies/feedback); None switches it off
)
