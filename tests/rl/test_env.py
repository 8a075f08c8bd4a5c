"""The equity coordinator environment: PettingZoo/Gymnasium contracts, actions, reward terms, timing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from p2psim.errors import OrderError, StudyError
from p2psim.rl.env import COORDINATOR, ClipActions, EquityEnv, EquityGymEnv, to_gymnasium

from .conftest import RURAL, make_env

pytestmark = pytest.mark.rl


def test_parallel_api_single_and_per_class():
    from pettingzoo.test import parallel_api_test

    parallel_api_test(make_env(episode_days=2), num_cycles=3)
    parallel_api_test(make_env(episode_days=2, per_class_agents=True), num_cycles=3)


def test_parallel_seed_test():
    from pettingzoo.test import parallel_seed_test

    parallel_seed_test(lambda: make_env(episode_days=2), num_cycles=4)
    parallel_seed_test(lambda: make_env(episode_days=2, per_class_agents=True), num_cycles=4)


def test_gymnasium_check_env():
    from gymnasium.utils.env_checker import check_env

    check_env(EquityGymEnv(make_env()), skip_render_check=True)
    assert isinstance(to_gymnasium(make_env()), EquityGymEnv)


@pytest.mark.parametrize("bad", [np.array([np.nan, 0, 0]), np.array([0.0, 0.9, 0.0]), np.zeros(2), "x"])
def test_bad_actions_raise(bad):
    env = make_env()
    env.reset(seed=0)
    with pytest.raises(OrderError):
        env.step({COORDINATOR: bad})


def test_missing_agent_and_step_after_end_raise():
    env = make_env(per_class_agents=True, episode_days=1)
    env.reset(seed=0)
    with pytest.raises(OrderError, match="missing"):
        env.step({"weight_low": np.zeros(1, np.float32)})
    env.step({a: np.zeros(1, np.float32) for a in env.agents})
    with pytest.raises(OrderError, match="reset"):
        env.step({})


def test_clip_wrapper_is_explicit():
    env = ClipActions(make_env())
    env.reset(seed=0)
    _, _, _, _, infos = env.step({COORDINATOR: np.array([5.0, np.nan, -5.0])})
    w = infos[COORDINATOR]["weights"]
    assert w["low"] == pytest.approx(np.exp(0.25)) and w["middle"] == pytest.approx(1.0)
    assert w["high"] == pytest.approx(np.exp(-0.25))


def test_reward_terms_logged_and_consistent():
    env = make_env(churn_weight=0.5)
    env.reset(seed=1)
    _, rewards, _, _, infos = env.step({COORDINATOR: np.array([0.2, 0.0, -0.2], np.float32)})
    info = infos[COORDINATOR]
    for key in ("gini", "inequity_penalty", "efficiency_loss", "efficiency_penalty", "churn", "churn_penalty",
                "community_cost", "equal_weight_cost"):
        assert key in info and np.isfinite(info[key])
    assert info["churn"] == pytest.approx(0.08, rel=1e-5)
    assert rewards[COORDINATOR] == pytest.approx(
        -info["inequity_penalty"] - info["efficiency_penalty"] - info["churn_penalty"])


def test_weights_enter_the_gate_and_reward_after_settlement():
    env = make_env()
    env.reset(seed=2)
    env.step({COORDINATOR: np.array([0.25, 0.0, -0.25], np.float32)})
    result = env.model.day_results[-1]
    assert result["class_weights"]["low"] == pytest.approx(np.exp(0.25))
    book = result["book"]
    low = [k for k, c in enumerate(book.socio_class) if c == "low"]
    assert np.allclose(book.class_weight[low], np.exp(0.25))
    phases = [(phase, day) for _, phase, day, _ in env.model.clock.events]
    assert phases[0] == ("gate", 0) and phases[-1] == ("settle", 0)  # the reward came after settle(0)


def test_weights_stay_within_bounds():
    env = make_env(episode_days=6, w_min=0.5, w_max=2.0)
    env.reset(seed=0)
    while env.agents:
        _, _, _, _, infos = env.step({COORDINATOR: np.full(3, 0.25, np.float32)})
    assert max(infos[COORDINATOR]["weights"].values()) == pytest.approx(2.0)


def test_day_by_day_equals_full_run():
    from dataclasses import replace

    from p2psim.markets import make_market

    from p2psim.data.community import build_scenario
    from p2psim.model import CommunityModel
    from p2psim.runner import community_stream, run_options
    from p2psim.study import load_study

    study = replace(load_study(RURAL), days=3)
    bills = []
    for stepwise in (False, True):
        model = CommunityModel(build_scenario(study, community_stream(0)), make_market(study.market), seed=5,
                               options=run_options(study))
        if stepwise:
            for d in range(3):
                model.clock.run(d, d + 1)
        else:
            model.run()
        bills.append(model.ledger.bills.bill.to_numpy())
    np.testing.assert_allclose(bills[0], bills[1])


def test_held_out_weeks_excluded_from_training():
    env = make_env(episode_days=7, held_out_weeks=(5, 18))
    days = set()
    for s in env.starts:
        days.update(range(s, s + 7))
    assert not days & set(range(35, 42)) and not days & set(range(126, 133))
    test = make_env(episode_days=7, held_out_weeks=(5, 18), split="test")
    assert list(test.starts) == [35, 126]
    _, infos = test.reset(seed=0)
    assert infos[COORDINATOR]["start_day"] == 35


def test_bad_configuration_is_a_study_error():
    with pytest.raises(StudyError):
        make_env(episode_days=0)
    with pytest.raises(StudyError):
        make_env(w_min=2.0)
    with pytest.raises(StudyError):
        EquityEnv.from_study(RURAL, overrides=["no_such_field=1"])


def test_default_market_is_the_studys():
    from p2psim.study import load_study

    assert make_env().study.market == load_study(RURAL).market


def test_reused_standalone_and_day_model_change_nothing(monkeypatch):
    # EqWM's stand-alone optimum serves as the grid_only_v1 counterfactual and, with the day model, as the
    # start of the equal-weight reference clearing: the rewards equal those of solving everything afresh
    import p2psim.rl.env as env_module
    from p2psim.model import CommunityModel

    def run():
        env = make_env(episode_days=2, overrides=("equity.use_binaries=never",))
        env.reset(seed=3)
        infos = [env.step({COORDINATOR: np.array(a, np.float32)})[4][COORDINATOR]
                 for a in ([0.25, -0.25, 0.1], [-0.2, 0.25, -0.25])]
        return infos, env

    fast, env = run()
    assert isinstance(env.model.market, env_module._RememberDay)
    assert not any(r["market"] == "grid_only_v1" for r in env.model.ledger.solver_records)
    assert env.model.ledger.dispatch.empty and env.model.ledger.bills.empty  # record=False in the env
    monkeypatch.setattr(CommunityModel, "_counterfactual", lambda self, book, context, clearing:
                        self.counterfactual.clear(book, context))
    monkeypatch.setattr(env_module, "_RememberDay", lambda market: market)
    slow, env = run()
    assert any(r["market"] == "grid_only_v1" for r in env.model.ledger.solver_records)
    for a, b in zip(fast, slow, strict=True):
        for key in ("reward", "gini", "community_cost", "equal_weight_cost", "standalone_bill", "total_bill"):
            assert a[key] == b[key], key


def test_model_reuses_the_eqwm_standalone_as_counterfactual(monkeypatch):
    # a normal EqWM run: the ledger's stand-alone bills are those of a fresh grid_only_v1 clearing
    import pandas as pd

    from p2psim.model import CommunityModel
    from p2psim.runner import run
    from p2psim.study import apply_overrides, load_study

    study = apply_overrides(load_study(str(Path(RURAL).with_name("tiny.py"))), ["market=eqwm_v1"])
    fast = run(study)
    assert not any(r["market"] == "grid_only_v1" for r in fast.solver_records)
    monkeypatch.setattr(CommunityModel, "_counterfactual", lambda self, book, context, clearing:
                        self.counterfactual.clear(book, context))
    slow = run(study)
    assert any(r["market"] == "grid_only_v1" for r in slow.solver_records)
    pd.testing.assert_frame_equal(fast.bills, slow.bills)
    pd.testing.assert_frame_equal(fast.dispatch, slow.dispatch)
    pd.testing.assert_frame_equal(fast.trades, slow.trades)


def test_stable_benefit_basis_pays_a_core_allocation():
    """benefit_basis="stable": the reward's benefits are a core point of the day's savings game."""
    from itertools import combinations

    env = make_env(episode_days=1, benefit_basis="stable", overrides=["community.max_participants=5"])
    env.reset(seed=0)
    low = env.agents[0]
    _, _, _, _, infos = env.step({low: np.zeros(env.action_space(low).shape, np.float32)})
    game, stable = env.last_stable
    players = game.players
    assert len(players) == 6
    assert infos[low]["cooperative_gain"] == pytest.approx(game.value(frozenset(players)), abs=1e-6)
    for size in range(1, len(players)):
        for coalition in combinations(players, size):
            assert sum(stable[p] for p in coalition) >= game.value(frozenset(coalition)) - 1e-6, coalition
    assert infos[low]["core_distance"] >= 0
    with pytest.raises(StudyError, match="benefit_basis"):
        make_env(benefit_basis="shapley")


def test_the_coordinator_observes_what_the_rule_pays():
    """Settled by a rule, the observation's class bills and the reward's Gini are the rule's, not the market's."""
    from p2psim.inequality import gini

    env = make_env(episode_days=1, overrides=["community.max_participants=5", "settlement_rule=equal_split"])
    env.reset(seed=0)
    agent = env.agents[0]
    obs, _, _, _, infos = env.step({agent: np.zeros(env.action_space(agent).shape, np.float32)})
    bills = env.model.day_results[-1]["bills"]
    k = env.n_classes

    def class_means(values):
        return [values[env._class_index == c].mean() for c in range(k)]

    np.testing.assert_allclose(obs[agent][:k], class_means(bills["bill"]), rtol=1e-5)
    assert not np.allclose(class_means(bills["bill"]), class_means(bills["market_bill"]))
    members = env._members
    r = bills["benefit"][members] / bills["need_cost"][members]
    assert infos[agent]["gini"] == pytest.approx(gini(r))
    np.testing.assert_allclose(bills["benefit"], bills["benefit"][0])  # equal split of the realised gain
