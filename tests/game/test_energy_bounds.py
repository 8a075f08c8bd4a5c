"""The LP-dual bound enumeration on small energy day games equals enumeration of every coalition."""

from dataclasses import replace

import numpy as np
import pytest

from p2psim.energy_game.bounds import dual_bound_separation
from p2psim.energy_game.game import EnergyDayGame, day_specs
from p2psim.game import CachedGame, equitable_core_allocation, max_core_excess, shapley_value


def _spec(study, **changes):
    from p2psim.runner import run

    community = replace(study.community, max_participants=7)
    result = run(replace(study, community=community, days=1, allocation=False, explain=False, settlement_rule="market",
                         **changes))
    return day_specs(result)[0]


@pytest.fixture(scope="module", params=["free", "tight feeder"])
def spec(request, rural_study):
    """One rural day, 7 loads + the aggregator (8 players); then behind a 10 kW transformer (infeasible coalitions)."""
    if request.param == "free":
        return _spec(rural_study)
    spec = _spec(rural_study, transformer_limit_kw=10.0)
    assert not np.all(np.isfinite(EnergyDayGame(spec).all_costs()))  # the case it stands for
    return spec


def _allocations(game, values):
    """Equal split and an off-core target; with every coalition feasible also Shapley and a core point.

    (A game with coalitions that cannot operate alone has no Shapley value or core projection here:
    CachedGame refuses the infinite values.)
    """
    n = len(game.players)
    rng = np.random.default_rng(3)
    off = np.full(n, values[-1] / n) + rng.normal(0, 0.3, n)
    off += (values[-1] - off.sum()) / n
    out = {"equal_split": np.full(n, values[-1] / n), "off_core": off}
    if np.all(np.isfinite(values)):
        cached = CachedGame(game.players, game.value)
        core = equitable_core_allocation(game.players, cached, target=dict(zip(game.players, off, strict=True)))
        out.update(shapley=shapley_value(game.players, cached).to_array(), core_point=core.to_array())
    return out


def _finite(game):
    if not np.all(np.isfinite(game.all_values())):
        pytest.skip("coalitions that cannot operate alone: no CachedGame (Shapley, core projection) on this game")


def test_every_cut_is_below_every_cost_and_tight_where_taken(spec):
    game = EnergyDayGame(spec)
    costs = game.all_costs()
    n, full = len(game.players), (1 << len(game.players)) - 1
    members = ((np.arange(1 << n)[:, None] >> np.arange(n)) & 1).astype(float)
    checked = 0
    for mask in [full, 5, 97, full ^ 3, 1 << (n - 1)]:
        cost, cut = game.cost_and_cut(mask)
        assert cost == costs[mask]
        if cut is None:
            continue
        alpha, slope = cut
        bound = alpha + members @ slope
        feasible = np.isfinite(costs)
        assert np.all(bound[feasible] <= costs[feasible] + 1e-9 * max(1.0, np.abs(costs[feasible]).max()))
        assert bound[mask] == pytest.approx(cost, abs=1e-7)
        checked += 1
    assert checked >= 3


def test_largest_excess_equals_enumeration(spec):
    game = EnergyDayGame(spec)
    values = game.all_values()
    n = len(game.players)
    bits = ((np.arange(1 << n)[:, None] >> np.arange(n)) & 1).astype(float)
    fresh = EnergyDayGame(spec)  # its own cache: the oracle must cost what it needs
    oracle = dual_bound_separation(fresh)
    for name, x in _allocations(game, values).items():
        excess = (values - bits @ x)[1:-1]
        excess = excess[np.isfinite(excess)]
        worst, e, upper = oracle.max_excess(x)
        assert e == pytest.approx(excess.max(), abs=1e-7), name
        assert e <= upper <= e + 1e-8 * max(1.0, abs(values[-1]))
        assert fresh.value(worst) - x[[fresh.index[p] for p in worst]].sum() == pytest.approx(e, abs=1e-9)
    assert oracle.stats["costed"] < 2**n - 2  # the bounds pruned the rest


def test_core_check_label_and_figure(spec):
    game = EnergyDayGame(spec)
    _finite(game)
    cached = CachedGame(game.players, game.value)
    x = dict(zip(game.players, np.full(len(game.players), cached.grand_value() / len(game.players)), strict=True))
    check = max_core_excess(game.players, cached, x, method="bounds", oracle=dual_bound_separation(game).max_excess)
    exact = max_core_excess(game.players, cached, x)
    assert check.label == "exact (LP-dual bounds)" and check.exact
    assert check.max_excess == pytest.approx(exact.max_excess, abs=1e-7)
    assert check.violated == exact.violated and check.n_violated is (None if exact.violated else 0)


def test_row_generation_with_the_bounds_equals_the_exact_projection(spec):
    game = EnergyDayGame(spec)
    _finite(game)
    values = game.all_values()
    cached = CachedGame(game.players, game.value)
    target = dict(zip(game.players, _allocations(game, values)["off_core"], strict=True))
    exact = equitable_core_allocation(game.players, cached, target=target, method="exact")
    fresh = EnergyDayGame(spec)
    rowgen = equitable_core_allocation(game.players, CachedGame(fresh.players, fresh.value), target=target,
                                       method="rowgen", separation=dual_bound_separation(fresh))
    assert rowgen.exact and rowgen.meta["converged"]
    assert rowgen.meta["core_empty"] == exact.meta["core_empty"]
    assert rowgen.meta["distance"] == pytest.approx(exact.meta["distance"], abs=1e-6)
    assert max_core_excess(game.players, cached, dict(rowgen)).max_excess <= rowgen.meta["epsilon"] + 1e-6


def test_surrogate_is_the_game_where_costed_and_above_it_elsewhere(spec):
    game = EnergyDayGame(spec)
    values = game.all_values()
    fresh = EnergyDayGame(spec)
    oracle = dual_bound_separation(fresh)
    oracle.max_excess(np.full(len(game.players), values[-1] / len(game.players)))
    surrogate = oracle.surrogate_values()
    feasible = np.isfinite(values)
    assert surrogate[0] == 0.0 and surrogate[-1] == pytest.approx(values[-1])
    assert np.all(surrogate[feasible] >= values[feasible] - 1e-9 * max(1.0, abs(values[-1])))
    costed = [m for m in fresh.cached_costs if 0 < m < (1 << len(game.players)) - 1 and feasible[m]]
    np.testing.assert_allclose(surrogate[costed], values[costed], atol=1e-9)
    assert np.all(np.isfinite(surrogate))

