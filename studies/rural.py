"""Rural: a weak rural low-voltage feeder with farms, households and a lot of rooftop PV.

Data: SimBench ``1-LV-rural1--0-sw`` (ODbL 1.0 + DbCL): 15 buses, a 160 kVA transformer, 13 loads
(agricultural L1/L2 and household H0 profiles) and 4 PV units (160 kWp), real 2016 15-minute
profiles averaged to hourly intervals; one summer week from 1 June by default.

Assumptions (documented, seeded): 40 % of participants low income, 40 % middle, 20 % high; low
income goes to members without PV first (a PV owner takes a low-income slot with probability 0.1);
median incomes 18,000 / 42,000 / 85,000 EUR a year (log-normal spread 0.2); PV-owning high-income
members own a 10 kWh home battery; the aggregator owns a 60 kWh / 30 kW community battery on the
transformer bus; 10 % of household load may shift within 4-hour windows.

Tariffs (illustrative German-style retail, 2024 levels): import 0.24 EUR/kWh at night (0-7 h),
0.32 by day, 0.40 in the evening peak (17-21 h); feed-in 0.08 EUR/kWh (EEG small rooftop rate);
P2P network fee 0.02 EUR/kWh (reduced local grid charge); demand charge 0.30 EUR per kW of the
community's daily peak (about 110 EUR/kW a year).

The whole loop: the market is eqwm_v1 with equal class weights on the first day; from then on the
equity coordinator (``p2psim/assets/policies/feedback``: a proportional-integral controller on each
class's deficit in cumulative relative benefit, the coordinator that did best in
benchmarks/results/coordinator.md) sets each next day's class weights from the outcomes accumulated
so far (disable with ``--set coordinator_policy=None``). Members are paid by the equitable core
(``settlement_rule="equitable_core"``): each day, the core allocation of the day's savings game
closest to the weighted Shapley value under the weights that day was cleared with, so the weights
act on both the clearing and the payments and nobody pays more than alone (``--set
settlement_rule=market`` pays the market bills instead).
"""

from p2psim import Study
from p2psim.config.study import SimBenchCommunity
from p2psim.world.scenario import GERMAN_RETAIL_2024

STUDY = Study(
    name="rural",
    description=__doc__,
    community=SimBenchCommunity(grid_code="1-LV-rural1--0-sw"),
    tariffs=GERMAN_RETAIL_2024,
    market="eqwm_v1",
    days=7,
    start_day=152,
    interval_minutes=60,
    class_weights=(("low", 1.0), ("middle", 1.0), ("high", 1.0)),
    coordinator_policy="feedback",
    settlement_rule="equitable_core",
)
