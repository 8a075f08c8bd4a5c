"""One progress bar over a whole run: its stages, where it is, and an ETA that is re-estimated as it goes.

A run is a list of stages (simulation, devices, allocation, coordinator, explanation, report), each
with a number of units (days, or 1) and a prior cost per unit in seconds. The bar shows the share
of the *estimated* total time that is done, the current stage and its units, the elapsed time and
the ETA:

    ETA = (units left in this stage) x (this stage's measured seconds per unit, or its prior x k)
          + sum over later stages of (units x prior x k),

where ``k`` = (seconds spent so far) / (prior seconds of the work done so far): the priors are
rescaled to the machine and the study by what has been measured (``k = 1`` before anything
finished). The ETA is therefore an estimate that tightens as the run goes (exact once the last
stage has measured its rate); the summary line gives the true wall time.

The bar appears only when the run takes more than ``delay`` seconds and goes to stderr.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass


@dataclass
class Stage:
    """A stage of the run: ``units`` of work with a prior cost of ``prior_s`` seconds each."""

    name: str
    units: int
    prior_s: float
    done: int = 0
    seconds: float = 0.0
    unit: str = "day"


def format_s(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss``."""
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class RunProgress:
    """The run's bar (see the module docstring); a no-op when ``enabled`` is false.

    Args:
        desc: The label in front of the bar (the study's name).
        stages: ``(name, units, prior seconds per unit)``; stages with 0 units are skipped.
        enabled: Draw the bar at all.
        delay: Seconds before the bar first appears.
    """

    def __init__(self, desc: str, stages: list[tuple[str, int, float]], *, enabled: bool = True,
                 delay: float = 2.0) -> None:
        self.stages = [Stage(name, int(units), float(prior), unit="day" if units > 1 else "step")
                       for name, units, prior in stages if units > 0]
        self.current: Stage | None = None
        self.started = time.perf_counter()
        self._stage_start = self.started
        self._bar = None
        self._delay, self._drawn = delay, 0.0
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=1000, desc=desc, delay=delay, file=sys.stderr, leave=False,
                             bar_format="{desc} {percentage:3.0f}%|{bar}|")
        self.desc = desc

    def __enter__(self) -> RunProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Remove the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def stage(self, name: str) -> None:
        """Start stage ``name`` (the earlier ones count as finished)."""
        now = time.perf_counter()
        if self.current is not None:
            self.current.seconds += now - self._stage_start
            self.current.done = self.current.units
        self.current = next((s for s in self.stages if s.name == name), None)
        self._stage_start = now
        self._draw()

    def advance(self, units: int = 1, stage: str | None = None) -> None:
        """``units`` more units of the current stage are done (of ``stage``, started first if it is not current)."""
        if stage is not None and (self.current is None or self.current.name != stage):
            self.stage(stage)
        if self.current is not None:
            self.current.done = min(self.current.units, self.current.done + units)
        self._draw()

    def scale(self) -> float:
        """``k``: seconds spent per prior second of the work done so far (1 before anything finished)."""
        prior_done = sum(s.done * s.prior_s for s in self.stages)
        spent = sum(s.seconds for s in self.stages if s is not self.current and s.done)
        if self.current is not None and self.current.done:
            spent += time.perf_counter() - self._stage_start
        return spent / prior_done if prior_done > 0 and spent > 0 else 1.0

    def eta_s(self) -> float:
        """Seconds left by the estimate of the module docstring."""
        k = self.scale()
        left, later = 0.0, self.current is None
        for s in self.stages:
            if s is self.current:
                rate = (time.perf_counter() - self._stage_start) / s.done if s.done else s.prior_s * k
                left += (s.units - s.done) * rate
                later = True
            elif later and not s.done:
                left += s.units * s.prior_s * k
        return left

    def _draw(self) -> None:
        now = time.perf_counter()
        elapsed = now - self.started
        if self._bar is None or elapsed < self._delay or now - self._drawn < 0.1:
            return
        self._drawn = now
        eta = self.eta_s()
        total = elapsed + eta
        self._bar.n = int(1000 * elapsed / total) if total > 0 else 0
        where = ""
        if self.current is not None:
            s = self.current
            where = f"{s.name} {s.done}/{s.units} {s.unit}s, " if s.units > 1 else f"{s.name}, "
        self._bar.set_description_str(f"{self.desc}: {where}{format_s(elapsed)} elapsed, ETA {format_s(eta)}",
                                      refresh=False)
        self._bar.refresh()
