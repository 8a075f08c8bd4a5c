"""Post-run stages (devices, settlement, allocation, coordinator, explanations): tables and report sections.

``finish_run(result)`` runs every stage in ``STAGES`` in order; each returns ``None`` or a writer
``writer(result, directory)`` that puts its files into the (staging) run directory and may append
report sections to ``result.extras["report_sections"]``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


def _devices(result):
    from p2psim.report.devices import devices_stage

    return devices_stage(result)


def _settlement(result):
    from p2psim.energy_game.settlement_report import settlement_stage

    return settlement_stage(result)


def _allocation(result):
    from p2psim.energy_game.stage import allocation_stage

    return allocation_stage(result)


def _coordinator(result):
    from p2psim.runner.coordinator import coordinator_stage

    return coordinator_stage(result)


def _explanation(result):
    from p2psim.explain import explanation_stage

    return explanation_stage(result)


STAGES: list[Callable] = [_devices, _settlement, _allocation, _coordinator, _explanation]


def finish_run(result) -> tuple[Callable[[object, Path], None], ...]:
    """Run the registered stages on ``result`` (each timed into ``timings_s``); return their writers."""
    writers = []
    for stage in STAGES:
        start = time.perf_counter()
        writer = stage(result)
        result.timings_s[f"{stage.__name__.strip('_')}_s"] = time.perf_counter() - start
        if writer is not None:
            writers.append(writer)
    result.stamp_total()
    return tuple(writers)
