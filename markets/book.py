"""The order book of one day-ahead gate: every participant's forecast, devices and bids as arrays.

The community market clears a whole day at once, so a book is vectorised: participants along
axis 0 (ledger order), intervals along axis 1. Energy in an interval is ``power_kw * interval_hours``.
The book carries no agent objects, so a clearing rule that reads it stays a pure function, and every
process that rebuilds a day model from a book (coalition workers, Ray) rebuilds the same one:
devices (:mod:`p2psim.markets.devices`), bids and extra constraints (:mod:`p2psim.markets.hooks`)
are all data here.

Batteries can be given two ways that mean the same: the per-participant shorthand
(``capacity_kwh`` ... ``soc_initial_kwh``, one battery per participant, handy for hand-built books)
and ``storage_devices``; :attr:`OrderBook.storage` is the one canonical list every consumer reads
(shorthand batteries first, in participant order, then ``storage_devices``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
from p2psim.markets.devices import (
    ShiftableArrays,
    StorageArrays,
    battery_arrays,
    concat_storage,
    subset_devices,
)

_SHORTHAND = ("flexible_share", "capacity_kwh", "max_charge_kw", "max_discharge_kw", "charge_efficiency",
              "discharge_efficiency", "soc_min_kwh", "soc_max_kwh", "soc_initial_kwh")


@dataclass(frozen=True, kw_only=True, eq=False)
class OrderBook:
    """Forecasts, assets and prices of one day, one row per participant."""

    participant_ids: tuple[str, ...]
    """Participants in ledger order."""
    socio_class: tuple[str, ...]
    """Socio-economic class of each participant."""
    bus_index: np.ndarray
    """Feeder bus position of each participant (int, n)."""
    interval_hours: float
    """Length of one interval."""
    load_kw: np.ndarray
    """Forecast load (n x T, kW)."""
    pv_kw: np.ndarray
    """Forecast available PV output (n x T, kW)."""
    flexible_share: np.ndarray = None  # type: ignore[assignment]
    """Share of each interval's load that may be shifted (n)."""
    capacity_kwh: np.ndarray = None  # type: ignore[assignment]
    """Battery capacity (n; 0 = no battery)."""
    max_charge_kw: np.ndarray = None  # type: ignore[assignment]
    """Battery charging limit (n)."""
    max_discharge_kw: np.ndarray = None  # type: ignore[assignment]
    """Battery discharging limit (n)."""
    charge_efficiency: np.ndarray = None  # type: ignore[assignment]
    """Battery charging efficiency (n)."""
    discharge_efficiency: np.ndarray = None  # type: ignore[assignment]
    """Battery discharging efficiency (n)."""
    soc_min_kwh: np.ndarray = None  # type: ignore[assignment]
    """Lowest allowed battery energy (n)."""
    soc_max_kwh: np.ndarray = None  # type: ignore[assignment]
    """Highest allowed battery energy (n)."""
    soc_initial_kwh: np.ndarray = None  # type: ignore[assignment]
    """Battery energy at the start of the day (n); also the floor at the day's end."""
    import_price_per_kwh: np.ndarray
    """Retail import price per interval (T)."""
    export_price_per_kwh: np.ndarray
    """Feed-in price per interval (T)."""
    p2p_fee_per_kwh: np.ndarray
    """Network fee on pool purchases per interval (T)."""
    peak_price_per_kw: float
    """Demand charge per kW of the day's community peak import."""
    class_weight: np.ndarray
    """Socio-economic weight of each participant for this day (n, > 0)."""
    income_per_year: np.ndarray
    """Income of each participant (n), for energy burden."""
    shift_window_intervals: int = 4
    """Flexible load may move only within consecutive windows of this many intervals."""
    extra: dict = field(default_factory=dict)
    """Free-form inputs for a user's own rule; the built-in rules read nothing here (bids go in
    :attr:`bid_price_per_kwh`, extra constraints in :attr:`constraints`)."""
    storage_devices: StorageArrays | None = None
    """Storage-like devices besides the battery shorthand (EVs, heat pumps, batteries)."""
    shiftable_loads: ShiftableArrays | None = None
    """Shiftable loads (energy within a window)."""
    bid_price_per_kwh: np.ndarray | None = None
    """Limit prices submitted by participants (n x T, NaN = no bid: the rule decides)."""
    constraints: tuple = ()
    """Extra constraints of the day model (:class:`p2psim.markets.hooks.ConstraintHook`)."""

    def __post_init__(self) -> None:
        n = len(self.participant_ids)
        defaults = {"charge_efficiency": 1.0, "discharge_efficiency": 1.0}
        for name in _SHORTHAND:
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.full(n, defaults.get(name, 0.0)))

    @property
    def n_participants(self) -> int:
        """Number of participants."""
        return len(self.participant_ids)

    @property
    def n_intervals(self) -> int:
        """Number of intervals."""
        return int(self.load_kw.shape[1])

    @property
    def has_battery(self) -> np.ndarray:
        """Mask of participants that own a storage-like device (battery shorthand or device)."""
        out = np.zeros(self.n_participants, dtype=bool)
        out[self.storage.owner] = True
        return out

    @cached_property
    def storage(self) -> StorageArrays:
        """Every storage-like device of the day in canonical form (shorthand batteries first)."""
        shorthand = battery_arrays(self)
        if self.storage_devices is None or not self.storage_devices.n_devices:
            return shorthand
        return concat_storage([shorthand, self.storage_devices], self.n_intervals)

    @cached_property
    def shiftable(self) -> ShiftableArrays:
        """Every shiftable load of the day (possibly none)."""
        return self.shiftable_loads if self.shiftable_loads is not None else ShiftableArrays.empty(self.n_intervals)

    @property
    def n_devices(self) -> int:
        """Number of devices: storage-like devices, then shiftable loads."""
        return self.storage.n_devices + self.shiftable.n_devices

    @property
    def device_owner(self) -> np.ndarray:
        """Participant index of every device (storage first, then shiftable loads)."""
        return np.concatenate([self.storage.owner, self.shiftable.owner]).astype(int)

    @property
    def device_ids(self) -> tuple[str, ...]:
        """Id of every device (storage first, then shiftable loads)."""
        return (*self.storage.device_id, *self.shiftable.device_id)

    @property
    def device_kinds(self) -> tuple[str, ...]:
        """Kind of every device (storage first, then shiftable loads)."""
        return (*self.storage.kind, *self.shiftable.kind)

    def subset(self, members: np.ndarray) -> OrderBook:
        """Return the book restricted to the participants selected by index or mask ``members``."""
        idx = np.flatnonzero(members) if np.asarray(members).dtype == bool else np.asarray(members)
        per_participant = {
            name: getattr(self, name)[idx]
            for name in (
                "bus_index",
                "load_kw",
                "pv_kw",
                "flexible_share",
                "capacity_kwh",
                "max_charge_kw",
                "max_discharge_kw",
                "charge_efficiency",
                "discharge_efficiency",
                "soc_min_kwh",
                "soc_max_kwh",
                "soc_initial_kwh",
                "class_weight",
                "income_per_year",
            )
        }
        n = self.n_participants
        return replace(
            self,
            participant_ids=tuple(self.participant_ids[i] for i in idx),
            socio_class=tuple(self.socio_class[i] for i in idx),
            storage_devices=subset_devices(self.storage_devices, idx, n),
            shiftable_loads=subset_devices(self.shiftable_loads, idx, n),
            bid_price_per_kwh=None if self.bid_price_per_kwh is None else self.bid_price_per_kwh[idx],
            **per_participant,
        )

    def with_weights(self, class_weights: dict[str, float]) -> OrderBook:
        """Return the book with class weights replaced (classes not named weigh 1)."""
        weight = np.array([float(class_weights.get(c, 1.0)) for c in self.socio_class])
        return replace(self, class_weight=weight)
