"""Devices of one day as arrays in the order book: storage-like devices and shiftable loads.

Every device is data, stacked across devices (one row per device, one column per interval), so any
process that rebuilds the day model from the book rebuilds the same one.

**Storage-like device** d (one canonical form for home and community batteries, electric vehicles
and heat pumps with a thermal store), owner i(d), interval t of dt hours, energy e at the END of t:

    e[t] = r_d e[t-1] + dt (eta_c[d,t] ch[t] - dis[t] / eta_d[d]) - dt demand[d,t]      (e[-1] = e0_d)
    e[t] = a[d,t]     + dt (eta_c[d,t] ch[t] - dis[t] / eta_d[d]) - dt demand[d,t]      where a[d,t] is set
    0 <= ch[t] <= charge_max[d,t],  0 <= dis[t] <= discharge_max[d,t]   (both 0 while unavailable)
    energy_min[d,t] <= e[t] <= energy_max[d,t]       (energy_min carries the targets e[t_dep] >= target)
    e[T-1] >= final_min[d]  and, for ``conserve`` devices, e[T-1] >= e0_d (no free energy)

``ch``/``dis`` are electric power at the participant's meter; ``eta_c`` is the energy stored per kWh
drawn (a battery's charging efficiency, or a heat pump's efficiency x COP[t] into its thermal store);
``r_d = (1 - self_discharge_per_h) ** dt`` is the share kept per interval; ``demand`` is the store's
own use (heat demand, driving); ``a[d,t]`` (``arrival_kwh``, NaN where unset) restarts the store at a
known energy at the start of interval t (an electric car plugging in: what it did while away is not
the community's). ``final_min`` is the obligation carried to the next day (the least energy at
midnight from which tomorrow's targets can still be met), so nothing crossing midnight is lost.

**Shiftable load** k: energy E_k drawn within its window at most ``power_max[k,t]`` (0 outside the
window), ``energy_min[k] <= dt sum_t p[k,t] <= energy_max[k]`` (both E_k for a task inside one day;
a task crossing midnight carries the rest to the next day). ``block_intervals[k] = L > 0`` makes it
uninterruptible: it runs L consecutive intervals at the constant power E_k / (L dt), the one place a
binary (its start time) is needed (:mod:`p2psim.markets._device_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

STORAGE_ONLY_KINDS = ("battery",)
"""Kinds whose energy only waits to be returned; every other device's net draw is consumption."""


def _stack(parts: list, name: str, horizon: int | None = None) -> np.ndarray:
    values = [getattr(p, name) for p in parts]
    return np.concatenate(values, axis=0) if values else np.zeros((0,) if horizon is None else (0, horizon))


@dataclass(frozen=True, kw_only=True, eq=False)
class StorageArrays:
    """Storage-like devices of one day (m devices; arrays m or m x T, see the module docstring)."""

    owner: np.ndarray
    """Participant index (in the book) of each device (int, m)."""
    device_id: tuple[str, ...]
    """Device id, unique within its owner (``battery``, ``car``, ``heat-pump``)."""
    kind: tuple[str, ...]
    """``battery``, ``ev``, ``heat_pump`` or a user's kind."""
    charge_max_kw: np.ndarray
    """Largest electric power drawn (m x T, 0 when unavailable)."""
    discharge_max_kw: np.ndarray
    """Largest electric power returned (m x T; 0 for heat pumps and cars without V2G)."""
    charge_efficiency: np.ndarray
    """Energy stored per kWh drawn (m x T; a heat pump's efficiency x COP[t])."""
    discharge_efficiency: np.ndarray
    """Electric kWh returned per kWh taken from the store (m)."""
    retention: np.ndarray
    """Share of the stored energy kept over one interval (m; 1 = no self-discharge)."""
    demand_kw: np.ndarray
    """The store's own use per interval (m x T, kW of stored energy: heat demand, driving)."""
    arrival_kwh: np.ndarray
    """Energy the store restarts from at the start of the interval (m x T, NaN = continues)."""
    energy_min_kwh: np.ndarray
    """Lowest energy at the end of each interval, targets included (m x T)."""
    energy_max_kwh: np.ndarray
    """Highest energy at the end of each interval (m x T)."""
    target_kwh: np.ndarray
    """Energy targets by the end of the interval (m x T, NaN where none); already in energy_min."""
    initial_kwh: np.ndarray
    """Energy at the start of the day (m)."""
    final_min_kwh: np.ndarray
    """Least energy at the end of the day: the obligations carried to the next day (m)."""
    conserve: np.ndarray
    """Whether the day must end with at least its initial energy (m, bool; batteries)."""

    @property
    def n_devices(self) -> int:
        """Number of devices."""
        return len(self.device_id)

    @property
    def available(self) -> np.ndarray:
        """Whether each device can draw or return power in each interval (m x T)."""
        return (self.charge_max_kw > 0) | (self.discharge_max_kw > 0)

    @property
    def terminal_min_kwh(self) -> np.ndarray:
        """The floor of the last interval's energy used by the optimising rules (m)."""
        if not self.n_devices or not self.energy_min_kwh.shape[1]:
            return np.zeros(self.n_devices)
        conserve = np.where(self.conserve, self.initial_kwh, -np.inf)
        return np.maximum(np.maximum(self.energy_min_kwh[:, -1], self.final_min_kwh), conserve)

    @property
    def consumes(self) -> np.ndarray:
        """Devices whose net draw is consumption (every kind but pure storage), m bool."""
        return np.array([k not in STORAGE_ONLY_KINDS for k in self.kind], dtype=bool)

    def take(self, rows: np.ndarray, owner: np.ndarray | None = None) -> StorageArrays:
        """The devices at ``rows`` (with new owner indices if given)."""
        rows = np.asarray(rows, dtype=int)
        values = {}
        for f in fields(self):
            value = getattr(self, f.name)
            values[f.name] = tuple(value[r] for r in rows) if isinstance(value, tuple) else value[rows]
        if owner is not None:
            values["owner"] = np.asarray(owner, dtype=int)
        return StorageArrays(**values)


def concat_storage(parts: list[StorageArrays], horizon: int) -> StorageArrays:
    """Stack several device sets (in order) into one."""
    values = {}
    for f in fields(StorageArrays):
        if f.name in ("device_id", "kind"):
            values[f.name] = tuple(x for p in parts for x in getattr(p, f.name))
        else:
            two_d = f.name not in ("owner", "discharge_efficiency", "retention", "initial_kwh", "final_min_kwh",
                                   "conserve")
            values[f.name] = _stack(parts, f.name, horizon if two_d else None)
    values["owner"] = values["owner"].astype(int)
    values["conserve"] = values["conserve"].astype(bool)
    return StorageArrays(**values)


@dataclass(frozen=True, kw_only=True, eq=False)
class ShiftableArrays:
    """Shiftable loads of one day (k loads; see the module docstring)."""

    owner: np.ndarray
    """Participant index of each load (int, k)."""
    device_id: tuple[str, ...]
    """Device id, unique within its owner."""
    power_max_kw: np.ndarray
    """Largest power in each interval (k x T; 0 outside the window)."""
    energy_min_kwh: np.ndarray
    """Least energy to draw today (k)."""
    energy_max_kwh: np.ndarray
    """Most energy to draw today (k)."""
    block_intervals: np.ndarray
    """0 = interruptible; L > 0 = one uninterruptible run of L intervals (int, k)."""

    @property
    def n_devices(self) -> int:
        """Number of shiftable loads."""
        return len(self.device_id)

    @property
    def kind(self) -> tuple[str, ...]:
        """The kind of every load (``shiftable``)."""
        return ("shiftable",) * self.n_devices

    @staticmethod
    def empty(horizon: int) -> ShiftableArrays:
        """No shiftable load."""
        return ShiftableArrays(owner=np.zeros(0, int), device_id=(), power_max_kw=np.zeros((0, horizon)),
                               energy_min_kwh=np.zeros(0), energy_max_kwh=np.zeros(0),
                               block_intervals=np.zeros(0, int))

    def take(self, rows: np.ndarray, owner: np.ndarray | None = None) -> ShiftableArrays:
        """The loads at ``rows`` (with new owner indices if given)."""
        rows = np.asarray(rows, dtype=int)
        return ShiftableArrays(
            owner=np.asarray(owner if owner is not None else self.owner[rows], dtype=int),
            device_id=tuple(self.device_id[r] for r in rows), power_max_kw=self.power_max_kw[rows],
            energy_min_kwh=self.energy_min_kwh[rows], energy_max_kwh=self.energy_max_kwh[rows],
            block_intervals=self.block_intervals[rows])


def block_power(loads: ShiftableArrays, interval_hours: float) -> np.ndarray:
    """Constant power of each uninterruptible load, E / (L dt) (k; 0 for interruptible loads)."""
    runs = np.maximum(loads.block_intervals, 1) * interval_hours
    return np.where(loads.block_intervals > 0, loads.energy_max_kwh / runs, 0.0)


def battery_arrays(book) -> StorageArrays:
    """The book's per-participant battery shorthand as canonical storage devices (kind ``battery``)."""
    horizon = book.n_intervals
    cap = np.asarray(book.capacity_kwh, float)
    own = np.flatnonzero(cap > 0)
    m = len(own)

    def per_t(values) -> np.ndarray:
        return np.repeat(np.asarray(values, float)[own, None], horizon, axis=1)

    return StorageArrays(
        owner=own, device_id=("battery",) * m, kind=("battery",) * m,
        charge_max_kw=per_t(book.max_charge_kw), discharge_max_kw=per_t(book.max_discharge_kw),
        charge_efficiency=per_t(book.charge_efficiency),
        discharge_efficiency=np.asarray(book.discharge_efficiency, float)[own], retention=np.ones(m),
        demand_kw=np.zeros((m, horizon)), arrival_kwh=np.full((m, horizon), np.nan),
        energy_min_kwh=per_t(book.soc_min_kwh), energy_max_kwh=per_t(book.soc_max_kwh),
        target_kwh=np.full((m, horizon), np.nan), initial_kwh=np.asarray(book.soc_initial_kwh, float)[own],
        final_min_kwh=np.asarray(book.soc_min_kwh, float)[own], conserve=np.ones(m, dtype=bool),
    )


def subset_devices(devices, members: np.ndarray, n: int):
    """Devices of the participants ``members`` (indices), owners renumbered in that order."""
    if devices is None:
        return None
    new_index = np.full(n, -1)
    new_index[members] = np.arange(len(members))
    rows = np.flatnonzero(new_index[devices.owner] >= 0)
    rows = rows[np.argsort(new_index[devices.owner[rows]], kind="stable")]
    return devices.take(rows, new_index[devices.owner[rows]])


def per_participant(owner: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Sum device rows (d x T) into their owners' rows (n x T)."""
    out = np.zeros((n, *values.shape[1:]))
    np.add.at(out, owner, values)
    return out
