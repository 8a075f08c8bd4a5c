"""The SimPy clock: day-ahead gates and delivery intervals (SimPy holds time, Mesa holds state).

Time is in hours from midnight of the first day, so calendar events land where they belong:
day ``d`` is delivered over [24 d, 24 d + 24). The order inside a day is the timing contract of
DESIGN.md:

    gate(d): forecasts in -> clear -> record       at 24 d (before the first interval is delivered)
    deliver(d, t) for t = 0 .. T-1: actuals in      at 24 d + (t + 1) * dt  (end of interval t)
    settle(d): bills -> metrics -> day hooks        at 24 d + 24 (after the last delivery)

The clearing is day-ahead in the information sense: it uses forecasts issued before the day and
cannot see its actuals. Day d + 1's gate follows day d's settlement at the same instant, so the
coordinator's observation of day d is complete when it sets the weights of day d + 1; a reward is
computed only after settlement of the day it rewards. Extra events (``schedule(time_h, callback)``)
run at their calendar time.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy


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
        """Run ``callback`` at simulated time ``time_h`` (hours from midnight of the first day)."""

        def event():
            yield self.env.timeout(time_h - self.env.now)
            callback()

        self.env.process(event())

    def run(self, first_day: int = 0, last_day: int | None = None) -> None:
        """Run days ``first_day`` .. ``last_day - 1`` one after another (settlement before next gate)."""
        last = self.days if last_day is None else last_day
        done = self.env.process(self._days(first_day, last))
        self.env.run(until=done)
