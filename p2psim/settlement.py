"""Settlement: bills from delivered flows and tariffs, with energy and money balance checks.

Per participant i and interval t (length dt hours), with pool price p_t (or p_it: a rule may price
per participant, e.g. pay-as-bid, as long as the pool's payments balance) and fee f_t:

    energy_cost  = dt * (import_price_t * grid_import - export_price_t * grid_export)
    pool_cost    = dt * (p_it * pool_buy - p_it * pool_sell)
    fee_cost     = dt * f_t * pool_buy
    imbalance    = dt * (import_price_t * imbalance_import - export_price_t * imbalance_export)

The demand charge has one treatment for the market and the cooperative game (model.md section 4):
a group pays ``peak_price_per_kw`` times ITS OWN largest net grid import of the day (delivered).
In the community (``peak="community"``) the group is everyone: the community peak's charge is shared
among participants in proportion to their positive grid import in the peak interval. A participant
alone (``peak="own"``, the stand-alone counterfactual B_i = c({i})) pays for its own peak,
``peak_price_per_kw * max(0, max_t net grid import_i,t)``. With perfect forecasts and a
cost-minimising clearing the settled gain ``sum_i (B_i - bill_i)`` is then the game's v(N).
``bill = energy + pool + fee + imbalance + peak charge`` (positive = the participant pays). Money
balance: pool payments net to zero across participants, so the sum of bills equals what the grid
supplier, the network operator (fees) and the demand charge collect.

These are the *market* bills. A study settled by an allocation rule (``settlement_rule``,
:mod:`p2psim.settlement_rule`) pays member i ``B_i - x_i`` instead: its stand-alone bill minus its
share of the realised gain ``G = sum_i (B_i - bill_i)``, with ``x_i = phi_i - (sum phi - G) s_i``
(``phi`` the rule's allocation of the day-ahead game, ``s_i`` its positive shares normalised), so the
members' bills still sum to what the community pays outside, every day; the market bill is kept as
``market_bill``.

``need_cost`` (:func:`need_costs`) is what a member's consumption would cost with nothing but the
grid: its load at the import prices plus the demand charge on its own load peak. It is the
denominator of the relative benefit (:mod:`p2psim.equity`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from p2psim.errors import InvariantError
from p2psim.units import ENERGY_TOLERANCE_KWH, MONEY_TOLERANCE

FLOW_FIELDS = (
    "load_kw",
    "pv_kw",
    "curtail_kw",
    "charge_kw",
    "discharge_kw",
    "shift_kw",
    "grid_import_kw",
    "grid_export_kw",
    "pool_buy_kw",
    "pool_sell_kw",
    "imbalance_import_kw",
    "imbalance_export_kw",
)


@dataclass(frozen=True, eq=False)
class Prices:
    """Prices of one day (T each) and the demand charge."""

    import_price_per_kwh: np.ndarray
    export_price_per_kwh: np.ndarray
    pool_price_per_kwh: np.ndarray
    p2p_fee_per_kwh: np.ndarray
    peak_price_per_kw: float


def delivered_grid_import_kw(flows: dict[str, np.ndarray]) -> np.ndarray:
    """Net grid import as delivered (scheduled grid flows plus imbalance), n x T."""
    return (
        flows["grid_import_kw"] + flows["imbalance_import_kw"] - flows["grid_export_kw"] - flows["imbalance_export_kw"]
    )


def check_energy_balance(flows: dict[str, np.ndarray], ids: tuple[str, ...], day: int, interval: int) -> None:
    """Raise InvariantError if any participant's delivered energy does not balance in ``interval``."""
    t = slice(interval, interval + 1)
    use = (
        flows["load_kw"][:, t]
        - flows["pv_kw"][:, t]
        + flows["curtail_kw"][:, t]
        + flows["charge_kw"][:, t]
        - flows["discharge_kw"][:, t]
        + flows["shift_kw"][:, t]
    )
    supply = (
        flows["grid_import_kw"][:, t]
        - flows["grid_export_kw"][:, t]
        + flows["pool_buy_kw"][:, t]
        - flows["pool_sell_kw"][:, t]
        + flows["imbalance_import_kw"][:, t]
        - flows["imbalance_export_kw"][:, t]
    )
    gap = np.abs(use - supply)[:, 0]
    if gap.max() > ENERGY_TOLERANCE_KWH:
        k = int(gap.argmax())
        raise InvariantError(
            f"energy balance broken on day {day}, interval {interval}, participant {ids[k]!r}: "
            f"consumption side {use[k, 0]:.6f} kW != supply side {supply[k, 0]:.6f} kW "
            f"(tolerance {ENERGY_TOLERANCE_KWH})"
        )
    pool_gap = abs(flows["pool_buy_kw"][:, t].sum() - flows["pool_sell_kw"][:, t].sum())
    if pool_gap > ENERGY_TOLERANCE_KWH:
        raise InvariantError(
            f"pool not balanced on day {day}, interval {interval}: bought "
            f"{flows['pool_buy_kw'][:, t].sum():.6f} kW, sold {flows['pool_sell_kw'][:, t].sum():.6f} kW"
        )


def pool_price_matrix(price: np.ndarray, n: int, horizon: int) -> np.ndarray:
    """The pool price as n x T; ValueError naming the shapes allowed when it is neither (T,) nor (n, T)."""
    price = np.asarray(price, dtype=float)
    if price.shape == (horizon,):
        return np.broadcast_to(price[None, :], (n, horizon))
    if price.shape == (n, horizon):
        return price
    raise ValueError(f"pool_price_per_kwh has shape {price.shape}; use ({horizon},) (one price per interval) or "
                     f"({n}, {horizon}) (one per participant and interval, pay-as-bid)")


def interval_costs(flows: dict[str, np.ndarray], prices: Prices, dt: float) -> dict[str, np.ndarray]:
    """Cost components per participant and interval (n x T), currency units.

    The pool price is one per interval (T,) or one per participant and interval (n x T); any other
    shape is a ValueError naming both.
    """
    imp = prices.import_price_per_kwh[None, :]
    exp = prices.export_price_per_kwh[None, :]
    pool = pool_price_matrix(prices.pool_price_per_kwh, *flows["pool_buy_kw"].shape)
    return {
        "energy_cost": dt * (imp * flows["grid_import_kw"] - exp * flows["grid_export_kw"]),
        "pool_cost": dt * pool * (flows["pool_buy_kw"] - flows["pool_sell_kw"]),
        "fee_cost": dt * prices.p2p_fee_per_kwh[None, :] * flows["pool_buy_kw"],
        "imbalance_cost": dt * (imp * flows["imbalance_import_kw"] - exp * flows["imbalance_export_kw"]),
    }


def check_money_balance(costs: dict[str, np.ndarray], day: int, interval: int) -> None:
    """Raise InvariantError if pool payments do not net to zero in ``interval``."""
    net = costs["pool_cost"][:, interval].sum()
    if abs(net) > MONEY_TOLERANCE:
        paid = costs["pool_cost"][:, interval]
        raise InvariantError(
            f"money balance broken on day {day}, interval {interval}: pool payments net to {net:.9f} "
            f"instead of 0 (buyers pay {paid[paid > 0].sum():.6f}, sellers receive {-paid[paid < 0].sum():.6f}; "
            f"tolerance {MONEY_TOLERANCE}); a rule with per-participant (pay-as-bid) prices must hand the "
            "difference to someone, e.g. pay sellers the buyers' average price"
        )


def peak_shares(flows: dict[str, np.ndarray], peak_price_per_kw: float) -> tuple[np.ndarray, float, int]:
    """Each participant's share of the demand charge, the community peak (kW) and its interval."""
    grid = delivered_grid_import_kw(flows)
    community = grid.sum(axis=0)
    peak_t = int(np.argmax(community))
    peak_kw = max(float(community[peak_t]), 0.0)
    positive = np.clip(grid[:, peak_t], 0, None)
    weights = positive / positive.sum() if positive.sum() > 0 else np.zeros_like(positive)
    return weights * peak_price_per_kw * peak_kw, peak_kw, peak_t


def own_peak_charges(flows: dict[str, np.ndarray], peak_price_per_kw: float) -> np.ndarray:
    """Each participant's demand charge on its own delivered daily peak net import (n)."""
    own_peak_kw = np.clip(delivered_grid_import_kw(flows).max(axis=1), 0, None)
    return peak_price_per_kw * own_peak_kw


def need_costs(
    load_kw: np.ndarray, import_price_per_kwh: np.ndarray, peak_price_per_kw: float, dt: float
) -> np.ndarray:
    """What each participant's load would cost from the grid alone (n): energy at import prices + own-peak charge.

    ``need_i = dt sum_t import_price_t load_i,t + peak_price_per_kw max(0, max_t load_i,t)`` -- no PV,
    storage, flexibility or community. Positive for every participant with load.
    """
    load = np.asarray(load_kw, dtype=float)
    energy = dt * (load * np.asarray(import_price_per_kwh, dtype=float)[None, :]).sum(axis=1)
    return energy + peak_price_per_kw * np.clip(load.max(axis=1), 0, None)


PEAK_RULES = ("community", "own")


def day_bills(
    flows: dict[str, np.ndarray], prices: Prices, dt: float, *, peak: str = "community"
) -> dict[str, np.ndarray]:
    """Bill components per participant for one day (n each), including the demand charge.

    ``peak="community"``: the community peak's charge shared pro rata (a community's bills);
    ``peak="own"``: each participant pays for its own peak (stand-alone bills, c({i}) of the game).
    """
    if peak not in PEAK_RULES:
        raise ValueError(f"peak={peak!r}: expected one of {PEAK_RULES}")
    costs = {k: v.sum(axis=1) for k, v in interval_costs(flows, prices, dt).items()}
    share, peak_kw, _ = peak_shares(flows, prices.peak_price_per_kw)
    costs["peak_charge"] = share if peak == "community" else own_peak_charges(flows, prices.peak_price_per_kw)
    costs["bill"] = sum(costs[k] for k in ("energy_cost", "pool_cost", "fee_cost", "imbalance_cost", "peak_charge"))
    costs["community_peak_kw"] = np.full_like(share, peak_kw)
    return costs
