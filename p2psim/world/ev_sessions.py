"""Charging sessions of electric cars from measured (uncontrolled) charging profiles.

A profile of uncontrolled home charging (SimBench's ``HLS_*`` home charging points, 15-minute steps)
shows when a car drew power, not when it was parked. Documented reading, per car:

- a *charging block* is a run of consecutive 15-minute steps with positive power; its energy is the
  integral of the power (kWh at the meter), the energy the car must get again when its charging is
  left to the community (``x efficiency``: what reaches its battery);
- uncontrolled charging starts when the car is plugged in, so the block's first step is the plug-in;
  the plug-out is not in the data: the car stays plugged ``margin_h`` hours after its uncontrolled
  charging ended (the flexibility a smart charger has);
- blocks whose windows overlap are one session (their energies add up);
- on the study's interval grid the session is the intervals lying wholly inside [plug-in, plug-out]:
  the car is never charged before it arrives or after it leaves.

With ``margin_h`` >= 2 intervals every session can take its energy at the charging point's rating,
since the rounding to whole intervals loses at most one interval at each end.
"""

from __future__ import annotations

import numpy as np

STEP_MINUTES = 15


def charging_sessions(power_kw: np.ndarray, interval_minutes: int, *, margin_h: float, efficiency: float = 1.0,
                      threshold_kw: float = 1e-6) -> tuple[tuple[int, int, float], ...]:
    """Sessions (first plugged interval, one past the last, energy kWh into the battery) of a 15-minute profile.

    Args:
        power_kw: Charging power of one car in 15-minute steps, starting at the run's first interval.
        interval_minutes: The study's interval length (a multiple of 15).
        margin_h: Hours the car stays plugged after its uncontrolled charging ended.
        efficiency: Share of the metered energy that reaches the battery.
        threshold_kw: Power above which a step counts as charging.
    """
    on = np.asarray(power_kw, dtype=float) > threshold_kw
    edges = np.diff(np.r_[0, on.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if not len(starts):
        return ()
    energy = np.add.reduceat(np.where(on, power_kw, 0.0), starts) * STEP_MINUTES / 60.0
    leave = ends * STEP_MINUTES + margin_h * 60.0
    # merge blocks whose plugged windows overlap: a new session starts where a block begins after the
    # previous windows have all ended
    new = np.r_[True, starts[1:] * STEP_MINUTES >= np.maximum.accumulate(leave)[:-1]]
    group = np.cumsum(new) - 1
    first = starts[new] * STEP_MINUTES
    last = np.maximum.reduceat(leave, np.flatnonzero(new))
    need = np.bincount(group, weights=energy) * efficiency
    plug_in = -(-first // interval_minutes)
    plug_out = (last // interval_minutes).astype(int)
    keep = plug_out > plug_in
    return tuple((int(a), int(b), float(e)) for a, b, e in zip(plug_in[keep], plug_out[keep], need[keep], strict=True))
