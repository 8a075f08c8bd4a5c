"""Winter: a large rural feeder in a January week, when PV is scarce and the load at its highest.

Data: SimBench ``1-LV-rural3--0-sw`` (ODbL 1.0 + DbCL): 128 buses, a 400 kVA transformer, 118 loads
(113 households on H0-A/B/C/G/L profiles, 5 small businesses on G1/G4/G5/G6) and 17 rooftop PV units
(190 kWp); real 2016 15-minute profiles averaged to hourly intervals; the week from Monday
11 January 2016 (day 10). In that week the community uses about 9.3 MWh, 1.8 times its June week,
with a 99 kW raw peak, while its PV yields about 1.0 MWh, 40 % of June's: the community is a
net importer nearly every hour and the market has little surplus to share.

Assumptions (documented, seeded from the run's seed by ``p2psim.world.community``): 40 % of
participants low income, 40 % middle, 20 % high; low-income slots go to members without PV first
(a PV owner takes one with probability 0.1); median incomes 18,000 / 42,000 / 85,000 EUR a year
(log-normal spread 0.2); PV-owning high-income members own a 10 kWh home battery; the aggregator
owns a 60 kWh / 30 kW community battery on the transformer bus; 10 % of household load may shift
within 4-hour windows. No heat pumps or electric heating are added (SimBench's scenario-0 grid has
none): the winter load is the standard H0 household load.

Tariffs (the same illustrative German-style retail levels as ``studies/rural.py``, 2024): import
0.24 EUR/kWh at night (0-7 h), 0.32 by day, 0.40 in the evening peak (17-21 h); feed-in 0.08
EUR/kWh (EEG rate for small rooftop PV, about 8 ct in 2024); P2P network fee 0.02 EUR/kWh
(reduced local grid charge); demand charge 0.30 EUR per kW of the community's daily peak (about
110 EUR/kW a year).
"""

from p2psim import Study
from p2psim.config.study import SimBenchCommunity
from p2psim.world.scenario import GERMAN_RETAIL_2024

STUDY = Study(
    name="winter",
    description=__doc__,
    community=SimBenchCommunity(grid_code="1-LV-rural3--0-sw"),
    tariffs=GERMAN_RETAIL_2024,
    market="eqwm_v1",
    days=7,
    start_day=10,
    interval_minutes=60,
    class_weights=(("low", 1.0), ("middle", 1.0), ("high", 1.0)),
    coordinator_policy="feedback",  # the equity coordinator (p2psim/assets/policies/feedback); None switches it off
)
