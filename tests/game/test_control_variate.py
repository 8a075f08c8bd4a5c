"""Sampled Shapley values with a control-variate game and a standard-error target."""

import numpy as np
import pytest

from p2psim.errors import GameError
from p2psim.game import CachedGame, random_convex_game, shapley_value, weighted_shapley_value
from p2psim.game._bits import all_masks

W = np.linspace(0.5, 3.0, 8)


def _game(seed=3):
    return random_convex_game([f"p{i}" for i in range(8)], np.random.default_rng(seed), n_terms=20, max_size=4)


def _values(game):
    cache = CachedGame(game.players, game.value)
    return np.array([cache.value_of_mask(int(m)) for m in all_masks(cache.n)])


def _estimate(game, kind, seed, **options):
    if kind == "shapley":
        return shapley_value(*game, method="sampled", budget=400, seed=seed, sampler="antithetic", **options)
    return weighted_shapley_value(*game, W, method="sampled", budget=400, seed=seed, **options)


def _exact(game, kind):
    return (shapley_value(*game) if kind == "shapley" else weighted_shapley_value(*game, W)).to_array()


@pytest.mark.parametrize("kind", ["shapley", "weighted"])
def test_the_game_itself_as_baseline_gives_the_exact_value_with_zero_error(kind):
    game = _game()
    est = _estimate(game, kind, seed=1, baseline=_values(game))
    np.testing.assert_allclose(est.to_array(), _exact(game, kind), atol=1e-12)
    assert max(est.std_error.values()) < 1e-12
    assert not est.exact and est.meta["control_variate"]


@pytest.mark.parametrize("kind", ["shapley", "weighted"])
def test_a_rough_baseline_keeps_the_estimate_unbiased_and_efficient(kind):
    """Baseline = v + noise (fixed, b(N) = v(N)): the mean over seeds is the exact value, each sums to v(N)."""
    game = _game()
    values = _values(game)
    noise = np.random.default_rng(7).normal(0, 0.3, values.size)
    noise[0] = noise[-1] = 0.0
    exact = _exact(game, kind)
    estimates, errors = [], []
    for seed in range(200):
        est = _estimate(game, kind, seed, baseline=values + noise)
        assert est.total() == pytest.approx(values[-1], abs=1e-9)
        estimates.append(est.to_array())
        errors.append(np.array(list(est.std_error.values())))
    estimates, errors = np.array(estimates), np.array(errors)
    # unbiased: the mean of 200 estimates within 4 standard errors of that mean
    np.testing.assert_array_less(np.abs(estimates.mean(0) - exact), 4 * estimates.std(0) / np.sqrt(200) + 1e-12)
    # the reported errors match the spread of the estimates (within 25 %)
    np.testing.assert_allclose(errors.mean(0), estimates.std(0), rtol=0.25)


@pytest.mark.parametrize("kind", ["shapley", "weighted"])
def test_a_close_baseline_shrinks_the_standard_errors(kind):
    game = _game()
    values = _values(game)
    close = values + 0.02 * np.random.default_rng(1).normal(0, 1, values.size) * np.abs(values)
    close[0], close[-1] = 0.0, values[-1]
    plain = _estimate(game, kind, seed=4)
    controlled = _estimate(game, kind, seed=4, baseline=close)
    assert max(controlled.std_error.values()) < 0.2 * max(plain.std_error.values())


@pytest.mark.parametrize("kind", ["shapley", "weighted"])
def test_target_se_stops_early_and_is_met(kind):
    game = _game()
    full = _estimate(game, kind, seed=2)
    loose = max(full.std_error.values()) * 3
    est = _estimate(game, kind, seed=2, target_se=loose)
    draws = est.meta["pairs" if kind == "shapley" else "orders"]
    assert 8 <= draws < full.meta["pairs" if kind == "shapley" else "orders"]
    assert draws % 4 == 0 and max(est.std_error.values()) <= loose
    assert est.n_value_calls < full.n_value_calls
    # an unreachable target spends the budget
    capped = _estimate(game, kind, seed=2, target_se=1e-9)
    assert capped.n_value_calls == full.n_value_calls


def test_bad_baselines_are_refused():
    game = _game()
    values = _values(game)
    with pytest.raises(GameError, match="2\\^n = 256"):
        _estimate(game, "weighted", 0, baseline=values[:-1])
    shifted = values.copy()
    shifted[-1] += 1.0
    with pytest.raises(GameError, match="b\\(N\\) = v\\(N\\)"):
        _estimate(game, "shapley", 0, baseline=shifted)
    with pytest.raises(GameError, match="sampler='antithetic'"):
        shapley_value(*game, method="sampled", budget=400, seed=0, baseline=values)

