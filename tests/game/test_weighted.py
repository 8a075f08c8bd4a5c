import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psim.game import (
    dividend_game,
    random_convex_game,
    shapley_value,
    unanimity_game,
    weighted_shapley_value,
)
from p2psim.game.weighted import weighted_random_orders

PLAYERS = list("abcdef")
dividends_strategy = st.dictionaries(
    st.frozensets(st.sampled_from(PLAYERS), min_size=1, max_size=4),
    st.floats(-5, 5, allow_nan=False),
    max_size=8,
)


def closed_form(players, dividends, w):
    weight = dict(zip(players, w, strict=True))
    return np.array(
        [
            sum(d * weight[p] / sum(weight[q] for q in t) for t, d in dividends.items() if p in t)
            for p in players
        ]
    )


def test_unanimity_game_splits_by_weight():
    w = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
    phi = weighted_shapley_value(*unanimity_game(list(w), ["b", "c", "d"], scale=9.0), w)
    assert phi.to_array() == pytest.approx([0.0, 2.0, 3.0, 4.0])
    assert phi.method == "weighted_shapley" and phi.exact
    assert phi.meta["weights"] == w


def test_two_player_hand_computed():
    # v(a)=1, v(b)=0, v(ab)=4: dividends d(a)=1, d(ab)=3 split 1:3
    table = {frozenset(): 0, frozenset("a"): 1, frozenset("b"): 0, frozenset("ab"): 4}
    phi = weighted_shapley_value(["a", "b"], lambda s: table[s], [1.0, 3.0])
    assert phi.to_array() == pytest.approx([1.75, 2.25])


@settings(max_examples=30, deadline=None)
@given(dividends_strategy, st.lists(st.floats(0.1, 10), min_size=6, max_size=6))
def test_matches_dividend_formula_and_is_efficient(dividends, w):
    game = dividend_game(PLAYERS, dividends)
    phi = weighted_shapley_value(*game, w)
    np.testing.assert_allclose(phi.to_array(), closed_form(PLAYERS, dividends, w), atol=1e-8)
    assert phi.total() == pytest.approx(game.value(frozenset(PLAYERS)), abs=1e-8)


@settings(max_examples=30, deadline=None)
@given(dividends_strategy, st.floats(0.01, 100))
def test_equal_weights_reproduce_shapley(dividends, c):
    game = dividend_game(PLAYERS, dividends)
    np.testing.assert_allclose(
        weighted_shapley_value(*game, [c] * 6).to_array(),
        shapley_value(*game).to_array(),
        atol=1e-9,
    )


def test_order_sampler_last_player_law():
    w = np.array([1.0, 2.0, 3.0, 4.0])
    orders = weighted_random_orders(w, 40000, np.random.default_rng(0))
    last = np.bincount(orders[:, -1], minlength=4) / 40000
    np.testing.assert_allclose(last, w / w.sum(), atol=0.01)
    # given the last is player 3, the one before is drawn from {0,1,2} prop. to weight
    sub = orders[orders[:, -1] == 3]
    before = np.bincount(sub[:, -2], minlength=4)[:3] / len(sub)
    np.testing.assert_allclose(before, w[:3] / w[:3].sum(), atol=0.015)


def test_sampled_converges_on_8_players():
    game = random_convex_game([f"p{i}" for i in range(8)], np.random.default_rng(4), 20, 4)
    w = np.linspace(0.5, 4.0, 8)
    exact = weighted_shapley_value(*game, w).to_array()
    est = weighted_shapley_value(*game, w, method="sampled", budget=3000, seed=1)
    se = np.array(list(est.std_error.values()))
    assert not est.exact and "sampled estimate" in repr(est)
    assert est.n_value_calls <= 3000
    assert np.all(np.abs(est.to_array() - exact) <= 5 * se + 1e-9)
    assert np.max(np.abs(est.to_array() - exact)) < 0.03 * np.abs(exact).max()


def test_sampled_unbiased_on_40_players_dividend_game():
    rng = np.random.default_rng(1)
    players = [f"p{i}" for i in range(40)]
    dividends = {}
    for _ in range(60):
        t = frozenset(players[k] for k in rng.choice(40, size=rng.integers(1, 4), replace=False))
        dividends[t] = rng.random()
    w = rng.uniform(0.5, 3.0, 40)
    est = weighted_shapley_value(*dividend_game(players, dividends), w, "sampled", 8000, 3)
    z = (est.to_array() - closed_form(players, dividends, w)) / np.array(
        list(est.std_error.values())
    )
    assert np.mean(np.abs(z) < 2.58) > 0.9


def test_group_std_error_from_the_covariance():
    from p2psim.game.weighted import group_std_error

    players = [f"p{i}" for i in range(6)]
    game = random_convex_game(players, np.random.default_rng(2), 10, 3)
    w = np.linspace(0.5, 3.0, 6)
    exact = weighted_shapley_value(*game, w)
    group = players[:3]
    assert group_std_error(exact, group) == 0.0
    totals, errors = [], []
    for seed in range(300):
        est = weighted_shapley_value(*game, w, method="sampled", budget=60, seed=seed)
        totals.append(sum(est[p] for p in group))
        errors.append(group_std_error(est, group))
        # one member: its own standard error; all members: every order's contributions add up to v(N)
        assert group_std_error(est, ["p4"]) == pytest.approx(est.std_error["p4"])
        assert group_std_error(est, players) == pytest.approx(0.0, abs=1e-7)
        assert errors[-1] <= sum(est.std_error[p] for p in group) + 1e-12
    # the estimated standard error matches the spread of the group total over independent seeds
    spread = np.std(totals, ddof=1)
    assert 0.8 * spread <= np.mean(errors) <= 1.25 * spread
    assert np.mean(totals) == pytest.approx(sum(exact[p] for p in group), abs=3 * spread / np.sqrt(300))
