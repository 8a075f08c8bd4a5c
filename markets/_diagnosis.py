"""Diagnosis of an infeasible day: which limit, in which interval, cannot be met.

The day model is re-solved with elastic (slack) variables on its *limits*: the transformer rows,
the line ratings and voltage band (bounds of the ``flow`` and ``volt`` columns), the grid import and
export bounds (which carry the feeder in the stand-alone model) and, as a last resort with a
1,000 times larger penalty, the participant balance rows (energy that cannot be placed anywhere).
Minimising the weighted slack finds the smallest violation that would make the day feasible; every
limit with positive slack is reported by name, interval and amount, largest first.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sp
from p2psim.markets._community_lp import DayModel
from p2psim.markets._lp import solve
from p2psim.markets._lp_program import LinearProgram
from p2psim.markets.base import ClearingContext

LAST_RESORT = 1000.0
SHOWN = 5


def _clock(t: int, interval_hours: float) -> str:
    minutes = round(t * interval_hours * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


LIMITS = {"rows": (("transformer", 1.0), ("balance", LAST_RESORT)), "cols": (("flow", 1.0), ("volt", 1.0))}
"""Slack groups of the limits diagnosis: the feeder's limits, the balances as a last resort."""
DEVICE_FLOORS = {"rows": (("task_energy", 1.0), ("balance", LAST_RESORT)), "cols": (("soc", 1.0),)}
"""Slack groups of the device diagnosis: storage energy floors (targets) and shiftable energy, limits kept."""


def elastic_program(model: DayModel, slack: dict | None = None
                    ) -> tuple[LinearProgram, list[tuple[str, np.ndarray, bool]]]:
    """Return the elastic program and, per slack group, (block name, slack columns, is_row).

    ``slack`` names the row and column blocks that get slack and their weights (default
    :data:`LIMITS`; the stand-alone model's import and export bounds count as limits too).
    """
    lp = model.lp
    slack = slack or LIMITS
    groups: list[tuple[str, np.ndarray, float, bool]] = []
    for name, weight in slack["rows"]:
        if any(b.prefix == name and b.size for b in lp.row_blocks):
            block = lp.block(name, rows=True)
            groups.append((name, block.start + np.arange(block.size), weight, True))
    columns = slack["cols"]
    if slack is LIMITS and model.standalone:
        columns = (*columns, ("imp", 1.0), ("exp", 1.0))
    for name, weight in columns:
        if any(b.prefix == name and b.size for b in lp.col_blocks):
            block = lp.block(name)
            groups.append((name, block.start + np.arange(block.size), weight, False))
    out = LinearProgram(c=np.zeros(lp.n_cols), A=lp.A, row_lower=lp.row_lower.copy(), row_upper=lp.row_upper.copy(),
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
    """Return a human diagnosis naming the day, the intervals and the limits that cannot be met.

    With devices, a second elastic solve keeps every limit and relaxes only the devices' energy
    floors (targets, carried obligations) and shiftable energy: it names each device that falls
    short within the feeder's limits and by how much.
    """
    text = _diagnose(model, context, label, LIMITS)
    book = model.book
    if book.storage.n_devices or book.shiftable.n_devices:
        devices = _diagnose(model, context, label, DEVICE_FLOORS)
        if "device obligation" in devices:
            text += "\n" + devices
    return text


def _diagnose(model: DayModel, context: ClearingContext, label: str, slack: dict) -> str:
    program, groups = elastic_program(model, slack)
    result = solve(replace(program, integrality=np.zeros(program.n_cols, dtype=bool)), context.solver,
                   label=f"{label} (diagnosis)")
    if not result.has_solution:
        return (f"{label}: no diagnosis: the day stays infeasible even with slack on the transformer, "
                "lines, voltages and balances; check the devices' energy windows and initial energy")
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
            t = _last_interval(model, j) if name == "task_energy" else int(where[-1])
            what = model.lp.row_name(index) if is_row else model.lp.col_name(index)
            findings.append((amount, t, _describe(model, context, name, what, is_row, index, over[j] > 1e-6,
                                                  amount)))
    if not findings:
        return f"{label}: the solver reported infeasibility but no limit needs slack (numerical trouble)"
    findings.sort(key=lambda item: -item[0])
    lines = [f"  - interval {t} ({_clock(t, dt)}): {text}" for _, t, text in findings[:SHOWN]]
    more = f"\n  ... and {len(findings) - SHOWN} more" if len(findings) > SHOWN else ""
    what = "limit(s) cannot be met" if slack is LIMITS else "device obligation(s) cannot be met within the limits"
    return f"{label}: {len(findings)} {what}:\n" + "\n".join(lines) + more


def _last_interval(model: DayModel, j: int) -> int:
    """The last interval of shiftable load ``j``'s window today."""
    inside = np.flatnonzero(model.book.shiftable.power_max_kw[j] > 0)
    return int(inside[-1]) if len(inside) else 0


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
    if name == "task_energy":
        return (f"{what}: the shiftable load falls short of its least energy {lp.row_lower[index]:g} kWh by "
                f"{amount:.3f} kWh within the feeder's limits")
    lo, up = lp.col_lower[index], lp.col_upper[index]
    if name == "soc":
        return (f"{what}: the device falls short of its energy floor {lo:g} kWh (target or obligation) by "
                f"{amount:.3f} kWh within the feeder's limits (up to {up:g} kWh allowed)")
    if name == "flow":
        return f"{what}: the line rating of {up:g} kW cannot be met (exceeded by {amount:.3f} kW)"
    if name == "volt":
        return f"{what}: the voltage band [{lo:g}, {up:g}] pu cannot be met (off by {amount:.4f} pu)"
    return (f"{what}: needs {amount:.3f} kW beyond its limit of {up:g} kW (smallest line rating on its "
            "path or the transformer limit)")
