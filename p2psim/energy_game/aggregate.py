"""The aggregate-prosumer shortcut: when a coalition's cost equals that of one summed prosumer.

"Without binding feeder limits a coalition behaves as one aggregate prosumer." This module states
exactly when that is true for the coalition cost c(S) of :mod:`p2psim.energy_game.game` (the community
day model of :mod:`p2psim.markets._community_lp`, cost objective), computes the aggregate cost
and checks the conditions coalition by coalition.

The aggregate of S is one participant with load D = sum d_i, PV G = sum g_i, import and export
bounds sum U_i and sum V_i, curtailment up to G, a flexible band F_t = sum_i f_i d_it (energy
conserved within the same windows), and one battery with the summed capacity, power limits and
SoC bounds. Its cost is solved with the same day model (a one-participant book; the band and the
import/export bounds are set on the columns since a book holds one flexible share per participant).

**Exactness (c_agg(S) = c(S)) holds when all of the following hold:**

1. *Internal exchange is free*: the P2P fee is 0 in every interval. (With a fee, every kWh moved
   between members costs the fee, which the aggregate never pays: c_agg < c.)
2. *Import price >= export price* in every interval (so an optimum never imports and exports at
   once; this is what lets the netted aggregate flows be split among members, below).
3. *No feeder limit can bind for S*: the line-flow rows and the transformer row are absent or
   cannot bind, i.e. for every line e and interval t, sum_{i in S below e} U_it <= rating_e and
   likewise for V, and sum_{i in S} U_it, sum V_it <= the transformer limit (no voltage band).
   This is checked per coalition (small coalitions pass where the grand coalition does not).
4. *Storage is aggregable*: the batteries of S are scaled copies of one battery -- equal charge
   and discharge efficiencies and equal ratios to capacity of the charge limit, discharge limit,
   minimum, maximum and initial SoC -- or S owns at most one battery. The sum of capacities,
   power limits and SoC bounds is then exact; with different C-rates or SoC fractions it is not
   (a full battery with a 5 kW limit next to an empty one cannot deliver 10 kW, the sum can), and
   with different efficiencies the summed SoC does not follow one battery's dynamics.
5. *Flexibility is aggregable*: within every shift window, the flexible bands f_i d_it of S's
   flexible members are proportional to one another (or S has at most one flexible member).
   Otherwise the Minkowski sum of the members' "shift within the window" sets is smaller than the
   aggregate set: a member flexible only in hour 1 and one flexible only in hour 2 cannot move
   load between hours 1 and 2 on their own, the aggregate can.

Proof sketch. (a) c_agg <= c: summing a feasible dispatch of S over members gives a feasible
aggregate dispatch of equal cost (pool purchases and sales cancel, the fee is 0, costs and the
peak depend only on the summed imports and exports; conditions 4-5 make the summed battery and
shift satisfy the aggregate's rows; without them the sum still satisfies the shift rows but not
necessarily the SoC dynamics). (b) c <= c_agg: take an optimal aggregate dispatch; by 2 assume
I_t E_t = 0. Split battery and shift among members in proportion to their capacities / bands
(exact by 4-5) and curtailment in proportion to PV; each member then has a local use u_i >= 0,
supply s_i >= 0 and net need n_i = u_i - s_i. Members in deficit buy a common share of their
deficit from the pool and import the rest; members in surplus sell the same total and export the
rest. This meets every member's balance, the gross-metering rows (buy_i <= u_i, sell_i <= s_i),
the bounds U_i, V_i and the pool row, and with 3 every line and transformer row; its cost equals
the aggregate's. The conditions are sufficient, not necessary.

:class:`AggregateSolver` keeps one assembled aggregate model and re-solves it by changing bounds
(the aggregate's data are all bounds and right-hand sides; efficiencies are matrix entries and are
changed only when they differ), which is what :class:`~p2psim.energy_game.game.EnergyDayGame` uses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from p2psim.errors import GameError
from p2psim.markets import ClearingContext, OrderBook

_REL = 1e-9


@dataclass(frozen=True)
class ShortcutCheck:
    """Whether the aggregate cost is exact for a coalition, and if not, why."""

    exact: bool
    reasons: tuple[str, ...] = ()


def _as_mask(book: OrderBook, mask) -> np.ndarray:
    n = book.n_participants
    if isinstance(mask, (int, np.integer)):
        return np.array([(int(mask) >> k) & 1 for k in range(n)], dtype=bool)
    members = np.asarray(mask)
    if members.dtype == bool:
        if members.shape != (n,):
            raise GameError(f"coalition mask must have length {n}, got shape {members.shape}")
        return members
    out = np.zeros(n, dtype=bool)
    out[members.astype(int)] = True
    return out


def _bounds(book: OrderBook) -> tuple[np.ndarray, np.ndarray]:
    """Per-participant U_it (largest net purchase) and V_it (largest net sale), as in the day model."""
    from p2psim.markets._device_rows import device_limits

    d, g = np.asarray(book.load_kw, float), np.asarray(book.pv_kw, float)
    f = np.asarray(book.flexible_share, float)[:, None]
    draw, back = device_limits(book)
    return np.clip(d * (1 + f) + draw, 0, None), np.clip(g + back - d * (1 - f), 0, None)


def _plain_batteries(book: OrderBook) -> str:
    """Why the day's devices are not plain batteries (constant limits, no own use), or ''."""
    s = book.storage
    if book.shiftable.n_devices:
        return "the day has shiftable loads"
    if not s.n_devices:
        return ""
    varying = [s.charge_max_kw, s.discharge_max_kw, s.charge_efficiency, s.energy_min_kwh, s.energy_max_kwh]
    if any(np.ptp(a, axis=1).max(initial=0.0) > 0 for a in varying) or np.any(s.demand_kw) \
            or np.isfinite(s.arrival_kwh).any() or np.any(s.retention != 1) or not s.conserve.all() \
            or np.any(s.final_min_kwh > s.energy_min_kwh[:, -1]):
        return "the day has storage-like devices other than plain batteries (EVs, heat pumps, targets)"
    return ""


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(np.abs(a - b) <= _REL * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))))


class ShortcutConditions:
    """Precomputed data to check conditions 1-5 (module docstring) for any coalition of a day."""

    def __init__(self, book: OrderBook, context: ClearingContext) -> None:
        self.book = book
        n, horizon = book.load_kw.shape
        self.day_reasons: list[str] = []
        fee = np.broadcast_to(np.asarray(book.p2p_fee_per_kwh, float), (horizon,))
        if np.any(fee != 0):
            self.day_reasons.append(f"P2P fee is not zero (max {fee.max():g}/kWh): internal exchange is not free")
        imp = np.broadcast_to(np.asarray(book.import_price_per_kwh, float), (horizon,))
        exp = np.broadcast_to(np.asarray(book.export_price_per_kwh, float), (horizon,))
        if np.any(imp < exp):
            self.day_reasons.append("export price exceeds import price in some interval")
        if context.options.get("voltage_band_pu") is not None:
            self.day_reasons.append("a voltage band is enforced")
        self.upper_buy, self.upper_sell = _bounds(book)
        self.feeder = context.feeder if context.enforce_feeder else None
        if self.feeder is not None:
            import scipy.sparse as sp

            agg = sp.csr_matrix((np.ones(n), (np.asarray(book.bus_index), np.arange(n))),
                                shape=(len(self.feeder.buses), n))
            self.reach = (self.feeder.downstream_matrix @ agg).toarray() if self.feeder.lines else np.zeros((0, n))
            self.rating = np.asarray(self.feeder.line_rating_kw, float)[:, None]
        devices = _plain_batteries(book)
        if devices:
            self.day_reasons.append(devices)
        s = book.storage
        self.device_owner = s.owner
        cap = s.energy_max_kwh[:, 0] if s.n_devices else np.zeros(0)
        safe = np.where(cap > 0, cap, 1.0)
        self.battery_key = np.column_stack([
            s.charge_efficiency[:, :1].ravel(), s.discharge_efficiency, s.charge_max_kw[:, :1].ravel() / safe,
            s.discharge_max_kw[:, :1].ravel() / safe, s.energy_min_kwh[:, :1].ravel() / safe,
            s.initial_kwh / safe,
        ]).astype(float).reshape(s.n_devices, 6)
        band = np.asarray(book.flexible_share, float)[:, None] * np.asarray(book.load_kw, float)
        self.flexible = (band > 0).any(axis=1)
        width = max(int(book.shift_window_intervals), 1)
        n_win = -(-horizon // width)
        padded = np.zeros((n, n_win * width))
        padded[:, :horizon] = band
        windows = padded.reshape(n, n_win, width)
        sums = windows.sum(axis=2, keepdims=True)
        self.window_sum = sums[:, :, 0]
        self.window_shape = np.divide(windows, sums, out=np.zeros_like(windows), where=sums > 0)

    def reasons(self, mask) -> list[str]:
        """Every failed condition for the coalition ``mask`` (empty: the shortcut is exact)."""
        members = _as_mask(self.book, mask)
        out = list(self.day_reasons)
        if not members.any():
            return out
        if self.feeder is not None:
            for name, bound in (("import", self.upper_buy), ("export", self.upper_sell)):
                total = bound[members].sum(axis=0)
                if total.max(initial=0.0) > self.feeder.transformer_limit_kw + 1e-9:
                    out.append(f"the transformer limit may bind ({name} up to {total.max():.1f} kW)")
                if self.reach.size and np.any(self.reach[:, members] @ bound[members] > self.rating + 1e-9):
                    out.append(f"a line rating may bind ({name})")
        owners = np.flatnonzero(members[self.device_owner])
        if len(owners) > 1 and not _close(self.battery_key[owners], self.battery_key[owners[:1]]):
            out.append("batteries differ in efficiency, C-rate or SoC fractions")
        flexible = np.flatnonzero(members & self.flexible)
        if len(flexible) > 1:
            shapes, sums = self.window_shape[flexible], self.window_sum[flexible]
            for w in range(shapes.shape[1]):
                active = sums[:, w] > 0
                if active.sum() > 1 and not _close(shapes[active, w], shapes[active, w][:1]):
                    out.append(f"flexible load profiles are not proportional within shift window {w}")
                    break
        return out

    def exact(self, mask) -> bool:
        """Whether the aggregate cost equals the full model's cost for ``mask``."""
        return not self.reasons(mask)


def aggregate_exact(book: OrderBook, context: ClearingContext, mask=None) -> ShortcutCheck:
    """Check conditions 1-5 of the module docstring for the coalition ``mask`` (default: everyone)."""
    members = np.ones(book.n_participants, dtype=bool) if mask is None else mask
    reasons = ShortcutConditions(book, context).reasons(members)
    return ShortcutCheck(not reasons, tuple(reasons))


def _aggregate_data(book: OrderBook, members: np.ndarray) -> dict[str, np.ndarray | float]:
    """Summed data of the coalition (the aggregate's bounds), plus the efficiencies it uses."""
    m = members.astype(float)
    s = book.storage
    mine = members[s.owner]
    upper_buy, upper_sell = _bounds(book)
    band = np.asarray(book.flexible_share, float)[:, None] * np.asarray(book.load_kw, float)
    first = np.flatnonzero(mine)

    def total(values: np.ndarray) -> float:
        return float(values[mine].sum()) if s.n_devices else 0.0

    column = (lambda a: a[:, 0]) if book.n_intervals else (lambda a: np.zeros(s.n_devices))
    return {
        "load": m @ book.load_kw, "pv": m @ book.pv_kw, "band": m @ band,
        "upper_buy": m @ upper_buy, "upper_sell": m @ upper_sell,
        "capacity": total(column(s.energy_max_kwh)),
        "max_charge": total(column(s.charge_max_kw)),
        "max_discharge": total(column(s.discharge_max_kw)),
        "soc_min": total(column(s.energy_min_kwh)),
        "soc_max": total(column(s.energy_max_kwh)),
        "soc_initial": total(s.initial_kwh),
        "charge_efficiency": float(s.charge_efficiency[first[0], 0]) if len(first) else None,
        "discharge_efficiency": float(s.discharge_efficiency[first[0]]) if len(first) else None,
    }


def aggregate_book(book: OrderBook, mask) -> OrderBook:
    """The one-participant book of the coalition ``mask`` (summed loads, PV, battery and limits).

    The flexible share of the result is nominal (sum of bands / sum of loads); the exact band
    sum_i f_i d_it is applied to the model's columns by :func:`aggregate_cost`.
    """
    members = _as_mask(book, mask)
    if not members.any():
        raise GameError("the aggregate of the empty coalition is not defined (its cost is 0)")
    data = _aggregate_data(book, members)
    load, band = data["load"], data["band"]
    share = float(band.sum() / load.sum()) if load.sum() > 0 and band.sum() > 0 else 0.0
    one = np.ones(1)
    return replace(
        book,
        participant_ids=("aggregate",),
        socio_class=("aggregate",),
        bus_index=np.asarray(book.bus_index)[np.flatnonzero(members)[:1]],
        load_kw=load[None, :],
        pv_kw=data["pv"][None, :],
        flexible_share=share * one,
        capacity_kwh=data["capacity"] * one,
        max_charge_kw=data["max_charge"] * one,
        max_discharge_kw=data["max_discharge"] * one,
        charge_efficiency=(data["charge_efficiency"] or 1.0) * one,
        discharge_efficiency=(data["discharge_efficiency"] or 1.0) * one,
        soc_min_kwh=data["soc_min"] * one,
        soc_max_kwh=data["soc_max"] * one,
        soc_initial_kwh=data["soc_initial"] * one,
        class_weight=one.copy(),
        income_per_year=one.copy(),
        storage_devices=None,  # the summed battery is the shorthand above
        shiftable_loads=None,
        bid_price_per_kwh=None,
    )


class AggregateSolver:
    """Aggregate cost of any coalition from ONE assembled one-participant model (bounds only).

    The model is the day model of the aggregate of the whole day (every block present); a
    coalition's aggregate is set through column and row bounds, and the battery efficiencies (the
    only data in the matrix) are changed when the coalition's differ. Pool purchases and sales of
    the single participant are fixed at 0 (they could only cancel each other at zero fee).

    Args:
        book: The day's order book (the grand coalition).
        context: Feeder, solver options; feeder rows are never built (the shortcut is used only
            where no feeder limit can bind).
    """

    def __init__(self, book: OrderBook, context: ClearingContext) -> None:
        from p2psim.markets._community_lp import build_day_model
        from p2psim.markets._lp import new_highs, pass_model

        self.book = book
        self.context = context
        grand = aggregate_book(book, np.ones(book.n_participants, dtype=bool))
        # keep every block in the structure: give the aggregate a battery, PV and flexibility
        grand = replace(grand, capacity_kwh=np.maximum(grand.capacity_kwh, 1.0),
                        max_charge_kw=np.maximum(grand.max_charge_kw, 1.0),
                        max_discharge_kw=np.maximum(grand.max_discharge_kw, 1.0),
                        pv_kw=np.maximum(grand.pv_kw, 1.0), load_kw=np.maximum(grand.load_kw, 1.0),
                        flexible_share=np.maximum(grand.flexible_share, 0.1))
        self.model = build_day_model(grand, replace(context, enforce_feeder=False))
        lp = self.model.lp
        self._highs = new_highs(context.solver)
        self._highs.setOptionValue("solver", "simplex")
        pass_model(self._highs, lp)
        self._lower = lp.col_lower.copy()
        self._upper = lp.col_upper.copy()
        self._row_lower = lp.row_lower.copy()
        self._row_upper = lp.row_upper.copy()
        self._all_cols = np.arange(lp.n_cols, dtype=np.int32)
        self._all_rows = np.arange(lp.n_rows, dtype=np.int32)
        idx = {kind: self.model.index(kind)[0] for kind in ("imp", "exp", "buy", "sell", "ch", "dis", "soc",
                                                              "curt", "shift")}
        self._idx = idx
        rows = {block.prefix: block for block in lp.row_blocks}
        self._rows = {name: rows[name].start + np.arange(rows[name].size) for name in rows}
        a = lp.A.tocsc()
        soc_rows = self._rows["soc"]
        self._eff_entries = []
        for kind in ("ch", "dis"):
            entries = []
            for col in idx[kind]:
                rows_of = a.indices[a.indptr[col]:a.indptr[col + 1]]
                entries.append(int(rows_of[np.isin(rows_of, soc_rows)][0]))
            self._eff_entries.append(np.array(entries, dtype=np.int32))
        self._efficiency = (float(grand.charge_efficiency[0]), float(grand.discharge_efficiency[0]))
        self.n_solves = 0

    def _set(self, data: dict) -> None:
        lo, up, rlo, rup = self._lower, self._upper, self._row_lower, self._row_upper
        idx, rows = self._idx, self._rows
        up[idx["imp"]] = data["upper_buy"]
        up[idx["exp"]] = data["upper_sell"]
        up[idx["buy"]] = up[idx["sell"]] = 0.0
        up[idx["ch"]] = data["max_charge"]
        up[idx["dis"]] = data["max_discharge"]
        lo[idx["soc"]] = data["soc_min"]
        lo[idx["soc"][-1]] = max(data["soc_min"], data["soc_initial"])
        up[idx["soc"]] = data["soc_max"]
        up[idx["curt"]] = data["pv"]
        lo[idx["shift"]], up[idx["shift"]] = -data["band"], data["band"]
        net = data["load"] - data["pv"]
        rlo[rows["balance"]] = rup[rows["balance"]] = net
        rlo[rows["soc"]] = rup[rows["soc"]] = 0.0
        rlo[rows["soc"][0]] = rup[rows["soc"][0]] = data["soc_initial"]
        if "use" in rows:
            rup[rows["use"]] = data["load"]
        if "source" in rows:
            rup[rows["source"]] = data["pv"]
        h = self._highs
        h.changeColsBounds(len(lo), self._all_cols, lo, up)
        h.changeRowsBounds(len(rlo), self._all_rows, rlo, rup)
        efficiency = (data["charge_efficiency"], data["discharge_efficiency"])
        if efficiency[0] is not None and efficiency != self._efficiency:
            dt = self.book.interval_hours
            (ch_rows, dis_rows), (ch_cols, dis_cols) = self._eff_entries, (idx["ch"], idx["dis"])
            for r, c in zip(ch_rows, ch_cols, strict=True):
                h.changeCoeff(int(r), int(c), -dt * efficiency[0])
            for r, c in zip(dis_rows, dis_cols, strict=True):
                h.changeCoeff(int(r), int(c), dt / efficiency[1])
            self._efficiency = efficiency

    def cost(self, mask) -> float:
        """Aggregate cost of the coalition ``mask`` (bitmask, boolean mask or indices)."""
        from p2psim.errors import ClearingError

        members = _as_mask(self.book, mask)
        if not members.any():
            return 0.0
        self._set(_aggregate_data(self.book, members))
        h = self._highs
        h.setOptionValue("time_limit", h.getRunTime() + float(self.context.solver.time_limit_s))
        h.run()
        self.n_solves += 1
        status = h.getModelStatus().name
        if status == "kOptimal":
            return float(h.getInfo().objective_function_value)
        if status in ("kInfeasible", "kUnboundedOrInfeasible"):
            return float("inf")
        raise ClearingError(f"day {self.context.day}: aggregate coalition LP ended with status {status}",
                            status="error")


def aggregate_cost(book: OrderBook, mask, context: ClearingContext, *, check: bool = True) -> float:
    """Cost of the coalition ``mask`` as one aggregate prosumer (one-participant day model).

    Args:
        book: The day's order book.
        mask: The coalition (bitmask, boolean mask or participant indices).
        context: Feeder and solver options of the day.
        check: Raise :class:`~p2psim.errors.GameError` when the shortcut is not exact for this
            coalition (conditions 1-5 of the module docstring); ``False`` returns the aggregate
            cost anyway (a lower bound when only condition 1 fails).
    """
    from p2psim.markets._community_lp import build_day_model
    from p2psim.markets._lp import new_highs, pass_model

    members = _as_mask(book, mask)
    if not members.any():
        return 0.0
    if check:
        reasons = ShortcutConditions(book, context).reasons(members)
        if reasons:
            raise GameError("the aggregate-prosumer cost is not exact for this coalition: " + "; ".join(reasons))
    one = aggregate_book(book, members)
    data = _aggregate_data(book, members)
    model = build_day_model(one, replace(context, enforce_feeder=False))
    lp = model.lp
    lower, upper = lp.col_lower.copy(), lp.col_upper.copy()
    for kind, bound in (("imp", data["upper_buy"]), ("exp", data["upper_sell"])):
        upper[model.index(kind)[0]] = bound
    for kind in ("buy", "sell"):
        upper[model.index(kind)[0]] = 0.0
    if len(model.owners["shift"]):
        cols = model.index("shift")[0]
        lower[cols], upper[cols] = -data["band"], data["band"]
    h = new_highs(context.solver)
    pass_model(h, replace(lp, col_lower=lower, col_upper=upper))
    h.run()
    status = h.getModelStatus().name
    if status != "kOptimal":
        return float("inf") if status in ("kInfeasible", "kUnboundedOrInfeasible") else float("nan")
    return float(h.getInfo().objective_function_value)
