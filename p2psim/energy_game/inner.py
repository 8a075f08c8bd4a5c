"""A proven core point of the energy game close to a target, from one LP (no coalition is solved).

The separation MILP of :mod:`p2psim.energy_game.separation` computes, for an allocation x of the
savings game, the largest excess max_S v(S) - x(S) as

    E(x) = max { q(x) @ w : L <= A w <= U, l <= w <= u, z binary },   w = (y, z),
    q(x) = (-cost, c_sa - x)                                           (c_sa: stand-alone costs)

Dropping integrality gives an upper bound E_R(x) >= E(x), and by LP duality E_R(x) <= 0 holds
exactly when some dual vector certifies it:

    exists (a, b, f, g) >= 0 :  A^T (a - b) + f - g = -q(x)    (dual of the min form, c = -q(x))
                                L @ a - U @ b + l @ f - u @ g >= -offset

(a, b for the finite row bounds, f, g for the finite column bounds). These constraints are linear
in x and the certificate together, so the set R = {x : E_R(x) <= 0, x(N) = v(N)} is a polyhedron
inside the core, and the point of R closest to a target t,

    min ||x - t||  s.t.  x in R,

is one LP over (x, deviations, certificate) -- about 2 x (rows + columns) of the day model in
variables. Its solution is a core point *proven by its certificate*: no coalition is ever costed.
When no shared limit binds, every right-hand side scales with z, the relaxed savings
v(z) = c_sa @ z - c(z) are concave and positively homogeneous, and x @ z >= v(z) on the cube with
x(N) = v(N) says that x is a supergradient of v at the grand coalition: R is then exactly the set of
Owen (LP-dual) allocations (:func:`p2psim.energy_game.allocate.owen_allocation`), and the closest certified point
is the Owen allocation closest to the target -- the Owen allocation itself when the grand LP's duals
are unique. With binding feeder limits R can differ from it, or be empty (then ``None``). R is
usually a strict subset of the core, so the point is an *upper bound* on the distance of the closest
core point; row generation (:func:`p2psim.game.equitable_core_allocation` with ``anchor=``) starts
from it as its in-point and closes the gap.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from p2psim.errors import GameError
from p2psim.markets._lp import new_highs, pass_model
from p2psim.markets._lp_program import LinearProgram


def closest_certified_core_point(game, target: np.ndarray, norm: str = "l1") -> np.ndarray | None:
    """The point of R (see the module docstring) closest to ``target``, or ``None`` if R is empty.

    Args:
        game: An :class:`~p2psim.energy_game.game.EnergyDayGame`.
        target: Target savings per player (game order).
        norm: ``"l1"`` or ``"max"``, as in :func:`~p2psim.game.equitable_core_allocation`.
    """
    from p2psim.energy_game.separation import membership_program
    from p2psim.game.stable import deviation_columns

    program, first_z = membership_program(game)
    n = len(game.players)
    a_t = program.A.T.tocsr()
    n_cols = a_t.shape[0]
    finite = [np.isfinite(b) for b in (program.row_lower, program.row_upper, program.col_lower, program.col_upper)]
    eye = sp.identity(n_cols, format="csr")
    certificate = sp.hstack([a_t[:, finite[0]], -a_t[:, finite[1]], eye[:, finite[2]], -eye[:, finite[3]]]).tocsr()
    certificate_value = np.concatenate([
        program.row_lower[finite[0]], -program.row_upper[finite[1]],
        program.col_lower[finite[2]], -program.col_upper[finite[3]],
    ])
    m = certificate.shape[1]
    # -q(x) = (cost, x - c_sa): the z entries carry +x, so  certificate @ dual - [0; I] x = (cost, -c_sa)
    x_in_z = sp.csr_matrix((np.ones(n), (np.arange(first_z, first_z + n), np.arange(n))), shape=(n_cols, n))
    rhs = program.c.copy()
    rhs[first_z:first_z + n] = -game.standalone_cost
    dev = deviation_columns(n, norm)
    n_dev = dev.shape[1]
    csr = sp.csr_matrix  # csr(shape) is all zeros, csr(array) the array
    rows = [
        sp.hstack([-x_in_z, csr((n_cols, n_dev)), certificate]),
        sp.hstack([csr((1, n + n_dev)), csr(certificate_value[None, :])]),
        sp.hstack([csr(np.ones((1, n))), csr((1, n_dev + m))]),
        sp.hstack([sp.identity(n), dev, csr((n, m))]),
        sp.hstack([sp.identity(n), -dev, csr((n, m))]),
    ]
    grand = game.value_of_mask((1 << n) - 1)
    inf = np.inf
    lp = LinearProgram(
        c=np.concatenate([np.zeros(n), np.ones(n_dev), np.zeros(m)]),
        A=sp.vstack(rows).tocsr(),
        row_lower=np.concatenate([rhs, [-program.offset], [grand], target, np.full(n, -inf)]),
        row_upper=np.concatenate([rhs, [inf], [grand], np.full(n, inf), target]),
        col_lower=np.concatenate([np.full(n, -inf), np.zeros(n_dev + m)]),
        col_upper=np.full(n + n_dev + m, inf),
        integrality=np.zeros(n + n_dev + m, dtype=bool),
        offset=0.0,
    )
    highs = new_highs(game.spec.solver)
    pass_model(highs, lp)
    highs.run()
    status = highs.getModelStatus().name
    if status == "kInfeasible":
        return None
    if status != "kOptimal":
        raise GameError(f"certified core point LP of day {game.spec.day} ended with status {status}")
    return np.asarray(highs.getSolution().col_value[:n], dtype=float)


def certified_core_allocation(game, target: np.ndarray, norm: str = "l1"):
    """The closest certified core point (see the module docstring) as an allocation, with its bracket.

    The point is a proven core point. How far it may be from the closest core point is bracketed
    without solving a coalition: ``distance_lower_bound`` is the projection of ``target`` onto the
    core constraints of the coalitions whose costs the day game already knows (e.g. from sampled
    Shapley orders), a relaxation of the core. Returns ``None`` when R is empty (binding feeder
    limits can do that).
    """
    from p2psim.game.allocation import Allocation
    from p2psim.game.stable import distance_lp, norm_distance

    x = closest_certified_core_point(game, target, norm)
    if x is None:
        return None
    n, full = len(game.players), (1 << len(game.players)) - 1
    known = [m for m, c in game.cached_costs.items() if 0 < m < full and np.isfinite(c)]
    members = np.array([game.members_of_mask(m) for m in known], dtype=float).reshape(len(known), n)
    values = np.array([game.value_of_mask(m) for m in known])
    relaxed = distance_lp(n, target, None, values, game.value_of_mask(full), norm, members=members)
    if relaxed is None:
        raise GameError(f"core projection over the known coalitions of day {game.spec.day} is infeasible, "
                        "although a certified core point exists (numerical trouble)")
    deviation = x - target
    distance, lower = norm_distance(deviation, norm), norm_distance(relaxed - target, norm)
    meta = {
        "target": dict(zip(game.players, target.tolist(), strict=True)),
        "deviation": dict(zip(game.players, deviation.tolist(), strict=True)),
        "distance": distance, "distance_lower_bound": lower, "norm": norm, "solver": "certified",
        "epsilon": 0.0, "core_empty": False, "least_core_epsilon": None, "core_proven": True,
        "converged": False, "n_constraints": len(known),
    }
    return Allocation.from_array(game.players, x, method="equitable_core", exact=False, meta=meta)
