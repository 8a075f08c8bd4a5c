"""Cumulative outcomes, the feedback controller and the episode figures, by hand and against the environment."""

from __future__ import annotations

import json

import numpy as np
import pytest

from p2psim.metrics.inequality import gini
from p2psim.rl.env import COORDINATOR, obs_layout, obs_size
from p2psim.rl.feedback import FeedbackController
from p2psim.rl.outcomes import CumulativeOutcomes

from .conftest import make_env

pytestmark = pytest.mark.rl


def _tracker():
    # members: two low (class 0), one high (class 1), and the aggregator (not a member, class -1)
    return CumulativeOutcomes(income=np.array([10_000.0, 20_000.0, 73_000.0, 0.0]),
                              class_index=np.array([0, 0, 1, -1]), members=np.array([True, True, True, False]),
                              n_classes=2)


def test_cumulative_outcomes_by_hand():
    t = _tracker()
    assert t.index == 0.0 and np.all(t.deficits == 0)
    # day 1: benefits 1, 0, 4 (aggregator 9) on needs 2, 2, 4
    t.add_day(bill=np.array([1.0, 2.0, -2.0, 0.0]), benefit=np.array([1.0, 0.0, 4.0, 9.0]),
              need=np.array([2.0, 2.0, 4.0, 0.0]), use_kwh=np.array([4.0, 4.0, 8.0, 0.0]),
              grid_kwh=np.array([2.0, 4.0, 0.0, 0.0]))
    r = np.array([0.5, 0.0, 1.0])
    assert t.day_gini == pytest.approx(gini(r)) and t.index == pytest.approx(gini(r))
    # day 2: the second low member gains 2 of need 2 -> cumulative r = (2/4, 2/4, 4/8)
    t.add_day(bill=np.array([1.0, 0.0, 1.0, 0.0]), benefit=np.array([1.0, 2.0, 0.0, 0.0]),
              need=np.array([2.0, 2.0, 4.0, 0.0]), use_kwh=np.array([4.0, 4.0, 8.0, 0.0]),
              grid_kwh=np.array([4.0, 0.0, 8.0, 0.0]))
    assert t.index == pytest.approx(0.0)  # everyone gained half of their need: equal
    assert t.day_gini == pytest.approx(gini(np.array([0.5, 1.0, 0.0])))
    np.testing.assert_allclose(t.deficits, [0.0, 0.0], atol=1e-12)
    burden, access, relative = t.cumulative_stats
    # low: paid max(2,0)+max(2,0)=4 over 2 days of 30,000 a year -> 4 * 365 / 2 / 30,000
    assert burden[0] == pytest.approx(4 * 365 / 2 / 30_000)
    assert burden[1] == pytest.approx(0.0)  # the high member's bills sum to -1: earnings, not a burden
    assert access[0] == pytest.approx(1 - 10 / 16) and access[1] == pytest.approx(1 - 8 / 16)
    assert relative[0] == pytest.approx(4 / 8) and relative[1] == pytest.approx(4 / 8)


def test_deficit_points_at_the_class_behind():
    t = _tracker()
    t.add_day(bill=np.zeros(4), benefit=np.array([0.0, 0.0, 4.0, 0.0]), need=np.array([2.0, 2.0, 4.0, 0.0]),
              use_kwh=np.ones(4), grid_kwh=np.zeros(4))
    # r = (0, 0, 1): mean 1/3, mean |r| 1/3; low mean 0 -> e = (1/3 - 0) / (1/3) = 1; high -> (1/3 - 1) / (1/3) = -2
    np.testing.assert_allclose(t.deficits, [1.0, -2.0])


def test_feedback_worked_example_and_integral():
    c = FeedbackController(("low", "middle", "high"), kp=4.0, ki=0.5)
    layout = obs_layout(3)
    obs = np.zeros(obs_size(3))
    obs[layout["deficit"]] = [0.10, 0.0, -0.10]
    np.testing.assert_allclose(c.act(obs), [0.25, 0.0, -0.25], atol=1e-7)  # u = +-0.45, rate-limited
    obs[layout["log_weights"]] = [0.25, 0.0, -0.25]
    obs[layout["deficit"]] = [0.0, 0.0, 0.0]
    # integral (0.1, 0, -0.1) alone: u = 0.5 * 0.1 = 0.05 -> target 0.05, action 0.05 - 0.25 = -0.2
    np.testing.assert_allclose(c.act(obs), [-0.2, 0.0, 0.2], atol=1e-7)
    c.reset()
    np.testing.assert_allclose(c.act(obs), [-0.25, 0.0, 0.25], atol=1e-7)  # back towards equal weights


def test_inequity_rewards_telescope_to_the_final_cumulative_index():
    env = make_env(episode_days=4)
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    total, info = 0.0, {}
    while env.agents:
        _, _, _, _, infos = env.step({COORDINATOR: rng.uniform(-0.25, 0.25, 3).astype(np.float32)})
        info = infos[COORDINATOR]
        total += info["inequity_reward"]
    assert total == pytest.approx(-env.inequity_weight * info["cumulative_gini"])
    # the index is the Gini of the members' summed benefits over summed needs (independent recomputation)
    bills = [r["bills"] for r in env.model.day_results]
    benefit = sum(b["benefit"] for b in bills)
    need = sum(b["need_cost"] for b in bills)
    members = np.array([p.socio_class != "community" for p in env.model.scenario.participants]) & (need > 0)
    assert info["cumulative_gini"] == pytest.approx(gini(benefit[members] / need[members]))


def test_observation_holds_deficits_index_and_weights():
    env = make_env(episode_days=2)
    env.reset(seed=0)
    obs, _, _, _, infos = env.step({COORDINATOR: np.array([0.2, 0.0, -0.1], np.float32)})
    layout = obs_layout(3)
    o = obs[COORDINATOR]
    assert o.shape == (obs_size(3),)
    np.testing.assert_allclose(o[layout["log_weights"]], [0.2, 0.0, -0.1], atol=1e-6)
    np.testing.assert_allclose(o[layout["deficit"]], env.outcomes.deficits, atol=1e-5)
    assert o[layout["inequity"]][1] == pytest.approx(infos[COORDINATOR]["cumulative_gini"], abs=1e-6)


def test_classes_are_canonical_and_mismatch_is_named():
    from p2psim.errors import StudyError

    assert make_env().classes == ("low", "middle", "high")
    with pytest.raises(StudyError, match=r"missing \['vip'\]"):
        make_env(classes=("low", "vip"))


def test_feedback_policy_for_other_classes_exits_2(tmp_path, capsys):
    import p2psim.cli.rl  # noqa: F401 - registers the sub-commands
    from p2psim.cli import main
    from p2psim.rl.policy import load_any_policy

    from .conftest import RURAL

    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "policy.json").write_text(json.dumps({"kind": "feedback", "classes": ["low", "high"], "kp": 1, "ki": 0}))
    assert load_any_policy(policy).classes == ("low", "high")
    code = main(["evaluate", RURAL, "--policy", str(policy), "--start-day", "10", "--days", "2", "--seeds", "0",
                 "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert "['low', 'high']" in err and "['low', 'middle', 'high']" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("start", "days", "needle"), [("400", "7", "--start-day 400"), ("360", "10", "--days 10"),
                                                       ("0", "0", "--days 0")])
def test_evaluate_window_outside_the_year_exits_2_before_any_episode(tmp_path, capsys, start, days, needle):
    import p2psim.cli.rl  # noqa: F401
    from p2psim.cli import main

    from .conftest import RURAL

    code = main(["evaluate", RURAL, "--policy", "feedback", "--start-day", start, "--days", days,
                 "--out", str(tmp_path / "out")])
    assert code == 2 and needle in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_evaluate_writes_summary_and_trajectories(tmp_path):
    from p2psim.rl.evaluate import FIGURES, evaluate

    from .conftest import RURAL

    summary = evaluate(RURAL, "feedback", 150, 3, [0], tmp_path / "eval", progress=False)
    written = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert set(written["policies"]) == {"feedback", "equal", "inverse_income", "best_static"}
    for entry in written["policies"].values():
        for name in FIGURES:
            assert name in entry and len(entry[f"{name}_ci95"]) == 2
    assert written["policies"]["equal"]["cost_above_equal_pct"] == 0.0
    assert set(summary["policies"]["feedback"]["paired_against"]) == {"equal", "inverse_income", "best_static"}
    assert (tmp_path / "eval" / "cumulative_inequity.png").stat().st_size > 0
    import pandas as pd

    days = pd.read_csv(tmp_path / "eval" / "days.csv")
    assert len(days) == 4 * 3
    last = days[days.day_index == 2].set_index("policy").cumulative_gini
    assert last["feedback"] == pytest.approx(written["policies"]["feedback"]["final_cumulative_inequity"])


def test_multi_study_env_passes_check_env():
    from gymnasium.utils.env_checker import check_env

    from p2psim.rl.env import EquityEnv
    from p2psim.rl.multi import MultiStudyGymEnv

    from .conftest import REPO

    envs = [EquityEnv.from_study(str(REPO / "studies" / f"{name}.py"), episode_days=2,
                                 overrides=("equity.use_binaries=never",)) for name in ("rural", "semiurban")]
    env = MultiStudyGymEnv(envs)
    check_env(env, skip_render_check=True)
    studies = {env.reset(seed=s)[1]["study"] for s in range(6)}
    assert studies == {"rural", "semiurban"}


def test_feedback_in_a_run_observes_the_runs_cumulative_index():
    """The hook's cumulative index (running sums) equals the run's equity_daily
    (p2psim.metrics.equity, from the ledger)."""
    from dataclasses import replace

    from p2psim.config.study import load_study
    from p2psim.rl.env import obs_layout
    from p2psim.rl.policy import coordinator_hook
    from p2psim.runner import run

    from .conftest import RURAL

    class Recording(FeedbackController):
        def act(self, obs):
            self.seen.append(float(obs[obs_layout(3)["inequity"]][1]))
            return super().act(obs)

    policy = Recording(("low", "middle", "high"), kp=1.0, ki=0.1)
    policy.seen = []
    study = replace(load_study(RURAL), days=3, settlement_rule="market", coordinator_policy=None, allocation=False,
                    explain=False)
    result = run(study, day_hooks=(coordinator_hook(policy, study),))
    np.testing.assert_allclose(policy.seen, result.equity_daily.gini_relative_benefit_cumulative, atol=1e-6)
    weights = [r["class_weights"] for r in result.day_results]
    assert weights[0] == {"low": 1.0, "middle": 1.0, "high": 1.0} and weights[1] != weights[0]


def test_best_static_is_searched_outside_the_evaluated_days(tmp_path):
    from p2psim.rl.evaluate import evaluate, training_windows

    from .conftest import RURAL

    for start, days in ((126, 56), (0, 300), (50, 3)):
        for w in training_windows(start, days):
            assert not set(range(w, w + 14)) & set(range(start, start + days))
    assert training_windows(0, 366) == []
    summary = evaluate(RURAL, "feedback", 150, 3, [0], tmp_path / "eval", progress=False)
    search = summary["best_static_search"]
    assert search["outside_evaluated_days"] and search["community_seed"] == 0
    for w in search["windows"]:
        assert not set(range(w, w + 3)) & {150, 151, 152}
