import numpy as np
import pytest

from p2psim.errors import GameError
from p2psim.game import (
    Allocation,
    CachedGame,
    airport_game,
    bankruptcy_game,
    glove_game,
    in_core,
    least_core,
    max_core_excess,
    nucleolus,
    prenucleolus,
    random_convex_game,
    random_table_game,
    shapley_value,
)


def players(n):
    return [f"p{i}" for i in range(n)]


# ---------------------------------------------------------------- glove game: unique core point


@pytest.mark.parametrize("solver", [least_core, nucleolus])
def test_glove_game_scarce_side_gets_everything(solver):
    game = glove_game(["l1", "l2"], ["r1", "r2", "r3"])
    x = solver(*game)
    assert x.to_array() == pytest.approx([1, 1, 0, 0, 0], abs=1e-7)
    assert x.meta["epsilon"] == pytest.approx(0.0, abs=1e-7)
    assert x.exact


def test_least_core_flags():
    x = least_core(*glove_game(["l"], ["r1", "r2"]))
    assert not x.meta["core_empty"]
    assert x.method == "least_core"


# ---------------------------------------------------------------- nucleolus


@pytest.mark.parametrize(
    ("estate", "talmud"),
    [(100, [100 / 3] * 3), (200, [50, 75, 75]), (300, [50, 100, 150])],
)
def test_nucleolus_of_bankruptcy_game_is_talmud_rule(estate, talmud):
    x = nucleolus(*bankruptcy_game({"a": 100, "b": 200, "c": 300}, estate))
    assert x.to_array() == pytest.approx(talmud, abs=1e-6)


def test_nucleolus_airport_game():
    # savings game of runway costs 1, 2, 3: nucleolus of the cost game is (0.5, 0.75, 1.75)
    # (Littlewood: equalise the smallest players' savings first) -> savings (0.5, 1.25, 1.25)
    x = nucleolus(*airport_game({"a": 1.0, "b": 2.0, "c": 3.0}))
    assert x.to_array() == pytest.approx([0.5, 1.25, 1.25], abs=1e-7)


def test_nucleolus_single_player():
    assert dict(nucleolus(["a"], lambda s: 2.0 if s else 0.0)) == {"a": 2.0}


@pytest.mark.parametrize("seed", range(5))
def test_nucleolus_in_core_of_convex_games(seed):
    game = random_convex_game(players(6), np.random.default_rng(seed))
    cache = CachedGame(*game)
    x = nucleolus(cache.players, cache)
    assert in_core(cache.players, cache, x)
    assert x.meta["epsilon"] <= 1e-7
    assert x.total() == pytest.approx(cache.grand_value())


@pytest.mark.parametrize("seed", range(4))
def test_prenucleolus_stage_one_is_least_core_and_symmetric(seed):
    game = random_table_game(players(5), np.random.default_rng(seed))
    cache = CachedGame(*game)
    nuc = prenucleolus(cache.players, cache)
    lc = least_core(cache.players, cache)
    assert nuc.meta["epsilon"] == pytest.approx(lc.meta["epsilon"], abs=1e-7)
    # the nucleolus lies in the least core: its max excess is epsilon
    assert max_core_excess(cache.players, cache, nuc).max_excess == pytest.approx(
        lc.meta["epsilon"], abs=1e-6
    )
    assert nuc.meta["stage_excesses"] == sorted(nuc.meta["stage_excesses"], reverse=True)


def test_nucleolus_symmetric_players_get_equal_amounts():
    # 4-player majority-like symmetric game: v(S)=max(0,|S|-2)
    x = nucleolus(players(4), lambda s: float(max(0, len(s) - 2)))
    assert x.to_array() == pytest.approx([0.5] * 4)


# ---------------------------------------------------------------- least core


@pytest.mark.parametrize("seed", range(5))
def test_least_core_epsilon_is_max_excess(seed):
    game = random_table_game(players(6), np.random.default_rng(seed), synergy=2.0)
    cache = CachedGame(*game)
    lc = least_core(cache.players, cache)
    check = max_core_excess(cache.players, cache, lc)
    assert check.max_excess == pytest.approx(lc.meta["epsilon"], abs=1e-7)
    assert lc.meta["core_empty"] == (lc.meta["epsilon"] > 1e-7)
    # no other efficient allocation (e.g. the Shapley value) does better
    sv = shapley_value(cache.players, cache)
    assert max_core_excess(cache.players, cache, sv).max_excess >= lc.meta["epsilon"] - 1e-9


def test_least_core_hand_computed_empty_core():
    # 3-player majority: v(S)=1 if |S|>=2. Least core: x=(1/3,1/3,1/3), eps=1/3.
    lc = least_core(players(3), lambda s: 1.0 if len(s) >= 2 else 0.0)
    assert lc.meta["epsilon"] == pytest.approx(1 / 3)
    assert lc.meta["core_empty"]
    assert lc.to_array() == pytest.approx([1 / 3] * 3)


def test_too_many_players_for_enumeration():
    with pytest.raises(GameError, match="exceeds 16"):
        least_core(players(17), lambda s: float(len(s)))


# ---------------------------------------------------------------- max_core_excess


def test_max_core_excess_exact_hand_computed():
    v = {frozenset(): 0, frozenset("a"): 1, frozenset("b"): 1, frozenset("ab"): 3}
    res = max_core_excess(["a", "b"], lambda s: v[s], {"a": 2.5, "b": 0.5})
    assert res.max_excess == pytest.approx(0.5)
    assert res.worst_coalition == frozenset("b")
    assert res.n_violated == 1 and res.n_checked == 2 and res.exact
    assert res.in_core is False


def test_max_core_excess_in_core():
    game = glove_game(["l"], ["r1", "r2"])
    res = max_core_excess(*game, {"l": 1.0, "r1": 0.0, "r2": 0.0})
    assert res.max_excess == pytest.approx(0.0)
    assert res.n_violated == 0 and res.in_core is True


def test_max_core_excess_sampled_is_lower_bound():
    game = random_table_game(players(9), np.random.default_rng(0))
    cache = CachedGame(*game)
    x = shapley_value(cache.players, cache)
    exact = max_core_excess(cache.players, cache, x)
    fresh = CachedGame(*game)
    sampled = max_core_excess(fresh.players, fresh, x, method="sampled", budget=60, seed=1)
    assert not sampled.exact
    assert "lower bound" in sampled.note
    assert sampled.max_excess <= exact.max_excess + 1e-12
    assert sampled.n_value_calls <= 60
    assert sampled.n_checked <= 60
    assert sampled.in_core in (False, None)


def test_max_core_excess_checks_allocation_players():
    with pytest.raises(GameError, match="missing"):
        max_core_excess(["a", "b"], lambda s: float(len(s)), {"a": 1.0})
    with pytest.raises(GameError, match="budget"):
        max_core_excess(["a", "b"], lambda s: float(len(s)), {"a": 1.0, "b": 1.0}, "sampled")


def test_accepts_allocation_objects():
    game = glove_game(["l"], ["r"])
    x = Allocation({"l": 0.5, "r": 0.5}, method="m", exact=True)
    assert max_core_excess(*game, x).max_excess == pytest.approx(-0.5)


def test_max_core_excess_oracle_method_reports_what_it_knows():
    # a hand-written oracle for the two-player game: the largest excess is v({b}) - x_b = 0.5, proven
    v = {frozenset(): 0, frozenset("a"): 1, frozenset("b"): 1, frozenset("ab"): 3}
    asked = []

    def oracle(x):
        asked.append(dict(x))
        best = max((frozenset("a"), frozenset("b")), key=lambda s: v[s] - sum(x[p] for p in s))
        excess = v[best] - sum(x[p] for p in best)
        return best, excess, excess + 1e-9

    res = max_core_excess(["a", "b"], lambda s: v[s], {"a": 2.5, "b": 0.5}, method="oracle", oracle=oracle)
    assert asked == [{"a": 2.5, "b": 0.5}]
    assert res.max_excess == pytest.approx(0.5) and res.worst_coalition == frozenset("b")
    assert res.exact and res.violated and res.in_core is False and res.n_violated is None
    assert res.upper_bound == pytest.approx(0.5 + 1e-9) and res.label == "exact (MILP oracle)"
    inside = max_core_excess(["a", "b"], lambda s: v[s], {"a": 1.5, "b": 1.5}, method="oracle", oracle=oracle)
    assert inside.max_excess == pytest.approx(-0.5) and not inside.violated and inside.in_core is True
    assert inside.n_violated == 0  # none violated: the count is known
    with pytest.raises(GameError, match="oracle="):
        max_core_excess(["a", "b"], lambda s: v[s], {"a": 1.5, "b": 1.5}, method="oracle")


def test_max_core_excess_labels():
    game = random_table_game(players(5), np.random.default_rng(0))
    x = shapley_value(*game)
    assert max_core_excess(*game, x).label == "exact"
    sampled = max_core_excess(*game, x, method="sampled", budget=3, seed=0)
    assert sampled.label == "sampled lower bound" and sampled.upper_bound == np.inf


def test_sampled_check_over_known_coalitions_is_free_and_a_lower_bound():
    """known=True: every coalition the shared game has valued is checked for free; budget 0 draws nothing."""
    from p2psim.game import CachedGame, random_convex_game

    players, value = random_convex_game([f"p{i}" for i in range(7)], np.random.default_rng(5), n_terms=12)
    cached = CachedGame(players, value)
    x = dict(zip(players, np.full(7, cached.grand_value() / 7), strict=True))
    exact = max_core_excess(players, value, x)  # its own cache
    for mask in (3, 12, 96, 7, 120):  # valued earlier (e.g. by a sampled Shapley estimate)
        cached.value_of_mask(mask)
    calls = cached.n_value_calls
    free = max_core_excess(players, cached, x, method="sampled", budget=0, known=True)
    assert cached.n_value_calls == calls and free.n_checked == 5 and free.label == "sampled lower bound"
    by_hand = max(cached.value_of_mask(m) - sum(x[players[k]] for k in range(7) if m >> k & 1)
                  for m in (3, 12, 96, 7, 120))
    assert free.max_excess == pytest.approx(by_hand) and free.max_excess <= exact.max_excess + 1e-12
    drawn = max_core_excess(players, cached, x, method="sampled", budget=10, seed=0, known=True)
    assert cached.n_value_calls == calls + 10 and drawn.n_checked == 15 and drawn.max_excess >= free.max_excess
