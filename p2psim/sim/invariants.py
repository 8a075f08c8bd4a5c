"""The physics and money invariants of a clearing: one set, used by the model and by p2psim.testing.

:func:`clearing_problems` lists every broken physical law of a :class:`~p2psim.markets.base.Clearing`
of a book (the co-simulation raises them as :class:`~p2psim.errors.InvariantError`,
:func:`p2psim.testing.check_clearing` as AssertionError), :func:`money_problems` every broken money
balance. Per participant i and interval t (kW; energy = power x dt):

- flows are non-negative and shaped n x T; curtailment never exceeds the PV there is;
- energy balance: load - pv + curtail + charge - discharge + shift = import - export + buy - sell;
- the pool balances: sum_i buy = sum_i sell;
- flexible load only moves: |shift| <= f d and shift sums to 0 within every shift window (a rule
  that hides imports in ``shift_kw`` fails here);
- devices: the participant's charge and discharge are its devices' sums; every storage-like device
  stays within its power limits (0 while unavailable), follows its energy dynamics from the book's
  initial energy (e[t] = r e[t-1] + dt (eta_c ch - dis / eta_d) - dt demand, restarting at arrivals:
  a battery that discharges without its energy moving fails here), stays within its energy bounds
  (targets included) and ends the day at or above its carried obligation; every shiftable load
  draws within its window and cap, and the energy it must (between its least and most energy;
  uninterruptible ones in one run at constant power);
- money: pool payments (one price per interval, or per participant and interval) net to zero in
  every interval, so the community's energy cost is exactly what the grid and the network operator
  collect.
"""

from __future__ import annotations

import numpy as np

from p2psim.markets.book import OrderBook
from p2psim.markets.devices import block_power, per_participant
from p2psim.sim.settlement import Prices, interval_costs, pool_price_matrix

TOLERANCE = 1e-6
FLOWS = ("grid_import_kw", "grid_export_kw", "pool_buy_kw", "pool_sell_kw", "charge_kw", "discharge_kw",
         "curtail_kw")


def _tol(*scales) -> float:
    return TOLERANCE * max(1.0, *(float(np.max(np.abs(s), initial=0.0)) for s in scales))


def _where(book: OrderBook, mask: np.ndarray, names: tuple[str, ...] | None = None) -> str:
    i, t = np.argwhere(mask)[0]
    who = (names or book.participant_ids)[i]
    return f"{who!r} at interval {t}"


def clearing_problems(book: OrderBook, clearing) -> list[str]:
    """Every physical invariant the clearing breaks (empty when it is sound); see the module docstring."""
    out: list[str] = []
    shape = book.load_kw.shape
    for name in (*FLOWS, "shift_kw", "soc_kwh"):
        values = np.asarray(getattr(clearing, name), dtype=float)
        if values.shape != shape:
            return [f"{name} has shape {values.shape}, expected {shape}"]
        if name in FLOWS and values.min(initial=0.0) < -TOLERANCE:
            out.append(f"{name} is negative ({values.min():.6g}) for {_where(book, values < -TOLERANCE)}")
    c = clearing
    use = book.load_kw - book.pv_kw + c.curtail_kw + c.charge_kw - c.discharge_kw + c.shift_kw
    gap = np.abs(use - c.net_import_kw())
    if gap.max(initial=0.0) > _tol(use):
        out.append(f"participant energy balance off by {gap.max():.6g} kW for {_where(book, gap == gap.max())}")
    pool_gap = np.abs(c.pool_buy_kw.sum(0) - c.pool_sell_kw.sum(0))
    if pool_gap.max(initial=0.0) > _tol(c.pool_buy_kw.sum(0)):
        out.append(f"pool unbalanced by {pool_gap.max():.6g} kW in interval {int(pool_gap.argmax())}")
    over = c.curtail_kw - book.pv_kw
    if over.max(initial=0.0) > TOLERANCE:
        out.append(f"curtailment exceeds the PV by {over.max():.6g} kW for {_where(book, over == over.max())}")
    out.extend(_shift_problems(book, c.shift_kw))
    try:
        pool_price_matrix(c.pool_price_per_kwh, book.n_participants, book.n_intervals)
    except ValueError as exc:
        out.append(str(exc))
    try:
        charge, discharge, energy = c.device_flows(book)
    except ValueError as exc:
        return [*out, str(exc)]
    return out + _device_problems(book, c, charge, discharge, energy)


def _shift_problems(book: OrderBook, shift: np.ndarray) -> list[str]:
    band = np.asarray(book.flexible_share, float)[:, None] * book.load_kw
    out = []
    beyond = np.abs(shift) - band
    if beyond.max(initial=0.0) > TOLERANCE:
        out.append(f"shift_kw exceeds the flexible band by {beyond.max():.6g} kW for "
                   f"{_where(book, beyond == beyond.max())}")
    width = max(int(book.shift_window_intervals), 1)
    horizon = book.n_intervals
    windows = np.zeros((book.n_participants, -(-horizon // width)))
    np.add.at(windows.T, np.arange(horizon) // width, shift.T)
    if np.abs(windows).max(initial=0.0) > TOLERANCE:
        i, w = np.unravel_index(np.abs(windows).argmax(), windows.shape)
        out.append(f"shift_kw of {book.participant_ids[i]!r} does not sum to 0 within shift window {w} "
                   f"(net {windows[i, w]:.6g} kW): flexible load may only move, not disappear")
    return out


def _device_problems(book: OrderBook, c, charge, discharge, energy) -> list[str]:
    n, dt = book.n_participants, book.interval_hours
    s, loads = book.storage, book.shiftable
    m, k = s.n_devices, loads.n_devices
    if charge.shape != (m + k, book.n_intervals):
        return [f"device arrays have {charge.shape[0]} rows; the book has {m + k} devices"]
    out = []
    owner = book.device_owner
    for name, per_device, total in (("charge_kw", charge, c.charge_kw), ("discharge_kw", discharge, c.discharge_kw)):
        gap = np.abs(per_participant(owner, per_device, n) - total)
        if gap.max(initial=0.0) > _tol(total):
            out.append(f"{name} differs from the sum of the participant's devices by {gap.max():.6g} kW for "
                       f"{_where(book, gap == gap.max())}")
    names = tuple(f"{book.participant_ids[i]}/{d}" for i, d in zip(owner, book.device_ids, strict=True))
    ch, dis, e = charge[:m], discharge[:m], energy[:m]
    for label, excess in (("charges above its limit", ch - s.charge_max_kw),
                          ("discharges above its limit", dis - s.discharge_max_kw),
                          ("has negative flows", -np.minimum(ch, dis)),
                          ("holds less than its floor or target", s.energy_min_kwh - e),
                          ("holds more than its maximum", e - s.energy_max_kwh)):
        if m and excess.max(initial=0.0) > _tol(s.energy_max_kwh, s.charge_max_kw):
            out.append(f"device {_where(book, excess == excess.max(), names)} {label} "
                       f"(by {excess.max():.6g}; availability and limits come from the book)")
    if m:
        start = np.column_stack([s.retention * s.initial_kwh, s.retention[:, None] * e[:, :-1]])
        start = np.where(np.isfinite(s.arrival_kwh), s.arrival_kwh, start)
        expected = start + dt * (s.charge_efficiency * ch - dis / s.discharge_efficiency[:, None] - s.demand_kw)
        gap = np.abs(e - expected)
        if gap.max(initial=0.0) > _tol(e):
            out.append(f"device {_where(book, gap == gap.max(), names)} breaks its energy continuity by "
                       f"{gap.max():.6g} kWh (e[t] = r e[t-1] + dt (eta_c ch - dis / eta_d - demand))")
        short = s.final_min_kwh - e[:, -1]
        if short.max(initial=0.0) > _tol(e):
            j = int(short.argmax())
            out.append(f"device {names[j]!r} ends the day {short[j]:.6g} kWh below the obligation it carries past "
                       f"midnight ({s.final_min_kwh[j]:.6g} kWh)")
        soc_gap = np.abs(per_participant(s.owner, e, n) - c.soc_kwh)
        if soc_gap.max(initial=0.0) > _tol(e):
            out.append(f"soc_kwh differs from the sum of the participant's storage energies by {soc_gap.max():.6g} "
                       f"kWh for {_where(book, soc_gap == soc_gap.max())}")
    if k:
        out.extend(_shiftable_problems(book, charge[m:], discharge[m:], names[m:]))
    return out


def _shiftable_problems(book: OrderBook, power: np.ndarray, back: np.ndarray, names) -> list[str]:
    loads, dt = book.shiftable, book.interval_hours
    out = []
    excess = np.maximum(power - loads.power_max_kw, -np.minimum(power, 0)) + np.abs(back)
    if excess.max(initial=0.0) > TOLERANCE:
        out.append(f"shiftable load {_where(book, excess == excess.max(), names)} draws outside its window or cap "
                   f"(by {excess.max():.6g} kW)")
    drawn = dt * power.sum(axis=1)
    for label, gap in (("less than it must", loads.energy_min_kwh - drawn),
                       ("more than it may", drawn - loads.energy_max_kwh)):
        if gap.max(initial=0.0) > _tol(loads.energy_max_kwh):
            j = int(gap.argmax())
            out.append(f"shiftable load {names[j]!r} draws {drawn[j]:.6g} kWh today, {label} "
                       f"([{loads.energy_min_kwh[j]:.6g}, {loads.energy_max_kwh[j]:.6g}] kWh)")
    blocks = np.flatnonzero(loads.block_intervals > 0)
    q = block_power(loads, dt)
    for j in blocks:  # one check per uninterruptible load (few)
        on = power[j] > TOLERANCE
        runs = np.diff(np.r_[0, on.astype(int), 0])
        if on.any() and ((runs == 1).sum() != 1 or not np.allclose(power[j][on], q[j], atol=TOLERANCE)):
            out.append(f"uninterruptible load {names[j]!r} does not run in one block at {q[j]:.6g} kW")
    return out


def money_problems(book: OrderBook, clearing) -> list[str]:
    """Every money balance the clearing breaks: pool payments per interval and the community's cost."""
    c, dt = clearing, book.interval_hours
    zeros = np.zeros_like(book.load_kw)
    flows = {"grid_import_kw": c.grid_import_kw, "grid_export_kw": c.grid_export_kw, "pool_buy_kw": c.pool_buy_kw,
             "pool_sell_kw": c.pool_sell_kw, "imbalance_import_kw": zeros, "imbalance_export_kw": zeros}
    prices = Prices(book.import_price_per_kwh, book.export_price_per_kwh, c.pool_price_per_kwh,
                    book.p2p_fee_per_kwh, book.peak_price_per_kw)
    try:
        costs = interval_costs(flows, prices, dt)
    except ValueError as exc:
        return [str(exc)]
    out = []
    net = costs["pool_cost"].sum(axis=0)
    if np.abs(net).max(initial=0.0) > _tol(costs["pool_cost"]):
        t = int(np.abs(net).argmax())
        out.append(f"pool payments net to {net[t]:.6g} instead of 0 in interval {t}")
    paid = sum(v.sum() for v in costs.values())
    collected = dt * float((book.import_price_per_kwh * c.grid_import_kw.sum(0)).sum()
                           - (book.export_price_per_kwh * c.grid_export_kw.sum(0)).sum()
                           + (book.p2p_fee_per_kwh * c.pool_buy_kw.sum(0)).sum())
    if abs(paid - collected) > _tol(paid, collected):
        out.append(f"participants pay {paid:.6g} but the grid and network operator collect {collected:.6g}")
    return out
