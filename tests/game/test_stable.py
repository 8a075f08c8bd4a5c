import numpy as np
import pytest

from p2psim.errors import GameError
from p2psim.game import (
    CachedGame,
    equitable_core_allocation,
    exhaustive_separation,
    glove_game,
    in_core,
    least_core,
    max_core_excess,
    random_convex_game,
    random_game_with_core,
    random_table_game,
    shapley_value,
    weighted_shapley_value,
)


def players(n):
    return [f"p{i}" for i in range(n)]


@pytest.mark.parametrize("method", ["exact", "rowgen"])
@pytest.mark.parametrize("norm", ["l1", "max"])
def test_glove_game_unique_core_point(method, norm):
    game = glove_game(["l1", "l2"], ["r1", "r2", "r3"])
    x = equitable_core_allocation(*game, norm=norm, method=method)
    assert x.to_array() == pytest.approx([1, 1, 0, 0, 0], abs=1e-7)
    assert not x.meta["core_empty"] and x.meta["epsilon"] == 0.0
    assert x.exact and x.meta["converged"]
    sv = shapley_value(*game)
    assert x.meta["target"] == pytest.approx(dict(sv))
    assert x.meta["deviation"]["l1"] == pytest.approx(1 - sv["l1"])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("method", ["exact", "rowgen"])
def test_convex_game_closest_core_point_to_shapley_is_shapley(seed, method):
    game = random_convex_game(players(7), np.random.default_rng(seed))
    cache = CachedGame(*game)
    x = equitable_core_allocation(cache.players, cache, method=method)
    np.testing.assert_allclose(
        x.to_array(), shapley_value(cache.players, cache).to_array(), atol=1e-7
    )
    assert x.meta["distance"] == pytest.approx(0.0, abs=1e-6)


def test_weights_give_weighted_shapley_target():
    game = random_convex_game(players(5), np.random.default_rng(9))
    w = [1.0, 2.0, 3.0, 4.0, 5.0]
    x = equitable_core_allocation(*game, weights=w)
    np.testing.assert_allclose(
        x.to_array(), weighted_shapley_value(*game, w).to_array(), atol=1e-7
    )  # the weighted Shapley value of a convex game is in the core


def test_explicit_target_projection():
    game = glove_game(["l"], ["r"])  # core: {(a, 1-a): 0 <= a <= 1}
    x = equitable_core_allocation(*game, target={"l": 2.0, "r": -1.0}, norm="max")
    assert x.to_array() == pytest.approx([1.0, 0.0])
    assert x.meta["distance"] == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("norm", ["l1", "max"])
@pytest.mark.parametrize("family", ["empty core", "non-empty core"])
def test_rowgen_equals_enumeration_on_random_games(seed, norm, family):
    n = 6 + seed  # 6 .. 11 players
    rng = np.random.default_rng(seed)
    if family == "empty core":
        game = random_table_game(players(n), rng, synergy=0.3 + 0.4 * seed)
    else:
        game = random_game_with_core(players(n), rng)
    cache = CachedGame(*game)
    exact = equitable_core_allocation(cache.players, cache, norm=norm)
    rowgen = equitable_core_allocation(cache.players, cache, norm=norm, method="rowgen")
    assert rowgen.meta["core_empty"] == exact.meta["core_empty"] == (family == "empty core")
    assert rowgen.meta["epsilon"] == pytest.approx(exact.meta["epsilon"], abs=1e-6)
    assert rowgen.meta["distance"] == pytest.approx(exact.meta["distance"], abs=1e-6)
    assert rowgen.meta["n_constraints"] < exact.meta["n_constraints"]
    # both are (least-)core points: no coalition gains more than epsilon
    for x in (exact, rowgen):
        excess = max_core_excess(cache.players, cache, x).max_excess
        assert excess <= x.meta["epsilon"] + 1e-6
        assert x.total() == pytest.approx(cache.grand_value())


def test_empty_core_uses_least_core_epsilon():
    maj = players(3)

    def v(s):
        return 1.0 if len(s) >= 2 else 0.0

    x = equitable_core_allocation(maj, v, method="rowgen")
    assert x.meta["core_empty"]
    assert x.meta["epsilon"] == pytest.approx(least_core(maj, v).meta["epsilon"], abs=1e-7)
    assert x.to_array() == pytest.approx([1 / 3] * 3, abs=1e-6)


def test_rowgen_twelve_players_matches_enumeration():
    game = random_convex_game(players(12), np.random.default_rng(2), n_terms=30)
    cache = CachedGame(*game)
    target = {p: cache.grand_value() / 12 for p in cache.players}  # equal split: not in core
    a = equitable_core_allocation(cache.players, cache, target=target)
    b = equitable_core_allocation(cache.players, cache, target=target, method="rowgen")
    assert b.meta["distance"] == pytest.approx(a.meta["distance"], abs=1e-6)
    assert in_core(cache.players, cache, b)


def test_custom_separation_oracle_is_used():
    game = random_table_game(players(6), np.random.default_rng(1))
    cache = CachedGame(*game)
    default = exhaustive_separation(cache)
    seen = []

    def oracle(x):
        seen.append(x.copy())
        return default(x)

    x = equitable_core_allocation(cache.players, cache, method="rowgen", separation=oracle)
    assert len(seen) >= 1
    assert all(s.shape == (6,) for s in seen)
    assert x.meta["converged"]


def test_bad_oracle_rejected():
    game = random_table_game(players(4), np.random.default_rng(1), synergy=2.0)
    with pytest.raises(GameError, match="grand coalition"):
        equitable_core_allocation(
            *game, method="rowgen", separation=lambda x: (frozenset(players(4)), 1.0)
        )


def test_max_iterations_stops_with_warning():
    game = random_table_game(players(7), np.random.default_rng(3), synergy=2.0)
    with pytest.warns(RuntimeWarning, match="stopped after 2 iterations"):
        x = equitable_core_allocation(*game, method="rowgen", max_iterations=2)
    assert not x.exact and not x.meta["converged"]


def test_large_game_needs_an_oracle():
    with pytest.raises(GameError, match="separation"):
        equitable_core_allocation(
            players(20),
            lambda s: float(len(s)),
            target=dict.fromkeys(players(20), 1.0),
            method="rowgen",
        )


def test_large_additive_game_with_custom_oracle():
    n = 40
    names = players(n)

    def v(s):
        return float(len(s))

    def oracle(x):  # additive game: most violated coalition = players paid below 1
        low = [names[k] for k in np.flatnonzero(x < 1 - 1e-9)]
        if not low or len(low) == n:
            return None
        return frozenset(low), float(len(low) - x[x < 1 - 1e-9].sum())

    target = {p: (2.0 if k % 2 else 0.0) for k, p in enumerate(names)}
    x = equitable_core_allocation(names, v, target=target, method="rowgen", separation=oracle)
    assert x.to_array() == pytest.approx(np.ones(n), abs=1e-7)  # the core is the single point 1


def test_bad_arguments():
    with pytest.raises(GameError, match="unknown method 'l2'"):
        equitable_core_allocation(["a"], lambda s: 1.0 if s else 0.0, norm="l2")
    with pytest.raises(GameError, match="max_iterations"):
        equitable_core_allocation(["a"], lambda s: 1.0 if s else 0.0, max_iterations=0)


def _core_anchor(cache):
    """A core point other than the projection: a least-core point (in the core, which is non-empty)."""
    return dict(least_core(cache.players, cache))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("norm", ["l1", "max"])
def test_in_out_with_a_core_anchor_equals_enumeration(seed, norm):
    cache = CachedGame(*random_game_with_core(players(6 + seed), np.random.default_rng(seed)))
    target = {p: cache.grand_value() / cache.n for p in cache.players}
    exact = equitable_core_allocation(cache.players, cache, target=target, norm=norm)
    anchor = _core_anchor(cache)
    x = equitable_core_allocation(cache.players, cache, target=target, norm=norm, method="rowgen", anchor=anchor)
    assert x.meta["anchor_in_core"] and x.meta["converged"] and x.meta["core_proven"]
    assert x.meta["distance"] == pytest.approx(exact.meta["distance"], abs=1e-6)
    assert in_core(cache.players, cache, x)


@pytest.mark.parametrize("seed", range(4))
def test_gap_returns_a_core_point_within_the_gap(seed):
    cache = CachedGame(*random_game_with_core(players(9), np.random.default_rng(seed)))
    target = {p: cache.grand_value() / cache.n for p in cache.players}
    exact = equitable_core_allocation(cache.players, cache, target=target)
    gap = 0.05 * max(exact.meta["distance"], 1e-3)
    x = equitable_core_allocation(cache.players, cache, target=target, method="rowgen",
                                  anchor=_core_anchor(cache), gap=gap)
    assert x.meta["core_proven"] and in_core(cache.players, cache, x)
    # the certified bracket holds the optimum, and the result is within gap of it
    assert x.meta["distance_lower_bound"] <= exact.meta["distance"] + 1e-9
    assert exact.meta["distance"] - 1e-9 <= x.meta["distance"] <= x.meta["distance_lower_bound"] + gap + 1e-9


def test_anchor_outside_the_core_only_adds_cuts():
    cache = CachedGame(*random_game_with_core(players(8), np.random.default_rng(5)))
    equal = {p: cache.grand_value() / cache.n for p in cache.players}
    assert not in_core(cache.players, cache, equal)
    target = dict(shapley_value(cache.players, cache))
    exact = equitable_core_allocation(cache.players, cache, target=target)
    x = equitable_core_allocation(cache.players, cache, target=target, method="rowgen", anchor=equal)
    assert x.meta["anchor_in_core"] is False
    assert x.meta["distance"] == pytest.approx(exact.meta["distance"], abs=1e-6)


def test_bad_anchor_and_gap_rejected():
    cache = CachedGame(*random_game_with_core(players(5), np.random.default_rng(0)))
    off = {p: 1.0 + cache.grand_value() for p in cache.players}
    with pytest.raises(GameError, match="anchor must distribute v\\(N\\)"):
        equitable_core_allocation(cache.players, cache, method="rowgen", anchor=off)
    for gap in (-1.0, float("nan")):
        with pytest.raises(GameError, match="gap must be"):
            equitable_core_allocation(cache.players, cache, method="rowgen", gap=gap)
