"""The SimPy clock: day-ahead gates and delivery intervals (SimPy holds time, Mesa holds state).

Time is in hours from the first gate. Day ``d`` is delivered over [12 + 24 d, 36 + 24 d); its gate
closes 12 hours before delivery starts (noon of the previous day). The order inside a day is the
timing contract of DESIGN.md:

    gate(d): forecasts in -> clear -> record       at 24 d
    deliver(d, t) for t = 0 .. T-1: actuals in      at 12 + 24 d + t * dt  (end of interval t)
    settle(d): bills -> metrics -> day hooks        at 36 + 24 d (after the last delivery)

A reward for the coordinator is computed in a day hook, so only after settlement of the day it
rewards. Scheduled extra events (``schedule(time_h, callback)``) run at their time.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

GATE_LEAD_HOURS = 12.0


class DayAheadClock:
    """Drive ``gate``, ``deliver`` and ``settle`` callbacks in simulated time."""

    def __init__(
        self,
        days: int,
        intervals_per_day: int,
        interval_hours: float,
        gate: Callable[[int], None],
        deliver: Callable[[int, int], None],
        settle: Callable[[int], None],
    ) -> None:
        """Prepare a clock for ``days`` days; nothing runs until :meth:`run`."""
        self.env = simpy.Environment()
        self.days = days
        self.intervals_per_day = intervals_per_day
        self.interval_hours = interval_hours
        self._gate, self._deliver, self._settle = gate, deliver, settle
        self.events: list[tuple[float, str, int, int]] = []
        """Log of (time_h, phase, day, interval), for the timing-contract test."""

    def _day(self, day: int):
        yield self.env.timeout(max(0.0, 24.0 * day - self.env.now))
        self.events.append((self.env.now, "gate", day, -1))
        self._gate(day)
        yield self.env.timeout(GATE_LEAD_HOURS)
        for t in range(self.intervals_per_day):
            yield self.env.timeout(self.interval_hours)
            self.events.append((self.env.now, "deliver", day, t))
            self._deliver(day, t)
        self.events.append((self.env.now, "settle", day, -1))
        self._settle(day)

    def _days(self, first: int, last: int):
        for day in range(first, last):
            yield self.env.process(self._day(day))

    def schedule(self, time_h: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` at simulated time ``time_h`` (hours from the first gate)."""

        def event():
            yield self.env.timeout(time_h - self.env.now)
            callback()

        self.env.process(event())

    def run(self, first_day: int = 0, last_day: int | None = None) -> None:
        """Run days ``first_day`` .. ``last_day - 1`` one after another (settlement before next gate)."""
        last = self.days if last_day is None else last_day
        done = self.env.process(self._days(first_day, last))
        self.env.run(until=done)
