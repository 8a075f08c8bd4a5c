"""Load a SimBench low-voltage grid and its real 15-minute profiles (data: ODbL 1.0 + DbCL).

SimBench (simbench.de, PyPI package ``simbench``) ships benchmark grids with full-year 2016
profiles at 15-minute resolution (35,136 steps). Loads carry a reference power ``p_mw`` and a
profile name (household ``H0-*``, agriculture ``L*``, commercial ``G*``); absolute power is
``p_mw * profile``. PV units (``sgen``) likewise. We read the package's files only (no download).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from p2psim.errors import StudyError
from p2psim.feeder import Feeder, LineSpec

STEPS_PER_DAY_15MIN = 96
SIMBENCH_GRIDS = (
    "1-LV-rural1--0-sw", "1-LV-rural2--0-sw", "1-LV-rural3--0-sw",
    "1-LV-semiurb4--0-sw", "1-LV-semiurb5--0-sw", "1-LV-urban6--0-sw",
)


@dataclass(frozen=True, eq=False)
class SimBenchGrid:
    """What p2psim uses of one SimBench LV grid."""

    code: str
    feeder: Feeder
    load_names: tuple[str, ...]
    load_bus: tuple[str, ...]
    load_profile: tuple[str, ...]
    load_kw_15min: np.ndarray
    """Absolute load per SimBench load (loads x 35136, kW)."""
    pv_bus: tuple[str, ...]
    pv_peak_kw: tuple[float, ...]
    pv_profile: tuple[str, ...]
    pv_kw_15min: np.ndarray
    """Absolute PV output per unit (units x 35136, kW)."""


def _bus_id(index: int) -> str:
    return f"bus-{index:03d}"


@lru_cache(maxsize=8)
def load_simbench_grid(code: str) -> SimBenchGrid:
    """Read grid ``code`` from the installed simbench package (cached per process)."""
    if code not in SIMBENCH_GRIDS:
        raise StudyError(f"community.grid_code={code!r} is not a SimBench LV grid; use one of {SIMBENCH_GRIDS}")
    import simbench  # heavy import (pandapower); only when a SimBench study runs

    net = simbench.get_simbench_net(code)
    lv_buses = net.bus.index[net.bus.vn_kv < 1.0]
    trafo = net.trafo.iloc[0]
    lines = tuple(
        LineSpec(
            id=f"line-{k:02d}",
            from_bus=_bus_id(int(row.from_bus)),
            to_bus=_bus_id(int(row.to_bus)),
            rating_kw=math.sqrt(3) * 0.4 * float(row.max_i_ka) * 1000.0 * int(row.parallel),
            r_ohm=float(row.r_ohm_per_km * row.length_km),
            x_ohm=float(row.x_ohm_per_km * row.length_km),
            length_km=float(row.length_km),
        )
        for k, row in enumerate(net.line.itertuples())
        if row.from_bus in lv_buses and row.to_bus in lv_buses
    )
    feeder = Feeder(
        buses=tuple(_bus_id(int(b)) for b in lv_buses),
        lines=lines,
        root_bus=_bus_id(int(trafo.lv_bus)),
        transformer_limit_kw=float(trafo.sn_mva) * 1000.0,
    )
    load_table = net.profiles["load"]
    loads = net.load[net.load.bus.isin(lv_buses)]
    load_kw = np.stack([
        float(row.p_mw) * 1000.0 * load_table[f"{row.profile}_pload"].to_numpy(dtype=float)
        for row in loads.itertuples()
    ])
    sgens = net.sgen[net.sgen.bus.isin(lv_buses) & (net.sgen.type == "PV")]
    renewables = net.profiles["renewables"]
    pv_kw = np.stack([
        float(row.p_mw) * 1000.0 * renewables[row.profile].to_numpy(dtype=float) for row in sgens.itertuples()
    ]) if len(sgens) else np.zeros((0, load_kw.shape[1]))
    return SimBenchGrid(
        code=code,
        feeder=feeder,
        load_names=tuple(loads.name),
        load_bus=tuple(_bus_id(int(b)) for b in loads.bus),
        load_profile=tuple(loads.profile),
        load_kw_15min=load_kw,
        pv_bus=tuple(_bus_id(int(b)) for b in sgens.bus),
        pv_peak_kw=tuple(float(p) * 1000.0 for p in sgens.p_mw),
        pv_profile=tuple(sgens.profile),
        pv_kw_15min=np.clip(pv_kw, 0, None),
    )


def window(profile_15min: np.ndarray, start_day: int, days: int, interval_minutes: int,
           shift_steps: int = 0) -> np.ndarray:
    """Cut ``days`` days from ``start_day`` and resample to ``interval_minutes`` (mean power).

    ``shift_steps`` rolls the year-long profile by that many 15-minute steps first (wrapping
    around the year), which adds documented diversity to profiles shared by several loads.
    """
    if interval_minutes % 15:
        raise StudyError(f"interval_minutes={interval_minutes} must be a multiple of 15 for SimBench data")
    steps = profile_15min.shape[-1]
    total_days = steps // STEPS_PER_DAY_15MIN
    if not 0 <= start_day <= total_days - days:
        raise StudyError(
            f"start_day={start_day} with days={days} runs past the data year ({total_days} days); "
            f"choose start_day <= {total_days - days}"
        )
    rolled = np.roll(profile_15min, shift_steps, axis=-1)
    first = start_day * STEPS_PER_DAY_15MIN
    cut = rolled[..., first : first + days * STEPS_PER_DAY_15MIN]
    factor = interval_minutes // 15
    return cut.reshape(*cut.shape[:-1], -1, factor).mean(axis=-1)
