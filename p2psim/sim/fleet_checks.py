"""The checks of a run's devices before it starts: every problem names the participant, the device and the numbers.

:func:`storage_problems` checks one storage device's numbers (efficiencies, signs, targets within its
capacity); :func:`reach_problems` runs the forward pass over the whole run, vectorised over devices:
it carries the interval [lowest, highest] of energies each device can hold (full power up or down
from the previous interval's range, restarting at arrivals) and reports a floor (a target, a
minimum energy, a heat demand) above the highest reachable energy, with where the device started,
for how long it could charge at what power, and what it used itself.
"""

from __future__ import annotations

import numpy as np

from p2psim.agents.devices import StorageDevice
from p2psim.markets.devices import StorageArrays

TOLERANCE_KWH = 1e-6


def clock(t: int, interval_minutes: int, per_day: int) -> str:
    """The end of interval ``t`` of the run as ``HH:MM on day d``."""
    minutes = ((t % per_day) + 1) * interval_minutes
    return f"{minutes // 60:02d}:{minutes % 60:02d} on day {t // per_day}"


def storage_problems(who: str, d: StorageDevice) -> list[str]:
    """Problems of one storage device's scalar data (signs, efficiencies)."""
    out = []
    for name in ("capacity_kwh", "initial_kwh"):
        value = getattr(d, name)
        if not (np.isfinite(value) and value >= 0):
            out.append(f"{who}: {name}={value} must be finite and >= 0")
    if not 0 < d.discharge_efficiency <= 1:
        out.append(f"{who}: discharge_efficiency={d.discharge_efficiency} must lie in (0, 1]")
    if not 0 <= d.self_discharge_per_h < 1:
        out.append(f"{who}: self_discharge_per_h={d.self_discharge_per_h} must lie in [0, 1)")
    return out


def array_problems(who: str, s: StorageArrays, interval_minutes: int) -> list[str]:
    """Problems of one storage device's arrays over the run (signs, targets above its capacity)."""
    out = []
    for name, values in (("max_charge_kw", s.charge_max_kw), ("max_discharge_kw", s.discharge_max_kw),
                         ("demand_kw", s.demand_kw), ("energy_min_kwh", s.energy_min_kwh),
                         ("energy_max_kwh", s.energy_max_kwh)):
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            out.append(f"{who}: {name} must be finite and >= 0 in every interval")
    if not np.all(np.isfinite(s.charge_efficiency)) or np.any(s.charge_efficiency <= 0):
        out.append(f"{who}: charge_efficiency (or COP) must be finite and > 0 in every interval")
    over = np.flatnonzero(np.nan_to_num(s.target_kwh[0], nan=-np.inf) > s.energy_max_kwh[0] + TOLERANCE_KWH)
    if len(over):
        t = int(over[0])
        when = clock(t, interval_minutes, 1440 // interval_minutes)
        out.append(f"{who}: target {s.target_kwh[0, t]:g} kWh by {when} exceeds what it holds "
                   f"({s.energy_max_kwh[0, t]:g} kWh); lower the target or raise the capacity")
    return out


def reach_problems(s: StorageArrays, ids: tuple[str, ...], interval_minutes: int) -> list[str]:
    """Floors above the highest reachable energy (forward pass over the run, vectorised over devices)."""
    dt = interval_minutes / 60.0
    per_day = 1440 // interval_minutes
    horizon = s.energy_min_kwh.shape[1]
    m = s.n_devices
    if not m:
        return []
    lo = hi = s.initial_kwh.astype(float)
    start_t, start_e = np.zeros(m, int), s.initial_kwh.astype(float)
    charge_h, charge_kwh, use_kwh = np.zeros(m), np.zeros(m), np.zeros(m)
    reported = np.zeros(m, dtype=bool)
    out = []
    for t in range(horizon):  # sequential in time by nature; vectorised over devices
        restart = np.isfinite(s.arrival_kwh[:, t])
        start_t = np.where(restart, t, start_t)
        start_e = np.where(restart, s.arrival_kwh[:, t], start_e)
        charge_h, charge_kwh, use_kwh = (np.where(restart, 0.0, x) for x in (charge_h, charge_kwh, use_kwh))
        gain, up = s.charge_efficiency[:, t], s.charge_max_kw[:, t]
        charge_h = charge_h + dt * (up > 0)
        charge_kwh = charge_kwh + dt * gain * up
        use_kwh = use_kwh + dt * s.demand_kw[:, t]
        top = np.where(restart, s.arrival_kwh[:, t], s.retention * hi) + dt * gain * up - dt * s.demand_kw[:, t]
        bottom = np.where(restart, s.arrival_kwh[:, t], s.retention * lo) \
            - dt * s.discharge_max_kw[:, t] / s.discharge_efficiency - dt * s.demand_kw[:, t]
        floor, ceiling = s.energy_min_kwh[:, t], s.energy_max_kwh[:, t]
        for j in np.flatnonzero((top < floor - TOLERANCE_KWH) & ~reported):
            reported[j] = True
            out.append(_short_message(s, ids, interval_minutes, j, t, floor[j], top[j], start_t[j], start_e[j],
                                      charge_h[j], charge_kwh[j], use_kwh[j]))
        for j in np.flatnonzero((bottom > ceiling + TOLERANCE_KWH) & ~reported):
            reported[j] = True
            out.append(f"{_who(s, ids, j)}: holds at least {bottom[j]:.3g} kWh at "
                       f"{clock(t, interval_minutes, per_day)}, above its maximum of "
                       f"{ceiling[j]:.3g} kWh; lower the initial or arrival energy or raise the capacity")
        hi = np.clip(top, floor, ceiling)
        lo = np.clip(bottom, floor, np.maximum(ceiling, floor))
    return out


def _who(s: StorageArrays, ids: tuple[str, ...], j: int) -> str:
    return f"participant {ids[s.owner[j]]!r}, device {s.device_id[j]!r} ({s.kind[j]})"


def _short_message(s: StorageArrays, ids, interval_minutes: int, j, t, floor, top, start_t, start_e, hours, stored,
                   used) -> str:
    per_day = 1440 // interval_minutes
    what = "its target" if np.isfinite(s.target_kwh[j, t]) and s.target_kwh[j, t] >= floor - 1e-12 \
        else "its minimum energy"
    power = float(s.charge_max_kw[j, start_t:t + 1].max(initial=0.0))
    when = clock(start_t - 1, interval_minutes, per_day) if start_t > 0 else "the start of the run"
    use = f" while using {used:.3g} kWh itself" if used > 0 else ""
    return (f"{_who(s, ids, j)}: needs {floor:.3g} kWh by {clock(t, interval_minutes, per_day)} "
            f"({what}) but can hold at most {max(top, 0.0):.3g} kWh then: from {start_e:.3g} kWh at {when}, "
            f"{hours:g} h of charging at up to {power:g} kW store at most {stored:.3g} kWh{use}; "
            "lower the need, give it more time or raise its power")

