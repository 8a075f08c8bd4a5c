"""Devices a participant brings: declare them in a few lines, the model carries them as data.

Every storage-like device is a :class:`StorageDevice` (the canonical form of
:mod:`p2psim.markets.devices`); :class:`ElectricVehicle` and :class:`HeatPump` are readable ways to
write one, and a battery spec becomes one through :func:`battery_device`. A :class:`ShiftableLoad`
is energy to draw within a window. A participant subclass returns them from ``devices()``::

    class EvOwner(Household):
        def devices(self):
            return (*super().devices(), ElectricVehicle(plug_in="18:00", plug_out="07:00", need_kwh=30.0))

Time-varying fields take a *profile*: a number (every interval), one day of values (repeated every
day of the run) or one value per interval of the whole run. Times of day are ``"HH:MM"``.
Units: power kW (electric, at the participant's meter), energy kWh (stored: electric for batteries
and cars, heat for a heat pump's store).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Profile = float | Sequence[float] | np.ndarray
"""A number, one day of values (repeated daily) or one value per interval of the run."""


def expand(value: Profile, horizon: int, per_day: int, name: str) -> np.ndarray:
    """``value`` as one float per interval of the run; ValueError naming ``name`` and the lengths."""
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return np.full(horizon, float(array))
    if array.ndim == 1 and array.size == horizon:
        return array.copy()
    if array.ndim == 1 and array.size == per_day and horizon % per_day == 0:
        return np.tile(array, horizon // per_day)
    raise ValueError(f"{name} has {array.size} values; give one number, {per_day} (one day) or {horizon} "
                     "(the whole run)")


def interval_of(clock: str, interval_minutes: int) -> int:
    """The interval of the day that starts at ``"HH:MM"`` (``"24:00"`` is the end of the day)."""
    try:
        hours, minutes = (int(part) for part in clock.split(":"))
    except ValueError as exc:
        raise ValueError(f"time {clock!r} must be written HH:MM") from exc
    total = hours * 60 + minutes
    if not 0 <= total <= 1440 or total % interval_minutes:
        raise ValueError(f"time {clock!r} must lie within the day on the {interval_minutes}-minute grid")
    return total // interval_minutes


@dataclass(frozen=True, kw_only=True)
class StorageDevice:
    """The canonical storage-like device (see :mod:`p2psim.markets.devices` for the equations)."""

    id: str = "storage"
    """Device id, unique within its participant."""
    kind: str = "storage"
    """What it is (``battery``, ``ev``, ``heat_pump``, ...), for tables and reports."""
    capacity_kwh: float
    """Energy the store holds when full."""
    max_charge_kw: Profile
    """Largest electric power drawn."""
    max_discharge_kw: Profile = 0.0
    """Largest electric power returned (0: it never feeds back)."""
    available: Profile = 1.0
    """1 where it can draw or return power, 0 where not (a car away from home)."""
    charge_efficiency: Profile = 1.0
    """Energy stored per kWh drawn (a heat pump: efficiency x COP, by interval)."""
    discharge_efficiency: float = 1.0
    """Electric kWh returned per kWh taken from the store."""
    self_discharge_per_h: float = 0.0
    """Share of the stored energy lost per hour."""
    demand_kw: Profile = 0.0
    """The store's own use (heat demand of the house, kW of heat)."""
    energy_min_kwh: Profile = 0.0
    """Lowest energy at the end of each interval."""
    energy_max_kwh: Profile | None = None
    """Highest energy at the end of each interval (default: the capacity)."""
    target_kwh: Profile | None = None
    """Energy targets by the end of an interval (NaN where none)."""
    arrival_kwh: Profile | None = None
    """Energy the store restarts from at the start of an interval (NaN: it continues)."""
    initial_kwh: float = 0.0
    """Energy at the start of the run."""
    conserve: bool = True
    """Every day ends with at least the energy it started with (no free energy)."""

    def canonical(self, horizon: int, interval_minutes: int) -> StorageDevice:
        """This device in canonical form (it already is)."""
        return self


def battery_device(spec, device_id: str = "battery") -> StorageDevice:
    """A :class:`~p2psim.world.scenario.BatterySpec` as a canonical storage device (kind ``battery``)."""
    cap = float(spec.capacity_kwh)
    return StorageDevice(
        id=device_id, kind="battery", capacity_kwh=cap, max_charge_kw=float(spec.max_charge_kw),
        max_discharge_kw=float(spec.max_discharge_kw), charge_efficiency=float(spec.charge_efficiency),
        discharge_efficiency=float(spec.discharge_efficiency), energy_min_kwh=spec.min_soc * cap,
        energy_max_kwh=spec.max_soc * cap, initial_kwh=spec.initial_soc * cap, conserve=True,
    )


@dataclass(frozen=True, kw_only=True)
class ElectricVehicle:
    """An electric car charged at home: plugged in for sessions, each with an energy need.

    A session runs from plug-in (start of an interval) to plug-out (end of an interval): the car
    arrives with ``arrival_kwh`` and must leave with at least ``arrival_kwh + need`` (a need the
    battery cannot hold, or its power cannot deliver in time, is refused as bad input). Between
    sessions it is away and draws nothing from the community. Give either a daily pattern
    (``plug_in``, ``plug_out``, ``need_kwh``; a session that crosses midnight carries its target into
    the next day) or explicit ``sessions`` (plug-in interval, plug-out interval, need kWh), intervals
    counted from the start of the run. A daily session under way when the run starts (plugged in the
    evening before) is taken on track: the car starts the run holding what it still needs minus what
    it can charge before plug-out, and at least ``arrival_kwh``. With ``v2g`` the car may feed back up
    to ``max_power_kw`` while plugged in.
    """

    id: str = "ev"
    capacity_kwh: float = 50.0
    """Usable battery energy."""
    max_power_kw: float = 11.0
    """Charging point power (and the V2G limit)."""
    efficiency: float = 0.92
    """Charging (and V2G discharging) efficiency."""
    plug_in: str = "18:00"
    plug_out: str = "07:00"
    need_kwh: float = 10.0
    """Energy to add in every daily session."""
    sessions: tuple[tuple[int, int, float], ...] = ()
    """Explicit (plug-in interval, plug-out interval, need kWh) sessions; replace the daily pattern."""
    arrival_kwh: float = 10.0
    """Energy in the car when it plugs in."""
    v2g: bool = False

    def session_list(self, horizon: int, interval_minutes: int) -> list[tuple[int, int, float]]:
        """Sessions as (first plugged interval, one past the last, need kWh) within the run."""
        if self.sessions:
            return [(int(a), int(b), float(e)) for a, b, e in self.sessions]
        per_day = 1440 // interval_minutes
        a, b = interval_of(self.plug_in, interval_minutes), interval_of(self.plug_out, interval_minutes)
        days = -(-horizon // per_day)
        if b > a:  # within one day
            return [(d * per_day + a, d * per_day + b, self.need_kwh) for d in range(days)]
        # the session under way when the run starts, on track: what the car can still charge before
        # plug-out is the part of the need left (see the class docstring)
        left = min(self.need_kwh, self.max_power_kw * self.efficiency * b * interval_minutes / 60)
        out = [(0, b, left)] if b > 0 else []
        return out + [(d * per_day + a, (d + 1) * per_day + b, self.need_kwh) for d in range(days)]

    def canonical(self, horizon: int, interval_minutes: int) -> StorageDevice:
        """The car as a storage device: availability, arrivals and departure targets per session."""
        available = np.zeros(horizon)
        arrival = np.full(horizon, np.nan)
        target = np.full(horizon, np.nan)
        for a, b, need in self.session_list(horizon, interval_minutes):
            first, end = max(a, 0), min(b, horizon)
            if first >= end:
                continue
            available[first:end] = 1.0
            arrival[first] = self.arrival_kwh + (self.need_kwh - need if a == 0 and not self.sessions else 0.0)
            if b <= horizon:  # a departure after the run leaves no obligation inside it
                target[b - 1] = arrival[first] + need
        return StorageDevice(
            id=self.id, kind="ev", capacity_kwh=self.capacity_kwh, max_charge_kw=self.max_power_kw,
            max_discharge_kw=self.max_power_kw if self.v2g else 0.0, available=available,
            charge_efficiency=self.efficiency, discharge_efficiency=self.efficiency if self.v2g else 1.0,
            target_kwh=target, arrival_kwh=arrival, initial_kwh=self.arrival_kwh, conserve=False,
        )


@dataclass(frozen=True, kw_only=True)
class HeatPump:
    """A heat pump feeding a thermal store (hot-water tank or the building's thermal mass).

    Electric power p (at most ``max_power_kw``) adds ``cop[t] * p`` of heat; the house takes
    ``heat_demand_kw``; the store loses ``loss_per_h`` of its heat per hour and holds between
    ``min_kwh`` and ``store_kwh`` of heat. Each day ends with at least the heat it started with.
    """

    id: str = "heat-pump"
    max_power_kw: float
    """Electric power limit."""
    cop: Profile
    """Coefficient of performance by interval (heat out per electric kWh)."""
    heat_demand_kw: Profile
    """Heat the house takes from the store."""
    store_kwh: float
    """Heat the store holds when full."""
    min_kwh: float = 0.0
    """Least heat kept in the store (comfort band)."""
    loss_per_h: float = 0.01
    """Share of the stored heat lost per hour."""
    initial_kwh: float | None = None
    """Heat in the store at the start of the run (default: half way between min and full)."""

    def canonical(self, horizon: int, interval_minutes: int) -> StorageDevice:
        """The heat pump and its store as one storage device."""
        start = self.initial_kwh if self.initial_kwh is not None else (self.min_kwh + self.store_kwh) / 2
        return StorageDevice(
            id=self.id, kind="heat_pump", capacity_kwh=self.store_kwh, max_charge_kw=self.max_power_kw,
            charge_efficiency=self.cop, self_discharge_per_h=self.loss_per_h, demand_kw=self.heat_demand_kw,
            energy_min_kwh=self.min_kwh, initial_kwh=float(start), conserve=True,
        )


@dataclass(frozen=True, kw_only=True)
class ShiftableLoad:
    """Energy to draw within a window at limited power (a washing machine, a dishwasher, a pump).

    Daily pattern: ``energy_kwh`` between ``earliest`` and ``latest`` every day (the window may cross
    midnight: what is not drawn before midnight carries over), or explicit ``windows`` (first
    interval, one past the last, energy kWh) counted from the start of the run. A window that ends
    after the run draws inside the run only what the rest of its window could not take. ``uninterruptible``
    runs it in one block at constant power (a binary start time per load: a MILP option, solved
    exactly by the optimising rules and relaxed in coalition costs); such a window must lie within
    one day.
    """

    id: str = "shiftable"
    energy_kwh: float = 1.0
    max_power_kw: float = 2.0
    earliest: str = "00:00"
    latest: str = "24:00"
    windows: tuple[tuple[int, int, float], ...] = ()
    uninterruptible: bool = False

    def window_list(self, horizon: int, interval_minutes: int) -> list[tuple[int, int, float]]:
        """Windows as (first interval, one past the last, energy kWh) within the run."""
        if self.windows:
            return [(int(a), int(b), float(e)) for a, b, e in self.windows]
        per_day = 1440 // interval_minutes
        a, b = interval_of(self.earliest, interval_minutes), interval_of(self.latest, interval_minutes)
        days = -(-horizon // per_day)
        if b <= a:
            b += per_day
        return [(d * per_day + a, d * per_day + b, self.energy_kwh) for d in range(days) if d * per_day + a < horizon]

    def canonical(self, horizon: int, interval_minutes: int) -> ShiftableLoad:
        """This load (already canonical)."""
        return self


DeviceSpec = StorageDevice | ElectricVehicle | HeatPump | ShiftableLoad
"""Anything ``Participant.devices()`` may return."""
