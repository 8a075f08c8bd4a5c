"""Community rows of the day model: pool, peak, transformer, line flows and LinDistFlow voltages.

See :mod:`p2psim.markets._community_lp` for the formulation; ``b`` is its builder.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from p2psim.markets._lp_program import INF
from p2psim.markets.base import ClearingContext
from p2psim.markets.book import OrderBook


def feeder_topology(context: ClearingContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the far (downstream) bus and near bus of each line, and the line ending at each bus.

    ``line_of_bus[b]`` is the line whose far end is bus b (-1 for the root bus).
    """
    feeder = context.feeder
    index = feeder.bus_index
    ends = np.array([[index[line.from_bus], index[line.to_bus]] for line in feeder.lines], dtype=int)
    ends = ends.reshape(len(feeder.lines), 2)
    down = feeder.downstream_matrix.tocsr()
    first_is_far = np.asarray(down[np.arange(len(ends)), ends[:, 0]]).ravel() > 0
    child = np.where(first_is_far, ends[:, 0], ends[:, 1])
    parent = np.where(first_is_far, ends[:, 1], ends[:, 0])
    line_of_bus = np.full(len(feeder.buses), -1)
    line_of_bus[child] = np.arange(len(ends))
    return child, parent, line_of_bus


def community_rows(b, book: OrderBook, context: ClearingContext, col: dict, peak: np.ndarray,
                   upper_buy: np.ndarray, upper_sell: np.ndarray) -> None:
    """Pool, peak, transformer, line-flow and voltage rows of the community model."""
    n, horizon = book.load_kw.shape
    pool = b.rows("pool", (horizon,), 0.0, 0.0)
    b.add(pool[None, :], col["sell"], 1.0)
    b.add(pool[None, :], col["buy"], -1.0)
    peak_rows = b.rows("peak", (horizon,), -INF, 0.0)
    b.add(peak_rows[None, :], col["imp"], 1.0)
    b.add(peak_rows[None, :], col["exp"], -1.0)
    b.add(peak_rows, peak[0], -1.0)
    if not context.enforce_feeder:
        return
    feeder = context.feeder
    limit = feeder.transformer_limit_kw
    if upper_buy.sum(axis=0).max() > limit or upper_sell.sum(axis=0).max() > limit:
        tr = b.rows("transformer", (horizon,), -limit, limit)
        b.add(tr[None, :], col["imp"], 1.0)
        b.add(tr[None, :], col["exp"], -1.0)
    band = context.options.get("voltage_band_pu")
    bus = np.asarray(book.bus_index)
    if not feeder.lines:
        return
    agg = sp.csr_matrix((np.ones(n), (bus, np.arange(n))), shape=(len(feeder.buses), n))
    reach = feeder.downstream_matrix @ agg
    rating = feeder.line_rating_kw[:, None]
    if band is None and (reach @ upper_buy <= rating).all() and (reach @ upper_sell <= rating).all():
        return
    child, parent, line_of_bus = feeder_topology(context)
    n_lines = len(feeder.lines)
    line_ids = (tuple(line.id for line in feeder.lines), None)
    flow = b.cols("flow", (n_lines, horizon), -rating, rating, 0.0, -1, line_ids)
    rows = b.rows("flow", (n_lines, horizon), 0.0, 0.0, -1, line_ids)
    b.add(rows, flow, 1.0)
    parent_line = line_of_bus[parent]
    has_parent = parent_line >= 0
    b.add(rows[parent_line[has_parent]], flow[has_parent], -1.0)
    line_of = line_of_bus[bus]
    on_line = line_of >= 0
    for kind, sign in (("imp", -1), ("exp", 1), ("buy", -1), ("sell", 1)):
        b.add(rows[line_of[on_line]], col[kind][on_line], sign)
    if band is not None:
        v_min, v_max = (float(v) for v in band)
        v_root = float(context.options.get("root_voltage_pu", 1.0))
        lo = np.full((len(feeder.buses), horizon), v_min)
        up = np.full((len(feeder.buses), horizon), v_max)
        root = feeder.bus_index[feeder.root_bus]
        lo[root], up[root] = v_root, v_root
        volt = b.cols("volt", (len(feeder.buses), horizon), lo, up, 0.0, -1, (tuple(feeder.buses), None))
        drop = np.array([line.r_ohm for line in feeder.lines]) / (1000.0 * feeder.nominal_voltage_kv**2)
        vrows = b.rows("volt", (n_lines, horizon), 0.0, 0.0, -1, line_ids)
        b.add(vrows, volt[child], 1.0)
        b.add(vrows, volt[parent], -1.0)
        b.add(vrows, flow, drop[:, None])

