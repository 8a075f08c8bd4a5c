"""Where consumed energy comes from: grid-origin tracing through homes, batteries and the pool.

Renewable access and self-sufficiency (docs/model.md section 9) need the share of each member's
consumption that the grid supplied. Counting "grid import" against "consumption" is wrong whenever
grid energy goes somewhere other than the load: into a battery (charged from the grid at night,
losses included), to the pool, or back out. This module traces it by proportional sharing
(every outflow of a node carries the node's mix of origins), interval by interval:

Per participant i and interval t (energies in kWh = power x dt):

- own sources: PV used ``P = pv - curtail``, battery discharge ``D`` (carrying the battery's grid
  fraction ``f`` at the start of the interval), grid ``G = grid_import + imbalance_import`` (all
  grid); own grid fraction ``q = (f D + G) / (P + D + G)``;
- pool sales ``S`` are drawn from the own sources first (``S_own = min(S, P + D + G)``) and carry
  ``q``; the pool's grid fraction is ``pi = sum_i q_i S_own_i / sum_i S_own_i`` (a resold pool
  purchase carries ``pi``, which makes ``pi`` the exact fixed point of the pool's mix);
- what stays -- consumption ``U = load + shift``, battery charge and exports -- takes the remaining
  mix ``m = (f D + G - q S_own + pi (B - (S - S_own))) / (P + D + G + B - S)``, ``B`` the pool
  purchases. The grid-origin part of the consumption is ``m U``, in ``[0, U]`` by construction;
- the battery's stored energy mixes: with ``e = eta_c * charge * dt`` stored this interval and
  ``soc`` the energy at the end of it, ``f <- (f (soc - e) + m e) / soc``. Discharge and its losses
  take the old mix, so grid energy lost in a battery is never counted as consumption.

Energy present in a battery before the run starts is counted as grid energy (``initial_fraction``
1.0: energy of unknown origin is not claimed as local). Everything is vectorised over participants;
the loop runs over intervals only (about 1 ms per 100 participant-days).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Energies below this (kWh) count as zero when forming fractions.
EPSILON_KWH = 1e-12


@dataclass(frozen=True)
class GridOrigin:
    """Per participant and interval (n x T): consumption and the part of it of grid origin (kWh)."""

    use_kwh: np.ndarray
    grid_kwh: np.ndarray
    battery_fraction: np.ndarray
    """Grid fraction of each battery's content at the end (n), to continue a trace day by day."""

    @property
    def local_kwh(self) -> np.ndarray:
        """Consumption met locally (own PV, own battery, the pool), n x T."""
        return self.use_kwh - self.grid_kwh


def _ratio(numerator: np.ndarray, denominator: np.ndarray, default: np.ndarray | float) -> np.ndarray:
    safe = np.where(denominator > EPSILON_KWH, denominator, 1.0)
    return np.where(denominator > EPSILON_KWH, np.clip(numerator / safe, 0.0, 1.0), default)


def trace_grid_origin(
    flows: dict[str, np.ndarray],
    soc_kwh: np.ndarray,
    charge_efficiency: np.ndarray,
    interval_hours: float,
    initial_fraction: np.ndarray | float = 1.0,
) -> GridOrigin:
    """Trace the grid origin of every participant's consumption (see module docstring).

    Args:
        flows: Delivered flows, n x T each (kW): ``load_kw``, ``shift_kw``, ``pv_kw``, ``curtail_kw``,
            ``charge_kw``, ``discharge_kw``, ``grid_import_kw``, ``imbalance_import_kw``,
            ``pool_buy_kw``, ``pool_sell_kw``.
        soc_kwh: Stored energy at the END of each interval, n x T (0 without a battery).
        charge_efficiency: Battery charge efficiency per participant (n; any value without one).
        interval_hours: Interval length dt.
        initial_fraction: Grid fraction of each battery's content before the first interval.

    Returns:
        A :class:`GridOrigin`.
    """
    dt = float(interval_hours)
    kwh = {k: np.asarray(flows[k], dtype=float) * dt for k in (
        "load_kw", "shift_kw", "pv_kw", "curtail_kw", "charge_kw", "discharge_kw", "grid_import_kw",
        "imbalance_import_kw", "pool_buy_kw", "pool_sell_kw")}
    use = np.clip(kwh["load_kw"] + kwh["shift_kw"], 0.0, None)
    n, horizon = use.shape
    grid_used = np.zeros_like(use)
    f = np.broadcast_to(np.asarray(initial_fraction, dtype=float), (n,)).copy()
    eta = np.asarray(charge_efficiency, dtype=float)
    soc = np.asarray(soc_kwh, dtype=float)
    for t in range(horizon):
        pv = np.clip(kwh["pv_kw"][:, t] - kwh["curtail_kw"][:, t], 0.0, None)
        dis, grid = kwh["discharge_kw"][:, t], kwh["grid_import_kw"][:, t] + kwh["imbalance_import_kw"][:, t]
        own = pv + dis + grid
        own_grid = f * dis + grid
        q = _ratio(own_grid, own, 0.0)
        sell, buy = kwh["pool_sell_kw"][:, t], kwh["pool_buy_kw"][:, t]
        sell_own = np.minimum(sell, own)
        sold = float(sell_own.sum())
        pool = float((q * sell_own).sum()) / sold if sold > EPSILON_KWH else 0.0
        rest = own + buy - sell
        rest_grid = own_grid - q * sell_own + pool * (buy - (sell - sell_own))
        m = _ratio(rest_grid, rest, q)
        grid_used[:, t] = m * use[:, t]
        stored = eta * kwh["charge_kw"][:, t]
        level = soc[:, t]
        f = np.where(level > EPSILON_KWH,
                     _ratio(f * np.clip(level - stored, 0.0, None) + m * stored, level, f),
                     np.where(stored > EPSILON_KWH, m, f))
    return GridOrigin(use, np.minimum(grid_used, use), f)


def participant_arrays(dispatch, ids, columns) -> dict[str, np.ndarray]:
    """Long dispatch rows -> ``{column: n x T array}`` in the order of ``ids`` (T = days x intervals)."""
    order = {p: k for k, p in enumerate(ids)}
    frame = dispatch.assign(_k=dispatch.participant.map(order)).sort_values(["_k", "day", "interval"], kind="stable")
    n = len(ids)
    return {c: frame[c].to_numpy(dtype=float).reshape(n, -1) for c in columns}
