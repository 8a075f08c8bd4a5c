import numpy as np
import pytest

from p2psim.errors import GameError
from p2psim.game import (
    additive_game,
    airport_game,
    bankruptcy_game,
    dividend_game,
    glove_game,
    in_core,
    random_convex_game,
    random_game_with_core,
    random_table_game,
    shapley_value,
    unanimity_game,
    weighted_majority_game,
)
from p2psim.game.cached import CachedGame


def fs(*names):
    return frozenset(names)


def test_glove_values():
    players, v = glove_game(["l1", "l2"], ["r1"])
    assert players == ("l1", "l2", "r1")
    assert v(fs("l1", "l2")) == 0 and v(fs("l1", "r1")) == 1 and v(fs(*players)) == 1


def test_unanimity_values_and_errors():
    _, v = unanimity_game(["a", "b", "c"], ["a", "b"], scale=2.0)
    assert v(fs("a", "b")) == 2.0 and v(fs("a", "c")) == 0.0
    with pytest.raises(GameError, match="carrier"):
        unanimity_game(["a"], ["z"])


def test_weighted_majority_values():
    _, v = weighted_majority_game({"a": 3, "b": 1, "c": 1}, quota=4)
    assert v(fs("a", "b")) == 1.0 and v(fs("b", "c")) == 0.0
    with pytest.raises(GameError, match="quota"):
        weighted_majority_game({"a": 1}, 0)


def test_airport_values():
    _, v = airport_game({"a": 1.0, "b": 5.0})
    assert v(fs("a")) == 0.0 and v(fs("a", "b")) == 1.0 and v(frozenset()) == 0.0
    with pytest.raises(GameError, match="runway cost"):
        airport_game({"a": -1.0})


def test_bankruptcy_values():
    _, v = bankruptcy_game({"a": 100, "b": 200}, 250)
    assert v(fs("a")) == 50 and v(fs("b")) == 150 and v(fs("a", "b")) == 250
    with pytest.raises(GameError, match="estate"):
        bankruptcy_game({"a": 1}, 2)


def test_additive_and_dividend_games():
    assert additive_game({"a": 1, "b": 2}).value(fs("a", "b")) == 3
    g = dividend_game(["a", "b"], {fs("a"): 1.0, fs("a", "b"): 2.0})
    assert g.value(fs("a")) == 1.0 and g.value(fs("a", "b")) == 3.0
    with pytest.raises(GameError, match="unknown players"):
        dividend_game(["a"], {fs("z"): 1.0})


def test_random_convex_game_is_supermodular_with_shapley_in_core():
    game = random_convex_game(list("abcdef"), 0)
    dividends = game.value.dividends
    assert all(d >= 0 for d in dividends.values())
    cache = CachedGame(*game)
    v = cache.all_values()
    for s in range(64):
        for t in range(64):
            assert v[s | t] + v[s & t] >= v[s] + v[t] - 1e-12
    assert in_core(cache.players, cache, shapley_value(cache.players, cache))


def test_random_games_are_reproducible():
    a = random_table_game(list("abcd"), np.random.default_rng(5))
    b = random_table_game(list("abcd"), np.random.default_rng(5))
    assert all(a.value(s) == b.value(s) for s in [fs("a", "b"), fs("b", "c", "d")])
    c = random_game_with_core(list("abcd"), np.random.default_rng(5))
    assert c.value(frozenset()) == 0.0
