"""Every reference in the documentation resolves: dotted names, file paths and docs/model.md sections.

Scanned: DESIGN.md, README.md, docs/*.md and the docstrings (module, class and function) of every
module of p2psim, agents and markets. A dotted name ``p2psim.x.y`` must import (the longest module
prefix) and the rest must be attributes; a path such as ``p2psim/config/study.py`` or ``docs/model.md``
must exist; ``docs/model.md section N`` must name a section heading of docs/model.md.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOTTED = re.compile(r"(?<![\w.])p2psim(?:\.\w+)+")
PATH = re.compile(r"(?<![\w/.-])((?:p2psim|agents|markets|tests|tools|docs|studies|benchmarks)/[\w/.-]*\w)")
SECTION = re.compile(r"docs/model\.md,? sections? (\d+[a-z]?)")
DOCS = [REPO / "DESIGN.md", REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SOURCES = sorted(p for folder in ("p2psim", "agents", "markets") for p in (REPO / folder).rglob("*.py"))


def _docstrings(path: Path) -> str:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef))]
    texts = [ast.get_docstring(n, clean=False) or "" for n in nodes]
    # attribute docstrings (a string right after an assignment)
    texts += [n.value.value for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
              and isinstance(n.value.value, str)]
    return "\n".join(texts)


def _texts() -> dict[str, str]:
    out = {str(p.relative_to(REPO)): p.read_text(encoding="utf-8") for p in DOCS}
    out.update({str(p.relative_to(REPO)): _docstrings(p) for p in SOURCES})
    return out


TEXTS = _texts()


def _resolves(name: str) -> bool:
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ModuleNotFoundError:
            continue
        for attr in parts[k:]:
            fields = getattr(obj, "__dataclass_fields__", {})
            if attr in fields and not hasattr(obj, attr):  # a dataclass field without a class default
                obj = fields[attr]
                continue
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_every_dotted_name_resolves():
    missing = sorted({f"{where}: {name}" for where, text in TEXTS.items() for name in DOTTED.findall(text)
                      if not _resolves(name)})
    assert missing == []


def test_every_path_exists():
    missing = sorted({f"{where}: {path}" for where, text in TEXTS.items() for path in PATH.findall(text)
                      if "*" not in path and not (REPO / path).exists() and not (REPO / path.rstrip(".")).exists()})
    assert missing == []


def test_every_model_section_exists():
    headings = set(re.findall(r"^#+ (\d+[a-z]?)\.", (REPO / "docs" / "model.md").read_text(), re.M))
    assert {"1", "5", "9"} <= headings
    wrong = sorted({f"{where}: section {n}" for where, text in TEXTS.items() for n in SECTION.findall(text)
                    if n not in headings})
    assert wrong == []


@pytest.mark.parametrize("package", sorted({str(p.parent.relative_to(REPO)) for p in SOURCES
                                            if p.name == "__init__.py"}))
def test_every_package_says_what_it_holds(package):
    doc = ast.get_docstring(ast.parse((REPO / package / "__init__.py").read_text()))
    assert doc and len(doc.split()) >= 8, f"{package}/__init__.py needs a docstring saying what the package holds"
    assert "in progress" not in doc
