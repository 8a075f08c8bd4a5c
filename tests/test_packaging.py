"""Packaging: the agents/ and markets/ folders install as p2psim.agents and p2psim.markets, never top level."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".venv", "build", "dist", ".git", "runs", "node_modules", "__pycache__", ".hypothesis"}
BARE_IMPORT = re.compile(r"^\s*(import\s+(agents|markets)\b|from\s+(agents|markets)(\.|\s+import\b))", re.MULTILINE)


def _python_files():
    for path in REPO.rglob("*.py"):
        if not SKIP_DIRS.intersection(path.relative_to(REPO).parts) and not any(
                part.endswith(".egg-info") for part in path.parts):
            yield path


def test_the_pattern_catches_bare_imports():
    assert BARE_IMPORT.search("import agents\n")
    assert BARE_IMPORT.search("    from markets.base import Market\n")
    assert BARE_IMPORT.search("from agents import Household\n")
    assert not BARE_IMPORT.search("from p2psim.markets import make_market\nimport agentsmith\n")


def test_no_bare_agents_or_markets_import_anywhere():
    offenders = []
    for path in _python_files():
        for match in BARE_IMPORT.finditer(path.read_text(encoding="utf-8", errors="replace")):
            offenders.append(f"{path.relative_to(REPO)}: {match.group(0).strip()}")
    assert offenders == [], "use p2psim.agents / p2psim.markets:\n" + "\n".join(offenders)


def test_wheel_contents(tmp_path):
    # build from a copy so no build/ folder is left in the working tree
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("p2psim", "agents", "markets"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    out = tmp_path / "wheel"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = out.glob("p2psim-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("p2psim/agents/base.py", "p2psim/agents/__init__.py", "p2psim/markets/base.py",
                     "p2psim/markets/__init__.py", "p2psim/cli/__init__.py", "p2psim/__main__.py", "p2psim/py.typed"):
        assert required in names, required
    top = {name.split("/")[0] for name in names}
    assert "agents" not in top and "markets" not in top, sorted(top)
    assert not any(name.startswith(("tests/", "studies/")) for name in names)
    # every market module of the tree ships
    for module in (REPO / "markets").glob("*.py"):
        assert f"p2psim/markets/{module.name}" in names, module.name
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "p2psim = p2psim.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
