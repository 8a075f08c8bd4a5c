from collections.abc import Mapping

import numpy as np
import pytest

from p2psim.game import Allocation


def test_mapping_behaviour_and_total():
    a = Allocation({"a": 1.0, "b": 2.5}, method="shapley", exact=True, n_value_calls=4)
    assert isinstance(a, Mapping)
    assert dict(a) == {"a": 1.0, "b": 2.5}
    assert list(a) == ["a", "b"]
    assert len(a) == 2
    assert a["b"] == 2.5
    assert a.total() == pytest.approx(3.5)
    assert a.players == ("a", "b")
    np.testing.assert_allclose(a.to_array(["b", "a"]), [2.5, 1.0])
    assert a.std_error is None
    assert a.max_std_error() == 0.0


def test_immutable():
    a = Allocation({"a": 1.0}, method="x", exact=True, meta={"epsilon": 0.1})
    with pytest.raises(AttributeError):
        a.method = "y"
    with pytest.raises(TypeError):
        a["a"] = 2.0  # type: ignore[index]
    with pytest.raises(TypeError):
        a.meta["epsilon"] = 0.2  # type: ignore[index]
    assert a.meta["epsilon"] == 0.1


def test_estimate_never_looks_exact():
    est = Allocation.from_array(
        ["a", "b"],
        np.array([1.0, 2.0]),
        method="shapley",
        exact=False,
        std_error=np.array([0.1, 0.2]),
        n_value_calls=100,
    )
    text = repr(est)
    assert text.startswith("Allocation(sampled estimate shapley")
    assert "±" in text and "max_std_error" in text
    assert "exact" not in text.replace("sampled estimate", "")
    assert str(est) == text
    assert est.std_error == {"a": 0.1, "b": 0.2}
    exact = Allocation({"a": 1.0}, method="shapley", exact=True)
    assert repr(exact).startswith("Allocation(exact shapley")


def test_std_error_players_must_match():
    with pytest.raises(ValueError):
        Allocation({"a": 1.0}, method="m", exact=False, std_error={"b": 0.1})


def test_equality_and_hash_follow_mapping():
    a = Allocation({"a": 1.0}, method="m", exact=True)
    b = Allocation({"a": 1.0}, method="other", exact=False, std_error={"a": 0.0})
    assert a == b == {"a": 1.0}
    assert hash(a) == hash(b)


def test_negative_zero_is_normalised():
    a = Allocation.from_array(["a"], np.array([-0.0]), method="m", exact=True)
    assert "-0" not in repr(a)
