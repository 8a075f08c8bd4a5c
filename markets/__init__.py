"""Market-clearing rules, one registry by versioned name.

A rule is a :class:`Market` subclass with a pure ``clear(book, context)``. Third-party rules call
:func:`register_market` when imported (a study file imports them). Short aliases without the
version suffix (``"eqwm"``) resolve to the newest registered version.

Modules: the contract (:mod:`~p2psim.markets.book`: OrderBook; :mod:`~p2psim.markets.base`: Market,
Clearing, ClearingContext, options; :mod:`~p2psim.markets.devices`: device arrays;
:mod:`~p2psim.markets.hooks`: extra constraints); the rules (:mod:`~p2psim.markets.eqwm`,
:mod:`~p2psim.markets.grid_only`, :mod:`~p2psim.markets.pool_rules`,
:mod:`~p2psim.markets.double_auction`) and bilateral attribution (:mod:`~p2psim.markets.matching`).
The day model is private: ``_community_lp`` (the formulation of docs/model.md) with its row blocks
``_device_rows`` and ``_feeder_rows``, ``_eqwm_program``, ``_exactness``, ``_diagnosis`` (the binding
limit of an infeasible day), ``_selfconsumption``, ``_coalition`` (coalition re-solves for the energy
game); under it the LP layer: ``_lp_program`` (LinearProgram and the one LPResult), ``_lp`` (HiGHS
and the backend dispatch) and ``_lp_gurobi``.
"""

from __future__ import annotations

from p2psim.markets.base import (
    Clearing,
    ClearingContext,
    EquityOptions,
    Market,
    SolverOptions,
    SolverRecord,
)
from p2psim.markets.book import OrderBook
from p2psim.markets.double_auction import PayAsBidDoubleAuction, UniformDoubleAuction
from p2psim.markets.eqwm import EqWM
from p2psim.markets.grid_only import GridOnly
from p2psim.markets.pool_rules import BillSharing, MidMarketRate, SupplyDemandRatio

from p2psim.errors import unknown_name

MARKETS: dict[str, type[Market]] = {
    "grid_only_v1": GridOnly,
    "mid_market_rate_v1": MidMarketRate,
    "bill_sharing_v1": BillSharing,
    "sdr_v1": SupplyDemandRatio,
    "double_auction_v1": UniformDoubleAuction,
    "double_auction_pab_v1": PayAsBidDoubleAuction,
    "eqwm_v1": EqWM,
}


def register_market(name: str, cls: type[Market]) -> None:
    """Register a market rule under a versioned name such as ``"my_rule_v1"``."""
    if not (isinstance(cls, type) and issubclass(cls, Market)):
        raise TypeError(f"register_market({name!r}, ...) needs a Market subclass, got {cls!r}")
    MARKETS[name] = cls


def _split_version(key: str) -> tuple[str, int]:
    """``"eqwm_v1"`` -> ``("eqwm", 1)``; a name without a version -> ``(name, -1)``."""
    base, sep, number = key.rpartition("_v")
    return (base, int(number)) if sep and number.isdigit() else (key, -1)


def resolve_market_name(name: str) -> str:
    """Return the registered versioned name for ``name`` (an exact name or an unversioned alias)."""
    if name in MARKETS:
        return name
    versions = [k for k in MARKETS if _split_version(k)[0] == name and _split_version(k)[1] >= 0]
    if versions:
        return max(versions, key=lambda k: _split_version(k)[1])  # numeric: v10 is newer than v2
    raise unknown_name("market", name, MARKETS)


def make_market(name: str) -> Market:
    """Instantiate the rule registered under ``name`` (suggesting the near miss if unknown)."""
    return MARKETS[resolve_market_name(name)]()


__all__ = [
    "MARKETS",
    "BillSharing",
    "Clearing",
    "ClearingContext",
    "EqWM",
    "EquityOptions",
    "GridOnly",
    "Market",
    "MidMarketRate",
    "OrderBook",
    "PayAsBidDoubleAuction",
    "SolverOptions",
    "SolverRecord",
    "SupplyDemandRatio",
    "UniformDoubleAuction",
    "make_market",
    "register_market",
    "resolve_market_name",
]
