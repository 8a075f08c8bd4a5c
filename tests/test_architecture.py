"""The module structure: no import cycles (imports inside functions counted) and the layers contract.

``tools/import_graph.py`` parses every import statement of the project's modules; ``tools/lint_imports.py``
runs import-linter's ``lint-imports`` with the layers contract of ``pyproject.toml``. Both are also
checked here on small trees that break them, so a test that cannot fail is not what keeps the shape.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f"_tools_{name}", REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


import_graph = _tool("import_graph")
lint = _tool("lint_imports")


def test_no_import_cycle_among_the_project_modules():
    modules = import_graph.build()
    assert len(modules) > 100  # the walk found the tree (p2psim, agents and markets)
    assert "p2psim.markets.eqwm" in modules and "p2psim.agents.base" in modules
    assert import_graph.components(modules) == []


def test_a_cycle_closed_inside_a_function_is_found(tmp_path):
    # p2psim.a imports p2psim.b at module level; p2psim.b imports p2psim.a inside a function
    for folder in ("p2psim", "agents", "markets"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "p2psim" / "a.py").write_text("from p2psim.b import g\n\n\ndef f():\n    return g()\n")
    (tmp_path / "p2psim" / "b.py").write_text("def g():\n    from p2psim.a import f\n\n    return f\n")
    (tmp_path / "p2psim" / "c.py").write_text("import p2psim.a\n")
    modules = import_graph.build(tmp_path)
    assert import_graph.components(modules) == [["p2psim.a", "p2psim.b"]]
    assert modules["p2psim.b"].imports == {"p2psim.a": [(2, True)]}
    assert import_graph.shortest_cycle(modules, ["p2psim.a", "p2psim.b"]) == ["p2psim.a", "p2psim.b", "p2psim.a"]


def test_no_feature_imports_the_cli():
    modules = import_graph.build()
    importers = sorted(n for n, m in modules.items() if any(t == "p2psim.cli" or t.startswith("p2psim.cli.")
                                                             for t in m.imports) and not n.startswith("p2psim.cli"))
    assert importers == ["p2psim.__main__"]


def _lint(*args, cwd_tree: Path | None = None):
    if shutil.which("lint-imports", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("lint-imports is not installed: pip install -c constraints.txt -e '.[dev]'")
    return lint.lint_imports(*args) if cwd_tree is None else lint.run_on(cwd_tree, *args)


def test_layers_contract_is_kept():
    done = _lint()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout or "0 broken" in done.stdout


def test_layers_contract_breaks_when_a_feature_imports_the_cli(tmp_path):
    tree = lint.installed_layout(tmp_path / "site")
    explain = tree / "p2psim" / "explain" / "__init__.py"
    explain.write_text(explain.read_text() + "\n\ndef _late():\n    import p2psim.cli  # noqa\n")
    done = _lint(cwd_tree=tree)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BROKEN" in done.stdout and "p2psim.explain -> p2psim.cli" in done.stdout


def test_lint_imports_sees_the_installed_layout(tmp_path):
    tree = lint.installed_layout(tmp_path / "site")
    assert (tree / "p2psim" / "markets" / "eqwm.py").is_file()
    assert (tree / "p2psim" / "agents" / "base.py").is_file()
    assert not (tree / "markets").exists()
    assert subprocess.run([sys.executable, "-c", "import p2psim.markets.eqwm"], cwd=tree).returncode == 0
