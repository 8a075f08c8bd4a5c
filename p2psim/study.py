"""Study files: a Python file that defines ``STUDY = Study(...)``.

A :class:`Study` holds parameters only (frozen dataclasses all the way down); the scenario is built
from it after command-line overrides (``--set community.low_income_share=0.5``), so a study stays a
readable recipe and a sweep just edits fields. :func:`load_study` reads the file with
``runpy.run_path``; :func:`apply_overrides` edits the dataclass along a dotted path with
``dataclasses.replace``, converting the text to the field's current type.
"""

from __future__ import annotations

import ast
import dataclasses
import runpy
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from p2psim.errors import StudyError, unknown_name
from p2psim.feeder import Feeder
from p2psim.markets.base import EquityOptions, SolverOptions
from p2psim.scenario import BatterySpec, ParticipantSpec, Tariffs


@dataclass(frozen=True, kw_only=True)
class SimBenchCommunity:
    """A community built on a real SimBench low-voltage grid (data licence ODbL 1.0 + DbCL).

    Loads and PV units keep their SimBench buses and 15-minute profiles (resampled to the study's
    interval). Every SimBench load becomes one participant; classes, incomes and home batteries are
    assigned reproducibly from the run's seed (see :mod:`p2psim.data.community`).
    """

    grid_code: str = "1-LV-rural1--0-sw"
    """SimBench grid code."""
    class_shares: tuple[tuple[str, float], ...] = (("low", 0.4), ("middle", 0.4), ("high", 0.2))
    """Share of participants in each socio-economic class (must sum to 1)."""
    income_per_year: tuple[tuple[str, float], ...] = (("low", 18_000.0), ("middle", 42_000.0), ("high", 85_000.0))
    """Median annual income per class (currency units)."""
    income_spread: float = 0.2
    """Log-normal sigma of individual incomes around the class median."""
    low_income_pv_share: float = 0.1
    """Probability that a low-income slot goes to a PV owner (low-income homes mostly lack PV)."""
    home_battery_classes: tuple[str, ...] = ("high",)
    """Classes whose PV owners also own a home battery."""
    home_battery: BatterySpec = BatterySpec(capacity_kwh=10.0, max_charge_kw=5.0, max_discharge_kw=5.0)
    """Home battery given to PV owners of ``home_battery_classes``."""
    community_battery: BatterySpec | None = BatterySpec(
        capacity_kwh=60.0, max_charge_kw=30.0, max_discharge_kw=30.0, initial_soc=0.3
    )
    """Shared battery owned by the aggregator at the transformer bus (None: no community battery)."""
    flexible_share: float = 0.1
    """Share of household load that may shift within the window."""
    load_scale_sigma: float = 0.15
    """Log-normal sigma of the seeded per-participant load scaling (profile diversity)."""
    max_time_shift_intervals: int = 2
    """Largest seeded shift (in 15-minute steps) of each participant's profile (diversity)."""
    max_participants: int | None = None
    """Keep only the first N SimBench loads (None: all)."""


@dataclass(frozen=True, kw_only=True)
class ExplicitCommunity:
    """A community given participant by participant (hand-checkable studies, tests)."""

    participants: tuple[ParticipantSpec, ...]
    """The participants; profiles cover at least ``days * intervals_per_day`` intervals (longer
    profiles are cut to the run's horizon, so ``--days`` can shorten an explicit study)."""
    feeder: Feeder
    """The feeder they sit on."""


@dataclass(frozen=True, kw_only=True)
class Study:
    """One study: where the community comes from, its tariffs, the market and the run settings."""

    name: str
    """Short name used in reports and output folders."""
    description: str = ""
    """What the study shows and its assumptions (sources of tariffs and data)."""
    community: SimBenchCommunity | ExplicitCommunity = field(default_factory=SimBenchCommunity)
    """How to build the participants and the feeder."""
    tariffs: Tariffs
    """Retail tariffs around the community."""
    market: str = "eqwm_v1"
    """Market rule by registry name."""
    settlement_rule: str = "market"
    """What members pay: ``market`` (each its market bill) or an allocation rule that pays each member
    its stand-alone bill minus its share of the day's realised community gain -- ``shapley``,
    ``weighted_shapley`` and ``equitable_core`` (with the class weights in force that day),
    ``owen``, ``nucleolus`` (small communities), ``equal_split``, ``proportional``
    (:mod:`p2psim.settlement_rule`). The rule moves money, never energy."""
    days: int = 7
    """Number of days to simulate."""
    start_day: int = 152
    """Day of the (2016) data year the run starts on, 0-based (152 = 1 June)."""
    interval_minutes: int = 60
    """Delivery interval length."""
    seed: int = 0
    """The run's one seed (profiles diversity, classes, forecast errors, tie-breaks)."""
    forecast_error: float = 0.05
    """Relative standard deviation of day-ahead load and PV forecast errors (0 = perfect)."""
    class_weights: tuple[tuple[str, float], ...] = (("low", 1.0), ("middle", 1.0), ("high", 1.0))
    """Socio-economic class weights w_c used by EqWM (the coordinator may change them per day)."""
    equity: EquityOptions = field(default_factory=EquityOptions)
    """EqWM objective coefficients."""
    solver: SolverOptions = field(default_factory=SolverOptions)
    """Solver options."""
    transformer_limit_kw: float | None = None
    """Override of the transformer limit (None: the grid's rating)."""
    enforce_feeder: bool = True
    """Apply line and transformer limits in optimisation rules."""
    market_options: tuple[tuple[str, Any], ...] = ()
    """Rule-specific options as (name, value) pairs."""
    coordinator_policy: str | None = None
    """Path (relative to the study file) of a trained coordinator policy, used when present."""
    allocation: bool = True
    """Compute the cooperative-game allocations after the run."""
    explain: bool = True
    """Explain who gains and why (SHAP over a surrogate) after the run; needs >= 3 days."""



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
        """Return the community's participants from ``base`` (a :class:`~p2psim.scenario.Scenario`)."""
        return base.participants

    def __post_init__(self) -> None:
        key = (self.days, self.start_day, self.interval_minutes, self.seed)
        if getattr(self.community, "built_for", None) != key:
            object.__setattr__(self, "community", self._build(key))

    def _build(self, key: tuple[int, int, int, int]) -> BuiltCommunity:
        from p2psim.data.community import build_scenario
        from p2psim.runner import community_stream

        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(Study)}
        base_study = Study(**{**values, "community": self.base_community, "transformer_limit_kw": None})
        base = build_scenario(base_study, community_stream(self.seed), check=False)
        return BuiltCommunity(built_for=key, participants=tuple(self.derive(base)), feeder=base.feeder)

    def __reduce_ex__(self, protocol):
        plain = ExplicitCommunity(participants=self.community.participants, feeder=self.community.feeder)
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(Study)}
        return partial(Study, **{**values, "community": plain}), ()


def run_study_file(path: str | Path) -> dict[str, Any]:
    """Execute a study file and return its namespace; errors name the file and the fix.

    A study file only defines ``STUDY``: an exception while it runs, or ``sys.exit`` (which would
    otherwise end the command silently with nothing run), is a StudyError.
    """
    path = Path(path)
    if not path.is_file():
        raise StudyError(f"study file {str(path)!r} does not exist; pass a path such as studies/rural.py")
    try:
        return runpy.run_path(str(path))
    except SyntaxError as exc:
        raise StudyError(f"study file {str(path)!r} has a syntax error at line {exc.lineno}: {exc.msg}") from None
    except SystemExit as exc:
        raise StudyError(f"study file {str(path)!r} called sys.exit({exc.code!r}) while loading; a study file "
                         "must only define STUDY = Study(...)") from None
    except Exception as exc:
        raise StudyError(f"study file {str(path)!r} failed while loading: {type(exc).__name__}: {exc}") from None


def study_of(namespace: dict[str, Any], path: str | Path) -> Study:
    """The ``STUDY`` of an executed study file (StudyError when missing or not a Study)."""
    study = namespace.get("STUDY")
    if study is None:
        raise StudyError(f"study file {str(path)!r} defines no STUDY constant; add `STUDY = Study(...)`")
    if not isinstance(study, Study):
        raise StudyError(f"STUDY in {str(path)!r} is a {type(study).__name__}, expected p2psim.Study")
    return study


def load_study(path: str | Path) -> Study:
    """Load ``STUDY`` from a study file; errors name the file and the fix."""
    return study_of(run_study_file(path), path)


def _convert(text: str, current: Any, dotted: str) -> Any:
    """Convert override text to the type of the field's current value."""
    if isinstance(current, bool):
        if text.lower() in {"true", "1", "yes"}:
            return True
        if text.lower() in {"false", "0", "no"}:
            return False
        raise StudyError(f"--set {dotted}={text!r}: expected true or false")
    if isinstance(current, int | float) and not isinstance(current, bool):
        try:
            return type(current)(float(text)) if isinstance(current, float) else int(text)
        except ValueError:
            raise StudyError(f"--set {dotted}={text!r}: expected a number like {current!r}") from None
    if isinstance(current, str) or current is None:
        if current is None and text.lower() == "none":
            return None
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
        return value if current is None or isinstance(value, str) else text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise StudyError(f"--set {dotted}={text!r}: expected a Python literal like {current!r}") from None


def _replace_path(obj: Any, parts: list[str], text: str, dotted: str) -> Any:
    name = parts[0]
    if not dataclasses.is_dataclass(obj):
        raise StudyError(f"--set {dotted}: {name!r} is not a field of a settings object")
    names = [f.name for f in dataclasses.fields(obj)]
    if name not in names:
        raise StudyError(str(unknown_name(f"field in {type(obj).__name__} (--set {dotted})", name, names)))
    current = getattr(obj, name)
    optional = "None" in str(next(f.type for f in dataclasses.fields(obj) if f.name == name))
    if len(parts) == 1 and optional and text in ("None", "none"):
        value = None
    elif len(parts) == 1:
        value = _convert(text, current, dotted)
    else:
        value = _replace_path(current, parts[1:], text, dotted)
    return dataclasses.replace(obj, **{name: value})


def apply_overrides(study: Study, overrides: list[str] | tuple[str, ...]) -> Study:
    """Apply ``dotted.field=value`` overrides; an unknown field is a StudyError with the near miss."""
    for item in overrides:
        if "=" not in item:
            raise StudyError(f"--set {item!r}: expected dotted.field=value, e.g. --set days=3")
        dotted, text = item.split("=", 1)
        study = _replace_path(study, dotted.strip().split("."), text.strip(), dotted.strip())
    return study
