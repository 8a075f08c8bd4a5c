"""Device blocks of the day model: storage-like devices and shiftable loads, built vectorised.

Formulation in :mod:`p2psim.markets.devices`; ``b`` is the builder of
:mod:`p2psim.markets._community_lp`. Every block is one numpy pass over devices x intervals.

Columns (one row per device, T columns each, tagged with the device's owner):
``ch`` in [0, charge_max], ``dis`` in [0, discharge_max], ``soc`` in [energy_min, energy_max] with the
last interval's lower bound raised to the day's floor, ``task`` in [0, power_max] (shiftable loads),
``task_start`` binary (uninterruptible loads only; 1 where the run starts).

Rows: ``soc``  e[t] - r e[t-1] - dt eta_c ch + dt dis / eta_d = -dt demand (+ r e0 at t = 0; where
the store restarts, a[t] replaces r e[t-1]); ``battery_cut`` ch / charge_max + dis / discharge_max
<= 1 for devices that can do both (a valid cut of the direction binary); ``task_energy``
energy_min <= dt sum_t task <= energy_max; for uninterruptible loads ``task_block``
task[t] - q sum_{s = t-L+1..t} start[s] = 0 (q = E / (L dt)) and ``task_once`` sum_s start[s] = 1.
"""

from __future__ import annotations

import numpy as np
from p2psim.markets._lp_program import INF
from p2psim.markets.book import OrderBook
from p2psim.markets.devices import block_power, per_participant


def device_limits(book: OrderBook) -> tuple[np.ndarray, np.ndarray]:
    """Per participant (n x T): the most power its devices can draw, and the most they can return."""
    n = book.n_participants
    storage, loads = book.storage, book.shiftable
    draw = per_participant(storage.owner, storage.charge_max_kw, n)
    if loads.n_devices:
        draw = draw + per_participant(loads.owner, loads.power_max_kw, n)
    return draw, per_participant(storage.owner, storage.discharge_max_kw, n)


def _labels(book: OrderBook, owner: np.ndarray, device_id: tuple[str, ...]) -> tuple:
    ids = book.participant_ids
    return (tuple(f"{ids[i]}/{d}" for i, d in zip(owner, device_id, strict=True)), None)


def storage_columns(b, book: OrderBook) -> dict[str, np.ndarray]:
    """The ``ch``, ``dis`` and ``soc`` columns of every storage-like device."""
    s = book.storage
    m, horizon = s.n_devices, book.n_intervals
    lab = _labels(book, s.owner, s.device_id)
    own = s.owner[:, None]
    soc_lo = s.energy_min_kwh.astype(float, copy=True)
    if m:
        soc_lo[:, -1] = s.terminal_min_kwh
    return {
        "ch": b.cols("ch", (m, horizon), 0, s.charge_max_kw, 0.0, own, lab),
        "dis": b.cols("dis", (m, horizon), 0, s.discharge_max_kw, 0.0, own, lab),
        "soc": b.cols("soc", (m, horizon), soc_lo, s.energy_max_kwh, 0.0, own, lab),
    }


def storage_rows(b, book: OrderBook, col: dict) -> None:
    """Energy dynamics of every storage-like device and the valid cut of its direction binary."""
    s = book.storage
    m, horizon = s.n_devices, book.n_intervals
    dt = book.interval_hours
    lab = _labels(book, s.owner, s.device_id)
    own = s.owner[:, None]
    restart = np.isfinite(s.arrival_kwh)
    start = np.zeros((m, horizon))
    start[:, 0] = s.retention * s.initial_kwh
    start = np.where(restart, s.arrival_kwh, start)
    rhs = start - dt * s.demand_kw
    rows = b.rows("soc", (m, horizon), rhs, rhs, own, lab)
    b.add(rows, col["soc"], 1.0)
    chained = ~restart[:, 1:]
    b.add(rows[:, 1:][chained], col["soc"][:, :-1][chained], -np.broadcast_to(s.retention[:, None],
                                                                               chained.shape)[chained])
    b.add(rows, col["ch"], -dt * s.charge_efficiency)
    b.add(rows, col["dis"], dt / s.discharge_efficiency[:, None])
    both = (s.charge_max_kw > 0) & (s.discharge_max_kw > 0)
    powered = both.any(axis=1)
    keep = np.flatnonzero(powered)
    cut = b.rows("battery_cut", (len(keep), horizon), -INF, 1.0, s.owner[keep, None],
                 _labels(book, s.owner[keep], tuple(s.device_id[k] for k in keep)))
    on = both[keep]
    with np.errstate(divide="ignore"):
        b.add(cut[on], col["ch"][keep][on], 1.0 / s.charge_max_kw[keep][on])
        b.add(cut[on], col["dis"][keep][on], 1.0 / s.discharge_max_kw[keep][on])


def shiftable_columns(b, book: OrderBook) -> dict[str, np.ndarray]:
    """The ``task`` columns (power of each shiftable load) and ``task_start`` binaries (blocks)."""
    loads = book.shiftable
    k, horizon = loads.n_devices, book.n_intervals
    lab = _labels(book, loads.owner, loads.device_id)
    out = {"task": b.cols("task", (k, horizon), 0, loads.power_max_kw, 0.0, loads.owner[:, None], lab)}
    blocks = np.flatnonzero(loads.block_intervals > 0)
    allowed = block_starts(loads, blocks, horizon)
    out["task_start"] = b.cols("task_start", (len(blocks), horizon), 0, allowed.astype(float), 0.0,
                               loads.owner[blocks, None], _labels(book, loads.owner[blocks],
                                                                  tuple(loads.device_id[j] for j in blocks)),
                               integer=True)
    return out


def block_starts(loads, blocks: np.ndarray, horizon: int) -> np.ndarray:
    """Where each uninterruptible run may start: all its L intervals inside the window."""
    window = loads.power_max_kw[blocks] > 0
    length = loads.block_intervals[blocks]
    csum = np.concatenate([np.zeros((len(blocks), 1)), np.cumsum(window, axis=1)], axis=1)
    t = np.arange(horizon)
    end = np.minimum(t[None, :] + length[:, None], horizon)
    inside = csum[np.arange(len(blocks))[:, None], end] - csum[:, :horizon]
    return (inside == length[:, None]) & (t[None, :] + length[:, None] <= horizon)


def shiftable_rows(b, book: OrderBook, col: dict) -> None:
    """Energy of every shiftable load; the run of uninterruptible ones."""
    loads = book.shiftable
    k, horizon = loads.n_devices, book.n_intervals
    dt = book.interval_hours
    lab = (_labels(book, loads.owner, loads.device_id)[0],)
    energy = b.rows("task_energy", (k,), loads.energy_min_kwh, loads.energy_max_kwh, loads.owner, lab)
    b.add(energy[:, None], col["task"], dt)
    blocks = np.flatnonzero(loads.block_intervals > 0)
    if not len(blocks):
        return
    owner = loads.owner[blocks]
    blab = _labels(book, owner, tuple(loads.device_id[j] for j in blocks))
    run = b.rows("task_block", (len(blocks), horizon), 0.0, 0.0, owner[:, None], blab)
    b.add(run, col["task"][blocks], 1.0)
    q = block_power(loads, dt)[blocks]
    length = loads.block_intervals[blocks]
    for lag in range(int(length.max())):  # one vector pass per lag of the longest run
        live = lag < length
        rows, cols = run[live][:, lag:], col["task_start"][live][:, : horizon - lag]
        b.add(rows, cols, -np.broadcast_to(q[live, None], rows.shape))
    once = b.rows("task_once", (len(blocks),), 1.0, 1.0, owner, (blab[0],))
    b.add(once[:, None], col["task_start"], 1.0)
