"""Type and range of every study field, checked when the study loads (before any long work).

:func:`study_problems` returns one line per problem, each naming the field (dotted, as ``--set``
writes it), the value and what is expected; :func:`check_study` raises them all at once
as a :class:`~p2psim.errors.StudyError` (exit status 2). Nested settings (tariffs, community,
batteries, equity, solver) and optional ones are checked too, and ``market_options`` against the
options the market declares (:attr:`p2psim.markets.Market.known_options`). The participants of an
explicit community and the feeder are checked with the built scenario
(:meth:`p2psim.world.scenario.Scenario.validate`), which also runs before the simulation.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from p2psim.config.study import (
    SETTLEMENT_RULES,
    ExplicitCommunity,
    SimBenchCommunity,
    Study,
    apply_overrides,
    load_study,
)
from p2psim.errors import StudyError, shown, unknown_name
from p2psim.markets import MARKETS, resolve_market_name
from p2psim.markets.base import FEEDER_OPTIONS, SOLVER_BACKENDS, EquityOptions, SolverOptions
from p2psim.world.scenario import BatterySpec, Tariffs

MAX_SEED = 2**32 - 1
"""Largest seed: numpy's legacy and scikit-learn's generators take seeds in [0, 2^32 - 1]."""
DAYS_IN_DATA_YEAR = 366


def is_number(value: Any) -> bool:
    """A real number that is not a bool (NaN and inf included: range checks reject them)."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def is_whole(value: Any) -> bool:
    """An integer that is not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def seed_problem(value: Any, name: str = "seed") -> str | None:
    """The problem of a seed outside [0, MAX_SEED], or None."""
    if is_whole(value) and 0 <= value <= MAX_SEED:
        return None
    return f"{name}={shown(value)} must be a whole number from 0 to {MAX_SEED} (2^32 - 1)"


def number_problem(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                   above: bool = False, whole: bool = False, optional: bool = False, hint: str = "") -> list[str]:
    """[problem] if ``value`` is not a finite number within [low, high] (``above``: > low), else []."""
    if value is None and optional:
        return []
    kind = "a whole number" if whole else "a number"
    if not (is_whole(value) if whole else is_number(value)):
        return [f"{name}={shown(value)} must be {kind}{' or None' if optional else ''}{hint}"]
    if not np.isfinite(value):
        return [f"{name}={shown(value)} must be a finite number{hint}"]
    if low is not None and (value <= low if above else value < low):
        return [f"{name}={shown(value)} must be {'>' if above else '>='} {low}{hint}"]
    if high is not None and value > high:
        return [f"{name}={shown(value)} must be <= {high}{hint}"]
    return []


def choice_problem(name: str, value: Any, allowed: tuple) -> list[str]:
    """[problem] if ``value`` is not one of ``allowed``."""
    return [] if value in allowed else [f"{name}={shown(value)} must be one of {', '.join(map(repr, allowed))}"]


def pairs_problem(name: str, value: Any, example: str) -> str | None:
    """The problem of a value that is not a tuple of (name, value) pairs with distinct names."""
    ok = isinstance(value, tuple | list) and all(
        isinstance(p, tuple | list) and len(p) == 2 and isinstance(p[0], str) for p in value)
    if ok and len({p[0] for p in value}) == len(value):
        return None
    return f"{name}={shown(value)} must be (name, value) pairs with distinct names, e.g. {example}"


def battery_problems(name: str, battery: Any, optional: bool = False) -> list[str]:
    """Type and range of a BatterySpec field (None allowed when ``optional``)."""
    if battery is None and optional:
        return []
    if not isinstance(battery, BatterySpec):
        return [f"{name}={battery!r} must be a BatterySpec{' or None' if optional else ''}; set its fields, e.g. "
                f"--set {name}.capacity_kwh=10"]
    return battery.problems(name)


def tariff_problems(tariffs: Any) -> list[str]:
    """Type and range of the tariffs."""
    if not isinstance(tariffs, Tariffs):
        return [f"tariffs={tariffs!r} must be Tariffs(...); set single prices, e.g. --set tariffs.p2p_fee_per_kwh=0.02"]
    return tariffs.problems()


def class_weight_problems(weights: Any) -> list[str]:
    """Socio-economic class weights: (class, weight > 0) pairs."""
    problem = pairs_problem("class_weights", weights, "(('low', 2.0), ('middle', 1.0), ('high', 1.0))")
    if problem:
        return [problem]
    out: list[str] = []
    for cls, weight in weights:
        out += number_problem(f"class_weights[{cls!r}]", weight, low=0, above=True)
    return out


def equity_problems(equity: Any) -> list[str]:
    """The EqWM objective coefficients."""
    if not isinstance(equity, EquityOptions):
        return [f"equity={equity!r} must be EquityOptions(...); set its fields, e.g. --set equity.rawlsian_weight=1"]
    out: list[str] = []
    for name in ("cost_weight", "welfare_weight", "rawlsian_weight"):
        out += number_problem(f"equity.{name}", getattr(equity, name), low=0)
    out += number_problem("equity.benefit_floor", equity.benefit_floor, low=0, above=True,
                          hint=" (currency per day)")
    return out + choice_problem("equity.use_binaries", equity.use_binaries, ("auto", "always", "never"))


def solver_problems(solver: Any) -> list[str]:
    """Backend, limits and policies of the solver."""
    if not isinstance(solver, SolverOptions):
        return [f"solver={solver!r} must be SolverOptions(...); set its fields, e.g. --set solver.time_limit_s=120"]
    return [*choice_problem("solver.backend", solver.backend, SOLVER_BACKENDS),
            *number_problem("solver.time_limit_s", solver.time_limit_s, low=0, above=True),
            *number_problem("solver.mip_gap", solver.mip_gap, low=0, high=1),
            *number_problem("solver.threads", solver.threads, low=1, whole=True),
            *choice_problem("solver.on_time_limit", solver.on_time_limit, ("fail", "incumbent"))]


def market_option_problems(study: Study) -> list[str]:
    """``market_options``: pairs, every name known to the market, every value valid."""
    problem = pairs_problem("market_options", study.market_options, "(('p2p_price', 0.2),)")
    if problem:
        return [problem]
    try:
        market = MARKETS[resolve_market_name(study.market)]
    except KeyError:
        return []  # the unknown market is reported on its own
    if market.known_options is None:
        return []
    known = {**FEEDER_OPTIONS, **market.known_options}
    out = []
    per_day = 1440 // study.interval_minutes if is_whole(study.interval_minutes) and study.interval_minutes > 0 else 1
    for name, value in study.market_options:
        if name not in known:
            out.append(f"market_options: {unknown_name(f'option of {market.name}', name, known)}")
            continue
        expected = known[name].check(value, per_day)
        if expected:
            out.append(f"market_options {name}={shown(value)} must be {expected} ({known[name].meaning})")
    return out


def community_problems(community: Any) -> list[str]:
    """A SimBench community's fields (an explicit one is checked with the built scenario)."""
    if isinstance(community, ExplicitCommunity):
        ok = isinstance(community.participants, tuple | list) and community.participants
        return [] if ok else ["community.participants must be a non-empty tuple of ParticipantSpec(...)"]
    if not isinstance(community, SimBenchCommunity):
        return [f"community={community!r:.60} must be SimBenchCommunity(...) or ExplicitCommunity(...)"]
    c, out = community, []
    if not (isinstance(c.grid_code, str) and c.grid_code):
        out.append(f"community.grid_code={c.grid_code!r} must be a SimBench grid code such as '1-LV-rural1--0-sw'")
    problem = pairs_problem("community.class_shares", c.class_shares, "(('low', 0.4), ('middle', 0.4), ('high', 0.2))")
    shares = [s for _, s in c.class_shares] if problem is None else []
    if problem is None and (not all(is_number(s) and np.isfinite(s) and s >= 0 for s in shares)
                            or abs(sum(shares) - 1.0) > 1e-9):
        problem = (f"community.class_shares={c.class_shares} must be non-negative and sum to 1; adjust the shares")
    out += [problem] if problem else []
    problem = pairs_problem("community.income_per_year", c.income_per_year, "(('low', 18000.0), ('high', 85000.0))")
    out += [problem] if problem else [p for cls, v in c.income_per_year for p in number_problem(
        f"community.income_per_year[{cls!r}]", v, low=0, above=True)]
    for name in ("income_spread", "load_scale_sigma"):
        out += number_problem(f"community.{name}", getattr(c, name), low=0, hint=" (a log-normal sigma)")
    for name in ("low_income_pv_share", "flexible_share"):
        out += number_problem(f"community.{name}", getattr(c, name), low=0, high=1)
    classes = c.home_battery_classes
    if not (isinstance(classes, tuple | list) and all(isinstance(x, str) for x in classes)):
        out.append(f"community.home_battery_classes={c.home_battery_classes!r} must be a tuple of class names, "
                   "e.g. ('high',)")
    out += battery_problems("community.home_battery", c.home_battery)
    out += battery_problems("community.community_battery", c.community_battery, optional=True)
    out += number_problem("community.max_time_shift_intervals", c.max_time_shift_intervals, low=0, whole=True)
    out += number_problem("community.max_participants", c.max_participants, low=1, whole=True, optional=True,
                          hint=" (None: every SimBench load)")
    return out


def study_problems(study: Study) -> list[str]:
    """Every problem of the study's fields (the scenario is checked once built)."""
    out = []
    if not (isinstance(study.name, str) and study.name.strip() and "/" not in study.name and "\\" not in study.name
            and study.name not in (".", "..")):
        out.append(f"name={study.name!r} must be a non-empty name without '/' (it names the output folder)")
    if not isinstance(study.description, str):
        out.append(f"description={study.description!r:.60} must be text")
    if not isinstance(study.market, str):
        out.append(f"market={study.market!r} must be a market name such as 'eqwm_v1'")
    if study.settlement_rule not in SETTLEMENT_RULES:
        out.append(f"settlement_rule={shown(study.settlement_rule)} is not a settlement rule; use one of "
                   f"{', '.join(SETTLEMENT_RULES)} (market: each member pays its market bill)")
    minutes = study.interval_minutes
    if not (is_whole(minutes) and minutes > 0 and 1440 % minutes == 0):
        out.append(f"interval_minutes={minutes!r} must be a positive divisor of 1440 (a day); use 15, 30 or 60")
    elif isinstance(study.community, SimBenchCommunity) and minutes % 15:
        out.append(f"interval_minutes={minutes} must be a multiple of 15 for SimBench's 15-minute profiles")
    calendar = number_problem("days", study.days, low=1, whole=True)
    calendar += number_problem("start_day", study.start_day, low=0, high=DAYS_IN_DATA_YEAR - 1, whole=True,
                               hint=" (day of the 2016 data year, 0 = 1 January)")
    if not calendar and type(study.community) is not ExplicitCommunity:  # explicit profiles have their own length
        from p2psim.world.simbench import data_year_problem

        calendar += [p for p in [data_year_problem(study.start_day, study.days, DAYS_IN_DATA_YEAR)] if p]
    out += calendar
    out += [p for p in [seed_problem(study.seed)] if p]
    out += number_problem("forecast_error", study.forecast_error, low=0, hint=" (a relative standard deviation)")
    out += number_problem("transformer_limit_kw", study.transformer_limit_kw, low=0, above=True, optional=True,
                          hint=" (None: the grid's rating)")
    for name in ("enforce_feeder", "allocation", "explain"):
        if not isinstance(getattr(study, name), bool):
            out.append(f"{name}={getattr(study, name)!r} must be true or false")
    if study.coordinator_policy is not None and not isinstance(study.coordinator_policy, str):
        out.append(f"coordinator_policy={study.coordinator_policy!r} must be a policy directory, a name or None")
    out += tariff_problems(study.tariffs)
    out += class_weight_problems(study.class_weights)
    out += equity_problems(study.equity)
    out += solver_problems(study.solver)
    out += market_option_problems(study)
    return out + community_problems(study.community)


def check_study(study: Study) -> Study:
    """Raise one StudyError listing every problem of ``study``; return it when valid."""
    problems = study_problems(study)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise StudyError(f"the study {study.name!r} has {len(problems)} problem(s):\n{lines}")
    return study


def check_seed_option(value: int | None, option: str = "--seed") -> None:
    """StudyError unless ``value`` is None or a seed in [0, 2^32 - 1] (for a command-line option)."""
    problem = None if value is None else seed_problem(value, option)
    if problem:
        raise StudyError(problem.replace(f"{option}=", f"{option} ", 1))


def checked_study(
    source: Study | str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    seed: int | None = None,
    days: int | None = None,
    market: str | None = None,
) -> Study:
    """THE study loader: a study file (or a loaded Study) made ready to run, every field checked.

    Steps, in this order: load the file (:func:`p2psim.config.study.load_study`) unless ``source`` is a
    Study; apply the ``dotted.field=value`` overrides (:func:`p2psim.config.study.apply_overrides`); set
    ``seed``, ``days`` and ``market`` when given; resolve the market name to its newest version
    (``eqwm`` -> ``eqwm_v1``); check every field (:func:`check_study`). Bad input is one
    :class:`~p2psim.errors.StudyError` naming the field, the value and the fix. The command line,
    the sweep and the coordinator's environment all load studies through here.
    """
    study = load_study(source) if isinstance(source, str | Path) else source
    study = apply_overrides(study, list(overrides))
    check_seed_option(seed)
    if seed is not None:
        study = replace(study, seed=seed)
    if days is not None:
        if days < 1:
            raise StudyError(f"--days {days}: the number of days must be >= 1")
        study = replace(study, days=days)
    if market is not None:
        study = replace(study, market=market)
    if not isinstance(study.market, str):
        raise StudyError(f"market={study.market!r} must be a market name such as 'eqwm_v1'")
    return check_study(replace(study, market=resolve_market_name(study.market)))


__all__ = [
    "MAX_SEED",
    "check_seed_option",
    "check_study",
    "checked_study",
    "is_number",
    "number_problem",
    "seed_problem",
    "study_problems",
]
