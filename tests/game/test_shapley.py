import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psim.game import (
    CachedGame,
    additive_game,
    airport_game,
    dividend_game,
    glove_game,
    null_players,
    random_convex_game,
    shapley_value,
    symmetric_pairs,
    unanimity_game,
    weighted_majority_game,
)
from p2psim.game.shapley_exact import exact_shapley_from_values, shapley_weights


def closed_form(players, dividends):
    return {p: sum(d / len(t) for t, d in dividends.items() if p in t) for p in players}


# ---------------------------------------------------------------- hand-checkable games


def test_two_player_split_the_surplus():
    # v(a)=1, v(b)=2, v(ab)=6: each gets its stand-alone value plus half of the 3 surplus.
    table = {frozenset(): 0, frozenset("a"): 1, frozenset("b"): 2, frozenset("ab"): 6}
    phi = shapley_value(["a", "b"], lambda s: table[s])
    assert phi["a"] == pytest.approx(2.5)
    assert phi["b"] == pytest.approx(3.5)
    assert phi.exact and phi.std_error is None and phi.n_value_calls == 4


def test_three_player_hand_computed():
    # v(1)=v(2)=v(3)=0, v(12)=v(13)=1, v(23)=0, v(123)=1  (player 1 is a "hub")
    def v(s):
        return 1.0 if "1" in s and len(s) >= 2 else 0.0

    phi = shapley_value(["1", "2", "3"], v)
    # player 1: orders where it is not first: 4 of 6 -> 2/3; players 2, 3: 1/6 each
    assert phi.to_array() == pytest.approx([2 / 3, 1 / 6, 1 / 6])


def test_single_player():
    phi = shapley_value(["solo"], lambda s: 7.0 if s else 0.0)
    assert dict(phi) == {"solo": 7.0}


def test_weights_formula():
    n = 4
    w = shapley_weights(n)
    assert w == pytest.approx([1 / 4, 1 / 12, 1 / 12, 1 / 4])


def test_unanimity_game():
    players = ["a", "b", "c", "d", "e"]
    phi = shapley_value(*unanimity_game(players, ["b", "d", "e"], scale=6.0))
    assert phi.to_array() == pytest.approx([0, 2, 0, 2, 2])


def test_glove_game_shapley():
    phi = shapley_value(*glove_game(["l"], ["r1", "r2"]))
    assert phi.to_array() == pytest.approx([2 / 3, 1 / 6, 1 / 6])


def test_airport_game_littlewood_rule():
    phi = shapley_value(*airport_game({"a": 1.0, "b": 2.0, "c": 3.0}))
    # cost shares 1/3, 1/3+1/2, 1/3+1/2+1; savings = own cost - cost share
    assert phi.to_array() == pytest.approx([1 - 1 / 3, 2 - 5 / 6, 3 - 11 / 6])


def test_weighted_majority_game():
    # [3; 2, 1, 1]: the big player is pivotal in 4 of 6 orders
    phi = shapley_value(*weighted_majority_game({"big": 2, "s1": 1, "s2": 1}, quota=3))
    assert phi.to_array() == pytest.approx([2 / 3, 1 / 6, 1 / 6])


def test_additive_game_returns_amounts():
    amounts = {"a": 1.5, "b": -0.5, "c": 3.0}
    assert dict(shapley_value(*additive_game(amounts))) == pytest.approx(amounts)


# ---------------------------------------------------------------- axioms on random games

dividends_strategy = st.dictionaries(
    st.frozensets(st.sampled_from("abcdef"), min_size=1, max_size=4),
    st.floats(-5, 5, allow_nan=False),
    max_size=8,
)
PLAYERS = list("abcdef")


@settings(max_examples=30, deadline=None)
@given(dividends_strategy)
def test_matches_closed_form_and_is_efficient(dividends):
    game = dividend_game(PLAYERS, dividends)
    phi = shapley_value(*game)
    assert dict(phi) == pytest.approx(closed_form(PLAYERS, dividends), abs=1e-9)
    assert phi.total() == pytest.approx(game.value(frozenset(PLAYERS)), abs=1e-9)


@settings(max_examples=20, deadline=None)
@given(dividends_strategy, dividends_strategy)
def test_additivity(d1, d2):
    g1, g2 = dividend_game(PLAYERS, d1), dividend_game(PLAYERS, d2)
    total = shapley_value(PLAYERS, lambda s: g1.value(s) + g2.value(s)).to_array()
    parts = shapley_value(*g1).to_array() + shapley_value(*g2).to_array()
    np.testing.assert_allclose(total, parts, atol=1e-9)


@settings(max_examples=20, deadline=None)
@given(dividends_strategy)
def test_symmetry_and_null_player(dividends):
    # add a null player "z" and a twin "a2" of "a"
    twin = {
        frozenset("a2" if p == "a" else p for p in t): d for t, d in dividends.items() if "a" in t
    }
    players = [*PLAYERS, "z"]

    def v(s):
        base = dividend_game(PLAYERS, dividends).value(s & set(PLAYERS))
        extra = sum(d for t, d in twin.items() if t <= s)
        return base + extra

    # "a2" behaves like a copy of "a" when both games are symmetric in a<->a2
    players2 = [*players, "a2"]

    def sym(s):
        swapped = frozenset("a" if p == "a2" else "a2" if p == "a" else p for p in s)
        return v(s) + v(swapped)

    game = CachedGame(players2, sym)
    phi = shapley_value(players2, game)
    assert phi["z"] == pytest.approx(0.0, abs=1e-9)
    assert phi["a"] == pytest.approx(phi["a2"], abs=1e-9)
    assert "z" in null_players(players2, game)
    assert ("a", "a2") in symmetric_pairs(players2, game)


# ---------------------------------------------------------------- against shapiq


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_shapiq_exact_computer(seed):
    shapiq = pytest.importorskip("shapiq")
    rng = np.random.default_rng(seed)
    n = 7
    players = [f"p{i}" for i in range(n)]
    table = rng.normal(size=1 << n)
    table[0] = 0.0

    def v(s):
        return float(table[sum(1 << players.index(p) for p in s)])

    def on_matrix(m):
        m = np.atleast_2d(m)
        return np.array([table[int(sum(1 << k for k in np.flatnonzero(row)))] for row in m])

    ref = shapiq.ExactComputer(on_matrix, n_players=n)("SV").get_n_order_values(1)
    np.testing.assert_allclose(shapley_value(players, v).to_array(), ref, atol=1e-10)
    np.testing.assert_allclose(exact_shapley_from_values(table), ref, atol=1e-10)


# ---------------------------------------------------------------- sampled estimates


def _game8(seed=3):
    rng = np.random.default_rng(seed)
    return random_convex_game([f"p{i}" for i in range(8)], rng, n_terms=20, max_size=4)


@pytest.mark.parametrize("sampler", ["stratified", "antithetic"])
def test_sampled_is_flagged_and_converges_on_8_players(sampler):
    game = _game8()
    exact = shapley_value(*game).to_array()
    est = shapley_value(*game, method="sampled", budget=2000, seed=11, sampler=sampler)
    assert not est.exact
    assert "sampled estimate" in repr(est)
    se = np.array([est.std_error[p] for p in game.players])
    assert np.all(se >= 0)
    assert est.n_value_calls <= 2000
    assert np.max(np.abs(est.to_array() - exact)) < 0.02 * np.abs(exact).max()
    assert np.all(np.abs(est.to_array() - exact) <= 5 * se + 1e-9)
    assert est.meta["sampler"] == sampler


def test_sampled_is_reproducible_with_seed():
    game = _game8()
    a = shapley_value(*game, method="sampled", budget=600, seed=5)
    b = shapley_value(*game, method="sampled", budget=600, seed=np.random.default_rng(5))
    assert dict(a) == dict(b)


def test_sampled_respects_budget_on_shared_cache():
    game = _game8()
    cache = CachedGame(game.players, game.value)
    before = cache.n_value_calls
    est = shapley_value(cache.players, cache, method="sampled", budget=300, seed=1)
    assert est.n_value_calls == cache.n_value_calls - before <= 300


@pytest.mark.parametrize("n", [1, 2, 3])
def test_sampled_tiny_games(n):
    players = [f"p{i}" for i in range(n)]

    def v(s):
        return float(len(s) ** 2)

    est = shapley_value(players, v, method="sampled", budget=200, seed=0)
    np.testing.assert_allclose(est.to_array(), shapley_value(players, v).to_array(), atol=1e-12)
    assert not est.exact


def test_stratified_beats_plain_error_scale_on_100_players():
    """n=100 dividend game with known Shapley value: the estimate is within its error bars."""
    rng = np.random.default_rng(0)
    players = [f"p{i:03d}" for i in range(100)]
    dividends = {}
    for _ in range(300):
        t = frozenset(players[k] for k in rng.choice(100, size=rng.integers(1, 4), replace=False))
        dividends[t] = dividends.get(t, 0.0) + rng.random()
    game = dividend_game(players, dividends)
    truth = np.array(list(closed_form(players, dividends).values()))
    est = shapley_value(*game, method="sampled", budget=6000, seed=2)
    se = np.array(list(est.std_error.values()))
    z = (est.to_array() - truth) / se
    assert est.n_value_calls <= 6000
    assert np.mean(np.abs(z) < 2.58) > 0.9  # roughly calibrated error bars
    assert est.total() == pytest.approx(truth.sum(), rel=0.05)
