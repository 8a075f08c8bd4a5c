"""Diagnosis of an infeasible day: which limit, in which interval, cannot be met.

The day model is re-solved with elastic (slack) variables on its *limits*: the transformer rows,
the line ratings and voltage band (bounds of the ``flow`` and ``volt`` columns), the grid import and
export bounds (which carry the feeder in the stand-alone model) and, as a last resort with a
1,000 times larger penalty, the participant balance rows (energy that cannot be placed anywhere).
Minimising the weighted slack finds the smallest violation that would make the day feasible; every
limit with positive slack is reported by name, interval and amount, largest first.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from p2psim.markets._community_lp import DayModel
from p2psim.markets._lp import LinearProgram, solve
from p2psim.markets.base import ClearingContext

LAST_RESORT = 1000.0
SHOWN = 5


def _clock(t: int, interval_hours: float) -> str:
    minutes = round(t * interval_hours * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def elastic_program(model: DayModel) -> tuple[LinearProgram, list[tuple[str, np.ndarray, bool]]]:
    """Return the elastic program and, per slack group, (block name, slack columns, is_row)."""
    lp = model.lp
    groups: list[tuple[str, np.ndarray, float, bool]] = []
    for name, weight in (("transformer", 1.0), ("balance", LAST_RESORT)):
        if any(b.prefix == name for b in lp.row_blocks):
            block = lp.block(name, rows=True)
            groups.append((name, block.start + np.arange(block.size), weight, True))
    for name in ("flow", "volt", "imp", "exp") if model.standalone else ("flow", "volt"):
        if any(b.prefix == name for b in lp.col_blocks):
            block = lp.block(name)
            groups.append((name, block.start + np.arange(block.size), 1.0, False))
    out = LinearProgram(c=np.zeros(lp.n_cols), A=lp.A, row_lower=lp.row_lower, row_upper=lp.row_upper,
                        col_lower=lp.col_lower.copy(), col_upper=lp.col_upper.copy(),
                        col_blocks=lp.col_blocks, row_blocks=lp.row_blocks)
    slack_groups = []
    for name, idx, weight, is_row in groups:
        k = len(idx)
        if is_row:  # row + p - n in [lo, up]
            coef = sp.csr_matrix((np.r_[np.ones(k), -np.ones(k)], (np.r_[idx, idx], np.arange(2 * k))),
                                 shape=(out.n_rows, 2 * k))
            first = out.n_cols
            out = out.with_columns(c=np.full(2 * k, weight), lower=np.zeros(2 * k), upper=np.full(2 * k, np.inf),
                                   integer=False, prefix=f"slack_{name}", shape=(2, k), coef=coef)
        else:  # lo <= x + p - n <= up with x's own bounds relaxed to the physical sign only
            first = out.n_cols
            out = out.with_columns(c=np.full(2 * k, weight), lower=np.zeros(2 * k), upper=np.full(2 * k, np.inf),
                                   integer=False, prefix=f"slack_{name}", shape=(2, k))
            link = sp.csr_matrix((np.r_[np.ones(k), np.ones(k), -np.ones(k)],
                                  (np.r_[np.arange(k), np.arange(k), np.arange(k)],
                                   np.r_[idx, first + np.arange(k), first + k + np.arange(k)])),
                                 shape=(k, out.n_cols))
            out = out.with_rows(coef=link, lower=lp.col_lower[idx], upper=lp.col_upper[idx],
                                prefix=f"limit_{name}", shape=(k,))
            out.col_lower[idx] = np.where(lp.col_lower[idx] >= 0, 0.0, -np.inf)
            out.col_upper[idx] = np.inf
        slack_groups.append((name, first + np.arange(2 * k), is_row))
    return out, slack_groups


def diagnose_infeasible(model: DayModel, context: ClearingContext, *, label: str) -> str:
    """Return a human diagnosis naming the day, the intervals and the limits that cannot be met."""
    program, groups = elastic_program(model)
    result = solve(program, context.solver, label=f"{label} (diagnosis)")
    if not result.has_solution:
        return (f"{label}: no diagnosis: the day stays infeasible even with slack on the transformer, "
                "lines, voltages and balances; check battery SoC windows and initial SoC")
    x = result.x
    dt = model.book.interval_hours
    findings = []
    for name, cols, is_row in groups:
        k = len(cols) // 2
        over, under = x[cols[:k]], x[cols[k:]]
        block = model.lp.block(name, rows=is_row)
        for j in np.flatnonzero((over > 1e-6) | (under > 1e-6)):
            amount = float(over[j] + under[j])
            index = block.start + j
            where = np.unravel_index(j, block.shape)
            t = int(where[-1])
            what = model.lp.row_name(index) if is_row else model.lp.col_name(index)
            findings.append((amount, t, _describe(model, context, name, what, is_row, index, over[j] > 1e-6,
                                                  amount)))
    if not findings:
        return f"{label}: the solver reported infeasibility but no limit needs slack (numerical trouble)"
    findings.sort(key=lambda item: -item[0])
    lines = [f"  - interval {t} ({_clock(t, dt)}): {text}" for _, t, text in findings[:SHOWN]]
    more = f"\n  ... and {len(findings) - SHOWN} more" if len(findings) > SHOWN else ""
    return f"{label}: {len(findings)} limit(s) cannot be met:\n" + "\n".join(lines) + more


def _describe(model: DayModel, context: ClearingContext, name: str, what: str, is_row: bool, index: int,
              too_high: bool, amount: float) -> str:
    lp = model.lp
    if name == "transformer":
        limit = context.feeder.transformer_limit_kw
        side = "export" if too_high else "import"  # row + p - n: p > 0 means activity below the lower bound
        return (f"{what}: the transformer limit of {limit:g} kW cannot be met; the community must {side} "
                f"{amount:.3f} kW more than it allows (no storage, flexibility or curtailment left)")
    if name == "balance":
        return (f"{what}: the participant's energy balance cannot be met by {amount:.3f} kW; check its "
                "battery and flexibility data")
    lo, up = lp.col_lower[index], lp.col_upper[index]
    if name == "flow":
        return f"{what}: the line rating of {up:g} kW cannot be met (exceeded by {amount:.3f} kW)"
    if name == "volt":
        return f"{what}: the voltage band [{lo:g}, {up:g}] pu cannot be met (off by {amount:.4f} pu)"
    return (f"{what}: needs {amount:.3f} kW beyond its limit of {up:g} kW (smallest line rating on its "
            "path or the transformer limit)")
