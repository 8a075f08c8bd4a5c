"""Heat demand and heat-pump efficiency from package-shipped data (demandlib, MIT licence).

- Weather: the German weather service's test reference year (DWD TRY 2010, reference period
  1988-2007, hourly air temperature), shipped with demandlib for 15 climate regions. A TRY has 8,760
  hours; on the 2016 calendar of the SimBench data the 29th of February repeats the 28th.
- Heat demand: demandlib's BDEW standard heat load profiles (SigLinDe; ``bdew.HeatBuilding``), driven
  by that temperature, for a single-family house (``EFH``) with hot water included, scaled to an
  annual heat demand (kWh of heat a year).
- COP of an air-source heat pump: the regression of Ruhnau, Hirth and Praktiknjo (2019), "Time series
  of heat demand and heat pump efficiency for energy system modeling", Scientific Data 6:189:
  COP = 6.08 - 0.09 dT + 0.0005 dT^2 with dT = T_sink - T_air, radiator heating
  T_sink = 40 - 1.0 T_air (deg C), times their correction factor 0.85 for real-world operation.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from p2psim.errors import StudyError

HOURS_2016 = 8784
FEB_28_END = 59 * 24
"""Hours of January and 28 February: the TRY's 29 February is a copy of the 28th."""


@lru_cache(maxsize=16)
def try_temperature_c(region: int) -> np.ndarray:
    """Hourly air temperature (deg C) of DWD TRY 2010 ``region`` (1-15) on the 2016 calendar (8,784 h)."""
    if not 1 <= region <= 15:
        raise StudyError(f"TRY region {region} does not exist; use 1-15 (4 = Potsdam, north-east German lowland)")
    from demandlib.vdi import dwd_try

    path = os.path.join(os.path.dirname(dwd_try.__file__), "resources_weather", f"TRY2010_{region:02d}_Jahr.dat")
    year = dwd_try.read_dwd_weather_file(path).TAMB.to_numpy(dtype=float)
    return np.concatenate([year[:FEB_28_END], year[FEB_28_END - 24:FEB_28_END], year[FEB_28_END:]])


@lru_cache(maxsize=16)
def house_heat_profile(region: int) -> np.ndarray:
    """Hourly heat demand (kW) of a single-family house using 1 kWh of heat a year, 2016 calendar."""
    import pandas as pd
    from demandlib import bdew

    index = pd.date_range("2016-01-01", periods=HOURS_2016, freq="h")
    temperature = pd.Series(try_temperature_c(region), index=index)
    profile = bdew.HeatBuilding(index, temperature=temperature, shlp_type="EFH", building_class=1, wind_class=0,
                                annual_heat_demand=1.0, name="EFH", ww_incl=True).get_bdew_profile()
    return profile.to_numpy(dtype=float)


def air_source_cop(temperature_c: np.ndarray) -> np.ndarray:
    """COP of an air-source heat pump on radiators (Ruhnau et al. 2019, with their 0.85 correction)."""
    t_air = np.asarray(temperature_c, dtype=float)
    lift = (40.0 - 1.0 * t_air) - t_air
    return 0.85 * (6.08 - 0.09 * lift + 0.0005 * lift**2)


def hourly_window(hourly: np.ndarray, start_day: int, days: int, interval_minutes: int, shift_h: int = 0) -> np.ndarray:
    """Cut ``days`` days from ``start_day`` of an hourly series, rolled by ``shift_h`` hours, on the study's grid.

    Intervals shorter than an hour repeat the hour's value; longer ones average.
    """
    from p2psim.world.simbench import data_year_problem

    problem = data_year_problem(start_day, days, len(hourly) // 24)
    if problem:
        raise StudyError(problem)
    cut = np.roll(np.asarray(hourly, dtype=float), shift_h)[start_day * 24:(start_day + days) * 24]
    if interval_minutes <= 60:
        if 60 % interval_minutes:
            raise StudyError(f"interval_minutes={interval_minutes} must divide 60 or be a multiple of 60")
        return np.repeat(cut, 60 // interval_minutes)
    if interval_minutes % 60:
        raise StudyError(f"interval_minutes={interval_minutes} must divide 60 or be a multiple of 60")
    return cut.reshape(-1, interval_minutes // 60).mean(axis=1)
