import math

import pytest

from p2psim.game import (
    check_axioms,
    core_violation,
    efficiency_gap,
    glove_game,
    in_core,
    individual_rationality_violation,
    is_efficient,
    is_individually_rational,
    max_relative_error,
    null_player_violation,
    null_players,
    relative_errors,
    symmetric_pairs,
    symmetry_violation,
    unanimity_game,
)


def test_efficiency():
    assert efficiency_gap({"a": 1.0, "b": 2.0}, 3.5) == pytest.approx(-0.5)
    assert is_efficient({"a": 1.0, "b": 2.0}, 3.0)
    assert not is_efficient({"a": 1.0, "b": 2.0}, 3.1)


def test_symmetry_and_null_player_checks():
    game = unanimity_game(["a", "b", "c"], ["a", "b"])
    assert null_players(*game) == ["c"]
    assert symmetric_pairs(*game) == [("a", "b")]
    x = {"a": 0.7, "b": 0.2, "c": 0.1}
    assert symmetry_violation(*game, x) == pytest.approx(0.5)
    assert null_player_violation(*game, x) == pytest.approx(0.1)
    fair = {"a": 0.5, "b": 0.5, "c": 0.0}
    assert symmetry_violation(*game, fair) == 0.0 and null_player_violation(*game, fair) == 0.0


def test_individual_rationality_and_core():
    game = glove_game(["l"], ["r1", "r2"])
    core_point = {"l": 1.0, "r1": 0.0, "r2": 0.0}
    assert is_individually_rational(*game, core_point)
    assert in_core(*game, core_point)
    assert core_violation(*game, core_point) == pytest.approx(0.0)
    shapley = {"l": 2 / 3, "r1": 1 / 6, "r2": 1 / 6}
    assert is_individually_rational(*game, shapley)
    assert not in_core(*game, shapley)
    assert core_violation(*game, shapley) == pytest.approx(1 / 6)
    bad = {"l": 1.2, "r1": -0.2, "r2": 0.0}
    assert individual_rationality_violation(*game, bad) == pytest.approx(0.2)
    assert not is_individually_rational(*game, bad)


def test_relative_errors():
    rel = relative_errors({"a": 1.1, "b": 0.0, "c": 1.0}, {"a": 1.0, "b": 0.0, "c": 0.0})
    assert rel["a"] == pytest.approx(0.1) and rel["b"] == 0.0 and math.isinf(rel["c"])
    assert max_relative_error({"a": 1.1}, {"a": 1.0}) == pytest.approx(0.1)


def test_check_axioms_bundle():
    game = unanimity_game(["a", "b", "c"], ["a", "b"])
    res = check_axioms(*game, {"a": 0.5, "b": 0.5, "c": 0.0})
    assert res == {
        "efficiency": True,
        "individual_rationality": True,
        "symmetry": True,
        "null_player": True,
        "core": True,
    }
    bad = check_axioms(*game, {"a": 0.8, "b": 0.1, "c": 0.2})
    assert bad["efficiency"] is False and bad["symmetry"] is False
    assert bad["null_player"] is False
    glove = check_axioms(*glove_game(["l"], ["r"]), {"l": 0.5, "r": 0.5})
    assert glove["null_player"] is None  # no null player: not applicable
    assert glove["symmetry"] is True  # l and r are symmetric in the 1-1 glove game
