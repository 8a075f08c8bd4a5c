"""Nucleolus (over imputations) and pre-nucleolus against hand values and an independent sequential LP.

The reference below is written separately from p2psim.game.nucleolus: Kopelowitz's scheme with
scipy.optimize.linprog, fixing coalitions by testing each one (can its excess drop below the stage
level?) instead of reading dual multipliers, and stopping when the allocation is pinned down.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

from p2psim.errors import GameError
from p2psim.game import airport_game, bankruptcy_game, least_core, nucleolus, prenucleolus

TOL = 1e-7


def reference(players, table, imputations: bool) -> np.ndarray:
    """Lexicographic centre by sequential LPs in (x, t), every coalition tested for being fixed."""
    n = len(players)
    coalitions = [frozenset(c) for r in range(1, n) for c in itertools.combinations(players, r)]
    rows = np.array([[1.0 if p in c else 0.0 for p in players] for c in coalitions])
    values = np.array([table[c] for c in coalitions])
    grand = table[frozenset(players)]
    alone = np.array([table[frozenset([p])] for p in players])
    bounds = [(a, None) if imputations else (None, None) for a in alone]
    free = list(range(len(coalitions)))
    fixed: list[tuple[int, float]] = []

    def equalities():
        a = [np.ones(n)] + [rows[k] for k, _ in fixed]
        b = [grand] + [values[k] - level for k, level in fixed]
        return np.array(a), np.array(b)

    while free:
        a_eq, b_eq = equalities()
        # min t  s.t.  -x(S) - t <= -v(S) for the free S
        a_ub = np.hstack([-rows[free], -np.ones((len(free), 1))])
        res = linprog(np.r_[np.zeros(n), 1.0], A_ub=a_ub, b_ub=-values[free],
                      A_eq=np.hstack([a_eq, np.zeros((len(a_eq), 1))]), b_eq=b_eq,
                      bounds=[*bounds, (None, None)], method="highs")
        assert res.status == 0, res.message
        level = res.x[n]
        still_free = []
        for k in free:
            # can S's excess go strictly below the level while every free coalition stays <= level?
            probe = linprog(-rows[k], A_ub=-rows[free], b_ub=-(values[free] - level), A_eq=a_eq, b_eq=b_eq,
                            bounds=bounds, method="highs")
            assert probe.status == 0, probe.message
            if -probe.fun < values[k] - level + TOL:  # max x(S) = v(S) - level: S's excess is the level always
                fixed.append((k, level))
            else:
                still_free.append(k)
        a_eq, _ = equalities()
        if np.linalg.matrix_rank(a_eq, tol=1e-9) == n:
            break
        rank = np.linalg.matrix_rank(a_eq, tol=1e-9)
        free = [k for k in still_free if np.linalg.matrix_rank(np.vstack([a_eq, rows[k]]), tol=1e-9) > rank]
    a_eq, b_eq = equalities()
    return np.linalg.lstsq(a_eq, b_eq, rcond=None)[0]


def game_of(table):
    players = sorted({p for c in table for p in c})
    return players, (lambda s: 0.0 if not s else table[frozenset(s)])


def table_of(spec: dict[str, float]) -> dict[frozenset, float]:
    return {frozenset(k): float(v) for k, v in spec.items()}


# two small games with an empty core (found by search; checked by hand in the first test)
EMPTY_CORE_3 = table_of({"a": 2, "b": 1, "c": 3, "ab": 7, "ac": 3, "bc": 9, "abc": 10})
EMPTY_CORE_4 = table_of({"a": 5, "b": 3, "c": 1, "d": 3, "ab": 6, "ac": 9, "ad": 9, "bc": 2, "bd": 0, "cd": 9,
                         "abc": 6, "abd": 7, "acd": 8, "bcd": 3, "abcd": 13})


def test_empty_core_game_by_hand():
    # excess pairs: e(bc) = x_a - 1 and e(a) = 2 - x_a; e(ab) = x_c - 3 and e(c) = 3 - x_c; e(ac) = x_b - 7 and
    # e(b) = 1 - x_b (x(N) = 10). Pre-nucleolus: x_a = 1.5 (level 0.5), then x_c = 3 (level 0), x_b = 5.5: a gets
    # less than alone (2). Over imputations x_a >= 2: e(bc) = 1 at x_a = 2, then x_c = 3: (2, 5, 3).
    players, value = game_of(EMPTY_CORE_3)
    assert least_core(players, value).meta["core_empty"]
    assert prenucleolus(players, value).to_array() == pytest.approx([1.5, 5.5, 3.0], abs=1e-7)
    x = nucleolus(players, value)
    assert x.to_array() == pytest.approx([2.0, 5.0, 3.0], abs=1e-7)
    assert x.meta["epsilon"] == pytest.approx(1.0)


@pytest.mark.parametrize("table", [EMPTY_CORE_3, EMPTY_CORE_4], ids=["n3", "n4"])
def test_empty_core_games_against_the_reference(table):
    players, value = game_of(table)
    alone = np.array([table[frozenset([p])] for p in players])
    pre, nuc = prenucleolus(players, value).to_array(), nucleolus(players, value).to_array()
    assert pre == pytest.approx(reference(players, table, imputations=False), abs=1e-6)
    assert nuc == pytest.approx(reference(players, table, imputations=True), abs=1e-6)
    assert np.all(nuc >= alone - 1e-9) and nuc.sum() == pytest.approx(table[frozenset(players)])
    assert (pre < alone - 0.2).any()  # these games are why the two are separate functions


@pytest.mark.parametrize("seed", range(12))
def test_random_games_against_the_reference(seed):
    rng = np.random.default_rng(seed)
    n = 3 + seed % 2
    players = [chr(97 + k) for k in range(n)]
    table = {frozenset(c): float(rng.integers(0, 10)) for r in range(1, n) for c in itertools.combinations(players, r)}
    table[frozenset(players)] = float(rng.integers(0, 10)) + sum(table[frozenset([p])] for p in players)
    players, value = game_of(table)
    assert prenucleolus(players, value).to_array() == pytest.approx(reference(players, table, False), abs=1e-6)
    assert nucleolus(players, value).to_array() == pytest.approx(reference(players, table, True), abs=1e-6)


@pytest.mark.parametrize(("estate", "talmud"), [(100, [100 / 3] * 3), (200, [50, 75, 75]), (300, [50, 100, 150])])
def test_textbook_nucleoli(estate, talmud):
    # bankruptcy games (Aumann & Maschler 1985): the nucleolus is the Talmud rule; their core is non-empty,
    # so the pre-nucleolus is the same point
    game = bankruptcy_game({"a": 100, "b": 200, "c": 300}, estate)
    assert nucleolus(*game).to_array() == pytest.approx(talmud, abs=1e-6)
    assert prenucleolus(*game).to_array() == pytest.approx(talmud, abs=1e-6)
    assert nucleolus(*airport_game({"a": 1.0, "b": 2.0, "c": 3.0})).to_array() == pytest.approx([0.5, 1.25, 1.25])


def test_nucleolus_needs_imputations():
    players, value = game_of(table_of({"a": 3, "b": 3, "ab": 4}))
    with pytest.raises(GameError, match="imputation set is empty"):
        nucleolus(players, value)
    assert prenucleolus(players, value).to_array() == pytest.approx([2.0, 2.0])
