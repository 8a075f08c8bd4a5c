"""The append-only ledger of a run: dispatch, trades, bills and solver records -> Parquet.

One row of ``dispatch`` per (day, interval, participant) with forecasts, actuals and every flow;
one row of ``trades`` per bilateral attribution of a pool purchase; one row of ``bills`` per
(day, participant); one row of ``devices`` per (day, interval, device) in runs with devices; one
record per solver call. Rows are appended day by day and never edited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from p2psim.sim.settlement import FLOW_FIELDS


@dataclass
class Ledger:
    """Append-only run log; ``ids`` fixes the participant order."""

    ids: tuple[str, ...]
    intervals_per_day: int
    interval_minutes: int
    start: str
    _dispatch: list[pd.DataFrame] = field(default_factory=list)
    _trades: list[pd.DataFrame] = field(default_factory=list)
    _bills: list[pd.DataFrame] = field(default_factory=list)
    _devices: list[pd.DataFrame] = field(default_factory=list)
    solver_records: list[dict[str, Any]] = field(default_factory=list)
    day_records: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ids = np.array(self.ids, dtype=object)

    def _frame(self, day: int, arrays: dict[str, np.ndarray]) -> pd.DataFrame:
        n, horizon = next(iter(arrays.values())).shape
        first = np.datetime64(self.start, "m") + np.timedelta64(day * 1440, "m")
        times = first + np.arange(horizon) * np.timedelta64(self.interval_minutes, "m")
        columns = {
            "day": np.full(n * horizon, day, dtype=np.int32),
            "interval": np.tile(np.arange(horizon, dtype=np.int32), n),
            "timestamp": np.tile(times.astype("datetime64[ns]"), n),
            "participant": np.repeat(self._ids, horizon),
        }
        columns.update({name: np.asarray(values, dtype=float).reshape(-1) for name, values in arrays.items()})
        return pd.DataFrame(columns, copy=False)

    def append_dispatch(self, day: int, flows: dict[str, np.ndarray], extra: dict[str, np.ndarray]) -> None:
        """Append the day's delivered flows (n x T each) and extra per-interval columns."""
        arrays = {name: flows[name] for name in FLOW_FIELDS}
        arrays.update(extra)
        self._dispatch.append(self._frame(day, arrays))

    def append_trades(self, day: int, trades: pd.DataFrame) -> None:
        """Append the day's bilateral trade attributions."""
        if len(trades):
            self._trades.append(trades.assign(day=np.int32(day)))

    def append_bills(self, day: int, columns: dict[str, np.ndarray]) -> None:
        """Append one row per participant with the day's bill components."""
        data = {"day": np.full(len(self.ids), day, np.int32), "participant": self._ids}
        data.update({name: np.asarray(values, dtype=float) for name, values in columns.items()})
        self._bills.append(pd.DataFrame(data, copy=False))

    def append_devices(self, rows: pd.DataFrame) -> None:
        """Append the day's device rows (participant, device, kind, day, interval, power, energy, ...)."""
        self._devices.append(rows)

    def append_solver_records(self, day: int, market: str, records: list[dict[str, Any]]) -> None:
        """Append solver records of one clearing."""
        for record in records:
            self.solver_records.append({"day": day, "market": market, **record})

    @property
    def dispatch(self) -> pd.DataFrame:
        """All dispatch rows so far."""
        return pd.concat(self._dispatch, ignore_index=True) if self._dispatch else pd.DataFrame()

    @property
    def trades(self) -> pd.DataFrame:
        """All trade rows so far (columns fixed even when empty)."""
        columns = ["day", "interval", "buyer", "seller", "energy_kwh", "price_per_kwh", "distance_km"]
        if not self._trades:
            return pd.DataFrame({c: pd.Series(dtype=float if c in columns[4:] else object) for c in columns})
        return pd.concat(self._trades, ignore_index=True)[columns]

    @property
    def devices(self) -> pd.DataFrame:
        """All device rows so far (empty when the run has no devices)."""
        return pd.concat(self._devices, ignore_index=True) if self._devices else pd.DataFrame()

    @property
    def bills(self) -> pd.DataFrame:
        """All bill rows so far."""
        return pd.concat(self._bills, ignore_index=True) if self._bills else pd.DataFrame()
