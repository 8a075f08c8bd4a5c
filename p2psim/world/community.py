"""Build a :class:`~p2psim.world.scenario.Scenario` from a study (SimBench or explicit community).

Documented assumptions for SimBench communities (all draws from the run's seed, so a seed always
gives the same community):

- every SimBench load is one participant; profile names ``H0-*`` are households, ``L*`` farms,
  ``G*`` commercial; a PV unit belongs to the participant on its bus (the largest load there);
- SimBench reuses a handful of profiles, so each participant's profile is scaled by a seeded
  log-normal factor (sigma ``load_scale_sigma``) and shifted by up to ``max_time_shift_intervals``
  15-minute steps: diversity is added openly rather than pretending the homes are independent;
- classes follow ``class_shares``; low-income slots go to participants without PV first (a PV owner
  takes a low-income slot with probability ``low_income_pv_share``); incomes are log-normal around
  the class median; PV owners of ``home_battery_classes`` get a home battery;
- the aggregator owns the community battery on the transformer bus (class ``community``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import ClassVar

import numpy as np

from p2psim.config.checks import check_study
from p2psim.config.study import ExplicitCommunity, SimBenchCommunity, Study
from p2psim.world.scenario import BatterySpec, ParticipantSpec, Scenario
from p2psim.world.simbench import load_simbench_grid, window

KIND_BY_PROFILE = {"H": "household", "L": "farm", "G": "commercial"}
PREFIX_BY_KIND = {"household": "hh", "farm": "farm", "commercial": "com"}


def _assign_classes(
    has_pv: np.ndarray, shares: tuple[tuple[str, float], ...], pv_low_share: float, rng: np.random.Generator
) -> list[str]:
    n = len(has_pv)
    names = [name for name, _ in shares]
    counts = np.floor(np.array([s for _, s in shares]) * n).astype(int)
    counts[np.argsort(-(np.array([s for _, s in shares]) * n - counts))[: n - counts.sum()]] += 1
    order = rng.permutation(n)
    # low-income slots prefer participants without PV; everybody else is drawn at random
    priority = np.where(has_pv[order], rng.uniform(size=n) > pv_low_share, False)
    ranked = order[np.argsort(priority, kind="stable")]
    classes = [""] * n
    position = 0
    for name, count in zip(names, counts, strict=True):
        for k in ranked[position : position + count]:
            classes[k] = name
        position += count
    return classes


def _simbench_participants(study: Study, spec: SimBenchCommunity, rng: np.random.Generator):
    grid = load_simbench_grid(spec.grid_code)
    n = len(grid.load_names) if spec.max_participants is None else min(spec.max_participants, len(grid.load_names))
    shifts = rng.integers(-spec.max_time_shift_intervals, spec.max_time_shift_intervals + 1, size=n)
    scales = rng.lognormal(0.0, spec.load_scale_sigma, size=n)
    pv_owner = {}
    for k, bus in enumerate(grid.pv_bus):
        on_bus = [j for j in range(n) if grid.load_bus[j] == bus]
        if on_bus:
            owner = max(on_bus, key=lambda j: grid.load_kw_15min[j].mean())
            pv_owner.setdefault(owner, []).append(k)
    has_pv = np.array([j in pv_owner for j in range(n)])
    classes = _assign_classes(has_pv, spec.class_shares, spec.low_income_pv_share, rng)
    medians = dict(spec.income_per_year)
    incomes = rng.lognormal(0.0, spec.income_spread, size=n)
    counters: dict[str, int] = {}
    participants = []
    for j in range(n):
        kind = KIND_BY_PROFILE.get(grid.load_profile[j][0], "household")
        counters[kind] = counters.get(kind, 0) + 1
        load = window(grid.load_kw_15min[j], study.start_day, study.days, study.interval_minutes, int(shifts[j]))
        pv = np.zeros_like(load)
        pv_peak = 0.0
        for k in pv_owner.get(j, []):
            pv = pv + window(grid.pv_kw_15min[k], study.start_day, study.days, study.interval_minutes)
            pv_peak += grid.pv_peak_kw[k]
        battery = spec.home_battery if (has_pv[j] and classes[j] in spec.home_battery_classes) else None
        participants.append(
            ParticipantSpec(
                id=f"{PREFIX_BY_KIND[kind]}-{counters[kind]:03d}",
                kind=kind,
                socio_class=classes[j],
                income_per_year=float(medians.get(classes[j], 40_000.0) * incomes[j]),
                bus=grid.load_bus[j],
                load_kw=load * scales[j],
                pv_kw=pv,
                pv_peak_kw=pv_peak,
                battery=battery,
                flexible_share=spec.flexible_share if kind == "household" else 0.0,
            )
        )
    if spec.community_battery is not None:
        zeros = np.zeros(study.days * (1440 // study.interval_minutes))
        participants.append(
            ParticipantSpec(
                id="agg-001",
                kind="aggregator",
                socio_class="community",
                income_per_year=1e6,
                bus=grid.feeder.root_bus,
                load_kw=zeros,
                pv_kw=zeros.copy(),
                battery=spec.community_battery,
            )
        )
    source = f"SimBench {spec.grid_code} (ODbL 1.0 + DbCL), profiles {sorted(set(grid.load_profile))}"
    return tuple(participants), grid.feeder, source


def build_scenario(study: Study, rng: np.random.Generator, *, check: bool = True) -> Scenario:
    """Build (and by default validate) the scenario of ``study`` with the community stream ``rng``."""
    check_study(study)
    community = study.community
    if isinstance(community, ExplicitCommunity):
        # explicit profiles may cover more whole days than asked for (--days 1 on a week): cut them;
        # any other length is left for Scenario.validate to report
        per_day = 1440 // study.interval_minutes
        horizon = study.days * per_day

        def cut(values: np.ndarray) -> np.ndarray:
            values = np.asarray(values)
            whole_days = values.ndim == 1 and values.size % per_day == 0 and values.size > horizon
            return values[:horizon] if whole_days else values

        participants = tuple(replace(p, load_kw=cut(p.load_kw), pv_kw=cut(p.pv_kw)) for p in community.participants)
        feeder, source = community.feeder, "explicit"
    else:
        participants, feeder, source = _simbench_participants(study, community, rng)
    if study.transformer_limit_kw is not None:
        feeder = replace(feeder, transformer_limit_kw=study.transformer_limit_kw)
    scenario = Scenario(
        name=study.name,
        participants=tuple(participants),
        feeder=feeder,
        tariffs=study.tariffs,
        interval_minutes=study.interval_minutes,
        days=study.days,
        start=str(np.datetime64("2016-01-01") + np.timedelta64(study.start_day, "D")),
        class_weights=dict(study.class_weights),
        source=source,
    )
    return scenario.check() if check else scenario


__all__ = ["BatterySpec", "build_scenario"]


def community_stream(seed: int) -> np.random.Generator:
    """The stream that builds the community (classes, incomes, profile diversity) from the seed."""
    return np.random.default_rng(np.random.SeedSequence([seed, 1]))


@dataclass(frozen=True, kw_only=True)
class BuiltCommunity(ExplicitCommunity):
    """An explicit community derived by a :class:`DerivedStudy` for one calendar and seed."""

    built_for: tuple[int, int, int, int] = ()
    """The (days, start_day, interval_minutes, seed) it was built for."""


@dataclass(frozen=True, kw_only=True)
class DerivedStudy(Study):
    """A study whose community is a SimBench community changed by the study (a hook for new setups).

    Subclasses set ``base_community`` (a :class:`SimBenchCommunity`) and override :meth:`derive`,
    which receives the base scenario (participants seeded exactly as for a SimBench community) and
    returns the final participants (for example: remove roofs, add a solar garden, EVs or an anchor
    prosumer). The community is rebuilt whenever ``days``, ``start_day``, ``interval_minutes`` or
    ``seed`` change: overrides (``--days``, ``--seed``, ``--set start_day=...``) go through
    ``dataclasses.replace``, which calls ``__post_init__``. Pickles and copies (process and Ray
    fan-out) are plain :class:`Study` objects with the community already built, so a worker never
    needs the study file's classes.
    """

    base_community: ClassVar[SimBenchCommunity] = SimBenchCommunity()

    def derive(self, base) -> Sequence[ParticipantSpec]:
        """Return the community's participants from ``base`` (a :class:`~p2psim.world.scenario.Scenario`)."""
        return base.participants

    def __post_init__(self) -> None:
        key = (self.days, self.start_day, self.interval_minutes, self.seed)
        if getattr(self.community, "built_for", None) != key:
            object.__setattr__(self, "community", self._build(key))

    def _build(self, key: tuple[int, int, int, int]) -> BuiltCommunity:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(Study)}
        base_study = Study(**{**values, "community": self.base_community, "transformer_limit_kw": None})
        base = build_scenario(base_study, community_stream(self.seed), check=False)
        return BuiltCommunity(built_for=key, participants=tuple(self.derive(base)), feeder=base.feeder)

    def __reduce_ex__(self, protocol):
        plain = ExplicitCommunity(participants=self.community.participants, feeder=self.community.feeder)
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(Study)}
        return partial(Study, **{**values, "community": plain}), ()
