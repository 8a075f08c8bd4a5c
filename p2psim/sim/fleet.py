"""The devices of a run: declared by participants, checked once, cut into day books, carried as state.

:class:`DeviceFleet` stacks every participant's devices (``Participant.devices()``) over the whole
run in one pass (one row per device, one column per interval of the run), then:

- :meth:`DeviceFleet.problems` finds every device that cannot meet its own obligations whatever the
  market does (a target above what its power can reach, a heat demand its heat pump cannot cover, a
  load that does not fit its window), naming the participant, the device and the numbers: a forward
  pass over the run carries the interval [lowest, highest] of energies the device can hold
  (charging or discharging at full power from the previous interval's range, restarting at arrivals),
  and a floor (targets, minimum energy) above the highest reachable energy is reported;
- :meth:`DeviceFleet.storage_day` / :meth:`DeviceFleet.shiftable_day` give the day's device arrays for
  the order book, with the energies reached so far and the obligations crossing midnight: a storage
  device's end-of-day floor is the least energy from which the rest of the run's floors can still be
  met at full power (backward pass, ``need``), and a shiftable load whose window crosses midnight draws
  today at least what tomorrow's part of its window cannot take;
- :meth:`DeviceFleet.day_table` is the day's rows of ``devices.parquet``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from p2psim.agents.devices import ShiftableLoad, StorageDevice, expand
from p2psim.markets._selfconsumption import storage_floor
from p2psim.markets.devices import ShiftableArrays, StorageArrays, concat_storage
from p2psim.sim.fleet_checks import TOLERANCE_KWH, array_problems, clock, reach_problems, storage_problems


def _storage_arrays(owner: int, device: StorageDevice, horizon: int, interval_minutes: int) -> StorageArrays:
    """One storage device over the whole run (arrays 1 x horizon)."""
    per_day = 1440 // interval_minutes
    dt = interval_minutes / 60.0

    def run(value, name):
        return expand(value, horizon, per_day, f"{name}")[None, :]

    available = run(device.available, "available") > 0
    target = run(np.nan if device.target_kwh is None else device.target_kwh, "target_kwh")
    arrival = run(np.nan if device.arrival_kwh is None else device.arrival_kwh, "arrival_kwh")
    energy_max = run(device.capacity_kwh if device.energy_max_kwh is None else device.energy_max_kwh,
                     "energy_max_kwh")
    return StorageArrays(
        owner=np.array([owner]), device_id=(device.id,), kind=(device.kind,),
        charge_max_kw=run(device.max_charge_kw, "max_charge_kw") * available,
        discharge_max_kw=run(device.max_discharge_kw, "max_discharge_kw") * available,
        charge_efficiency=run(device.charge_efficiency, "charge_efficiency"),
        discharge_efficiency=np.array([float(device.discharge_efficiency)]),
        retention=np.array([(1.0 - float(device.self_discharge_per_h)) ** dt]),
        demand_kw=run(device.demand_kw, "demand_kw"), arrival_kwh=arrival,
        energy_min_kwh=np.fmax(run(device.energy_min_kwh, "energy_min_kwh"), target),
        energy_max_kwh=energy_max, target_kwh=target, initial_kwh=np.array([float(device.initial_kwh)]),
        final_min_kwh=np.zeros(1), conserve=np.array([bool(device.conserve)]),
    )


@dataclass(frozen=True, eq=False)
class TaskTable:
    """Every shiftable-load window of the run (one row per window)."""

    owner: np.ndarray
    device_id: tuple[str, ...]
    start: np.ndarray
    end: np.ndarray
    energy_kwh: np.ndarray
    power_kw: np.ndarray
    block: np.ndarray
    """Run length in intervals of an uninterruptible load (0: interruptible)."""


class DeviceFleet:
    """Every device of a run (see the module docstring)."""

    def __init__(self, participant_ids: tuple[str, ...], declared: list, horizon: int, interval_minutes: int) -> None:
        """Stack the devices ``declared[k]`` of participant k over ``horizon`` intervals."""
        self.ids = participant_ids
        self.horizon = horizon
        self.interval_minutes = interval_minutes
        self.per_day = 1440 // interval_minutes
        self.dt = interval_minutes / 60.0
        self._problems: list[str] = []
        parts: list[StorageArrays] = []
        tasks: list[tuple] = []
        for k, devices in enumerate(declared):
            seen: set[str] = set()
            for spec in devices:
                who = f"participant {participant_ids[k]!r}, device {getattr(spec, 'id', '?')!r}"
                try:
                    device = spec.canonical(horizon, interval_minutes)
                except (ValueError, TypeError) as exc:
                    self._problems.append(f"{who}: {exc}")
                    continue
                if device.id in seen:
                    self._problems.append(f"{who}: the id is used twice by this participant; give each device "
                                          "its own id")
                seen.add(device.id)
                if isinstance(device, ShiftableLoad):
                    tasks.extend(self._windows(k, who, device))
                elif isinstance(device, StorageDevice):
                    problems = storage_problems(who, device)
                    if not problems:
                        try:
                            arrays = _storage_arrays(k, device, horizon, interval_minutes)
                        except ValueError as exc:
                            problems = [f"{who}: {exc}"]
                        else:
                            problems = array_problems(who, arrays, interval_minutes)
                    if problems:
                        self._problems.extend(problems)
                    else:
                        parts.append(arrays)
                else:
                    self._problems.append(f"{who}: {type(spec).__name__} is not a device; return StorageDevice, "
                                          "ElectricVehicle, HeatPump or ShiftableLoad from devices()")
        self.storage = concat_storage(parts, horizon)
        self.need_kwh = storage_floor(self.storage, self.dt)
        columns = list(zip(*tasks, strict=True)) if tasks else [()] * 7
        self.tasks = TaskTable(np.array(columns[0], int), tuple(columns[1]), np.array(columns[2], int),
                               np.array(columns[3], int), np.array(columns[4], float), np.array(columns[5], float),
                               np.array(columns[6], int))
        self._problems.extend(reach_problems(self.storage, self.ids, interval_minutes))

    @property
    def n_storage(self) -> int:
        """Number of storage-like devices."""
        return self.storage.n_devices

    @property
    def empty(self) -> bool:
        """Whether the run has no device at all."""
        return not self.storage.n_devices and not len(self.tasks.owner)

    def problems(self) -> list[str]:
        """Every device problem found, each naming the participant, the device, the numbers and the fix."""
        return list(self._problems)

    def _windows(self, k: int, who: str, load: ShiftableLoad) -> list[tuple]:
        rows = []
        windows = load.window_list(self.horizon, self.interval_minutes)
        for j, (a, b, energy) in enumerate(windows):
            name = load.id if len(windows) == 1 else f"{load.id}#{j}"
            a = max(a, 0)  # the end may lie after the run: the rest of the window takes what it can
            span = (b - a) * self.dt
            if not (np.isfinite(energy) and energy >= 0 and load.max_power_kw > 0 and b > a and a < self.horizon):
                self._problems.append(f"{who}: window {j} ({a}-{b}) with {energy} kWh at {load.max_power_kw} kW "
                                      "needs energy >= 0, power > 0 and a window inside the run")
                continue
            if energy > load.max_power_kw * span + TOLERANCE_KWH:
                self._problems.append(
                    f"{who}: {energy:g} kWh in its window ending {clock(b - 1, self.interval_minutes, self.per_day)}"
                    f" needs {energy / span:.3g} kW for {span:g} h but its power cap is {load.max_power_kw:g} kW; "
                    "widen the window or raise max_power_kw")
                continue
            block = 0
            if load.uninterruptible:
                block = max(int(np.ceil(energy / (load.max_power_kw * self.dt) - 1e-9)), 1)
                if a // self.per_day != (b - 1) // self.per_day:
                    self._problems.append(f"{who}: an uninterruptible load's window must lie within one day "
                                          f"(intervals {a}-{b} cross midnight); split it or make it interruptible")
                    continue
            rows.append((k, name, a, b, float(energy), float(load.max_power_kw), block))
        return rows

    # -- day books ----------------------------------------------------------------------------------
    def _day(self, day: int) -> slice:
        return slice(day * self.per_day, (day + 1) * self.per_day)

    def storage_day(self, day: int, energy_kwh: np.ndarray) -> StorageArrays:
        """The storage devices of ``day`` starting from ``energy_kwh``, with the obligation past midnight."""
        cut = self._day(day)
        s = self.storage
        end = min(cut.stop, self.horizon) - 1
        return StorageArrays(
            owner=s.owner, device_id=s.device_id, kind=s.kind, charge_max_kw=s.charge_max_kw[:, cut],
            discharge_max_kw=s.discharge_max_kw[:, cut], charge_efficiency=s.charge_efficiency[:, cut],
            discharge_efficiency=s.discharge_efficiency, retention=s.retention, demand_kw=s.demand_kw[:, cut],
            arrival_kwh=s.arrival_kwh[:, cut], energy_min_kwh=s.energy_min_kwh[:, cut],
            energy_max_kwh=s.energy_max_kwh[:, cut], target_kwh=s.target_kwh[:, cut],
            initial_kwh=np.asarray(energy_kwh, float), final_min_kwh=self.need_kwh[:, end], conserve=s.conserve,
        )

    def task_rows(self, day: int) -> np.ndarray:
        """Rows of the task table whose window overlaps ``day``."""
        cut = self._day(day)
        return np.flatnonzero((self.tasks.start < cut.stop) & (self.tasks.end > cut.start))

    def shiftable_day(self, day: int, drawn_kwh: np.ndarray) -> ShiftableArrays:
        """The shiftable loads of ``day`` given the energy each window drew so far (``drawn_kwh``, all rows)."""
        cut = self._day(day)
        tk = self.tasks
        rows = self.task_rows(day)
        t = np.arange(cut.start, cut.stop)
        inside = (t[None, :] >= tk.start[rows, None]) & (t[None, :] < tk.end[rows, None])
        rest = tk.energy_kwh[rows] - drawn_kwh[rows]
        after = tk.power_kw[rows] * self.dt * np.maximum(tk.end[rows] - np.maximum(tk.start[rows], cut.stop), 0)
        return ShiftableArrays(
            owner=tk.owner[rows], device_id=tuple(tk.device_id[r] for r in rows),
            power_max_kw=inside * tk.power_kw[rows, None], energy_min_kwh=np.maximum(rest - after, 0.0),
            energy_max_kwh=np.maximum(rest, 0.0), block_intervals=tk.block[rows],
        )

    def day_table(self, day: int, storage: StorageArrays, loads: ShiftableArrays, drawn_before: np.ndarray,
                  charge: np.ndarray, discharge: np.ndarray, energy: np.ndarray) -> pd.DataFrame:
        """The day's rows of devices.parquet (one per device and interval)."""
        m, horizon = storage.n_devices, self.per_day
        rows = self.task_rows(day)
        cut = self._day(day)
        t = np.arange(cut.start, cut.stop)
        task_target = np.where((t[None, :] == self.tasks.end[rows, None] - 1), self.tasks.energy_kwh[rows, None],
                               np.nan)
        owner = np.concatenate([storage.owner, loads.owner]).astype(int)
        ids = np.asarray(self.ids, dtype=object)
        count = len(owner)
        return pd.DataFrame({
            "participant": np.repeat(ids[owner] if count else np.zeros(0, object), horizon),
            "device": np.repeat(np.asarray((*storage.device_id, *loads.device_id), dtype=object), horizon),
            "kind": np.repeat(np.asarray((*storage.kind, *loads.kind), dtype=object), horizon),
            "day": np.full(count * horizon, day, dtype=np.int32),
            "interval": np.tile(np.arange(horizon, dtype=np.int32), count),
            "power_kw": (charge - discharge).ravel(),
            "energy_kwh": np.vstack([energy[:m], energy[m:] + drawn_before[rows, None]]).ravel(),
            "available": np.vstack([storage.available, loads.power_max_kw > 0]).ravel(),
            "target_kwh": np.vstack([storage.target_kwh, task_target]).ravel(),
        })
