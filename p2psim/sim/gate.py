"""What happens at the gate besides clearing: tariffs and bids in, the clearing checked, schedules out.

Helpers of :class:`~p2psim.sim.model.CommunityModel` (kept apart so the model stays about timing):
the day's tariffs as participants see them before clearing, the bids they submit
(``Participant.bid``), the physics check of a rule's clearing (:mod:`p2psim.sim.invariants`, raised as
InvariantError, exit status 3), every member's full schedule and prices (``on_cleared``), the power
drawn by consuming devices (dispatch column ``device_use_kw``) and the day's devices.parquet rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from p2psim.errors import InvariantError, OrderError
from p2psim.markets import OrderBook
from p2psim.markets.base import Clearing
from p2psim.markets.devices import per_participant
from p2psim.sim.invariants import clearing_problems
from p2psim.sim.settlement import Prices, pool_price_matrix

FLOW_NAMES = ("grid_import_kw", "grid_export_kw", "pool_buy_kw", "pool_sell_kw", "charge_kw", "discharge_kw",
              "soc_kwh", "curtail_kw", "shift_kw")
"""The flows a member receives in ``on_cleared`` (its row of each)."""





def tariff_prices(scenario) -> Prices:
    """The day's tariffs as known before clearing (the pool price is NaN until the market clears)."""
    horizon = scenario.intervals_per_day
    tariffs = scenario.tariffs
    flat = np.full(horizon, 1.0)
    return Prices(tariffs.import_price_series(scenario.interval_minutes), tariffs.export_price_per_kwh * flat,
                  np.full(horizon, np.nan), tariffs.p2p_fee_per_kwh * flat, tariffs.peak_price_per_kw)


def collect_bids(members: list, day: int, forecasts: list[Any], prices: Prices) -> np.ndarray | None:
    """Every member's limit prices (n x T, NaN = none), or None when nobody bids; OrderError on a bad bid."""
    horizon = len(prices.import_price_per_kwh)
    rows = [member.bid(day, forecast, prices) for member, forecast in zip(members, forecasts, strict=True)]
    if all(row is None for row in rows):
        return None
    out = np.full((len(rows), horizon), np.nan)
    for k, row in enumerate(rows):
        if row is None:
            continue
        row = np.asarray(row, dtype=float)
        if row.shape != (horizon,) or np.isinf(row).any():
            raise OrderError(f"participant {members[k].participant_id!r}: bid() returned {row.shape} values; it must "
                             f"return {horizon} finite limit prices per kWh (NaN where the market sets the price)")
        out[k] = row
    return out


def check_clearing(day: int, book: OrderBook, clearing: Clearing) -> None:
    """Raise InvariantError (exit 3) naming the rule when its clearing breaks the physics or the prices."""
    problems = clearing_problems(book, clearing)
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems[:5])
        raise InvariantError(f"market {clearing.market!r} returned an unsound clearing on day {day}:\n{shown}\n"
                             "(p2psim.testing.check_market runs the same checks on random books)")


def tell_members(members: list, book: OrderBook, clearing: Clearing) -> None:
    """Give every member its full schedule (all flows, every device) and its prices."""
    charge, discharge, energy = clearing.device_flows(book)
    pool = pool_price_matrix(clearing.pool_price_per_kwh, book.n_participants, book.n_intervals)
    owner, ids = book.device_owner, book.device_ids
    for k, member in enumerate(members):
        schedule = {name: np.asarray(getattr(clearing, name))[k] for name in FLOW_NAMES}
        schedule["devices"] = {ids[j]: {"charge_kw": charge[j], "discharge_kw": discharge[j],
                                        "energy_kwh": energy[j]} for j in np.flatnonzero(owner == k)}
        prices = Prices(book.import_price_per_kwh, book.export_price_per_kwh, np.array(pool[k]),
                        book.p2p_fee_per_kwh, book.peak_price_per_kw)
        member.on_cleared(schedule, prices)


def device_use(book: OrderBook, clearing: Clearing) -> np.ndarray:
    """Net power drawn by devices that consume (cars, heat pumps, shiftable loads), n x T."""
    if not book.n_devices:
        return np.zeros_like(book.load_kw)
    charge, discharge, _ = clearing.device_flows(book)
    consumes = np.r_[book.storage.consumes, np.ones(book.shiftable.n_devices, dtype=bool)]
    return per_participant(book.device_owner[consumes], (charge - discharge)[consumes], book.n_participants)


def device_rows(fleet, day: int, today: dict[str, Any]):
    """The day's rows of devices.parquet."""
    book, clearing = today["book"], today["clearing"]
    charge, discharge, energy = clearing.device_flows(book)
    return fleet.day_table(day, book.storage, book.shiftable, today["drawn_before"], charge, discharge, energy)
