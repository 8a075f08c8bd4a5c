"""Results files of the benchmarks: written atomically (all or nothing), then echoed."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from p2psim.outputs import write_text_atomic


def publish(path: str | Path, lines: Sequence[str]) -> None:
    """Write ``lines`` as ``path`` (a temporary sibling renamed into place) and print them."""
    text = "\n".join(lines) + "\n"
    write_text_atomic(path, text)
    print(text, end="")


def uptime() -> str:
    """The machine's ``uptime`` line (load averages), to print next to timings."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
