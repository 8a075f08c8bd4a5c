"""Post-run stages (allocation, coordinator, explanations) that add tables and report sections.

``finish_run(result)`` runs every stage the study asks for, storing results in ``result.extras``
and returning writers that put their files into the run directory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

STAGES: list[Callable] = []


def finish_run(result) -> tuple[Callable[[object, Path], None], ...]:
    """Run the registered stages on ``result``; return their writers."""
    writers = []
    for stage in STAGES:
        writer = stage(result)
        if writer is not None:
            writers.append(writer)
    return tuple(writers)
