"""docs/extending.md: every Python example runs (each checks itself with p2psim.testing), and the EV
owner and the heat-pump household each take fewer than 15 lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from p2psim.agents import PARTICIPANT_TYPES

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def _lines(block: str) -> int:
    return sum(1 for line in block.splitlines() if line.strip())


def test_the_two_promised_examples_are_short():
    ev = next(b for b in BLOCKS if "class EvOwner" in b)
    heat = next(b for b in BLOCKS if "class HeatPumpHome" in b)
    assert _lines(ev) < 15 and _lines(heat) < 15


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_runs(index):
    before = dict(PARTICIPANT_TYPES)
    try:
        exec(compile(BLOCKS[index], f"{DOC.name} example {index}", "exec"), {"__name__": f"extending_{index}"})
    finally:
        PARTICIPANT_TYPES.clear()
        PARTICIPANT_TYPES.update(before)


def test_a_broken_example_would_fail():
    # the examples check themselves: an EV owner whose need cannot be met is refused with the numbers
    block = next(b for b in BLOCKS if "class EvOwner" in b).replace("need_kwh=30.0", "need_kwh=300.0")
    with pytest.raises(AssertionError, match="'ev': target 310 kWh by 07:00 on day 0 exceeds what it holds"):
        exec(compile(block, "broken example", "exec"), {"__name__": "extending_broken"})
    PARTICIPANT_TYPES.pop("ev_owner", None)
