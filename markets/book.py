"""The order book of one day-ahead gate: every participant's forecast and limits as arrays.

The community market clears a whole day at once, so a book is vectorised: participants along
axis 0 (ledger order), intervals along axis 1. Energy in an interval is ``power_kw * interval_hours``.
The book carries no agent objects, so a clearing rule that reads it stays a pure function.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True, kw_only=True, eq=False)
class OrderBook:
    """Forecasts, assets and prices of one day, one row per participant."""

    participant_ids: tuple[str, ...]
    """Participants in ledger order."""
    socio_class: tuple[str, ...]
    """Socio-economic class of each participant."""
    bus_index: np.ndarray
    """Feeder bus position of each participant (int, n)."""
    interval_hours: float
    """Length of one interval."""
    load_kw: np.ndarray
    """Forecast load (n x T, kW)."""
    pv_kw: np.ndarray
    """Forecast available PV output (n x T, kW)."""
    flexible_share: np.ndarray
    """Share of each interval's load that may be shifted (n)."""
    capacity_kwh: np.ndarray
    """Battery capacity (n; 0 = no battery)."""
    max_charge_kw: np.ndarray
    """Battery charging limit (n)."""
    max_discharge_kw: np.ndarray
    """Battery discharging limit (n)."""
    charge_efficiency: np.ndarray
    """Battery charging efficiency (n)."""
    discharge_efficiency: np.ndarray
    """Battery discharging efficiency (n)."""
    soc_min_kwh: np.ndarray
    """Lowest allowed battery energy (n)."""
    soc_max_kwh: np.ndarray
    """Highest allowed battery energy (n)."""
    soc_initial_kwh: np.ndarray
    """Battery energy at the start of the day (n); also the floor at the day's end."""
    import_price_per_kwh: np.ndarray
    """Retail import price per interval (T)."""
    export_price_per_kwh: np.ndarray
    """Feed-in price per interval (T)."""
    p2p_fee_per_kwh: np.ndarray
    """Network fee on pool purchases per interval (T)."""
    peak_price_per_kw: float
    """Demand charge per kW of the day's community peak import."""
    class_weight: np.ndarray
    """Socio-economic weight of each participant for this day (n, > 0)."""
    income_per_year: np.ndarray
    """Income of each participant (n), for energy burden."""
    shift_window_intervals: int = 4
    """Flexible load may move only within consecutive windows of this many intervals."""
    extra: dict = field(default_factory=dict)
    """Rule-specific inputs (for example limit prices of a double auction)."""

    @property
    def n_participants(self) -> int:
        """Number of participants."""
        return len(self.participant_ids)

    @property
    def n_intervals(self) -> int:
        """Number of intervals."""
        return int(self.load_kw.shape[1])

    @property
    def has_battery(self) -> np.ndarray:
        """Mask of participants that own a battery."""
        return self.capacity_kwh > 0

    def subset(self, members: np.ndarray) -> OrderBook:
        """Return the book restricted to the participants selected by index or mask ``members``."""
        idx = np.flatnonzero(members) if np.asarray(members).dtype == bool else np.asarray(members)
        per_participant = {
            name: getattr(self, name)[idx]
            for name in (
                "bus_index",
                "load_kw",
                "pv_kw",
                "flexible_share",
                "capacity_kwh",
                "max_charge_kw",
                "max_discharge_kw",
                "charge_efficiency",
                "discharge_efficiency",
                "soc_min_kwh",
                "soc_max_kwh",
                "soc_initial_kwh",
                "class_weight",
                "income_per_year",
            )
        }
        return replace(
            self,
            participant_ids=tuple(self.participant_ids[i] for i in idx),
            socio_class=tuple(self.socio_class[i] for i in idx),
            **per_participant,
        )

    def with_weights(self, class_weights: dict[str, float]) -> OrderBook:
        """Return the book with class weights replaced (classes not named weigh 1)."""
        weight = np.array([float(class_weights.get(c, 1.0)) for c in self.socio_class])
        return replace(self, class_weight=weight)
