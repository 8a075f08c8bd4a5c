"""Post-run stages (devices, settlement, allocation, coordinator, explanations): tables and report sections.

``finish_run(result, fan_out=..., progress=...)`` runs every stage in ``STAGES`` in order; each takes
the result and a :class:`StageContext` (the fan-out backend for the stages that fan out, the run's
progress bar) and returns ``None`` or a writer ``writer(result, directory)`` that puts its files into
the (staging) run directory and may append report sections to ``result.extras["report_sections"]``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StageContext:
    """What a stage may use besides the result.

    ``fan_out``: ``backend``, ``workers``, ``address`` for :func:`p2psim.parallel.fan_out` (empty:
    the stages' defaults); ``progress``: the run's :class:`~p2psim.runner.progress.RunProgress` or None.
    """

    fan_out: dict[str, Any] = field(default_factory=dict)
    progress: Any = None

    def advance(self, units: int = 1) -> None:
        """Tell the progress bar (if any) that ``units`` more units of the current stage are done."""
        if self.progress is not None:
            self.progress.advance(units)


def _devices(result, context: StageContext):
    from p2psim.report.devices import devices_stage

    return devices_stage(result)


def _settlement(result, context: StageContext):
    from p2psim.energy_game.settlement_report import settlement_stage

    return settlement_stage(result)


def _allocation(result, context: StageContext):
    from dataclasses import replace

    from p2psim.energy_game.allocate import allocation_options
    from p2psim.energy_game.stage import allocation_stage

    options = replace(allocation_options(result.study), **context.fan_out)
    return allocation_stage(result, options, progress=context.advance)


def _coordinator(result, context: StageContext):
    from p2psim.runner.coordinator import coordinator_stage

    return coordinator_stage(result)


def _explanation(result, context: StageContext):
    from p2psim.explain import explanation_stage

    return explanation_stage(result)


STAGES: list[Callable] = [_devices, _settlement, _allocation, _coordinator, _explanation]


def finish_run(result, *, fan_out: dict[str, Any] | None = None,
               progress=None) -> tuple[Callable[[object, Path], None], ...]:
    """Run the registered stages on ``result`` (each timed into ``timings_s``); return their writers.

    Args:
        result: The finished simulation.
        fan_out: ``backend`` / ``workers`` / ``address`` for the stages that fan out (allocation days).
        progress: The run's progress bar (:class:`~p2psim.runner.progress.RunProgress`), told each stage.
    """
    context = StageContext(dict(fan_out or {}), progress)
    writers = []
    for stage in STAGES:
        name = stage.__name__.strip("_")
        if progress is not None:
            progress.stage(name)
        start = time.perf_counter()
        writer = stage(result, context)
        result.timings_s[f"{name}_s"] = time.perf_counter() - start
        if writer is not None:
            writers.append(writer)
    result.stamp_total()
    return tuple(writers)
