"""The market contract: a rule is a pure function ``clear(book, context) -> Clearing``.

A rule reads only the :class:`~p2psim.markets.book.OrderBook` and the :class:`ClearingContext`
(feeder, options, seeded ``rng``); it never touches agents and keeps no hidden state, so a clearing
can be replayed from the ledger. If unsure whether your Market is correct, run
``p2psim.testing.check_market``.

Every clearing returns the day's dispatch as non-negative flows (n participants x T intervals), the
internal pool price and a record of every solver call. Per participant and interval it must hold
(the sign convention of :mod:`p2psim.units`):

    load - pv + curtail + charge - discharge + shift = grid_import - grid_export + pool_buy - pool_sell

and per interval ``sum pool_buy == sum pool_sell`` (the pool is balanced). ``charge`` and
``discharge`` are the power drawn and returned by all of the participant's devices (storage-like
devices and shiftable loads, :mod:`p2psim.markets.devices`); a rule reports them per device too
(``device_*`` arrays, storage-like devices first, then shiftable loads, in the book's order), and
:func:`p2psim.testing.check_clearing` checks every device's physics from them. The pool price is one
per interval (T,) or one per participant and interval (n, T), e.g. pay-as-bid; per-participant
prices must still balance the pool's money in every interval.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
from p2psim.markets.book import OrderBook

from p2psim.units import is_quantity
from p2psim.world.feeder import Feeder


@dataclass(frozen=True, kw_only=True)
class SolverOptions:
    """How optimisation-based rules call their solver."""

    backend: str = "auto"
    """``auto``: HiGHS for LPs, Gurobi for MILPs when gurobipy is licensed and the model fits its
    size-limited licence (else HiGHS, noted in the record); ``highs``: HiGHS only; ``gurobi``:
    Gurobi for every program that fits."""
    time_limit_s: float = 60.0
    """Wall-clock limit per solve."""
    mip_gap: float = 1e-4
    """Relative MIP gap at which a MILP counts as solved."""
    threads: int = 1
    """Solver threads (the machine has 2 cores; fan-out uses processes instead)."""
    on_time_limit: str = "fail"
    """``fail`` raises ClearingError; ``incumbent`` returns the best solution, flagged."""


@dataclass(frozen=True, kw_only=True)
class EquityOptions:
    """The equity part of the EqWM objective (docs/model.md section 4)."""

    cost_weight: float = 1.0
    """Coefficient of the community cost term."""
    welfare_weight: float = 1.0
    """alpha: coefficient of the weighted welfare term sum_i w_i b_i."""
    rawlsian_weight: float = 0.0
    """lambda: coefficient of the Rawlsian floor z (z <= normalised benefit of everyone)."""
    benefit_floor: float = 1.0
    """Denominator floor in r_i = b_i / max(B_i, floor) (currency units per day)."""
    use_binaries: str = "auto"
    """``auto`` (LP first, binaries only where complementarity fails), ``always`` or ``never``."""


@dataclass(frozen=True, kw_only=True)
class ClearingContext:
    """What a rule may know besides the book."""

    feeder: Feeder
    """The feeder (bus order matches ``book.bus_index``)."""
    rng: np.random.Generator
    """The rule's own seeded stream (tie-breaks, random limit prices)."""
    day: int = 0
    """Day index within the run."""
    solver: SolverOptions = field(default_factory=SolverOptions)
    """Solver options."""
    equity: EquityOptions = field(default_factory=EquityOptions)
    """Equity options of EqWM."""
    enforce_feeder: bool = True
    """Whether optimisation rules apply line and transformer limits."""
    options: dict[str, Any] = field(default_factory=dict)
    """Rule-specific options from the study."""


@dataclass(frozen=True, kw_only=True)
class SolverRecord:
    """One solver call, as written to the ledger and run.json."""

    backend: str
    status: str
    objective: float
    mip_gap: float
    solve_time_s: float
    build_time_s: float = 0.0
    n_variables: int = 0
    n_constraints: int = 0
    n_binaries: int = 0
    path: str = "lp"
    """``lp`` (relaxation was exact), ``lp+binaries`` (repaired), ``milp`` (full model)."""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON and Parquet."""
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True, eq=False)
class Clearing:
    """The outcome of clearing one day: dispatch, pool trades, prices and solver records."""

    market: str
    grid_import_kw: np.ndarray
    grid_export_kw: np.ndarray
    pool_buy_kw: np.ndarray
    pool_sell_kw: np.ndarray
    charge_kw: np.ndarray
    discharge_kw: np.ndarray
    soc_kwh: np.ndarray
    """Battery energy at the END of each interval (n x T)."""
    curtail_kw: np.ndarray
    shift_kw: np.ndarray
    """Load moved into (+) or out of (-) each interval by flexibility (n x T)."""
    pool_price_per_kwh: np.ndarray
    """Price per pool kWh: one per interval (T), sellers receive it and buyers pay it plus the P2P fee;
    or one per participant and interval (n x T, pay-as-bid), whose payments balance every interval."""
    solver_records: tuple[SolverRecord, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    """Rule-specific outputs (EqWM: z, benefits, normalised benefits, peak)."""
    device_charge_kw: np.ndarray | None = None
    """Power drawn by every device (devices x T; storage-like devices, then shiftable loads)."""
    device_discharge_kw: np.ndarray | None = None
    """Power returned by every device (devices x T)."""
    device_energy_kwh: np.ndarray | None = None
    """Energy at the end of each interval (devices x T; a shiftable load: what it drew so far today)."""

    def net_import_kw(self) -> np.ndarray:
        """Scheduled net import (n x T), positive when taking energy."""
        return self.grid_import_kw - self.grid_export_kw + self.pool_buy_kw - self.pool_sell_kw

    def device_flows(self, book: OrderBook) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(charge, discharge, energy) per device (devices x T) of this clearing of ``book``.

        A rule that reports no device arrays is read per participant when that is unambiguous (each
        participant owns at most one device, none of them a shiftable load); otherwise this raises
        ValueError naming the rule and the fix.
        """
        if self.device_charge_kw is not None:
            return (np.asarray(self.device_charge_kw, float), np.asarray(self.device_discharge_kw, float),
                    np.asarray(self.device_energy_kwh, float))
        owner = book.storage.owner
        if book.shiftable.n_devices or len(np.unique(owner)) != len(owner):
            raise ValueError(f"{self.market}: the book has shiftable loads or several devices per participant; "
                             "the clearing must report device_charge_kw, device_discharge_kw and device_energy_kwh")
        return self.charge_kw[owner], self.discharge_kw[owner], self.soc_kwh[owner]


SOLVER_BACKENDS = ("auto", "highs", "gurobi")
"""Values of :attr:`SolverOptions.backend`."""


@dataclass(frozen=True)
class MarketOption:
    """One rule-specific option (``Study.market_options``): what it means and how its value is checked."""

    meaning: str
    """What the option does and the values it takes."""
    check: Callable[[Any, int], str | None]
    """``check(value, intervals_per_day)``: None when the value is valid, else what is expected."""


def _voltage_band(value: Any, _: int) -> str | None:
    ok = value is None or (isinstance(value, tuple | list) and len(value) == 2 and all(map(is_quantity, value))
                           and 0 < value[0] < value[1])
    return None if ok else "None or (v_min, v_max) in per unit with 0 < v_min < v_max, e.g. (0.95, 1.05)"


def _positive(value: Any, _: int) -> str | None:
    return None if is_quantity(value) and value > 0 else "a positive number, e.g. 1.0"


def _extra_constraints(value: Any, _: int) -> str | None:
    from p2psim.markets.hooks import as_hooks

    from p2psim.errors import StudyError

    try:
        as_hooks(value)
    except StudyError as exc:
        return f"ConstraintHook(...) entries or 'package.module:function' strings ({exc})"
    return None


FEEDER_OPTIONS = {
    "voltage_band_pu": MarketOption("LinDistFlow voltage band (v_min, v_max) enforced by the feeder model of "
                                    "optimising rules and of the allocation game (None: no band)", _voltage_band),
    "root_voltage_pu": MarketOption("voltage of the transformer bus in per unit when a band is enforced (1.0)",
                                    _positive),
    "extra_constraints": MarketOption("extra constraint hooks (p2psim.markets.hooks.ConstraintHook) added to the "
                                      "day model of optimising rules and of the allocation game", _extra_constraints),
}
"""Options every built-in rule accepts: the day model of the allocation game reads them too."""
NO_OPTIONS: Mapping[str, MarketOption] = MappingProxyType({})
"""``known_options`` of a rule without options of its own."""


class Market:
    """Base class of clearing rules. Subclasses set ``name`` and implement :meth:`clear`.

    ``promises_individual_rationality`` says whether the rule guarantees that no participant's
    energy cost exceeds its grid-only cost under the same battery rule (tested by check_market).
    ``known_options`` declares the rule's ``market_options`` (name -> :class:`MarketOption`), checked
    when the study loads; ``None`` (the default for rules registered by others) accepts any option.
    """

    name: ClassVar[str] = ""
    promises_individual_rationality: ClassVar[bool] = False
    known_options: ClassVar[Mapping[str, MarketOption] | None] = None

    def clear(self, book: OrderBook, context: ClearingContext) -> Clearing:
        """Clear one day. Must be pure: same book, context and rng state, same clearing."""
        raise NotImplementedError
