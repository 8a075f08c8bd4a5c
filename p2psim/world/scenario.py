"""Scenario: the participants, their assets and profiles, the tariffs and the feeder of one run.

A :class:`Scenario` is what a study builds (from SimBench data or explicitly) and what the
co-simulation consumes. It is frozen; :meth:`Scenario.validate` lists every problem at once and
:meth:`Scenario.check` raises one :class:`~p2psim.errors.ScenarioError` carrying all of them.
Profiles cover the whole horizon: ``days * intervals_per_day`` values each, in kW.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from p2psim.errors import ScenarioError, shown
from p2psim.units import interval_hours, intervals_per_day, is_quantity
from p2psim.world.feeder import Feeder


@dataclass(frozen=True, kw_only=True)
class BatterySpec:
    """A battery (home, farm or community). SoC fractions refer to ``capacity_kwh``."""

    capacity_kwh: float
    """Usable energy capacity."""
    max_charge_kw: float
    """Largest charging power (AC side)."""
    max_discharge_kw: float
    """Largest discharging power (AC side)."""
    charge_efficiency: float = 0.95
    """Share of AC energy that reaches the cells when charging."""
    discharge_efficiency: float = 0.95
    """Share of cell energy that reaches the AC side when discharging."""
    min_soc: float = 0.1
    """Lowest allowed state of charge, as a fraction of capacity."""
    max_soc: float = 0.95
    """Highest allowed state of charge, as a fraction of capacity."""
    initial_soc: float = 0.5
    """State of charge at the start of the run (and the floor at the end of each day)."""

    def problems(self, owner: str) -> list[str]:
        """Return every problem of this battery, each naming ``owner``, the value and the fix."""
        out = []
        for name in ("capacity_kwh", "max_charge_kw", "max_discharge_kw"):
            value = getattr(self, name)
            if not (is_quantity(value) and value >= 0):
                out.append(f"{owner}: battery.{name}={value} must be finite and >= 0")
        for name in ("charge_efficiency", "discharge_efficiency"):
            value = getattr(self, name)
            if not (is_quantity(value) and 0 < value <= 1):
                out.append(f"{owner}: battery.{name}={value} must lie in (0, 1]")
        if not all(is_quantity(getattr(self, n)) for n in ("min_soc", "max_soc", "initial_soc")):
            return [*out, f"{owner}: battery min_soc, max_soc and initial_soc must be numbers in [0, 1]"]
        if not 0 <= self.min_soc <= self.max_soc <= 1:
            out.append(
                f"{owner}: battery SoC window min_soc={self.min_soc}, max_soc={self.max_soc} must "
                "satisfy 0 <= min_soc <= max_soc <= 1; swap or fix the bounds"
            )
        elif not self.min_soc <= self.initial_soc <= self.max_soc:
            out.append(
                f"{owner}: battery.initial_soc={self.initial_soc} lies outside the SoC window "
                f"[{self.min_soc}, {self.max_soc}]; choose a value inside it"
            )
        return out


@dataclass(frozen=True, kw_only=True, eq=False)
class ParticipantSpec:
    """One community member: who it is, where it sits, what it owns and what it consumes."""

    id: str
    """Stable id such as ``"hh-007"``; used in every table."""
    kind: str = "household"
    """Participant type: ``household``, ``farm``, ``commercial``, ``public`` or ``aggregator``."""
    socio_class: str = "middle"
    """Socio-economic class; carries the class weight in EqWM (``low``, ``middle``, ``high`` ...)."""
    income_per_year: float = 40_000.0
    """Annual income or budget in currency units; the denominator of the energy burden."""
    bus: str
    """Feeder bus the participant is connected to."""
    load_kw: np.ndarray
    """Load profile over the horizon (kW, >= 0)."""
    pv_kw: np.ndarray
    """Available PV output over the horizon (kW, >= 0); zeros when the participant has no PV."""
    pv_peak_kw: float = 0.0
    """Installed PV size, for reports and features."""
    battery: BatterySpec | None = None
    """Battery owned by the participant, if any."""
    flexible_share: float = 0.0
    """Share of each interval's load that may move within its shift window (energy conserved)."""
    devices: tuple = ()
    """Further devices (:mod:`p2psim.agents.devices`: EVs, heat pumps, shiftable loads, storage)."""

    def problems(self, horizon: int) -> list[str]:
        """Return every problem of this participant for a horizon of ``horizon`` intervals."""
        out = []
        who = f"participant {self.id!r}"
        for name in ("load_kw", "pv_kw"):
            values = np.asarray(getattr(self, name), dtype=float)
            if values.shape != (horizon,):
                out.append(
                    f"{who}: {name} has shape {values.shape}, expected ({horizon},) = days x "
                    "intervals per day; resample or cut the profile"
                )
            elif not np.all(np.isfinite(values)):
                bad = int(np.flatnonzero(~np.isfinite(values))[0])
                out.append(f"{who}: {name} has NaN/inf (first at interval {bad}); fill the gap")
            elif np.any(values < 0):
                bad = int(np.flatnonzero(values < 0)[0])
                out.append(f"{who}: {name}[{bad}]={values[bad]} is negative; profiles are >= 0")
        if not (is_quantity(self.flexible_share) and 0 <= self.flexible_share <= 1):
            out.append(f"{who}: flexible_share={self.flexible_share} must lie in [0, 1]")
        if not (is_quantity(self.income_per_year) and self.income_per_year > 0):
            out.append(f"{who}: income_per_year={self.income_per_year} must be positive")
        if not (is_quantity(self.pv_peak_kw) and self.pv_peak_kw >= 0):
            out.append(f"{who}: pv_peak_kw={self.pv_peak_kw} must be >= 0")
        if self.battery is not None and not isinstance(self.battery, BatterySpec):
            out.append(f"{who}: battery={self.battery!r} must be a BatterySpec or None")
        elif self.battery is not None:
            out.extend(self.battery.problems(who))
        return out


def time_of_use(hourly_price_per_kwh: dict[tuple[int, int], float]) -> tuple[float, ...]:
    """Expand ``{(start_hour, end_hour): price}`` blocks into 24 hourly prices."""
    prices = [float("nan")] * 24
    for (start, end), price in hourly_price_per_kwh.items():
        for hour in range(start, end):
            prices[hour] = float(price)
    return tuple(prices)


@dataclass(frozen=True, kw_only=True)
class Tariffs:
    """Retail tariffs around the community, with their source stated by the study."""

    import_price_per_kwh: tuple[float, ...]
    """Time-of-use import (retail) price for each of the 24 hours of the day; a single number is a flat
    tariff (stored as 24 equal prices)."""
    export_price_per_kwh: float
    """Feed-in tariff paid for energy exported to the grid."""
    p2p_fee_per_kwh: float = 0.0
    """Network fee paid by the buyer on every kWh bought from the community pool."""
    peak_price_per_kw: float = 0.0
    """Demand charge per kW of the community's daily peak grid import (per day)."""
    currency: str = "EUR"
    """Currency of every price and bill."""

    def __post_init__(self) -> None:
        price = self.import_price_per_kwh
        if isinstance(price, int | float | np.integer | np.floating) and not isinstance(price, bool):
            object.__setattr__(self, "import_price_per_kwh", (float(price),) * 24)

    def problems(self) -> list[str]:
        """Return every problem of the tariffs."""
        out = []
        for name in ("export_price_per_kwh", "p2p_fee_per_kwh", "peak_price_per_kw"):
            value = getattr(self, name)
            if not (is_quantity(value) and value >= 0):
                out.append(f"tariffs.{name}={shown(value)} must be finite and >= 0")
        try:
            prices = np.asarray(self.import_price_per_kwh, dtype=float)
        except (TypeError, ValueError):
            prices = np.full(1, np.nan)
        if prices.shape != (24,) or not np.all(np.isfinite(prices)):
            out.append(
                "tariffs.import_price_per_kwh must have 24 finite hourly prices, or one number for a flat tariff "
                f"(e.g. --set tariffs.import_price_per_kwh=0.3); got {self.import_price_per_kwh!r:.80} "
                "(NaN marks hours no time_of_use block covers)"
            )
        elif not out and np.any(prices <= self.export_price_per_kwh):
            out.append(
                f"tariffs.import_price_per_kwh (min {prices.min()}) must exceed "
                f"export_price_per_kwh={self.export_price_per_kwh} in every hour"
            )
        if not (isinstance(self.currency, str) and self.currency.strip()):
            out.append(f"tariffs.currency={self.currency!r} must be a currency code such as 'EUR'")
        return out

    def import_price_series(self, interval_minutes: int) -> np.ndarray:
        """Import price for each interval of one day."""
        n = intervals_per_day(interval_minutes)
        hours = (np.arange(n) * interval_minutes // 60).astype(int)
        return np.asarray(self.import_price_per_kwh, dtype=float)[hours]


@dataclass(frozen=True, kw_only=True, eq=False)
class Scenario:
    """Everything one run needs: participants, feeder, tariffs, calendar and class weights."""

    name: str
    """Scenario name (the study's)."""
    participants: tuple[ParticipantSpec, ...]
    """All participants, in a stable order (the ledger's order)."""
    feeder: Feeder
    """The radial feeder the participants sit on."""
    tariffs: Tariffs
    """Retail tariffs."""
    interval_minutes: int = 60
    """Length of one delivery interval."""
    days: int = 1
    """Number of days in the horizon."""
    start: str = "2016-06-01"
    """Calendar date of the first day (ISO), for reports and calendar features."""
    class_weights: dict[str, float] = field(default_factory=dict)
    """Socio-economic weight of each class (missing classes weigh 1)."""
    source: str = ""
    """Where the data came from (grid code, profile names, licence)."""

    @property
    def intervals_per_day(self) -> int:
        """Delivery intervals per day."""
        return intervals_per_day(self.interval_minutes)

    @property
    def interval_hours(self) -> float:
        """Length of one interval in hours."""
        return interval_hours(self.interval_minutes)

    @property
    def horizon(self) -> int:
        """Number of intervals in the whole run."""
        return self.days * self.intervals_per_day

    @property
    def ids(self) -> tuple[str, ...]:
        """Participant ids in ledger order."""
        return tuple(p.id for p in self.participants)

    def validate(self) -> list[str]:
        """Return every problem of the scenario (an empty list when it is consistent)."""
        out: list[str] = []
        if 1440 % self.interval_minutes:
            out.append(f"interval_minutes={self.interval_minutes} must divide a day (1440 minutes); use 15, 30 or 60")
            return out
        if self.days < 1:
            out.append(f"days={self.days} must be >= 1")
        if not self.participants:
            out.append("the scenario has no participants; add at least one")
        out.extend(self.feeder.problems())
        out.extend(self.tariffs.problems())
        ids = [p.id for p in self.participants]
        seen: set[str] = set()
        for pid in ids:
            if not pid or pid in seen:
                out.append(f"participant id {pid!r} is empty or repeated; ids must be unique")
            seen.add(pid)
        buses = set(self.feeder.buses)
        for p in self.participants:
            if p.bus not in buses:
                out.append(
                    f"participant {p.id!r} sits on bus {p.bus!r}, which the feeder does not define; "
                    f"add it to the feeder or use one of {sorted(buses)[:6]}..."
                )
            out.extend(p.problems(self.horizon))
        if not out and any(p.devices for p in self.participants):
            from p2psim.sim.fleet import DeviceFleet

            declared = [p.devices for p in self.participants]
            out.extend(DeviceFleet(self.ids, declared, self.horizon, self.interval_minutes).problems())
        for name, weight in self.class_weights.items():
            if not (np.isfinite(weight) and weight > 0):
                out.append(f"class_weights[{name!r}]={weight} must be positive and finite")
        return out

    def check(self) -> Scenario:
        """Raise :class:`ScenarioError` listing every problem; return ``self`` when valid."""
        problems = self.validate()
        if problems:
            raise ScenarioError(problems)
        return self

    def weight_of(self, socio_class: str) -> float:
        """Socio-economic weight of a class (1 when the study gives none)."""
        return float(self.class_weights.get(socio_class, 1.0))


GERMAN_RETAIL_2024 = Tariffs(
    import_price_per_kwh=time_of_use({(0, 7): 0.24, (7, 17): 0.32, (17, 21): 0.40, (21, 24): 0.32}),
    export_price_per_kwh=0.08,
    p2p_fee_per_kwh=0.02,
    peak_price_per_kw=0.30,
)
"""Illustrative German-style retail tariffs at 2024 levels, shared by the SimBench studies: import
0.24 EUR/kWh at night (0-7 h), 0.32 by day, 0.40 in the evening peak (17-21 h); feed-in 0.08 EUR/kWh
(EEG rate for small rooftop PV, about 8 ct in 2024); P2P network fee 0.02 EUR/kWh (reduced local grid
charge); demand charge 0.30 EUR per kW of the community's daily peak (about 110 EUR/kW a year)."""
