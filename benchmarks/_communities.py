"""Communities shared by the game benchmarks: one-day runs of the rural study on a SimBench grid."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rural_day_run(grid: str | None, max_participants: int | None):
    """A one-day run (no allocation) of ``studies/rural.py``, optionally on another SimBench grid."""
    sys.path.insert(0, str(ROOT))
    from p2psim.runner import run
    from studies.rural import STUDY

    community = STUDY.community if grid is None else replace(STUDY.community, grid_code=grid)
    community = replace(community, max_participants=max_participants)
    return run(replace(STUDY, community=community, days=1, allocation=False))
