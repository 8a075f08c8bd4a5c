"""Participant(mesa.Agent): a community member on a feeder bus.

Subclass :class:`Participant` and implement :meth:`forecast` (the one required method) to add a
participant type; :meth:`on_cleared` is an optional hook. ``super().__init__(model, spec)`` registers
the agent with the Mesa model, as in Mesa. If unsure whether a subclass behaves, run
``p2psim.testing.check_participant``.

Timing (see DESIGN.md): at the day-ahead gate the model asks every participant for its
:meth:`forecast` of the next day; after clearing it calls :meth:`on_cleared` with the participant's
schedule; at each delivery interval it reads :meth:`actual` and settles the imbalance at the tariff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa
import numpy as np

if TYPE_CHECKING:
    from p2psim.scenario import ParticipantSpec


@dataclass(frozen=True)
class DayProfile:
    """Load and PV of one participant for one day (kW per interval)."""

    load_kw: np.ndarray
    pv_kw: np.ndarray


class Participant(mesa.Agent):
    """Base participant: holds its spec, its bus and its battery state of charge."""

    bus: str  # set in ALL subclasses (done here from the spec): feeder bus id

    def __init__(self, model: mesa.Model, spec: ParticipantSpec) -> None:
        """Register with the model and take the spec's assets."""
        super().__init__(model)
        self.spec = spec
        self.participant_id = spec.id
        self.bus = spec.bus
        self.socio_class = spec.socio_class
        battery = spec.battery
        self.soc_kwh = battery.initial_soc * battery.capacity_kwh if battery else 0.0
        self.schedule: dict[str, np.ndarray] = {}

    def actual(self, day: int) -> DayProfile:
        """The realised load and PV of ``day`` (the scenario's profiles)."""
        per_day = self.model.scenario.intervals_per_day
        cut = slice(day * per_day, (day + 1) * per_day)
        return DayProfile(np.asarray(self.spec.load_kw[cut], float), np.asarray(self.spec.pv_kw[cut], float))

    def forecast(self, day: int, rng: np.random.Generator) -> DayProfile:
        """Day-ahead forecast of ``day`` submitted at the gate. Required in subclasses."""
        raise NotImplementedError

    def on_cleared(self, schedule: dict[str, np.ndarray]) -> None:
        """Receive the cleared schedule of the day (flows per interval). Optional hook."""
        self.schedule = schedule


class Household(Participant):
    """A consuming prosumer (household, farm, commercial or public building).

    Forecast = actual x (1 + e), e ~ Normal(0, forecast_error) per interval, clipped at zero: a
    seeded, unbiased noisy forecaster. ``forecast_error = 0`` gives a perfect forecast.
    """

    def forecast(self, day: int, rng: np.random.Generator) -> DayProfile:
        """Noisy forecast of the day's load and PV."""
        sigma = float(getattr(self.model, "forecast_error", 0.0))
        truth = self.actual(day)
        if sigma == 0:
            return truth
        noise = rng.normal(0.0, sigma, size=(2, truth.load_kw.size))
        return DayProfile(
            np.clip(truth.load_kw * (1 + noise[0]), 0, None), np.clip(truth.pv_kw * (1 + noise[1]), 0, None)
        )


class Battery(Participant):
    """A stand-alone battery: no load, no PV; it only stores and trades."""

    def forecast(self, day: int, rng: np.random.Generator) -> DayProfile:
        """A battery alone consumes and produces nothing by itself."""
        zeros = np.zeros(self.model.scenario.intervals_per_day)
        return DayProfile(zeros, zeros.copy())


class Aggregator(Battery):
    """The community's aggregator: owns the shared community battery, has no load of its own."""
