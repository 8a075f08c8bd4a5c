"""The equity coordinator environment (model.md section 3): a PettingZoo ParallelEnv around the day-ahead clearing.

One environment step is one clearing day of a :class:`~p2psim.model.CommunityModel`:

1. the action sets the socio-economic class weights ``model.class_weights`` used at day d's gate
   (they enter the clearing through ``OrderBook.class_weight``);
2. the clock runs day d only (``clock.run(d, d + 1)``: gate -> clear exactly -> deliver -> settle);
3. the reward of day d is computed from the *settled* day (a day hook after ``settle(d)``), never
   from forecasts; the observation describes the settled day d and the calendar of day d + 1.

Agents
    ``coordinator`` (default): one agent sets every class weight. With ``per_class_agents=True``
    there is one agent per class, ``weight_<class>`` (e.g. ``weight_low``), each setting its own
    class weight; all agents see the same observation and share the (cooperative) reward.

Action (``Box(-a, a)``, float32; a = ``max_log_step``)
    The coordinator's action has one entry per class (in :attr:`EquityEnv.classes` order, e.g.
    ``low, middle, high``); a per-class agent's action has one entry. Each entry is a
    multiplicative change of the class weight in log space: ``log w_c <- log w_c + action_c``,
    after which ``w_c`` is kept within ``[w_min, w_max]``. An action that is not finite or lies
    outside ``[-a, a]`` (tolerance 1e-6) raises :class:`~p2psim.errors.OrderError`; nothing is
    clipped silently. Use :class:`ClipActions` (or ``gymnasium.wrappers.ClipAction`` on the
    single-agent view) to clip explicitly.

Observation (``Box(-OBS_BOUND, OBS_BOUND)``, float32; identical for every agent), for K classes:

    ======================  ====  ======================================================
    block                   size  meaning (of the settled day d; zeros after ``reset``)
    ======================  ====  ======================================================
    mean cost               K     mean daily bill per member of the class (the study's currency)
    energy burden           K     class total of max(bill, 0), annualised, / class total income
    renewable access        K     class share of consumption met locally (grid origin traced)
    relative benefit        K     class total benefit / class total need (stand-alone cost of use)
    Gini                    1     Gini of relative benefit b_i / need_i (equity classes; in [0, 1])
    efficiency loss         1     (C - C_eq) / scale of day d (see reward)
    log weights             K     log w_c currently in force (for day d + 1 before the action)
    day of year             2     sin, cos of 2 pi doy / 366 of day d + 1
    weekday                 2     weekday(d + 1) / 6 and 1 if Saturday/Sunday
    progress                1     share of the episode elapsed
    ======================  ====  ======================================================

Bills and benefits are what members are paid: their market bills, or under the study's
``settlement_rule`` the rule's bills of day d (:mod:`p2psim.settlement_rule`; weighted rules with the
weights day d was cleared with), so the coordinator observes and is rewarded on the payments.

Reward of day d (shared by all agents; each term also in ``infos[agent]``)::

    reward = -inequity_weight * G_d - efficiency_weight * max(0, L_d) - churn_weight * ||Delta log w||^2

with ``G_d`` in [0, 1] the Gini (:func:`p2psim.inequality.gini`) of the day's relative benefit
``b_i / need_i`` (:mod:`p2psim.equity`) over the equity classes (the aggregator's class
``community`` is excluded, :data:`p2psim.equity.EQUITY_EXCLUDED_CLASSES`), and
``L_d = (C_d - C_eq,d) / scale_d`` the efficiency loss: ``C_d`` is the community cost of the
day's clearing (grid energy, P2P fees and the demand charge; pool payments net out) and
``C_eq,d`` the cost of clearing *the same book* with equal weights (cached per (episode, day,
book); reused without solving when the weights are already equal; with EqWM only the equal-weight
program is solved, the day's stand-alone optimum and day model are reused). ``scale_d`` is
``max(|C_eq,d|, 0.1 * sum_i |B_i|, 1)`` with ``B_i`` the stand-alone bills, so a community that
nearly breaks even does not blow the ratio up.

Episodes
    ``episode_days`` consecutive days of the 2016 data year. Weeks are 0-based blocks of 7 days
    (week k = days 7k .. 7k + 6). ``split="train"`` draws the start day uniformly (from the
    seeded ``np_random``) among the windows that touch no ``held_out_weeks`` day;
    ``split="test"`` starts at the first day of a held-out week (cycled in order by episode,
    or drawn when ``random_test_start``). The community (classes, incomes, profile diversity)
    comes from the study's seed; forecast errors and the market stream come from a per-episode
    seed drawn from ``np_random``, so ``reset(seed=s)`` fixes the whole episode.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from p2psim.equity import EQUITY_EXCLUDED_CLASSES, class_observation
from p2psim.errors import OrderError, StudyError
from p2psim.inequality import gini
from p2psim.markets import EqWM
from p2psim.provenance import trace_grid_origin
from p2psim.study import Study, apply_overrides, load_study

OBS_BOUND = 100.0
DAYS_IN_YEAR = 366  # the 2016 data year
DEFAULT_HELD_OUT_WEEKS = (5, 18, 31, 44)
"""Held-out weeks (one per season: early Feb, early May, early Aug, early Nov)."""
COORDINATOR = "coordinator"


def community_cost(clearing, book) -> float:
    """Community cost of a clearing: grid energy, P2P fees and demand charge (pool payments net out)."""
    dt = book.interval_hours
    imp = clearing.grid_import_kw.sum(axis=0)
    exp = clearing.grid_export_kw.sum(axis=0)
    buy = clearing.pool_buy_kw.sum(axis=0)
    energy = dt * float(np.sum(book.import_price_per_kwh * imp - book.export_price_per_kwh * exp
                               + book.p2p_fee_per_kwh * buy))
    peak = max(float(np.max(imp - exp)), 0.0)
    return energy + float(book.peak_price_per_kw) * peak


def _weekday(start_day: int) -> int:
    """Weekday (Monday 0) of day ``start_day`` of 2016 (1 January 2016 was a Friday)."""
    return (4 + start_day) % 7


class _RememberDay:
    """An EqWM market that keeps the last day's stand-alone optimum and day model.

    ``clear`` is exactly ``EqWM.clear`` (stand-alone optimum, then ``clear_with``); it also keeps
    ``last = (book, stand-alone optimum, day model)`` so that the equal-weight clearing of the same
    book (the reward's reference) solves only the EqWM program: B_i and the day model do not depend
    on the class weights.
    """

    def __init__(self, market: EqWM) -> None:
        self.market = market
        self.last: tuple | None = None

    def __getattr__(self, name: str) -> Any:
        if name == "market":  # not set yet (e.g. while unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.market, name)

    def clear(self, book, context):
        from p2psim.markets._community_lp import build_day_model
        from p2psim.markets.grid_only import standalone_optimum

        alone = standalone_optimum(book, context)
        day_model = build_day_model(book, context)
        self.last = (book, alone, day_model)
        return self.market.clear_with(book, context, alone, day_model)


class EquityEnv(ParallelEnv):
    """Equity coordinator environment; see the module docstring for spaces, reward and timing."""

    metadata = {"name": "p2psim_equity_v0", "render_modes": [], "is_parallelizable": True}  # noqa: RUF012 (PettingZoo API)

    def __init__(self, study: Study, *, episode_days: int = 7, per_class_agents: bool = False,
                 held_out_weeks: tuple[int, ...] = DEFAULT_HELD_OUT_WEEKS, split: str = "train",
                 max_log_step: float = 0.25, w_min: float = 0.25, w_max: float = 4.0,
                 inequity_weight: float = 1.0, efficiency_weight: float = 5.0, churn_weight: float = 0.1,
                 market: str | None = None, random_test_start: bool = False,
                 check_invariants: bool = False, render_mode: str | None = None,
                 step_time_limit_s: float | None = 10.0, benefit_basis: str = "market") -> None:
        """Build the environment for ``study`` (already overridden); the market defaults to the study's.

        ``step_time_limit_s`` caps each day's clearing: at the limit the best complementary solution
        found is used, flagged ``time_limit`` with its gap in the day's solver record
        (``SolverOptions.on_time_limit="incumbent"``), so one hard MILP day cannot stall training or
        evaluation. ``None`` keeps the study's solver options (a time-limited day then raises).

        ``benefit_basis`` is what the reward's inequity (and the observed relative benefit) is
        measured on: ``market``, the market settlement (what the EqWM prices pay); ``stable``, the
        core allocation of the day's savings game closest in L1 to the market outcome
        (:func:`p2psim.game.equitable_core_allocation`: every coalition constraint for up to 12
        participants, row generation with the membership oracle above), so the learned weights act
        on payments no coalition would walk away from. ``stable`` costs one coalition LP per
        coalition it considers (2^n for n <= 12): an option for small communities.
        """
        from p2psim.markets import resolve_market_name

        if episode_days < 1:
            raise StudyError(f"episode_days={episode_days} must be >= 1")
        if split not in ("train", "test"):
            raise StudyError(f"split={split!r}: expected 'train' or 'test'")
        if not (0 < w_min <= 1 <= w_max and max_log_step > 0):
            raise StudyError(f"need 0 < w_min <= 1 <= w_max and max_log_step > 0; got {w_min}, {w_max}, "
                             f"{max_log_step}")
        if benefit_basis not in BENEFIT_BASES:
            raise StudyError(f"benefit_basis={benefit_basis!r}: expected one of {', '.join(BENEFIT_BASES)}")
        self.benefit_basis = benefit_basis
        if step_time_limit_s is not None:
            if not step_time_limit_s > 0:
                raise StudyError(f"step_time_limit_s={step_time_limit_s} must be > 0 (or None for the study's)")
            solver = dataclasses.replace(study.solver, on_time_limit="incumbent",
                                         time_limit_s=min(study.solver.time_limit_s, float(step_time_limit_s)))
            study = dataclasses.replace(study, solver=solver)
        self.study = dataclasses.replace(study, market=resolve_market_name(market or study.market))
        self.episode_days = int(episode_days)
        self.per_class_agents = bool(per_class_agents)
        self.held_out_weeks = tuple(sorted(int(w) for w in held_out_weeks))
        self.split = split
        self.max_log_step = float(max_log_step)
        self.w_min, self.w_max = float(w_min), float(w_max)
        self.inequity_weight = float(inequity_weight)
        self.efficiency_weight = float(efficiency_weight)
        self.churn_weight = float(churn_weight)
        self.random_test_start = bool(random_test_start)
        self.check_invariants = bool(check_invariants)
        self.render_mode = render_mode
        self.config = {
            "episode_days": self.episode_days, "per_class_agents": self.per_class_agents,
            "held_out_weeks": list(self.held_out_weeks), "split": split, "max_log_step": self.max_log_step,
            "w_min": self.w_min, "w_max": self.w_max, "inequity_weight": self.inequity_weight,
            "efficiency_weight": self.efficiency_weight, "churn_weight": self.churn_weight,
            "market": self.study.market, "step_time_limit_s": step_time_limit_s, "benefit_basis": benefit_basis,
        }
        self.classes = self._equity_classes()
        self.n_classes = len(self.classes)
        self.starts = self._allowed_starts()
        if self.per_class_agents:
            self.possible_agents = [f"weight_{c}" for c in self.classes]
        else:
            self.possible_agents = [COORDINATOR]
        self.agents: list[str] = []
        k = self.n_classes
        self.obs_size = 4 * k + 2 + k + 5
        self._obs_space = spaces.Box(-OBS_BOUND, OBS_BOUND, (self.obs_size,), np.float32)
        self._action_spaces = {
            agent: spaces.Box(-self.max_log_step, self.max_log_step, (k if agent == COORDINATOR else 1,), np.float32)
            for agent in self.possible_agents
        }
        self._observation_spaces = dict.fromkeys(self.possible_agents, self._obs_space)
        self._equal_cache: OrderedDict[tuple, float] = OrderedDict()
        self.np_random, _ = gymnasium.utils.seeding.np_random(None)
        self._episode = 0
        self.model = None
        self.history: list[dict[str, Any]] = []
        self.last_stable = None
        """(day game, allocation) of the last ``stable`` step, for inspection."""

    # -- construction helpers --------------------------------------------------------------------
    @classmethod
    def from_study(cls, study_path: str, *, overrides: tuple[str, ...] | list[str] = (), **kwargs: Any) -> EquityEnv:
        """Load ``study_path``, apply ``dotted.field=value`` overrides, check the study and build the environment."""
        from p2psim.study_checks import check_study

        study = check_study(apply_overrides(load_study(study_path), list(overrides)))
        return cls(study, **kwargs)

    def _equity_classes(self) -> tuple[str, ...]:
        community = self.study.community
        if hasattr(community, "class_shares"):
            names = [name for name, _ in community.class_shares]
        else:
            names = list(dict.fromkeys(p.socio_class for p in community.participants))
        names = [n for n in names if n not in EQUITY_EXCLUDED_CLASSES]
        if not names:
            raise StudyError("the study has no socio-economic classes the coordinator could weigh")
        return tuple(names)

    def _allowed_starts(self) -> np.ndarray:
        held = np.zeros(DAYS_IN_YEAR, bool)
        for week in self.held_out_weeks:
            held[7 * week: 7 * week + 7] = True
        last = DAYS_IN_YEAR - self.episode_days
        if hasattr(self.study.community, "participants"):  # explicit community: its own days only
            if self.episode_days > self.study.days:
                raise StudyError(f"episode_days={self.episode_days} exceeds the study's {self.study.days} days")
            return np.arange(0, self.study.days - self.episode_days + 1)
        if self.split == "train":
            starts = [s for s in range(last + 1) if not held[s: s + self.episode_days].any()]
        else:
            starts = [7 * w for w in self.held_out_weeks if 7 * w <= last]
        if not starts:
            raise StudyError(f"no {self.split} episode of {self.episode_days} day(s) fits the data year with "
                             f"held-out weeks {self.held_out_weeks}")
        return np.array(starts)

    # -- PettingZoo API ----------------------------------------------------------------------------
    def observation_space(self, agent: str) -> spaces.Box:
        """Observation space of ``agent`` (the same for every agent)."""
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Box:
        """Action space of ``agent``: log-weight changes in [-max_log_step, max_log_step]."""
        return self._action_spaces[agent]

    @property
    def weights(self) -> dict[str, float]:
        """Class weights currently in force (for the next day to clear)."""
        return {c: float(np.exp(v)) for c, v in zip(self.classes, self._log_w, strict=True)}

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode: draw its window and seed, build the scenario and the model."""
        from p2psim.data.community import build_scenario
        from p2psim.markets import make_market
        from p2psim.model import CommunityModel
        from p2psim.runner import community_stream, run_options

        if seed is not None:
            self.np_random, _ = gymnasium.utils.seeding.np_random(seed)
        options = options or {}
        if "start_day" in options:
            start = int(options["start_day"])
        elif self.split == "test" and not self.random_test_start:
            start = int(self.starts[self._episode % len(self.starts)])
        else:
            start = int(self.np_random.choice(self.starts))
        episode_seed = int(options.get("episode_seed", self.np_random.integers(2**31 - 1)))
        self._episode += 1
        if hasattr(self.study.community, "participants"):
            study = self.study
            self._day0 = start
        else:
            study = dataclasses.replace(self.study, start_day=start, days=self.episode_days)
            self._day0 = 0
        scenario = build_scenario(study, community_stream(self.study.seed))
        # record=False: a step reads the settled day from the day hook, so the ledger's dispatch, trade
        # and bill tables (pandas frames and the bilateral matching, ~25 ms a day) are not built
        opts = dataclasses.replace(run_options(self.study), check_invariants=self.check_invariants, record=False)
        market = make_market(self.study.market)
        if isinstance(market, EqWM):
            market = _RememberDay(market)
        model = CommunityModel(scenario, market, seed=episode_seed, options=opts)
        self.episode_seed = episode_seed
        self.attach(model, start, initial=options.get("weights"))
        self.history = []
        self.agents = list(self.possible_agents)
        obs = self._observation()
        infos = {agent: {"start_day": start, "episode_seed": episode_seed} for agent in self.agents}
        return dict.fromkeys(self.agents, obs), infos

    def attach(self, model, start_day: int, *, initial: dict[str, float] | None = None,
               equal_weight_cost: bool = True) -> None:
        """Bind the environment to ``model`` (first calendar day ``start_day``) and add its settle hook.

        Used by :meth:`reset` and by :func:`p2psim.rl.policy.coordinator_hook` (a normal run whose
        weights a policy sets; there ``equal_weight_cost=False`` skips the extra clearing).
        """
        scenario = model.scenario
        self.model = model
        self.start_day = int(start_day)
        self._compute_equal = bool(equal_weight_cost)
        if not hasattr(self, "episode_seed"):
            self.episode_seed = 0
        if not hasattr(self, "_day0"):
            self._day0 = 0
        model.day_hooks.append(self._on_settled)
        self._members = np.array([p.socio_class not in EQUITY_EXCLUDED_CLASSES for p in scenario.participants])
        self._class_index = np.array([self.classes.index(p.socio_class) if p.socio_class in self.classes else -1
                                      for p in scenario.participants])
        self._income = np.array([p.income_per_year for p in scenario.participants])
        self._charge_efficiency = np.array([p.battery.charge_efficiency if p.battery else 1.0
                                            for p in scenario.participants])
        self._battery_fraction = np.ones(len(scenario.participants))  # grid share of stored energy (provenance)
        initial = initial or dict(model.class_weights)
        self._log_w = np.log(np.clip([float(initial.get(c, 1.0)) for c in self.classes], self.w_min, self.w_max))
        model.class_weights = {**model.class_weights, **self.weights}
        self._day = 0
        self._settled: dict[str, Any] | None = None
        self._stats = np.zeros(4 * self.n_classes + 2)

    def _delta(self, actions: dict[str, Any]) -> np.ndarray:
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise OrderError(f"actions missing for agent(s) {missing}; every live agent must act")
        delta = np.zeros(self.n_classes)
        for agent in self.agents:
            space = self._action_spaces[agent]
            try:
                value = np.asarray(actions[agent], dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                raise OrderError(f"action of {agent!r} is not numeric: {actions[agent]!r}") from None
            if value.shape != space.shape:
                raise OrderError(f"action of {agent!r} has shape {value.shape}, expected {space.shape}")
            if not np.all(np.isfinite(value)):
                raise OrderError(f"action of {agent!r} is not finite: {value.tolist()}")
            if np.any(np.abs(value) > self.max_log_step + 1e-6):
                raise OrderError(
                    f"action of {agent!r} = {value.tolist()} lies outside [-{self.max_log_step}, {self.max_log_step}]"
                    " (log-weight change per class); clip explicitly with p2psim.rl.env.ClipActions")
            if agent == COORDINATOR:
                delta[:] = value
            else:
                delta[self.classes.index(agent.removeprefix("weight_"))] = value[0]
        return delta

    def step(self, actions: dict[str, Any]):
        """Apply the weight changes, clear and settle one day, return its reward."""
        if not self.agents:
            raise OrderError("step() called on a finished episode; call reset() first")
        delta = self._delta(actions)
        old = self._log_w.copy()
        self._log_w = np.clip(old + delta, np.log(self.w_min), np.log(self.w_max))
        churn = float(np.sum((self._log_w - old) ** 2))
        model = self.model
        model.class_weights = {**model.class_weights, **self.weights}
        day = self._day0 + self._day
        self._settled = None
        model.clock.run(day, day + 1)
        if self._settled is None:  # pragma: no cover - the hook always runs after settle
            raise RuntimeError(f"day {day} was not settled")
        terms = self._reward_terms(self._settled, churn)
        self._day += 1
        reward = float(terms["reward"])
        done = self._day >= self.episode_days
        obs = self._observation()
        info = {**terms, "day": int(day), "weights": {c: float(w) for c, w in self.weights.items()}}
        self.history.append({**info, "start_day": self.start_day})
        agents = self.agents
        if done:
            self.agents = []
        return (dict.fromkeys(agents, obs), dict.fromkeys(agents, reward), dict.fromkeys(agents, False),
                dict.fromkeys(agents, done), {a: dict(info) for a in agents})

    def _on_settled(self, model, day: int, result: dict[str, Any]) -> None:
        self._settled = result

    # -- reward and observation ------------------------------------------------------------------
    def _equal_weight_cost(self, book, clearing_cost: float) -> float:
        if not self._compute_equal or np.allclose(book.class_weight, 1.0):
            return clearing_cost
        key = (self.start_day, self.episode_seed, self._day, book.storage.initial_kwh.tobytes())
        if key not in self._equal_cache:
            model = self.model
            context = dataclasses.replace(model.context(self._day0 + self._day),
                                          rng=np.random.default_rng([self.episode_seed, self._day, 7]))
            equal_book = book.with_weights(dict.fromkeys(set(book.socio_class), 1.0))
            memo = getattr(model.market, "last", None)
            if memo is not None and memo[0] is book:
                # neither B_i nor the day model depends on the weights: reuse the day's (EqWM) and
                # solve only the equal-weight program
                equal = model.market.clear_with(equal_book, context, memo[1], memo[2])
            else:
                equal = model.market.clear(equal_book, context)
            self._equal_cache[key] = community_cost(equal, book)
            while len(self._equal_cache) > 4096:
                self._equal_cache.popitem(last=False)
        return self._equal_cache[key]

    def _reward_terms(self, result: dict[str, Any], churn: float) -> dict[str, float]:
        bills = result["bills"]
        bill, alone, benefit, need = bills["bill"], bills["standalone_bill"], bills["benefit"], bills["need_cost"]
        core_terms = {}
        if self.benefit_basis == "stable":
            benefit, core_terms = self._stable_benefit(result, benefit)
        members = self._members
        r = benefit / np.where(need > 0, need, np.nan)
        g = gini(r[members & np.isfinite(r)])
        book, clearing = result["book"], result["clearing"]
        cost = community_cost(clearing, book)
        cost_eq = self._equal_weight_cost(book, cost)
        scale = max(abs(cost_eq), 0.1 * float(np.abs(alone).sum()), 1.0)
        loss = (cost - cost_eq) / scale
        origin = trace_grid_origin(result["flows"], clearing.soc_kwh, self._charge_efficiency, book.interval_hours,
                                   self._battery_fraction)
        self._battery_fraction = origin.battery_fraction
        stats = class_observation(bill, benefit, need, origin.use_kwh.sum(axis=1), origin.grid_kwh.sum(axis=1),
                                  self._income, self._class_index, self.n_classes)
        self._stats = np.concatenate([stats.reshape(-1), [g, loss]])
        inequity = self.inequity_weight * g
        efficiency = self.efficiency_weight * max(loss, 0.0)
        churn_pen = self.churn_weight * churn
        return {
            "reward": -inequity - efficiency - churn_pen, "gini": float(g), "inequity_penalty": float(inequity),
            "community_cost": float(cost), "equal_weight_cost": float(cost_eq), "efficiency_loss": float(loss),
            "efficiency_penalty": float(efficiency), "churn": churn, "churn_penalty": float(churn_pen),
            "total_bill": float(bill.sum()), "standalone_bill": float(alone.sum()), **core_terms,
            # 1 when the day's clearing stopped at step_time_limit_s (a flagged incumbent, not the optimum)
            "time_limited": float(any(r.status == "time_limit" for r in clearing.solver_records)),
        }

    def _stable_benefit(self, result: dict[str, Any], benefit: np.ndarray):
        """Benefits under the core allocation closest to the market benefits (``stable``).

        The game is the day's savings game on its day-ahead book (equal weights, cost objective:
        :class:`p2psim.game.energy.EnergyDayGame`), v(S) = sum_{i in S} c({i}) - c(S); the target
        is each participant's market benefit. The reward divides them by the needs like market benefits.
        """
        from p2psim.game import equitable_core_allocation
        from p2psim.game.energy import DayGameSpec, EnergyDayGame
        from p2psim.game.energy_separation import membership_separation

        book = result["book"]
        spec = DayGameSpec(day=int(result.get("day", self._day)), book=book.with_weights({}),
                           feeder=self.model.scenario.feeder, solver=self.study.solver,
                           enforce_feeder=self.study.enforce_feeder)
        game = EnergyDayGame(spec)
        target = dict(zip(game.players, np.asarray(benefit, float), strict=True))
        if len(game.players) <= STABLE_EXACT_MAX_PLAYERS:
            stable = equitable_core_allocation(game.players, game.value, target=target, method="exact")
        else:
            stable = equitable_core_allocation(game.players, game.value, target=target, method="rowgen",
                                               separation=membership_separation(game))
        x = np.array([stable[p] for p in game.players])
        self.last_stable = (game, stable)
        return x, {"core_distance": float(stable.meta["distance"]), "cooperative_gain": float(x.sum())}

    def _observation(self) -> np.ndarray:
        next_day = self.start_day + self._day
        doy = 2 * np.pi * (next_day % DAYS_IN_YEAR) / DAYS_IN_YEAR
        weekday = _weekday(next_day)
        calendar = [np.sin(doy), np.cos(doy), weekday / 6.0, float(weekday >= 5), self._day / self.episode_days]
        obs = np.concatenate([self._stats, self._log_w, calendar])
        return np.clip(np.nan_to_num(obs, nan=0.0), -OBS_BOUND, OBS_BOUND).astype(np.float32)

    def state(self) -> np.ndarray:
        """Global state (the shared observation)."""
        return self._observation()

    def render(self) -> None:
        """No rendering; see :mod:`p2psim.rl.evaluate` for plots."""
        return None

    def close(self) -> None:
        """Drop the model."""
        self.model = None


BENEFIT_BASES = ("market", "stable")
#: Up to this many participants the ``stable`` basis enumerates every coalition constraint.
STABLE_EXACT_MAX_PLAYERS = 12


class ClipActions:
    """Explicit clipping wrapper for :class:`EquityEnv`: actions are clipped to the space, NaN -> 0."""

    def __init__(self, env: EquityEnv) -> None:
        """Wrap ``env``."""
        self.env = env

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def step(self, actions: dict[str, Any]):
        """Clip every agent's action into its box, then step."""
        clipped = {}
        for agent, action in actions.items():
            space = self.env.action_space(agent)
            clipped[agent] = np.clip(np.nan_to_num(np.asarray(action, np.float32), nan=0.0), space.low, space.high)
        return self.env.step(clipped)


class EquityGymEnv(gymnasium.Env):
    """Single-agent Gymnasium view of :class:`EquityEnv` (the ``coordinator`` agent)."""

    metadata = {"render_modes": []}  # noqa: RUF012 (Gymnasium API attribute)

    def __init__(self, env: EquityEnv | None = None, **kwargs: Any) -> None:
        """Wrap ``env`` or build one with ``EquityEnv.from_study(**kwargs)`` (needs ``study_path``)."""
        if env is None:
            study_path = kwargs.pop("study_path")
            env = EquityEnv.from_study(study_path, **kwargs)
        if env.per_class_agents:
            raise StudyError("the single-agent view needs per_class_agents=False")
        self.env = env
        self.observation_space = env.observation_space(COORDINATOR)
        self.action_space = env.action_space(COORDINATOR)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset the wrapped environment."""
        super().reset(seed=seed)
        obs, infos = self.env.reset(seed=seed, options=options)
        return obs[COORDINATOR], infos[COORDINATOR]

    def step(self, action):
        """Step the coordinator."""
        obs, rewards, terms, truncs, infos = self.env.step({COORDINATOR: action})
        return (obs[COORDINATOR], rewards[COORDINATOR], terms[COORDINATOR], truncs[COORDINATOR],
                infos[COORDINATOR])

    def close(self) -> None:
        """Close the wrapped environment."""
        self.env.close()


def to_gymnasium(env: EquityEnv) -> EquityGymEnv:
    """Single-agent Gymnasium view of a coordinator environment."""
    return EquityGymEnv(env)


__all__ = ["COORDINATOR", "DEFAULT_HELD_OUT_WEEKS", "ClipActions", "EquityEnv", "EquityGymEnv",
           "community_cost", "to_gymnasium"]
