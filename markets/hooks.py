"""Extra constraints of the day model that survive process boundaries.

A constraint patched into a private day model lives in one process only: the allocation stage's
worker processes rebuild every day model from its order book, so the patch is lost there (a run gave
v(N) 71.26 with one worker and 70.81 with two). An extra constraint is therefore DATA in the book:
a :class:`ConstraintHook` names an importable function (``"package.module:function"``) and its
parameters, so it pickles, and every process that builds a model from the book (EqWM, the
stand-alone problems, coalitions, Ray workers) calls the same function on the same model.

The function receives the assembled :class:`~p2psim.markets._community_lp.DayModel` (its ``book``,
``standalone`` flag, ``index(kind)`` / ``lp.n_cols`` to find columns) and the hook's parameters, and
returns :class:`ExtraRows` ``lower <= coef @ x <= upper`` (or None to add nothing to this model).
Rows are tagged with an owner: a participant index (the row is switched off, bounds zero, when that
participant is not in a coalition) or -1 (a shared limit that every coalition keeps).

Example (shipped as :func:`device_power_cap`): at most 20 kW of EV charging in the whole community
in every interval, in a study::

    market_options=(("extra_constraints", (ConstraintHook("p2psim.markets.hooks:device_power_cap",
                                                          (("kind", "ev"), ("limit_kw", 20.0))),)),)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from p2psim.errors import StudyError


@dataclass(frozen=True)
class ExtraRows:
    """Rows ``lower <= coef @ x <= upper`` returned by a hook (``owner``: participant or -1 per row)."""

    coef: sp.spmatrix
    lower: np.ndarray
    upper: np.ndarray
    owner: np.ndarray | None = None
    name: str = "extra"


@dataclass(frozen=True)
class ConstraintHook:
    """An importable function (``"package.module:function"``) and its parameters (name, value pairs)."""

    function: str
    params: tuple[tuple[str, Any], ...] = ()

    def resolve(self) -> Callable:
        """The function named by ``function``; StudyError (exit 2) naming the fix if it does not import."""
        module, _, name = self.function.partition(":")
        if not module or not name:
            raise StudyError(f"extra constraint {self.function!r} must name an importable function as "
                             "'package.module:function' (a lambda or a function of a study file cannot cross "
                             "process boundaries)")
        try:
            found = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise StudyError(f"extra constraint {self.function!r} cannot be imported ({exc}); put the function "
                             "in an importable module (on PYTHONPATH) and name it 'package.module:function'") from exc
        if not callable(found):
            raise StudyError(f"extra constraint {self.function!r} is not a function")
        return found


def as_hooks(value) -> tuple[ConstraintHook, ...]:
    """Normalise a study's ``extra_constraints`` option (hooks or ``"module:function"`` strings)."""
    if value is None:
        return ()
    items = value if isinstance(value, list | tuple) else (value,)
    out = []
    for item in items:
        if isinstance(item, str):
            item = ConstraintHook(item)
        if not isinstance(item, ConstraintHook):
            raise StudyError(f"extra_constraints entry {item!r} must be a ConstraintHook or a "
                             "'package.module:function' string")
        item.resolve()
        out.append(item)
    return tuple(out)


def apply_hooks(model, context) -> None:
    """Append the rows of every hook of ``model.book`` to ``model`` (its program and row owners)."""
    for hook in model.book.constraints:
        rows = hook.resolve()(model, **dict(hook.params))
        if rows is None:
            continue
        coef = sp.csr_matrix(rows.coef)
        count = coef.shape[0]
        if coef.shape[1] != model.lp.n_cols:
            raise StudyError(f"extra constraint {hook.function!r} returned {coef.shape[1]} columns; the day model "
                             f"has {model.lp.n_cols} (build the matrix with shape=(rows, model.lp.n_cols))")
        owner = np.full(count, -1) if rows.owner is None else np.asarray(rows.owner, dtype=int)
        model.lp = model.lp.with_rows(coef=coef, lower=np.broadcast_to(np.asarray(rows.lower, float), (count,)).copy(),
                                      upper=np.broadcast_to(np.asarray(rows.upper, float), (count,)).copy(),
                                      prefix=rows.name, shape=(count,))
        model.row_owner = np.concatenate([model.row_owner, owner])


def device_power_cap(model, kind: str, limit_kw: float) -> ExtraRows | None:
    """Shared limit: the devices of ``kind`` together draw at most ``limit_kw`` in every interval.

    Rows (one per interval, shared: every coalition keeps it): sum over devices of that kind of
    ch[d, t] <= limit_kw. Nothing is added to a model without such devices, nor to the stand-alone
    model (a participant alone is not bound by a community limit).
    """
    book = model.book
    rows = np.flatnonzero(np.asarray(book.storage.kind) == kind)
    if not len(rows) or model.standalone:
        return None
    cols = model.index("ch")[rows]
    horizon = book.n_intervals
    coef = sp.csr_matrix((np.ones(cols.size), (np.tile(np.arange(horizon), len(rows)), cols.ravel())),
                         shape=(horizon, model.lp.n_cols))
    return ExtraRows(coef, np.full(horizon, -np.inf), np.full(horizon, float(limit_kw)), name=f"{kind}_power_cap")
