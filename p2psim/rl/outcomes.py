"""Day and cumulative-to-date equity outcomes the coordinator observes (model.md sections 3 and 6).

:class:`CumulativeOutcomes` keeps, per participant, the running sums of the settled days since the
episode (or run) began: bill, benefit, need, consumption and its grid-origin share. From them:

- per class c (group totals, :func:`p2psim.metrics.equity.class_observation`): energy burden
  ``sum_i max(bill_i, 0) * 365 / D / sum_i income_i``, renewable access
  ``1 - sum_i grid_i / sum_i use_i`` and relative benefit ``R_c = sum_i b_i / sum_i need_i``, for
  the day (D = 1) and cumulatively (D = days elapsed);
- the **inequity index of cumulative outcomes** ``G_t = gini(r_i)``, ``r_i = sum_{s<=t} b_i /
  sum_{s<=t} need_i`` over the equity members with positive need (the aggregator's class excluded):
  the same figure as ``gini_relative_benefit_cumulative`` of a run's ``equity_daily`` table, bounded
  in [0, 1] on any data (:func:`p2psim.metrics.inequality.gini`);
- the **class deficit** ``e_c = (mean_i r_i - mean_{i in c} r_i) / mean_i |r_i|`` of the members'
  cumulative relative benefit: positive when the members of class c have gained less, per unit of
  need, than the average member. Member means (not group totals) because the index is a Gini over
  members: one PV owner gaining 11 times its need (rural) dominates its class's group total and the
  index alike, and the deficit must point at it.

All arrays are per participant in the model's order; ``class_index`` is -1 outside the coordinated
classes (those members still count in ``G_t`` and ``R_all``).
"""

from __future__ import annotations

import numpy as np

from p2psim.metrics.equity import class_observation
from p2psim.metrics.inequality import gini

CLASS_QUANTITIES = ("energy_burden", "renewable_access", "relative_benefit")
"""Per-class blocks of the observation, in order (each K values, day then cumulative)."""


class CumulativeOutcomes:
    """Running per-participant sums of settled days and the equity figures derived from them."""

    def __init__(self, income: np.ndarray, class_index: np.ndarray, members: np.ndarray, n_classes: int) -> None:
        """``income`` per year, ``class_index`` (-1 = not coordinated), ``members`` (True = counts in the index)."""
        self.income = np.asarray(income, float)
        self.class_index = np.asarray(class_index, int)
        self.members = np.asarray(members, bool)
        self.n_classes = int(n_classes)
        n = self.income.size
        self.sums = {name: np.zeros(n) for name in ("bill", "benefit", "need", "use_kwh", "grid_kwh")}
        self.days = 0
        self.day_stats = np.zeros((3, self.n_classes))
        self.day_gini = 0.0

    def add_day(self, bill, benefit, need, use_kwh, grid_kwh) -> None:
        """Add one settled day (per-participant arrays)."""
        day = {"bill": bill, "benefit": benefit, "need": need, "use_kwh": use_kwh, "grid_kwh": grid_kwh}
        for name, value in day.items():
            self.sums[name] += np.asarray(value, float)
        self.days += 1
        self.day_stats = self._class_stats(day, 1.0)
        self.day_gini = self._gini(day["benefit"], day["need"])

    def _class_stats(self, sums: dict[str, np.ndarray], days: float) -> np.ndarray:
        full = class_observation(sums["bill"], sums["benefit"], sums["need"], sums["use_kwh"], sums["grid_kwh"],
                                 self.income, self.class_index, self.n_classes, days=days)
        return full[1:]  # drop the mean bill (currency: not comparable across studies)

    def _gini(self, benefit, need) -> float:
        benefit, need = np.asarray(benefit, float), np.asarray(need, float)
        keep = self.members & (need > 0)
        return gini(benefit[keep] / need[keep]) if keep.any() else 0.0

    @property
    def cumulative_stats(self) -> np.ndarray:
        """3 x K: cumulative burden, renewable access and relative benefit per class."""
        if self.days == 0:
            return np.zeros((3, self.n_classes))
        return self._class_stats(self.sums, float(self.days))

    @property
    def index(self) -> float:
        """G_t: the Gini of cumulative relative benefit over the members (0 before any day)."""
        return self._gini(self.sums["benefit"], self.sums["need"]) if self.days else 0.0

    def member_relative_benefit(self) -> tuple[np.ndarray, np.ndarray]:
        """(r_i, class index) of the members with positive cumulative need."""
        keep = self.members & (self.sums["need"] > 0)
        return self.sums["benefit"][keep] / self.sums["need"][keep], self.class_index[keep]

    @property
    def deficits(self) -> np.ndarray:
        """e_c = (mean_i r_i - mean_{i in c} r_i) / mean_i |r_i| per class (0 before any day or without members)."""
        out = np.zeros(self.n_classes)
        if self.days == 0:
            return out
        r, cls = self.member_relative_benefit()
        if r.size == 0:
            return out
        scale = float(np.abs(r).mean()) or 1.0
        for k in range(self.n_classes):
            if (cls == k).any():
                out[k] = (r.mean() - r[cls == k].mean()) / scale
        return out

__all__ = ["CLASS_QUANTITIES", "CumulativeOutcomes"]
