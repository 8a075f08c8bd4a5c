"""Units and the one sign convention of p2psim.

Units, fixed everywhere and spelled in names:

- power in kW (``*_kw``), energy in kWh (``*_kwh``), time in hours (``interval_hours``) or minutes
  (``interval_minutes``);
- money in the study's currency (``Tariffs.currency``, EUR by default): prices ``*_per_kwh``,
  demand charges ``*_per_kw``, amounts ``*_cost`` / ``bill`` / ``*_bill`` / ``benefit`` / ``*_gap``.

Sign convention (stated once, used everywhere): a participant's **net import is positive** when it
takes energy from the community pool or the grid. ``grid_import_kw``, ``grid_export_kw``,
``pool_buy_kw`` and ``pool_sell_kw`` are all non-negative flows, so

    net_import_kw = grid_import_kw - grid_export_kw + pool_buy_kw - pool_sell_kw
                  = load_kw - pv_kw + curtail_kw + charge_kw - discharge_kw + shift_kw

A bill is positive when the participant pays. A benefit is positive when the participant is better
off than its stand-alone outside option.
"""

from __future__ import annotations

import math
import numbers

MINUTES_PER_HOUR = 60.0
HOURS_PER_DAY = 24.0

#: Absolute tolerance of energy balances, in kWh per participant and interval.
ENERGY_TOLERANCE_KWH = 1e-6
#: Absolute tolerance of money balances, in currency units per day.
MONEY_TOLERANCE = 1e-6


def intervals_per_day(interval_minutes: int) -> int:
    """Return the number of delivery intervals in one day."""
    return round(HOURS_PER_DAY * MINUTES_PER_HOUR / interval_minutes)


def interval_hours(interval_minutes: int) -> float:
    """Return the length of one interval in hours."""
    return interval_minutes / MINUTES_PER_HOUR


def is_quantity(value: object) -> bool:
    """A finite real number, not a bool: what every power, energy, price or amount must be."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
