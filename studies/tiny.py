"""Tiny: three participants, four 6-hour intervals, every number checkable by hand.

- hh-a (low income): load 1, 2, 2, 3 kW; nothing else.
- hh-b (high income): load 1 kW all day; PV 0, 3, 4, 0 kW.
- hh-c (middle income): load 1, 1, 2, 1 kW; a 6 kWh battery (1 kW, lossless, empty at the start).

Tariffs (illustrative round numbers): import 0.30 per kWh, 0.40 from 18:00; feed-in 0.10; P2P fee
0.02 per kWh bought from the pool; demand charge 0.50 per kW of the day's community peak. Forecasts
are perfect (forecast_error = 0), so nothing is settled as imbalance.

Hand check of mid_market_rate_v1 (pool price (import + export) / 2 = 0.20, 0.25 after 18:00):
interval 1 (06-12): hh-b has 2 kW surplus; hh-a needs 2 kW and hh-c 1 kW, so 2 kW trade and hh-a,
hh-c share them pro rata (4/3 and 2/3 kW over 6 h). Interval 2: surplus 3 kW, demand 2 + 2 = 4 kW.
"""

import numpy as np

from p2psim import Study
from p2psim.config.study import ExplicitCommunity
from p2psim.world.feeder import Feeder, LineSpec
from p2psim.world.scenario import BatterySpec, ParticipantSpec, Tariffs, time_of_use

FEEDER = Feeder(
    buses=("b0", "b1", "b2", "b3"),
    lines=(
        LineSpec(id="line-1", from_bus="b0", to_bus="b1", rating_kw=50.0, r_ohm=0.02, x_ohm=0.01, length_km=0.1),
        LineSpec(id="line-2", from_bus="b1", to_bus="b2", rating_kw=50.0, r_ohm=0.02, x_ohm=0.01, length_km=0.1),
        LineSpec(id="line-3", from_bus="b0", to_bus="b3", rating_kw=50.0, r_ohm=0.02, x_ohm=0.01, length_km=0.2),
    ),
    root_bus="b0",
    transformer_limit_kw=100.0,
)

PARTICIPANTS = (
    ParticipantSpec(
        id="hh-a",
        socio_class="low",
        income_per_year=15_000.0,
        bus="b1",
        load_kw=np.array([1.0, 2.0, 2.0, 3.0]),
        pv_kw=np.zeros(4),
    ),
    ParticipantSpec(
        id="hh-b",
        socio_class="high",
        income_per_year=90_000.0,
        bus="b2",
        load_kw=np.array([1.0, 1.0, 1.0, 1.0]),
        pv_kw=np.array([0.0, 3.0, 4.0, 0.0]),
        pv_peak_kw=5.0,
    ),
    ParticipantSpec(
        id="hh-c",
        socio_class="middle",
        income_per_year=40_000.0,
        bus="b3",
        load_kw=np.array([1.0, 1.0, 2.0, 1.0]),
        pv_kw=np.zeros(4),
        battery=BatterySpec(
            capacity_kwh=6.0,
            max_charge_kw=1.0,
            max_discharge_kw=1.0,
            charge_efficiency=1.0,
            discharge_efficiency=1.0,
            min_soc=0.0,
            max_soc=1.0,
            initial_soc=0.0,
        ),
    ),
)

STUDY = Study(
    name="tiny",
    description=__doc__,
    community=ExplicitCommunity(participants=PARTICIPANTS, feeder=FEEDER),
    tariffs=Tariffs(
        import_price_per_kwh=time_of_use({(0, 18): 0.30, (18, 24): 0.40}),
        export_price_per_kwh=0.10,
        p2p_fee_per_kwh=0.02,
        peak_price_per_kw=0.50,
    ),
    market="mid_market_rate_v1",
    days=1,
    interval_minutes=360,
    forecast_error=0.0,
)
