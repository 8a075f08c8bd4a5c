"""Inequality indices: hand vectors (negatives included), published figures, properties (hypothesis), domains."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from p2psim.metrics.inequality import IndexDomainError, atkinson, gini, jain, jain_or_nan, theil

reals = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
vectors = st.lists(reals, min_size=1, max_size=40)
non_negative = st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=40)


def gini_by_pairs(x) -> float:
    """The defining double sum, O(n^2): sum_ij |x_i - x_j| / (2 n (T+ + T-))."""
    x = np.asarray(x, float)
    scale = np.abs(x).sum()
    return 0.0 if scale == 0 else float(np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size * scale))


def ordinary_gini(x) -> float:
    """The ordinary (population) Gini of non-negative data: mean absolute difference / (2 mean)."""
    x = np.asarray(x, float)
    return 0.0 if x.sum() == 0 else float(np.abs(x[:, None] - x[None, :]).mean() / (2 * x.mean()))


@pytest.mark.parametrize(("values", "g"), [
    ([1, 1, 1], 0.0),
    ([0, 0, 1], 2 / 3),           # sum |xi - xj| = 4; T+ = 1: 4 / (2 * 3 * 1)
    ([1, 3], 0.25),               # 4 / (2 * 2 * 4)
    ([-1, 1], 0.5),               # 4 / (2 * 2 * (1 + 1)); the old mean-difference form divided by mean 0
    ([-1, 1, 3], 16 / 30),        # diffs 2, 4, 2 twice = 16; T+ + T- = 4 + 1: 16 / (2 * 3 * 5); old form 8/9
    ([-2, -2], 0.0),              # all equal (negative) -> 0
    ([-3, 0, 0, 5], 0.75),        # the polarised vector: (n - 1) / n
    ([], 0.0), ([0, 0], 0.0), ([7], 0.0),
])
def test_gini_by_hand(values, g):
    assert gini(values) == pytest.approx(g)


def test_gini_matches_the_published_example():
    # Raffinetti, Siletti & Vernizzi (2015): attribute vectors a, b, c of n = 10 units, reported as 0.555, 1 and
    # 0.8346 in the finite-sample form, which is n / (n - 1) times the population form computed here
    a = [-5.0] * 9 + [45.01]
    b = [-45.0] + [0.0] * 8 + [45.01]
    c = [-15.0, -10.0, -8.0, -7.0, -5.0, 0.0, 0.0, 0.0, 0.0, 45.01]
    for values, published in ((a, 0.5556), (b, 1.0), (c, 0.8346)):
        assert gini(values) * 10 / 9 == pytest.approx(published, abs=5e-4)
    assert gini(b) == pytest.approx(0.9)  # the polarised vector reaches (n - 1) / n


@settings(max_examples=300, deadline=None)
@given(vectors)
def test_gini_bounded_and_equal_to_the_double_sum(x):
    g = gini(x)
    assert 0.0 <= g <= 1.0
    assert g <= (len(x) - 1) / len(x) + 1e-12
    assert g == pytest.approx(gini_by_pairs(x), abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(non_negative)
def test_gini_is_the_ordinary_gini_on_non_negative_data(x):
    assert gini(x) == pytest.approx(ordinary_gini(x), abs=1e-9)


@given(reals, st.integers(1, 30))
def test_gini_is_zero_when_all_values_are_equal(value, n):
    assert gini([value] * n) == 0.0


@settings(max_examples=200, deadline=None)
@given(vectors, st.floats(1e-3, 1e3))
def test_gini_scale_and_permutation_invariant(x, factor):
    assume(np.abs(x).sum() > 1e-3)
    g = gini(x)
    assert gini(np.asarray(x) * factor) == pytest.approx(g, abs=1e-9)
    assert gini(x[::-1]) == pytest.approx(g, abs=1e-12)


def test_gini_refuses_non_finite_values():
    with pytest.raises(IndexDomainError, match="entry 1 is nan"):
        gini([1.0, float("nan")])


@pytest.mark.parametrize(("values", "j"),
                         [([1, 1, 1], 1.0), ([0, 0, 1], 1 / 3), ([1, 3], 0.8), ([], 1.0), ([0, 0], 1.0)])
def test_jain_by_hand(values, j):
    assert jain(values) == pytest.approx(j)


@settings(max_examples=100, deadline=None)
@given(non_negative)
def test_jain_bounds(x):
    assume(sum(x) > 0)
    assert 1 / len(x) - 1e-12 <= jain(x) <= 1 + 1e-12


def test_jain_only_on_non_negative_data():
    with pytest.raises(IndexDomainError, match="jain: entry 0 is -1 < 0"):
        jain([-1.0, 1.0, 3.0])
    value, reason = jain_or_nan([-1.0, 2.0])
    assert np.isnan(value) and "non-negative" in reason
    assert jain_or_nan([1.0, 3.0]) == (pytest.approx(0.8), "")


def test_theil_and_atkinson_by_hand():
    # (1, 3): shares 0.5, 1.5 -> T = (0.5 ln 0.5 + 1.5 ln 1.5) / 2 = 0.1308; normalised by ln 2
    assert theil([1.0, 3.0]) == pytest.approx((0.5 * np.log(0.5) + 1.5 * np.log(1.5)) / 2 / np.log(2))
    assert theil([2.0, 2.0, 2.0]) == 0.0 and theil([5.0]) == 0.0
    # Atkinson eps = 1: 1 - geometric mean / mean = 1 - sqrt(3) / 2; eps = 2: 1 - harmonic mean / mean = 1 - 1.5 / 2
    assert atkinson([1.0, 3.0], 1.0) == pytest.approx(1 - np.sqrt(3) / 2)
    assert atkinson([1.0, 3.0], 2.0) == pytest.approx(0.25)
    assert atkinson([4.0, 4.0]) == pytest.approx(0.0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(1e-3, 1e6), min_size=1, max_size=30), st.floats(0.1, 5))
def test_theil_and_atkinson_bounded(x, epsilon):
    assert 0 <= theil(x) <= 1
    assert 0 <= atkinson(x, epsilon) < 1


@pytest.mark.parametrize("values", [[1.0, 0.0], [2.0, -1.0]])
def test_theil_and_atkinson_only_on_strictly_positive_data(values):
    for index in (theil, atkinson):
        with pytest.raises(IndexDomainError, match="strictly positive"):
            index(values)
    with pytest.raises(IndexDomainError, match="epsilon"):
        atkinson([1.0, 2.0], 0.0)
