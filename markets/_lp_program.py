"""The solver-neutral program and the one solve result type (no solver imported here).

:class:`LinearProgram` holds ``minimise c @ x + offset`` subject to ``row_lower <= A @ x <=
row_upper``, ``col_lower <= x <= col_upper`` and integrality, with ``A`` a ``scipy.sparse`` CSR
matrix and names kept as :class:`NameBlock` s; :class:`LPResult` is what every backend returns
(:mod:`p2psim.markets._lp` for HiGHS and the dispatch, :mod:`p2psim.markets._lp_gurobi`). Both
backends import these types from here, so neither imports the other at module level.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp
from p2psim.markets.base import SolverRecord

STATUSES = ("optimal", "infeasible", "unbounded", "infeasible_or_unbounded", "time_limit", "interrupted", "error")
INF = np.inf


@dataclass(frozen=True)
class NameBlock:
    """Names of ``prod(shape)`` consecutive columns (or rows) from ``start``: ``prefix[i,j,...]``.

    ``labels`` optionally gives, per axis, a sequence of labels (participant ids, line ids) used
    instead of the integer position.
    """

    prefix: str
    start: int
    shape: tuple[int, ...]
    labels: tuple[tuple[str, ...] | None, ...] = ()

    @property
    def size(self) -> int:
        """Number of names in the block."""
        return int(np.prod(self.shape, dtype=np.int64))

    def name(self, k: int) -> str:
        """Name of the ``k``-th entry of the whole model (``start <= k < start + size``)."""
        index = np.unravel_index(k - self.start, self.shape) if self.shape else ()
        parts = []
        for axis, pos in enumerate(index):
            labels = self.labels[axis] if axis < len(self.labels) else None
            parts.append(labels[pos] if labels is not None else f"t={pos}" if axis == 1 else str(pos))
        return f"{self.prefix}[{','.join(parts)}]" if parts else self.prefix


def _lookup(blocks: tuple[NameBlock, ...], k: int) -> str:
    for block in blocks:
        if block.start <= k < block.start + block.size:
            return block.name(k)
    return f"#{k}"


@dataclass(eq=False)
class LinearProgram:
    """``min c@x + offset  s.t.  row_lower <= A@x <= row_upper, col_lower <= x <= col_upper``."""

    c: np.ndarray
    A: sp.csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray = field(default=None)  # type: ignore[assignment]
    col_blocks: tuple[NameBlock, ...] = ()
    row_blocks: tuple[NameBlock, ...] = ()
    offset: float = 0.0

    def __post_init__(self) -> None:
        if self.integrality is None:
            self.integrality = np.zeros(self.n_cols, dtype=bool)

    @property
    def n_cols(self) -> int:
        """Number of variables."""
        return int(self.c.shape[0])

    @property
    def n_rows(self) -> int:
        """Number of constraints."""
        return int(self.A.shape[0])

    @property
    def n_integers(self) -> int:
        """Number of integer (binary) variables."""
        return int(np.count_nonzero(self.integrality))

    def col_name(self, k: int) -> str:
        """Readable name of column ``k``."""
        return _lookup(self.col_blocks, k)

    def row_name(self, k: int) -> str:
        """Readable name of row ``k``."""
        return _lookup(self.row_blocks, k)

    def block(self, prefix: str, *, rows: bool = False) -> NameBlock:
        """The name block called ``prefix`` (of the columns, or of the rows)."""
        for block in self.row_blocks if rows else self.col_blocks:
            if block.prefix == prefix:
                return block
        raise KeyError(prefix)

    def with_columns(self, *, c: np.ndarray, lower: np.ndarray, upper: np.ndarray, integer: bool,
                     prefix: str, shape: tuple[int, ...], coef: sp.spmatrix | None = None) -> LinearProgram:
        """Return a copy with new columns appended (``coef``: their entries in the existing rows)."""
        k = len(c)
        coef = sp.csr_matrix((self.n_rows, k)) if coef is None else coef
        block = NameBlock(prefix, self.n_cols, shape)
        return replace(
            self,
            c=np.concatenate([self.c, c]),
            A=sp.hstack([self.A, coef], format="csr"),
            col_lower=np.concatenate([self.col_lower, lower]),
            col_upper=np.concatenate([self.col_upper, upper]),
            integrality=np.concatenate([self.integrality, np.full(k, integer)]),
            col_blocks=(*self.col_blocks, block),
        )

    def with_rows(self, *, coef: sp.spmatrix, lower: np.ndarray, upper: np.ndarray, prefix: str,
                  shape: tuple[int, ...]) -> LinearProgram:
        """Return a copy with rows ``lower <= coef @ x <= upper`` appended."""
        block = NameBlock(prefix, self.n_rows, shape)
        return replace(
            self,
            A=sp.vstack([self.A, coef], format="csr"),
            row_lower=np.concatenate([self.row_lower, lower]),
            row_upper=np.concatenate([self.row_upper, upper]),
            row_blocks=(*self.row_blocks, block),
        )


@dataclass(eq=False)
class LPResult:
    """Outcome of one solve: the one LP result type of the project (day model and cooperative-game LPs).

    ``row_dual``/``col_dual`` are set for continuous programs only; for the game LPs of
    :func:`p2psim.game._lp.solve_lp`, ``row_dual`` holds the inequality rows' non-negative multipliers.
    """

    x: np.ndarray | None
    objective: float
    status: str
    mip_gap: float
    solve_time_s: float
    backend: str
    row_dual: np.ndarray | None = None
    col_dual: np.ndarray | None = None
    record: SolverRecord | None = None
    bound: float = float("-inf")
    """Best proven lower bound of a MILP (the objective itself for an optimal LP)."""

    @property
    def has_solution(self) -> bool:
        """Whether ``x`` holds a feasible point (optimal or a flagged incumbent)."""
        return self.x is not None and self.status in ("optimal", "time_limit")
