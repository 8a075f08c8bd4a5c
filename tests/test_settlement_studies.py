"""Settlement by a rule on the shipped studies: money balance every day, individual rationality under the
core rules on every member-day, dispatch and total cost the market's, size limits refused up front.

The default suite settles one rural day by every rule; ``-m slow`` runs every study (the six of the
paper, heat pumps and tiny) under every rule over seeds drawn by hypothesis.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2psim.config.study import load_study
from p2psim.energy_game.settlement_rule import SETTLEMENT_RULES, study_size_problem
from p2psim.errors import StudyError
from p2psim.runner import run

RULES = tuple(r for r in SETTLEMENT_RULES if r != "market")
STUDIES = ("tiny", "rural", "semiurban", "urban", "winter", "ev_evening", "mixed_income", "heat_pumps")
IR_RULES = ("equitable_core", "owen")
LOSS = 1e-9


def check_settled(result, rule: str) -> None:
    """Money balance on every day; under the core rules nobody pays more than alone on any member-day."""
    bills = result.bills
    outside = bills[["energy_cost", "fee_cost", "imbalance_cost", "peak_charge"]].sum(axis=1).groupby(bills.day).sum()
    paid = bills.groupby("day").bill.sum()
    np.testing.assert_allclose(paid, outside, atol=1e-6, err_msg=f"{result.study.name} under {rule}")
    np.testing.assert_allclose(paid, bills.groupby("day").market_bill.sum(), atol=1e-6)
    days = result.settlement_days
    assert len(days) == result.scenario.days and (days.paid - days.outside_payment).abs().max() <= 1e-6
    if rule in IR_RULES:
        worse = bills[bills.bill - bills.standalone_bill > LOSS]
        assert worse.empty, f"{result.study.name} under {rule}: paying more than alone:\n{worse}"


def settle_or_refuse(study, rule: str):
    """The run settled by ``rule``, or None when the rule's size limit refuses the community (checked)."""
    settled = replace(study, settlement_rule=rule)
    problem = study_size_problem(settled)
    if problem:
        with pytest.raises(StudyError, match="at most"):
            run(settled)
        return None
    return run(settled)


@pytest.fixture(scope="module")
def rural_day(rural_study):
    # the coordinator off and market settlement (rural settles by the equitable core by default), so the
    # market-settled day is the same physical day (the rule moves money only)
    study = replace(rural_study, days=1, seed=3, coordinator_policy=None, allocation=False, explain=False,
                    settlement_rule="market")
    return study, run(study)


@pytest.mark.parametrize("rule", RULES)
def test_one_rural_day_under_every_rule(rural_day, rule):
    study, market = rural_day
    result = settle_or_refuse(study, rule)
    if result is None:
        assert rule == "nucleolus"  # n = 14 > 10
        return
    check_settled(result, rule)
    pd.testing.assert_frame_equal(result.dispatch, market.dispatch)
    np.testing.assert_array_equal(result.bills.market_bill, market.bills.bill)
    amounts = result.bills.rule_amount
    assert amounts.sum() == pytest.approx(result.settlement_days.allocated.sum())
    if rule in IR_RULES:
        assert (amounts >= -1e-7).all()  # individually rational in the day-ahead game too


@pytest.mark.slow
@pytest.mark.parametrize("name", STUDIES)
@pytest.mark.parametrize("rule", RULES)
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_every_study_under_every_rule(helpers, name, rule, seed):
    study = replace(load_study(helpers.STUDIES / f"{name}.py"), days=1, seed=seed, allocation=False, explain=False)
    result = settle_or_refuse(study, rule)
    if result is not None:
        check_settled(result, rule)


@pytest.mark.slow
@pytest.mark.parametrize("name", STUDIES)
@pytest.mark.parametrize("rule", IR_RULES)
def test_core_rules_leave_nobody_above_alone_over_two_days(helpers, name, rule):
    # the studies as shipped (their coordinator, if any, observes what the rule pays)
    shipped = load_study(helpers.STUDIES / f"{name}.py")
    study = replace(shipped, days=min(2, shipped.days), allocation=False, explain=False)
    result = settle_or_refuse(study, rule)
    assert result is not None, f"{name}: {rule} refused"
    check_settled(result, rule)


def test_a_sweep_with_a_rule_beyond_its_size_exits_2_before_any_run(helpers, tmp_path, capsys):
    from p2psim.cli import main

    out = tmp_path / "sweep"
    status = main(["sweep", str(helpers.STUDIES / "semiurban.py"), "--set", "settlement_rule=market,nucleolus",
                   "--set", "days=1", "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 2 and err.count("p2psim: error:") == 1, err
    assert "semiurban.py with settlement_rule=nucleolus" in err and "at most 10 members" in err
    assert not out.exists()


def test_same_seed_same_payments_under_a_sampled_rule(rural_day):
    # n = 14: the weighted Shapley value is sampled, from the run's seed: the bills repeat exactly
    study, _ = rural_day
    first, second = (run(replace(study, settlement_rule="weighted_shapley")) for _ in range(2))
    pd.testing.assert_frame_equal(first.bills, second.bills)
    assert not first.day_results[0]["settlement_allocation"]["allocations"]["weighted_shapley"].exact


def test_a_rule_that_needs_coalitions_that_cannot_operate_alone_exits_2_naming_the_fix(helpers, tmp_path, capsys):
    """Behind a 10 kW transformer some coalitions of rural's first 7 members are infeasible alone: the
    equitable core cannot be computed, so the run stops with one message naming the rule and the fix;
    equal_split (which needs only v(N)) settles the same day."""
    from p2psim.cli import main

    common = [str(helpers.STUDIES / "rural.py"), "--days", "1", "--set", "community.max_participants=7",
              "--set", "transformer_limit_kw=10", "--set", "explain=false", "--set", "allocation=false"]
    status = main([*common, "--set", "settlement_rule=equitable_core", "--out", str(tmp_path / "core")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("p2psim: error:") == 1, err
    assert "settlement_rule='equitable_core' cannot settle day 0" in err and "settlement_rule=equal_split" in err
    assert not (tmp_path / "core").exists()
    assert main([*common, "--set", "settlement_rule=equal_split", "--out", str(tmp_path / "split")]) == 0
