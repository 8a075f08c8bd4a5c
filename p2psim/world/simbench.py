"""Load a SimBench low-voltage grid and its real 15-minute profiles (data: ODbL 1.0 + DbCL).

SimBench (simbench.de, PyPI package ``simbench``) ships benchmark grids with full-year 2016
profiles at 15-minute resolution (35,136 steps). Loads carry a reference power ``p_mw`` and a
profile name (household ``H0-*``, agriculture ``L*``, commercial ``G*``); absolute power is
``p_mw * profile``. PV units (``sgen``) likewise. We read the package's files only (no download).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from p2psim.errors import StudyError
from p2psim.world.feeder import Feeder, LineSpec

STEPS_PER_DAY_15MIN = 96
CACHE_FORMAT = 1
SIMBENCH_GRIDS = (
    "1-LV-rural1--0-sw",
    "1-LV-rural2--0-sw",
    "1-LV-rural3--0-sw",
    "1-LV-semiurb4--0-sw",
    "1-LV-semiurb5--0-sw",
    "1-LV-urban6--0-sw",
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


def cache_dir() -> Path:
    """Where extracted grids are kept (``P2PSIM_CACHE`` or ``~/.cache/p2psim``)."""
    return Path(os.environ.get("P2PSIM_CACHE", Path.home() / ".cache" / "p2psim")) / "simbench"


def _cache_path(code: str) -> Path:
    from importlib.metadata import version

    return cache_dir() / f"{code}-simbench{version('simbench')}-v{CACHE_FORMAT}.npz"


def _save(grid: SimBenchGrid, path: Path) -> None:
    meta = {
        "code": grid.code,
        "load_names": grid.load_names,
        "load_bus": grid.load_bus,
        "load_profile": grid.load_profile,
        "pv_bus": grid.pv_bus,
        "pv_peak_kw": grid.pv_peak_kw,
        "pv_profile": grid.pv_profile,
        "feeder": {
            "buses": grid.feeder.buses,
            "root_bus": grid.feeder.root_bus,
            "transformer_limit_kw": grid.feeder.transformer_limit_kw,
            "lines": [line.__dict__ for line in grid.feeder.lines],
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as handle:
        np.savez(handle, load_kw=grid.load_kw_15min, pv_kw=grid.pv_kw_15min, meta=np.array(json.dumps(meta)))
    os.replace(handle.name, path)  # atomic: a concurrent reader never sees half a file


def _load(path: Path) -> SimBenchGrid:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        feeder = meta["feeder"]
        return SimBenchGrid(
            code=meta["code"],
            feeder=Feeder(
                buses=tuple(feeder["buses"]),
                root_bus=feeder["root_bus"],
                transformer_limit_kw=feeder["transformer_limit_kw"],
                lines=tuple(LineSpec(**line) for line in feeder["lines"]),
            ),
            load_names=tuple(meta["load_names"]),
            load_bus=tuple(meta["load_bus"]),
            load_profile=tuple(meta["load_profile"]),
            load_kw_15min=data["load_kw"],
            pv_bus=tuple(meta["pv_bus"]),
            pv_peak_kw=tuple(meta["pv_peak_kw"]),
            pv_profile=tuple(meta["pv_profile"]),
            pv_kw_15min=data["pv_kw"],
        )


@lru_cache(maxsize=8)
def load_simbench_grid(code: str) -> SimBenchGrid:
    """Read grid ``code`` from the installed simbench package.

    Cached per process and on disk (``cache_dir()``, keyed by the simbench version), because
    parsing SimBench's CSV files takes several seconds while the extracted arrays load in
    milliseconds. The cache holds only what the package ships; nothing is downloaded.
    """
    if code not in SIMBENCH_GRIDS:
        raise StudyError(f"community.grid_code={code!r} is not a SimBench LV grid; use one of {SIMBENCH_GRIDS}")
    path = _cache_path(code)
    if path.is_file():
        try:
            return _load(path)
        except (OSError, ValueError, KeyError):  # a stale or damaged cache is rebuilt
            path.unlink(missing_ok=True)
    grid = _read_simbench(code)
    with contextlib.suppress(OSError):  # a read-only home still runs, only slower
        _save(grid, path)
    return grid


def _read_simbench(code: str) -> SimBenchGrid:
    import simbench  # heavy import (pandapower); only when the cache is cold

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
    load_kw = np.stack(
        [
            float(row.p_mw) * 1000.0 * load_table[f"{row.profile}_pload"].to_numpy(dtype=float)
            for row in loads.itertuples()
        ]
    )
    sgens = net.sgen[net.sgen.bus.isin(lv_buses) & (net.sgen.type == "PV")]
    renewables = net.profiles["renewables"]
    pv_kw = (
        np.stack(
            [float(row.p_mw) * 1000.0 * renewables[row.profile].to_numpy(dtype=float) for row in sgens.itertuples()]
        )
        if len(sgens)
        else np.zeros((0, load_kw.shape[1]))
    )
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


def data_year_problem(start_day: int, days: int, total_days: int) -> str | None:
    """The problem of a run of ``days`` days from ``start_day`` that leaves a data year of ``total_days``, or None.

    The message names the last valid start day for that many days (or the most days the year holds).
    """
    if start_day >= 0 and start_day + days <= total_days:
        return None
    if days > total_days:
        return (f"days={days} runs past the data year ({total_days} days, 2016): at most {total_days} days fit, "
                f"from start_day=0")
    return (f"start_day={start_day} with days={days} runs past the data year ({total_days} days, 2016); the last "
            f"valid start day for {days} days is {total_days - days}: use --set start_day={total_days - days} or fewer "
            f"days")


def window(
    profile_15min: np.ndarray, start_day: int, days: int, interval_minutes: int, shift_steps: int = 0
) -> np.ndarray:
    """Cut ``days`` days from ``start_day`` and resample to ``interval_minutes`` (mean power).

    ``shift_steps`` rolls the year-long profile by that many 15-minute steps first (wrapping
    around the year), which adds documented diversity to profiles shared by several loads.
    """
    if interval_minutes % 15:
        raise StudyError(f"interval_minutes={interval_minutes} must be a multiple of 15 for SimBench data")
    steps = profile_15min.shape[-1]
    total_days = steps // STEPS_PER_DAY_15MIN
    problem = data_year_problem(start_day, days, total_days)
    if problem:
        raise StudyError(problem)
    rolled = np.roll(profile_15min, shift_steps, axis=-1)
    first = start_day * STEPS_PER_DAY_15MIN
    cut = rolled[..., first : first + days * STEPS_PER_DAY_15MIN]
    factor = interval_minutes // 15
    return cut.reshape(*cut.shape[:-1], -1, factor).mean(axis=-1)
