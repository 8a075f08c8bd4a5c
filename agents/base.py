"""Participant(mesa.Agent): a community member on a feeder bus.

Subclass :class:`Participant` and implement :meth:`forecast` (the one required method) to add a
participant type; :meth:`devices` (what it brings: batteries, cars, heat pumps, shiftable loads, see
:mod:`p2psim.agents.devices`), :meth:`bid` (limit prices for auction markets) and :meth:`on_cleared`
are optional. ``super().__init__(model, spec)`` registers the agent with the Mesa model, as in Mesa.
If unsure whether a subclass behaves, run ``p2psim.testing.check_participant``.

Timing (see DESIGN.md): when the model is built it asks every participant for its :meth:`devices`
(checked once, before the run); at the day-ahead gate it asks for its :meth:`forecast` of the next
day and its :meth:`bid`; after clearing it calls :meth:`on_cleared` with the participant's full
schedule (every flow, every device) and its prices; at each delivery interval it reads :meth:`actual`
and settles the imbalance at the tariff. Devices follow their schedules exactly (their data are
known day ahead); their energy carries over from day to day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa
import numpy as np
from p2psim.agents.devices import DeviceSpec, battery_device

if TYPE_CHECKING:
    from p2psim.sim.settlement import Prices
    from p2psim.world.scenario import ParticipantSpec


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

    def devices(self) -> tuple[DeviceSpec, ...]:
        """The devices this participant brings: its spec's battery (id ``battery``) and ``spec.devices``.

        Override to add devices (call ``super().devices()`` to keep these). Called once, when the
        model is built; every device is checked before the run starts.
        """
        battery = (battery_device(self.spec.battery),) if self.spec.battery else ()
        return (*battery, *self.spec.devices)

    def bid(self, day: int, forecast: DayProfile, prices: Prices) -> np.ndarray | None:
        """Limit prices per kWh for the day's intervals (T,), or None to let the market decide.

        Auction markets (``double_auction_v1``, ``double_auction_pab_v1``) use them as the
        participant's bid when it buys and its ask when it sells (NaN in an interval: the rule's own
        price). ``prices`` carries the day's import, export and fee tariffs (its pool price is NaN:
        not known before clearing).
        """
        return None

    def on_cleared(self, schedule: dict, prices: Prices) -> None:
        """Receive the day's full schedule and prices. Optional hook.

        ``schedule`` maps every flow (``grid_import_kw``, ``pool_buy_kw``, ``charge_kw``, ``soc_kwh``,
        ``shift_kw``, ...; T values each) to this participant's row, and ``"devices"`` to
        ``{device_id: {"charge_kw", "discharge_kw", "energy_kwh"}}``; ``prices`` are the tariffs and the
        pool price this participant trades at (T values).
        """
        self.schedule = schedule
        self.prices = prices


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
