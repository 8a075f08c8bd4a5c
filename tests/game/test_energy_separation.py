"""Row generation with the membership-MILP oracle on a small energy day game equals enumeration."""

from dataclasses import replace

import numpy as np
import pytest

from p2psim.energy_game.game import EnergyDayGame, day_specs
from p2psim.energy_game.separation import membership_separation
from p2psim.game import CachedGame, equitable_core_allocation, max_core_excess


@pytest.fixture(scope="module")
def spec(rural_study):
    """One day of the rural study with 7 loads + the aggregator (8 players)."""
    from p2psim.runner import run

    community = replace(rural_study.community, max_participants=7)
    result = run(replace(rural_study, community=community, days=1, allocation=False))
    return day_specs(result)[0]


def _target(game, values):
    rng = np.random.default_rng(3)  # a target off the core: equal split perturbed
    n = len(game.players)
    t = np.full(n, values[-1] / n) + rng.normal(0, 0.3, n)
    t += (values[-1] - t.sum()) / n
    return dict(zip(game.players, t, strict=True))


@pytest.mark.parametrize("options", [{}, {"heuristics": False}, {"relax": False, "search_budget": 0}])
def test_rowgen_with_membership_oracle_equals_enumeration(spec, options):
    game = EnergyDayGame(spec)
    values = game.all_values()
    cached = CachedGame(game.players, game.value)
    target = _target(game, values)
    exact = equitable_core_allocation(game.players, cached, target=target, method="exact")
    oracle = membership_separation(game, **options)
    rowgen = equitable_core_allocation(game.players, cached, target=target, method="rowgen", separation=oracle)
    assert rowgen.exact and rowgen.meta["converged"]
    assert rowgen.meta["core_empty"] == exact.meta["core_empty"]
    assert rowgen.meta["distance"] == pytest.approx(exact.meta["distance"], abs=1e-6)
    assert rowgen.meta["n_constraints"] < 2 ** len(game.players) - 2
    # the result satisfies every core constraint (checked by enumeration)
    check = max_core_excess(game.players, cached, dict(rowgen))
    assert check.exact and check.max_excess <= rowgen.meta["epsilon"] + 1e-6


def test_oracle_finds_the_most_violated_coalition(spec):
    game = EnergyDayGame(spec)
    values = game.all_values()
    n = len(game.players)
    x = np.full(n, values[-1] / n)
    bits = (np.arange(1 << n)[:, None] >> np.arange(n)) & 1
    excess = (values - bits @ x)[1:-1]
    found = membership_separation(game, heuristics=False, early_stop=False)(x)
    assert found is not None
    assert found[0][1] == pytest.approx(excess.max(), abs=1e-6)
    # the heuristic oracle returns only violated coalitions, several at once
    cuts = membership_separation(game)(x)
    assert cuts and all(e > 0 for _, e in cuts)
    assert all(game.value(s) - sum(x[game.index[p]] for p in s) == pytest.approx(e, abs=1e-7) for s, e in cuts)


def test_time_limit_reports_not_proven(spec):
    game = EnergyDayGame(spec)
    cached = CachedGame(game.players, game.value)
    values = game.all_values()
    with pytest.warns(RuntimeWarning, match="time limit"):
        x = equitable_core_allocation(
            game.players, cached, target=_target(game, values), method="rowgen",
            separation=membership_separation(game), time_limit_s=0.0,
        )
    assert not x.exact and not x.meta["converged"]


def _with_projection(spec):
    """The day game, its cached values, an off-core target and the exact projection onto the core."""
    game = EnergyDayGame(spec)
    cached = CachedGame(game.players, game.value)
    target = _target(game, game.all_values())
    return game, cached, target, equitable_core_allocation(game.players, cached, target=target, method="exact")


def test_certified_core_point_is_in_the_core_and_brackets_the_optimum(spec):
    from p2psim.energy_game.inner import certified_core_allocation

    game, cached, target, exact = _with_projection(spec)
    t = np.array([target[p] for p in game.players])
    certified = certified_core_allocation(game, t)
    assert certified is not None and certified.meta["core_proven"]
    check = max_core_excess(game.players, cached, dict(certified))
    assert check.exact and check.max_excess <= 1e-6  # proven by its LP certificate, checked by enumeration
    assert certified.total() == pytest.approx(cached.grand_value())
    # all 2^n values are known here, so the lower bound is the exact projection
    assert certified.meta["distance_lower_bound"] == pytest.approx(exact.meta["distance"], abs=1e-6)
    assert certified.meta["distance"] >= exact.meta["distance"] - 1e-9


def test_in_out_from_the_certified_point_equals_enumeration(spec):
    from p2psim.energy_game.inner import closest_certified_core_point

    game, cached, target, exact = _with_projection(spec)
    anchor = closest_certified_core_point(game, np.array([target[p] for p in game.players]))
    x = equitable_core_allocation(game.players, cached, target=target, method="rowgen",
                                  separation=membership_separation(game),
                                  anchor=dict(zip(game.players, anchor, strict=True)))
    assert x.meta["anchor_in_core"] and x.meta["converged"]
    assert x.meta["distance"] == pytest.approx(exact.meta["distance"], abs=1e-6)


def test_certified_point_is_no_farther_than_the_owen_allocation(spec):
    """Without a binding shared limit the game is homogeneous and R holds every LP-dual (Owen) allocation."""
    from p2psim.energy_game.allocate import owen_allocation
    from p2psim.energy_game.inner import closest_certified_core_point

    game, _, target, exact = _with_projection(spec)
    _, shared = game.solver.grand_duals().owner_values()
    assert np.allclose(shared, 0.0)  # precondition of the claim: no shared term to split
    n = len(game.players)
    t = np.array([target[p] for p in game.players])
    owen = owen_allocation(game, np.full(n, 1.0 / n))
    certified = closest_certified_core_point(game, t)
    owen_distance = sum(abs(owen[p] - target[p]) for p in game.players)
    assert exact.meta["distance"] - 1e-9 <= np.abs(certified - t).sum() <= owen_distance + 1e-9


def _allocations(game, values, cached):
    """Shapley, equal split, the closest core point to an off-core target and that point perturbed."""
    from p2psim.game import shapley_value

    n = len(game.players)
    core_point = equitable_core_allocation(game.players, cached, target=_target(game, values), method="exact")
    perturbed = dict(core_point)
    first, second = game.players[0], game.players[-1]
    perturbed[first] += 0.05  # efficiency kept: a transfer between two members
    perturbed[second] -= 0.05
    return {"shapley": dict(shapley_value(game.players, cached)), "equal_split": dict.fromkeys(game.players,
            values[-1] / n), "core_point": dict(core_point), "perturbed_core_point": perturbed}


@pytest.mark.parametrize("after_rowgen", [False, True])
@pytest.mark.parametrize("options", [{}, {"search_budget": 0}])
def test_oracle_max_excess_equals_enumeration(spec, options, after_rowgen):
    # the enumerated game gives the reference; the oracle runs on a fresh game that knows only the singletons
    reference = EnergyDayGame(spec)
    values = reference.all_values()
    cached = CachedGame(reference.players, reference.value)
    allocations = _allocations(reference, values, cached)
    game = EnergyDayGame(spec)
    oracle = membership_separation(game, **options)
    if after_rowgen:  # as in the allocation stage: the equitable core first, then every rule's check
        target = _target(game, values)
        answer = equitable_core_allocation(game.players, CachedGame(game.players, game.value), target=target,
                                           method="rowgen", separation=oracle)
        allocations["row_generation_answer"] = dict(answer)  # its last proof is reused, not solved again
    fresh = CachedGame(game.players, game.value)
    for name, x in allocations.items():
        enumerated = max_core_excess(reference.players, cached, x)
        found = max_core_excess(game.players, fresh, x, method="oracle", oracle=oracle.max_excess)
        assert found.max_excess == pytest.approx(enumerated.max_excess, abs=1e-6), name
        assert found.max_excess - 1e-9 <= found.upper_bound <= found.max_excess + 1e-6, name
        assert found.violated == enumerated.violated, name
        assert found.exact and found.label == "exact (MILP oracle)"
        assert found.n_violated == (None if found.violated else 0)  # a count only when it is 0
        attained = reference.value(found.worst_coalition) - sum(x[p] for p in found.worst_coalition)
        assert attained == pytest.approx(found.max_excess, abs=1e-7), name
    # every answer is proven: by the LP relaxation meeting a known coalition, by one MILP or by the proof
    # row generation made at its own answer
    stats = oracle.stats
    proofs = stats["excess_milp_solves"] + stats["excess_relax_proofs"] + stats["excess_reused_proofs"]
    assert proofs == len(allocations)
    assert stats["excess_reused_proofs"] == after_rowgen
    assert game.n_solves < 2 ** len(game.players) - 2  # the oracle did not enumerate
    violated = {name: max_core_excess(reference.players, cached, x).violated for name, x in allocations.items()}
    assert violated["equal_split"] and violated["perturbed_core_point"] and not violated["core_point"]


def test_oracle_max_excess_leaves_row_generation_exact(spec):
    # the checks share the oracle with row generation: calling them first must not change its answer
    reference = EnergyDayGame(spec)
    values = reference.all_values()
    cached = CachedGame(reference.players, reference.value)
    target = _target(reference, values)
    exact = equitable_core_allocation(reference.players, cached, target=target, method="exact")
    game = EnergyDayGame(spec)
    oracle = membership_separation(game)
    for x in _allocations(reference, values, cached).values():
        oracle.max_excess(x)
    rowgen = equitable_core_allocation(game.players, CachedGame(game.players, game.value), target=target,
                                       method="rowgen", separation=oracle)
    assert rowgen.meta["converged"] and rowgen.meta["distance"] == pytest.approx(exact.meta["distance"], abs=1e-6)
