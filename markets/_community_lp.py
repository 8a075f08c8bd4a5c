"""The community day model of EqWM, assembled in one vectorised pass (numpy + scipy.sparse).

Sets: participants i (n), intervals t (T, length dt h), lines e of the radial feeder, buses b.
Per-participant blocks exist only for the participants that own the asset, device blocks one row
per device (``DayModel.owners`` gives each row's participant; formulation of the devices in
:mod:`p2psim.markets.devices`, their blocks in :mod:`p2psim.markets._device_rows`):

=========  ==============================  ===========================================
column     bounds                          meaning (kW unless noted)
=========  ==============================  ===========================================
imp, buy   [0, U_it]                       grid import, pool purchase
exp, sell  [0, V_it]                       grid export, pool sale
ch, dis    [0, charge_max[s,t]], [0, ..]   storage-like device draw / return (per device)
soc        [energy_min, energy_max] (kWh)  end of interval; last >= the day's floor
curt       [0, pv]                         PV spilled (PV owners)
shift      [-f d, f d]                     load moved into (+) / out of (-) t (flexible)
task       [0, power_max[k,t]]             shiftable load's power (per load)
task_start {0, 1}                          start of an uninterruptible run (per such load)
peak       [0, inf)                        community peak import (one per participant
                                           when ``standalone``)
flow       [-rating_e, rating_e]           line flow towards the customers (feeder)
volt       [v_min, v_max] pu, root = v0    LinDistFlow bus voltage (``voltage_band_pu``)
=========  ==============================  ===========================================

with U_it = d(1+f) + the most its devices draw and V_it = pv + the most they return - d(1-f)
(clipped at 0): the
largest net purchase and net sale physically possible, so the bounds cut nothing feasible for a
participant that does not resell, and they make every big-M of the binaries exact.

Rows, in code order: ``balance`` (n x T) imp - exp + buy - sell - curt - sum ch + sum dis - shift
- sum task = d - pv (sums over the participant's devices); ``soc`` (per device) soc[t] - r soc[t-1]
- dt eta_c ch + dt dis / eta_d = -dt demand (+ r e0 at t = 0, or the arrival energy where the store
restarts); ``battery_cut`` ch / charge_max + dis / discharge_max <= 1 (a valid cut of the direction
binary); ``window`` sum of shift over each window of ``shift_window_intervals`` = 0; gross pool
metering ``use`` buy - ch - shift - task <= d and ``source`` sell + curt - dis <= pv (only for participants whose
use or supply is a decision; otherwise they are the bounds buy <= d, sell = 0); ``pool`` (T)
sum sell - sum buy = 0; ``peak`` (T) sum (imp - exp) - peak <= 0; ``transformer`` (T)
|sum (imp - exp)| <= limit; ``flow`` (lines x T) flow_e - sum of flows of the lines leaving e's
far bus - sum of net imports (imp - exp + buy - sell) of the participants on that bus = 0, which
is ``flow = L @ bus_net_import`` with ``L = feeder.downstream_matrix`` written recursively (sparse);
``volt`` (lines x T) v_child - v_parent + r_e flow_e / (1000 V_kV^2) = 0 (LinDistFlow with unity
power factor and |V| ~ 1, voltage in pu). Feeder rows are skipped when no line could ever reach
its rating (the bounds U, V say so) and no voltage band is asked for; then ``task_energy`` and the
uninterruptible runs; then the rows of the book's extra constraints (:mod:`p2psim.markets.hooks`).

``standalone=True`` gives the block-diagonal stand-alone model: no pool columns or row, one peak
per participant (``peak_i >= imp - exp``) and the feeder as column bounds (imp, exp <= the
smallest rating on the participant's path and the transformer limit).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from p2psim.markets._device_rows import (
    device_limits,
    shiftable_columns,
    shiftable_rows,
    storage_columns,
    storage_rows,
)
from p2psim.markets._feeder_rows import community_rows
from p2psim.markets._lp_program import INF, LinearProgram, NameBlock
from p2psim.markets.base import ClearingContext
from p2psim.markets.book import OrderBook
from p2psim.markets.hooks import apply_hooks

PARTICIPANT_KINDS = ("imp", "exp", "buy", "sell", "ch", "dis", "soc", "curt", "shift", "task", "task_start")
DEVICE_KINDS = ("ch", "dis", "soc", "task", "task_start")
"""Blocks with one row per device (several rows may share an owner)."""


@dataclass(eq=False)
class DayModel:
    """An assembled day model, its objective being the community (or summed stand-alone) cost."""

    lp: LinearProgram
    book: OrderBook
    standalone: bool
    owners: dict[str, np.ndarray]
    """Participant indices owning each per-participant block (rows of that block, T columns each)."""
    offset: dict[str, int]
    """First column of each block."""
    col_owner: np.ndarray
    """Participant whose data sets each column's bounds (-1: shared)."""
    row_owner: np.ndarray
    """Participant whose data sets each row's bounds (-1: shared)."""
    build_time_s: float

    def index(self, kind: str) -> np.ndarray:
        """Column indices (len(owners) x T) of a per-participant block."""
        owners = self.owners[kind]
        horizon = self.book.n_intervals
        return self.offset[kind] + np.arange(len(owners) * horizon).reshape(len(owners), horizon)

    def values(self, x: np.ndarray, kind: str) -> np.ndarray:
        """The n x T array of block ``kind`` in solution ``x`` (zeros for non-owners; devices summed)."""
        out = np.zeros(self.book.load_kw.shape)
        if kind in DEVICE_KINDS:
            np.add.at(out, self.owners[kind], x[self.index(kind)])
        else:
            out[self.owners[kind]] = x[self.index(kind)]
        return out

    def device_values(self, x: np.ndarray, kind: str) -> np.ndarray:
        """The rows x T array of a per-device block (``ch``, ``dis``, ``soc``, ``task``) in ``x``."""
        return x[self.index(kind)]

    def flows(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every flow of a Clearing from solution ``x``: per participant (n x T) and per device.

        ``charge_kw`` is the power drawn by all of a participant's devices (storage charging and
        shiftable loads); device arrays stack the storage-like devices, then the shiftable loads
        (whose energy is what they drew so far today).
        """
        dt = self.book.interval_hours
        task = self.device_values(x, "task")
        return {
            "grid_import_kw": self.values(x, "imp"), "grid_export_kw": self.values(x, "exp"),
            "pool_buy_kw": self.values(x, "buy"), "pool_sell_kw": self.values(x, "sell"),
            "charge_kw": self.values(x, "ch") + self.values(x, "task"), "discharge_kw": self.values(x, "dis"),
            "soc_kwh": self.values(x, "soc"), "curtail_kw": self.values(x, "curt"),
            "shift_kw": self.values(x, "shift"),
            "device_charge_kw": np.vstack([self.device_values(x, "ch"), task]),
            "device_discharge_kw": np.vstack([self.device_values(x, "dis"), np.zeros_like(task)]),
            "device_energy_kwh": np.vstack([self.device_values(x, "soc"), dt * np.cumsum(task, axis=1)]),
        }

    def participant_cost_matrix(self, p2p_per_kwh: np.ndarray) -> sp.csr_matrix:
        """Matrix P (n x columns) with P @ x = each participant's energy bill (without peak share).

        C_i = sum_t dt (imp_price imp - exp_price exp + (p2p + fee) buy - p2p sell).
        """
        book, dt = self.book, self.book.interval_hours
        prices = {"imp": book.import_price_per_kwh, "exp": -book.export_price_per_kwh,
                  "buy": p2p_per_kwh + book.p2p_fee_per_kwh, "sell": -p2p_per_kwh}
        rows, cols, vals = [], [], []
        for kind, price in prices.items():
            idx = self.index(kind)
            rows.append(np.repeat(self.owners[kind], idx.shape[1]))
            cols.append(idx.ravel())
            vals.append(np.tile(dt * np.asarray(price, dtype=float), len(self.owners[kind])))
        shape = (book.n_participants, self.lp.n_cols)
        return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape)


class _Builder:
    """Collects columns and (row, column, value) triplets block by block."""

    def __init__(self) -> None:
        self.n_cols = self.n_rows = 0
        self.lo: list[np.ndarray] = []
        self.up: list[np.ndarray] = []
        self.cost: list[np.ndarray] = []
        self.col_owner: list[np.ndarray] = []
        self.integer: list[np.ndarray] = []
        self.col_blocks: list[NameBlock] = []
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.rlo: list[np.ndarray] = []
        self.rup: list[np.ndarray] = []
        self.row_owner: list[np.ndarray] = []
        self.row_blocks: list[NameBlock] = []

    def cols(self, name, shape, lo, up, cost=0.0, owner=-1, labels=(), integer=False) -> np.ndarray:
        size = int(np.prod(shape))
        start = self.n_cols
        self.n_cols += size
        for store, value in ((self.lo, lo), (self.up, up), (self.cost, cost), (self.col_owner, owner),
                             (self.integer, integer)):
            store.append(np.broadcast_to(np.asarray(value), shape).ravel())
        self.col_blocks.append(NameBlock(name, start, tuple(shape), labels))
        return start + np.arange(size).reshape(shape)

    def rows(self, name, shape, lo, up, owner=-1, labels=()) -> np.ndarray:
        size = int(np.prod(shape))
        start = self.n_rows
        self.n_rows += size
        for store, value in ((self.rlo, lo), (self.rup, up), (self.row_owner, owner)):
            store.append(np.broadcast_to(np.asarray(value, dtype=float), shape).ravel())
        self.row_blocks.append(NameBlock(name, start, tuple(shape), labels))
        return start + np.arange(size).reshape(shape)

    def add(self, rows, cols, vals) -> None:
        rows, cols, vals = np.broadcast_arrays(rows, cols, vals)
        self.r.append(rows.ravel())
        self.c.append(cols.ravel())
        self.v.append(vals.astype(float).ravel())

    def program(self) -> LinearProgram:
        a = sp.csr_matrix((np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))),
                          shape=(self.n_rows, self.n_cols))
        return LinearProgram(
            c=np.concatenate(self.cost).astype(float), A=a,
            row_lower=np.concatenate(self.rlo), row_upper=np.concatenate(self.rup),
            col_lower=np.concatenate(self.lo).astype(float), col_upper=np.concatenate(self.up).astype(float),
            integrality=np.concatenate(self.integer).astype(bool),
            col_blocks=tuple(self.col_blocks), row_blocks=tuple(self.row_blocks),
        )


def build_day_model(book: OrderBook, context: ClearingContext, *, standalone: bool = False) -> DayModel:
    """Assemble the day model of ``book`` (see the module docstring for every block)."""
    start = time.perf_counter()
    n, horizon = book.load_kw.shape
    dt = book.interval_hours
    ids = tuple(book.participant_ids)
    d, g = np.asarray(book.load_kw, float), np.asarray(book.pv_kw, float)
    f = np.asarray(book.flexible_share, float)[:, None]
    storage, loads = book.storage, book.shiftable
    draw_max, return_max = device_limits(book)
    upper_buy = np.clip(d * (1 + f) + draw_max, 0, None)
    upper_sell = np.clip(g + return_max - d * (1 - f), 0, None)
    everyone = np.arange(n)
    owners = {
        "imp": everyone, "exp": everyone,
        "buy": everyone[:0] if standalone else everyone, "sell": everyone[:0] if standalone else everyone,
        "ch": storage.owner, "dis": storage.owner, "soc": storage.owner,
        "curt": np.flatnonzero((g > 0).any(axis=1)),
        "shift": np.flatnonzero((f[:, 0] > 0) & (d > 0).any(axis=1)),
        "task": loads.owner,
    }
    feeder = context.feeder
    path_limit = np.full(n, INF)
    if standalone and context.enforce_feeder:
        down = feeder.downstream_matrix.toarray()
        per_bus = np.where(down > 0, feeder.line_rating_kw[:, None], INF).min(axis=0, initial=INF)
        path_limit = np.minimum(per_bus[np.asarray(book.bus_index)], feeder.transformer_limit_kw)
    imp_price = np.asarray(book.import_price_per_kwh, float)
    exp_price = np.asarray(book.export_price_per_kwh, float)
    fee = np.asarray(book.p2p_fee_per_kwh, float)
    b = _Builder()
    lab = (ids, None)
    col = {
        "imp": b.cols("imp", (n, horizon), 0, np.minimum(upper_buy, path_limit[:, None]), dt * imp_price,
                      everyone[:, None], lab),
        "exp": b.cols("exp", (n, horizon), 0, np.minimum(upper_sell, path_limit[:, None]), -dt * exp_price,
                      everyone[:, None], lab),
    }
    # gross metering: pool purchases feed local use (d + ch + shift + task), pool sales come from local
    # supply (pv - curt + dis); plain bounds where that use or supply is fixed data
    users = np.union1d(np.union1d(owners["ch"], owners["shift"]), owners["task"]).astype(int)
    sources = np.union1d(owners["curt"], storage.owner[(storage.discharge_max_kw > 0).any(axis=1)]).astype(int)
    buy_up = np.minimum(upper_buy, d)
    buy_up[users] = upper_buy[users]
    sell_up = np.zeros_like(upper_sell)
    sell_up[sources] = np.minimum(upper_sell, g + return_max)[sources]
    if not standalone:
        col["buy"] = b.cols("buy", (n, horizon), 0, buy_up, dt * fee, everyone[:, None], lab)
        col["sell"] = b.cols("sell", (n, horizon), 0, sell_up, 0.0, everyone[:, None], lab)
    else:
        col["buy"] = col["sell"] = np.zeros((0, horizon), dtype=int)
    col.update(storage_columns(b, book))
    pv = owners["curt"]
    col["curt"] = b.cols("curt", (len(pv), horizon), 0, g[pv], 0.0, pv[:, None], (tuple(ids[i] for i in pv), None))
    fx = owners["shift"]
    col["shift"] = b.cols("shift", (len(fx), horizon), -(f * d)[fx], (f * d)[fx], 0.0, fx[:, None],
                          (tuple(ids[i] for i in fx), None))
    col.update(shiftable_columns(b, book))
    if standalone:
        peak = b.cols("peak", (n,), 0, INF, book.peak_price_per_kw, everyone, (ids,))
    else:
        peak = b.cols("peak", (1,), 0, INF, book.peak_price_per_kw)

    # participant balance: imp - exp + buy - sell - curt - ch + dis - shift - task = d - pv
    bal = b.rows("balance", (n, horizon), d - g, d - g, everyone[:, None], lab)
    for kind, sign in (("imp", 1), ("exp", -1), ("buy", 1), ("sell", -1), ("curt", -1), ("ch", -1),
                       ("dis", 1), ("shift", -1), ("task", -1)):
        b.add(bal[owners[kind]], col[kind], sign)
    storage_rows(b, book, col)
    # flexible load: energy conserved within each window
    width = max(int(book.shift_window_intervals), 1)
    n_win = -(-horizon // width)
    win = b.rows("window", (len(fx), n_win), 0.0, 0.0, fx[:, None], (tuple(ids[i] for i in fx), None))
    b.add(win[:, np.arange(horizon) // width], col["shift"], 1.0)
    if not standalone:
        _gross_metering_rows(b, book, owners, col, users, sources)
    if standalone:
        rows = b.rows("peak", (n, horizon), -INF, 0.0, everyone[:, None], lab)
        b.add(rows, col["imp"], 1.0)
        b.add(rows, col["exp"], -1.0)
        b.add(rows, peak[:, None], -1.0)
    else:
        community_rows(b, book, context, col, peak, upper_buy, upper_sell)
    shiftable_rows(b, book, col)
    owners["task_start"] = loads.owner[loads.block_intervals > 0]
    model = DayModel(lp=b.program(), book=book, standalone=standalone, owners=owners,
                     offset={k: int(col[k].flat[0]) if col[k].size else 0 for k in PARTICIPANT_KINDS},
                     col_owner=np.concatenate(b.col_owner).astype(int),
                     row_owner=np.concatenate(b.row_owner).astype(int), build_time_s=0.0)
    apply_hooks(model, context)
    model.build_time_s = time.perf_counter() - start
    return model


def _gross_metering_rows(b: _Builder, book: OrderBook, owners, col, users, sources) -> None:
    """``use``: buy - ch - shift <= d (users); ``source``: sell + curt - dis <= pv (sources)."""
    n, horizon = book.load_kw.shape
    ids = book.participant_ids
    for name, who, kind, rhs, terms in (
        ("use", users, "buy", book.load_kw, (("ch", -1.0), ("shift", -1.0), ("task", -1.0))),
        ("source", sources, "sell", book.pv_kw, (("curt", 1.0), ("dis", -1.0))),
    ):
        pos = np.full(n, -1)
        pos[who] = np.arange(len(who))
        rows = b.rows(name, (len(who), horizon), -INF, np.asarray(rhs, float)[who], who[:, None],
                      (tuple(ids[i] for i in who), None))
        b.add(rows, col[kind][who], 1.0)
        for other, sign in terms:
            inside = pos[owners[other]] >= 0  # e.g. a car that cannot feed back is no source
            b.add(rows[pos[owners[other]][inside]], col[other][inside], sign)
