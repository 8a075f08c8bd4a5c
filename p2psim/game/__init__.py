"""Cooperative savings games: Shapley values, core, (pre-)nucleolus and fair stable allocations.

A game is ``players: Sequence[str]`` plus ``value: Callable[[frozenset[str]], float]``, the
characteristic function of a *savings* game (``v(∅) = 0``; ``v(S)`` is what coalition ``S``
saves by cooperating). Every solution concept returns an :class:`Allocation`, which says
whether it is exact or a sampled estimate (with standard errors) and how many value calls it
cost. Pass a :class:`CachedGame` instead of a plain function to share evaluations between
solution concepts.

The day's energy game built on these (coalition values from the day model, separation oracles,
the allocation stage) lives in :mod:`p2psim.energy_game`.
"""

from __future__ import annotations

from p2psim.game.allocation import Allocation
from p2psim.game.axioms import (
    check_axioms,
    core_violation,
    efficiency_gap,
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
)
from p2psim.game.cached import CachedGame, ValueFunction
from p2psim.game.core import CoreExcess, ExcessOracle, least_core, max_core_excess
from p2psim.game.nucleolus import nucleolus, prenucleolus
from p2psim.game.shapley import shapley_value
from p2psim.game.stable import Separation, equitable_core_allocation, exhaustive_separation
from p2psim.game.textbook import (
    DividendValue,
    TextbookGame,
    additive_game,
    airport_game,
    bankruptcy_game,
    dividend_game,
    glove_game,
    random_convex_game,
    random_game_with_core,
    random_table_game,
    unanimity_game,
    weighted_majority_game,
)
from p2psim.game.weighted import weighted_shapley_value

__all__ = [
    "Allocation",
    "CachedGame",
    "CoreExcess",
    "DividendValue",
    "ExcessOracle",
    "Separation",
    "TextbookGame",
    "ValueFunction",
    "additive_game",
    "airport_game",
    "bankruptcy_game",
    "check_axioms",
    "core_violation",
    "dividend_game",
    "efficiency_gap",
    "equitable_core_allocation",
    "exhaustive_separation",
    "glove_game",
    "in_core",
    "individual_rationality_violation",
    "is_efficient",
    "is_individually_rational",
    "least_core",
    "max_core_excess",
    "max_relative_error",
    "nucleolus",
    "null_player_violation",
    "null_players",
    "prenucleolus",
    "random_convex_game",
    "random_game_with_core",
    "random_table_game",
    "relative_errors",
    "shapley_value",
    "symmetric_pairs",
    "symmetry_violation",
    "unanimity_game",
    "weighted_majority_game",
    "weighted_shapley_value",
]
