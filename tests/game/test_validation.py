import math

import numpy as np
import pytest

from p2psim.errors import GameError
from p2psim.game import CachedGame, shapley_value, weighted_shapley_value
from p2psim.game._validate import validate_budget, validate_weights


def _size(s):
    return float(len(s))


@pytest.mark.parametrize(
    ("players", "match"),
    [
        ([], "at least one player"),
        (["a", "a"], "duplicate player name 'a'"),
        (["a", ""], "non-empty strings"),
        (["a", "  "], "non-empty strings"),
        (["a", 3], "non-empty strings"),
        ("ab", "not a single string"),
    ],
)
def test_bad_players(players, match):
    with pytest.raises(GameError, match=match):
        shapley_value(players, _size)


def test_game_error_is_value_error():
    assert issubclass(GameError, ValueError)


def test_nonzero_empty_value_reports_value():
    with pytest.raises(GameError, match=r"v\(empty coalition\) must be 0.*2\.5"):
        CachedGame(["a", "b"], lambda s: len(s) + 2.5)


def test_tiny_empty_value_is_accepted():
    game = CachedGame(["a"], lambda s: 1.0 if s else 1e-12)
    assert game.value_of_mask(0) == 0.0


def test_nan_value_names_coalition():
    def v(s):
        return math.nan if s == {"b", "a"} else float(len(s))

    with pytest.raises(GameError, match=r"\['a', 'b'\].*not finite: nan"):
        shapley_value(["b", "a", "c"], v)


def test_inf_value_names_coalition():
    with pytest.raises(GameError, match=r"\['c'\].*inf"):
        shapley_value(["a", "c"], lambda s: math.inf if s == {"c"} else 0.0)


def test_raising_value_names_coalition_and_error():
    def v(s):
        if s == {"a", "c"}:
            raise KeyError("missing tariff")
        return float(len(s))

    with pytest.raises(GameError, match=r"\['a', 'c'\].*KeyError.*missing tariff") as info:
        shapley_value(["a", "b", "c"], v)
    assert isinstance(info.value.__cause__, KeyError)


def test_non_numeric_value():
    with pytest.raises(GameError, match="not a number"):
        shapley_value(["a"], lambda s: "x" if s else 0.0)


def test_cache_evaluates_each_coalition_once():
    calls = []

    def v(s):
        calls.append(s)
        return float(len(s) ** 2)

    game = CachedGame(["a", "b", "c"], v)
    shapley_value(game.players, game)
    shapley_value(game.players, game)
    assert game.n_value_calls == 8 == len(calls)
    assert len(set(calls)) == 8
    assert game.value(["a", "b"]) == 4.0
    assert game.n_value_calls == 8


def test_cached_game_with_other_players_rejected():
    game = CachedGame(["a", "b"], _size)
    with pytest.raises(GameError, match="other players"):
        shapley_value(["b", "a"], game)


def test_unknown_player_in_coalition():
    game = CachedGame(["a"], _size)
    with pytest.raises(GameError, match="unknown player 'z'"):
        game.value(["z"])


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ([1.0, 0.0], r"player 'b'.*0\.0"),
        ([1.0, -2.0], r"player 'b'.*-2\.0"),
        ([math.inf, 1.0], r"player 'a'.*inf"),
        ([math.nan, 1.0], r"player 'a'.*nan"),
        ([1.0], "expected 2 weights"),
        ({"a": 1.0}, r"no weight for players \['b'\]"),
        ({"a": 1.0, "b": 1.0, "z": 1.0}, r"unknown players \['z'\]"),
        (["x", 1.0], "not a number"),
    ],
)
def test_bad_weights(weights, match):
    with pytest.raises(GameError, match=match):
        weighted_shapley_value(["a", "b"], _size, weights)


def test_weights_mapping_and_sequence_agree():
    np.testing.assert_allclose(
        validate_weights(["a", "b"], {"b": 2.0, "a": 1.0}), validate_weights(["a", "b"], [1, 2])
    )


def test_budget_checks():
    with pytest.raises(GameError, match="needs a budget"):
        shapley_value(["a", "b", "c"], _size, method="sampled")
    with pytest.raises(GameError, match="too small"):
        shapley_value(["a", "b", "c"], _size, method="sampled", budget=3)
    with pytest.raises(GameError, match="integer"):
        validate_budget(True, 1, "x")
    with pytest.raises(GameError, match="integer"):
        validate_budget(10.5, 1, "x")


def test_unknown_method_and_sampler():
    with pytest.raises(GameError, match="unknown method 'fast'"):
        shapley_value(["a"], _size, method="fast")
    with pytest.raises(GameError, match="unknown method 'magic'"):
        shapley_value(["a", "b"], _size, method="sampled", budget=100, sampler="magic")


def test_exact_enumeration_limit():
    players = [f"p{i}" for i in range(30)]
    with pytest.raises(GameError, match="method='sampled'"):
        shapley_value(players, _size)
