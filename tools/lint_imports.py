"""Run import-linter's ``lint-imports`` on p2psim laid out as installed.

The folders ``agents/`` and ``markets/`` are installed as ``p2psim.agents`` and ``p2psim.markets``
(setuptools ``package-dir``), but import-linter (through grimp) finds a package's modules by walking
its folder, so in the source tree it would not see them. This script copies the Python files into a
temporary tree with the installed layout (``p2psim/agents``, ``p2psim/markets``), puts it first on
``PYTHONPATH`` and runs ``lint-imports`` with the contracts of ``pyproject.toml``
(``[tool.importlinter]``). Its exit status is lint-imports' (0: every contract kept).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYOUT = {"p2psim": "p2psim", "agents": "p2psim/agents", "markets": "p2psim/markets"}


def installed_layout(target: Path) -> Path:
    """Copy every ``.py`` file of the three package folders into ``target`` as installed; return ``target``."""
    for folder, dest in LAYOUT.items():
        for path in (ROOT / folder).rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            out = target / dest / path.relative_to(ROOT / folder)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out)
    return target


def lint_imports(*args: str) -> subprocess.CompletedProcess:
    """Run ``lint-imports`` (next to this Python) on the installed layout; output captured."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        raise SystemExit("lint-imports not found: pip install -c constraints.txt -e '.[dev]' (import-linter)")
    with tempfile.TemporaryDirectory(prefix="p2psim-lint-") as tmp:
        return run_on(installed_layout(Path(tmp)), *args, exe=exe)


def run_on(tree: Path, *args: str, exe: str | None = None) -> subprocess.CompletedProcess:
    """Run ``lint-imports`` on a tree with the installed layout (lint-imports puts its cwd first on the path)."""
    exe = exe or shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([exe, "--config", str(ROOT / "pyproject.toml"), "--no-cache", *args], cwd=tree, env=env,
                          capture_output=True, text=True)


def main() -> int:
    """Print lint-imports' report and return its exit status."""
    done = lint_imports(*sys.argv[1:])
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
