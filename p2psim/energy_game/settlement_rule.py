"""Settlement by an allocation rule (model.md 4b): members paid by Shapley, the equitable core, ...

A study's ``settlement_rule`` decides what members pay. ``market`` (the default): each member pays
its market bill m_i (:mod:`p2psim.sim.settlement`). Any other rule R (``shapley``, ``weighted_shapley``,
``owen``, ``equitable_core``, ``nucleolus``, ``equal_split``, ``proportional``) pays member i, for
day d,

    bill_i = B_i - x_i,

its realised stand-alone bill B_i (``standalone_bill``: what it would have paid alone that day, its
own forecast errors included) minus its share x_i of the day's realised community gain

    G = sum_i (B_i - m_i)  =  sum_i B_i - (what the community pays outside),

since the market bills sum to the outside payment (grid energy, P2P fees, imbalance, the demand
charge; pool payments net to zero). Money balance is exact by construction: sum_i x_i = G, so
sum_i bill_i = sum_i m_i every day (checked: :func:`check_money_balance`).

The rule allocates the day-ahead game v_d (:mod:`p2psim.energy_game.game`, on the day's forecasts): its
amounts phi_i sum to v_d(N). The realised gain differs from it by the gap
``Delta = sum_i phi_i - G``, and

    x_i = phi_i - Delta * s_i,     s_i = max(phi_i, 0) / P,   P = sum_j max(phi_j, 0),

(``s_i = 1/n`` when P <= :data:`~p2psim.units.MONEY_TOLERANCE`, i.e. when the rule gives nobody
anything): the gap is shared in proportion to the rule's positive shares. For a rule whose amounts
are non-negative (every core rule: x_i >= v({i}) = 0) this is ``x_i = phi_i * G / v_d(N)``: the
realised gain is split in the rule's own proportions, so whenever G >= 0 nobody pays more than alone
(bill_i <= B_i; scaling a non-negative allocation by a factor >= 0 keeps individual rationality).
A member the rule itself gives a negative amount (Shapley or equal split on a game outside the
core) keeps it and takes no part of the gap.

What the gap is made of (reported per day in ``settlement_days.parquet``), with
g = sum_i c({i}) - C the gain of the market's day-ahead schedule (C: the market bills of the
scheduled flows, at the forecasts, with the community demand charge):

- the dispatch gap ``v_d(N) - g = C - c(N) >= 0``: how far the market's schedule is from the
  cost optimum (EqWM with unequal weights or a Rawlsian floor, rule-based markets);
- the forecast gap ``g - G``: what forecast errors did to the community's gain. A member's own
  imbalance energy is charged to it at the tariff both in its market bill and in B_i (the same
  energy, the same price), so it cancels in G and is paid by whoever caused it; what is left is
  how deviations move *shared* charges -- the demand charge on the community's delivered peak
  against each member's own peak, and curtailment -- which nobody causes alone (another member's
  error can move the community peak to an hour in which i imports). Charging each member its own
  ``delta_i = (m_i - m_i^da) - (B_i - B_i^da)`` instead would make i pay for others' errors and
  break individual rationality under core rules, so the forecast gap is pooled with the dispatch
  gap and shared in the rule's proportions.

With perfect forecasts and a cost-minimising clearing (EqWM, equal weights, no Rawlsian term) the
gap is zero and ``bill_i = B_i - phi_i`` exactly. Physical dispatch and the community's total cost
are the market's: the rule moves money, not energy (with an equity coordinator the payments are what
it observes, so its weights, and hence later days' dispatch, may differ from the market-settled run).

Timing: the coordinator observes the settled day before it sets the next day's weights, so the
rule's allocation of day d is computed inside the day loop, at settle time of day d
(:class:`RuleSettlement`, one rule and what it needs: :func:`p2psim.energy_game.allocate.allocate_rule_day`);
weighted rules use the class weights day d was cleared with. The post-run allocation stage reuses
those allocations and coalition costs. Size limits (checked before the simulation starts,
:func:`size_problem`): the nucleolus up to ``nucleolus_max_players``, the equitable core up to
``certified_max_players`` (:class:`p2psim.energy_game.allocate.AllocationOptions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from p2psim.config.study import SETTLEMENT_RULES
from p2psim.errors import GameError, InvariantError, StudyError
from p2psim.metrics.equity import LOSS_TOLERANCE
from p2psim.sim.model import RunOptions
from p2psim.units import MONEY_TOLERANCE

CORE_RULES = ("owen", "equitable_core", "nucleolus")
"""Rules whose day-ahead allocation is individually rational (and, but for binding shared limits under
Owen, in the core): under them nobody pays more than alone on a day with a non-negative realised gain."""


def size_limits(options) -> dict[str, tuple[int, str, str]]:
    """Per rule with a size limit: the largest community it settles, the alternative rule and why."""
    return {
        "nucleolus": (options.nucleolus_max_players, "equitable_core",
                      "the core point closest to the weighted Shapley value; or owen, an LP-dual core point"),
        "equitable_core": (options.certified_max_players, "owen",
                           "an LP-dual core point, one LP a day at any size; or weighted_shapley"),
    }


def size_problem(rule: str, n: int, options) -> str | None:
    """Why ``rule`` cannot settle a community of ``n`` members (None when it can)."""
    limit = size_limits(options).get(rule)
    if limit is None or n <= limit[0]:
        return None
    most, alternative, why = limit
    return (f"settlement_rule={rule!r} settles communities of at most {most} members and this one has {n}; "
            f"settle by {alternative} instead ({why}): --set settlement_rule={alternative}")


def study_size_problem(study) -> str | None:
    """:func:`size_problem` of a study's rule and community (built only for a rule with a size limit)."""
    from p2psim.energy_game.allocate import allocation_options

    options = allocation_options(study)
    if study.settlement_rule not in size_limits(options):
        return None
    from p2psim.world.community import build_scenario, community_stream

    n = len(build_scenario(study, community_stream(study.seed)).participants)
    return size_problem(study.settlement_rule, n, options)


def gap_shares(amounts: np.ndarray) -> np.ndarray:
    """s_i: each member's share of the gap, max(phi_i, 0) / P (equal when P <= MONEY_TOLERANCE)."""
    positive = np.clip(np.asarray(amounts, dtype=float), 0, None)
    total = positive.sum()
    return positive / total if total > MONEY_TOLERANCE else np.full(positive.size, 1.0 / positive.size)


def realised_shares(amounts: np.ndarray, realised_gain: float) -> np.ndarray:
    """x_i = phi_i - (sum phi - G) s_i: the members' shares of the realised gain G (they sum to G)."""
    phi = np.asarray(amounts, dtype=float)
    return phi - (phi.sum() - float(realised_gain)) * gap_shares(phi)


def rule_bills(standalone_bill: np.ndarray, market_bill: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    """bill_i = B_i - x_i: the day's bills under a rule whose allocation of the day-ahead game is ``amounts``."""
    alone = np.asarray(standalone_bill, dtype=float)
    gain = float(alone.sum() - np.asarray(market_bill, dtype=float).sum())
    return alone - realised_shares(amounts, gain)


def check_money_balance(bill: np.ndarray, market_bill: np.ndarray, day: int, rule: str) -> None:
    """InvariantError when the day's bills under ``rule`` do not sum to what the community pays outside."""
    paid, outside = float(np.sum(bill)), float(np.sum(market_bill))
    if abs(paid - outside) > MONEY_TOLERANCE:
        raise InvariantError(f"money balance broken on day {day} under settlement_rule={rule!r}: members pay "
                             f"{paid:.9f} in total, the community pays {outside:.9f} outside "
                             f"(tolerance {MONEY_TOLERANCE})")


def rule_settlement(options, n_members: int, feeder, seed: int) -> RuleSettlement:
    """The day settler of ``options.settlement_rule`` for a community of ``n_members``.

    It is the model's :attr:`p2psim.sim.model.RunOptions.settlement_factory`; StudyError for an unknown
    rule or one beyond its size limit.
    """
    from p2psim.energy_game.allocate import AllocationOptions

    rule = options.settlement_rule
    if rule not in SETTLEMENT_RULES or rule == "market":
        raise StudyError(f"settlement_rule={rule!r} is not known; rules: {', '.join(SETTLEMENT_RULES)}")
    allocation = options.allocation or AllocationOptions(seed=seed)
    problem = size_problem(rule, n_members, allocation)
    if problem:
        raise StudyError(problem)
    return RuleSettlement(rule, allocation, feeder, options.solver, options.enforce_feeder)


def run_options(study) -> RunOptions:
    """The model options a study (:class:`p2psim.config.study.Study`) asks for, its rule's settler included."""
    from p2psim.energy_game.allocate import allocation_options

    return RunOptions(
        forecast_error=study.forecast_error,
        equity=study.equity,
        solver=study.solver,
        enforce_feeder=study.enforce_feeder,
        market_options=dict(study.market_options),
        settlement_rule=study.settlement_rule,
        allocation=allocation_options(study),
        settlement_factory=rule_settlement,
    )


@dataclass
class RuleSettlement:
    """Settles each day by one allocation rule inside the day loop (used by :meth:`CommunityModel.settle`)."""

    rule: str
    options: Any
    """:class:`p2psim.energy_game.allocate.AllocationOptions` (the stage's, so the stage can reuse the results)."""
    feeder: Any
    solver: Any
    enforce_feeder: bool = True

    def settle(self, day: int, book, standalone_bill: np.ndarray, market_bill: np.ndarray,
               day_ahead_market_bill: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, Any]]:
        """The day's bill columns under the rule, its row of ``settlement_days`` and the allocation to reuse.

        ``day_ahead_market_bill``: the market bills of the scheduled flows (forecasts, no imbalance),
        for the split of the gap into its dispatch and forecast parts.
        """
        from p2psim.energy_game.allocate import allocate_rule_day
        from p2psim.energy_game.game import DayGameSpec

        spec = DayGameSpec(day=day, book=book.with_weights({}), feeder=self.feeder, solver=self.solver,
                           enforce_feeder=self.enforce_feeder)
        weights = dict(zip(book.participant_ids, np.asarray(book.class_weight, dtype=float).tolist(), strict=True))
        try:
            computed = allocate_rule_day(spec, weights, self.rule, self.options)
        except GameError as exc:
            if "not finite" not in str(exc):
                raise
            raise StudyError(
                f"settlement_rule={self.rule!r} cannot settle day {day}: a coalition cannot operate alone under "
                f"the feeder's limits ({exc}); settle by a rule that needs only the community's value "
                "(--set settlement_rule=equal_split or proportional, or market), or relax transformer_limit_kw"
            ) from exc
        allocation = computed["allocations"][self.rule]
        phi = np.array([float(allocation[p]) for p in book.participant_ids])
        bill = rule_bills(standalone_bill, market_bill, phi)
        check_money_balance(bill, market_bill, day, self.rule)
        realised = float(np.sum(standalone_bill) - np.sum(market_bill))
        day_ahead_gain = float(np.sum(computed["standalone_cost"]) - np.sum(day_ahead_market_bill))
        row = {
            "day": day, "rule": self.rule,
            "game_value": float(computed["grand_value"]), "allocated": float(phi.sum()),
            "day_ahead_market_gain": day_ahead_gain, "realised_gain": realised,
            "dispatch_gap": float(computed["grand_value"]) - day_ahead_gain,
            "forecast_gap": day_ahead_gain - realised,
            "outside_payment": float(np.sum(market_bill)), "paid": float(bill.sum()),
            "members_paying_more_than_alone": int(np.sum(bill - standalone_bill > LOSS_TOLERANCE)),
            "seconds": float(computed["seconds"]),
        }
        return {"bill": bill, "rule_amount": phi}, row, computed


SUMMARY_KEYS = {"game_value": "settlement_game_value", "realised_gain": "settlement_realised_gain",
                "dispatch_gap": "settlement_dispatch_gap", "forecast_gap": "settlement_forecast_gap"}
"""summary.json keys of a rule-settled run: sums over days of the ``settlement_days`` columns (currency)."""


def settlement_table(day_results: list[dict[str, Any]]) -> pd.DataFrame | None:
    """``settlement_days``: one row per day of a run settled by a rule (None under ``market``)."""
    rows = [r["settlement"] for r in day_results if "settlement" in r]
    return pd.DataFrame(rows) if rows else None


def settlement_summary(table: pd.DataFrame | None) -> dict[str, float]:
    """The summary keys of :data:`SUMMARY_KEYS` (empty under ``market``)."""
    if table is None:
        return {}
    return {key: float(table[column].sum()) for column, key in SUMMARY_KEYS.items()}


def settled_stability(result) -> dict[str, float]:
    """The least advantaged class's cost of stability from the day loop's allocations (sweep rows).

    A run settled by ``equitable_core`` computed, each day, the weighted Shapley value (its target,
    with that day's class weights) and the equitable core; their class totals over the run give
    ``settled_cost_of_stability`` = weighted Shapley - equitable core (currency; what the poorest class
    gives up for stability, :func:`p2psim.energy_game.core_checks.stability_cost`) and
    ``settled_cost_of_stability_exact`` (1.0 when both were exact every day, else the weighted Shapley
    value was sampled). Empty for runs that did not compute both (a sweep runs no allocation stage).
    """
    from p2psim.energy_game.core_checks import stability_cost

    days = [r["settlement_allocation"]["allocations"] for r in result.day_results if "settlement_allocation" in r]
    both = ("weighted_shapley", "equitable_core")
    if not days or not all(set(both) <= set(day) for day in days):
        return {}
    rows = pd.DataFrame([{"rule": rule, "participant": p, "amount": amount, "exact": day[rule].exact}
                         for day in days for rule in both for p, amount in day[rule].items()])
    per = rows.groupby(["rule", "participant"], as_index=False).agg(amount=("amount", "sum"), exact=("exact", "all"))
    per = per.merge(result.participants[["participant", "socio_class", "income_per_year"]], on="participant")
    cost = stability_cost(per)
    return {"settled_cost_of_stability": cost["cost_of_stability"], "settled_cost_of_stability_exact": cost["exact"]}
