"""The radial feeder on a hand-drawn tree.

        root
        /  \\
     l1/    \\l4
      a      d
    l2/ \\l3 (l3 is given the other way round: from c to a)
    b    c
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from p2psim.world.feeder import Feeder, LineSpec

BUSES = ("root", "a", "b", "c", "d")


@pytest.fixture
def feeder() -> Feeder:
    return Feeder(
        buses=BUSES,
        lines=(
            LineSpec(id="l1", from_bus="root", to_bus="a", rating_kw=100.0, length_km=0.1),
            LineSpec(id="l2", from_bus="a", to_bus="b", rating_kw=50.0, length_km=0.2),
            LineSpec(id="l3", from_bus="c", to_bus="a", rating_kw=40.0, length_km=0.3),
            LineSpec(id="l4", from_bus="root", to_bus="d", rating_kw=30.0, length_km=0.4),
        ),
        root_bus="root",
        transformer_limit_kw=200.0,
    )


def test_valid_tree_has_no_problems(feeder):
    assert feeder.problems() == []


def test_downstream_matrix_by_hand(feeder):
    # columns root a b c d; l1 carries a, b, c; l2 only b; l3 only c (whatever its given direction); l4 d
    expected = np.array([
        [0, 1, 1, 1, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 0, 1, 0],
        [0, 0, 0, 0, 1],
    ])
    np.testing.assert_array_equal(feeder.downstream_matrix.toarray(), expected)


def test_line_flows_by_hand(feeder):
    # net import per bus (kW) in two intervals: a draws 1, b 2, c exports 3, d draws 4; then all export 1
    net = np.array([[0, 0], [1, -1], [2, -1], [-3, -1], [4, -1]], dtype=float)
    flows = feeder.line_flows_kw(net)
    # l1 = a + b + c = 1 + 2 - 3 = 0, then -3 (reverse flow towards the transformer)
    np.testing.assert_allclose(flows, [[0, -3], [2, -1], [-3, -1], [4, -1]])
    # the transformer carries the sum of all lines leaving the root: l1 + l4
    np.testing.assert_allclose(flows[0] + flows[3], net.sum(axis=0))


def test_ratings_distances_index(feeder):
    np.testing.assert_array_equal(feeder.line_rating_kw, [100, 50, 40, 30])
    assert feeder.distance_km == pytest.approx({"root": 0.0, "a": 0.1, "b": 0.3, "c": 0.4, "d": 0.4})
    assert feeder.bus_index == {"root": 0, "a": 1, "b": 2, "c": 3, "d": 4}


def test_loop_is_not_a_tree(feeder):
    looped = replace(feeder, lines=(*feeder.lines, LineSpec(id="l5", from_bus="b", to_bus="c", rating_kw=10.0)))
    problems = looped.problems()
    assert len(problems) == 1
    assert "not a radial tree (5 buses, 5 lines)" in problems[0] and "remove loops" in problems[0]


def test_island_is_not_a_tree(feeder):
    island = replace(feeder, buses=(*BUSES, "e"))
    problems = island.problems()
    assert len(problems) == 1 and "6 buses, 4 lines" in problems[0] and "connect islands" in problems[0]


def test_structural_problems_are_all_listed(feeder):
    broken = replace(
        feeder, buses=(*BUSES, "a"), root_bus="top", transformer_limit_kw=0.0,
        lines=(*feeder.lines, LineSpec(id="l9", from_bus="d", to_bus="zz", rating_kw=-1.0)),
    )
    problems = broken.problems()
    text = "\n".join(problems)
    assert "duplicates" in text
    assert "feeder.root_bus='top'" in text
    assert "transformer_limit_kw=0.0" in text
    assert "line 'l9' ends at unknown bus 'zz'" in text
    assert "line 'l9' has rating_kw=-1.0" in text
    assert len(problems) == 5, problems


def test_tiny_feeder(tiny_study):
    # tiny: b0 - b1 - b2 and b0 - b3; line-1 carries hh-a (b1) and hh-b (b2)
    feeder = tiny_study.community.feeder
    assert feeder.problems() == []
    np.testing.assert_array_equal(feeder.downstream_matrix.toarray(),
                                  [[0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
