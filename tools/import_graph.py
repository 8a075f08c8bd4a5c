"""The import graph of p2psim's own modules, counting imports inside functions.

Run ``python tools/import_graph.py`` from the repository root. It prints the module tree with line
counts, the imports made inside functions (they hide dependencies from a reader), and every import
cycle: the strongly connected components of the graph whose edges are all ``import`` and ``from ...
import`` statements anywhere in a module (module level, inside functions, under ``TYPE_CHECKING``),
one shortest cycle per component. Exit status 1 when there is a cycle, so CI can call it.

The folders ``agents/`` and ``markets/`` are installed as ``p2psim.agents`` and ``p2psim.markets``;
the script maps them the same way. ``--json`` prints the graph for other tools.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: package folder -> dotted package name (pyproject's [tool.setuptools.package-dir])
PACKAGE_DIRS = {"p2psim": "p2psim", "agents": "p2psim.agents", "markets": "p2psim.markets"}


@dataclass
class Module:
    """One project module: its name, file, line count and the project modules it imports."""

    name: str
    path: Path
    lines: int
    imports: dict[str, list[tuple[int, bool]]] = field(default_factory=dict)  # target -> [(line, in_function)]


def discover(root: Path = ROOT) -> dict[str, Module]:
    """Every ``.py`` file under the package folders, keyed by its dotted module name."""
    modules: dict[str, Module] = {}
    for folder, dotted in PACKAGE_DIRS.items():
        base = root / folder
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join([dotted, *parts])
            text = path.read_text(encoding="utf-8")
            modules[name] = Module(name, path, text.count("\n"))
    return modules


def _resolve(name: str, modules: dict[str, Module]) -> str | None:
    """The longest project module that ``name`` is or lies inside (``p2psim.a.b.func`` -> ``p2psim.a.b``)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


class _Visitor(ast.NodeVisitor):
    def __init__(self, module: Module, modules: dict[str, Module], is_package: bool) -> None:
        self.module, self.modules, self.is_package = module, modules, is_package
        self.depth = 0

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _add(self, target: str | None, line: int) -> None:
        if target is None or target == self.module.name:
            return
        where = self.module.imports.setdefault(target, [])
        if (line, self.depth > 0) not in where:
            where.append((line, self.depth > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(_resolve(alias.name, self.modules), node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            package = self.module.name if self.is_package else self.module.name.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{node.module}" if node.module else package
        else:
            base = node.module or ""
        for alias in node.names:
            # ``from p2psim.game import shapley`` imports a submodule; ``from p2psim.x import f`` a name
            target = _resolve(f"{base}.{alias.name}", self.modules) or _resolve(base, self.modules)
            self._add(target, node.lineno)


def build(root: Path = ROOT) -> dict[str, Module]:
    """Discover the modules and parse every import statement in them."""
    modules = discover(root)
    for module in modules.values():
        tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
        _Visitor(module, modules, module.path.name == "__init__.py").visit(tree)
    return modules


def components(modules: dict[str, Module]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = 0
    for start in sorted(modules):
        if start in index:
            continue
        work = [(start, iter(sorted(modules[start].imports)))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(modules[child].imports))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    members = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        members.append(member)
                        if member == node:
                            break
                    if len(members) > 1:
                        result.append(sorted(members))
    return sorted(result)


def shortest_cycle(modules: dict[str, Module], component: list[str]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first inside the component)."""
    inside = set(component)
    start = component[0]
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(modules[node].imports):
            if child not in inside:
                continue
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if child not in parent:
                parent[child] = node
                queue.append(child)
    return component


def cycles(root: Path = ROOT) -> list[list[str]]:
    """One shortest cycle per strongly connected component (empty when the graph is acyclic)."""
    modules = build(root)
    return [shortest_cycle(modules, c) for c in components(modules)]


def _tree(modules: dict[str, Module]) -> list[str]:
    out = []
    for name in sorted(modules, key=lambda n: (str(modules[n].path.relative_to(ROOT)))):
        out.append(f"{modules[name].lines:6d}  {modules[name].path.relative_to(ROOT)}")
    out.append(f"{sum(m.lines for m in modules.values()):6d}  total in {len(modules)} modules")
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the tree, the function-level imports and the cycles; exit 1 on a cycle."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the graph as JSON")
    parser.add_argument("--tree", action="store_true", help="print the module tree with line counts")
    args = parser.parse_args(argv)
    modules = build()
    comps = components(modules)
    if args.json:
        graph = {n: {t: [list(x) for x in v] for t, v in sorted(m.imports.items())} for n, m in modules.items()}
        print(json.dumps({"modules": graph, "components": comps}, indent=1))
        return 1 if comps else 0
    if args.tree:
        print("\n".join(_tree(modules)))
    lazy = [
        (n, t, line) for n, m in sorted(modules.items()) for t, v in sorted(m.imports.items()) for line, f in v if f
    ]
    print(f"{len(lazy)} project imports inside functions, in {len({n for n, _, _ in lazy})} modules")
    print(f"{len(comps)} import cycle(s) (strongly connected components, function-level imports counted)")
    for comp in comps:
        print(f"- {len(comp)} modules: {', '.join(comp)}")
        print(f"  e.g. {' -> '.join(shortest_cycle(modules, comp))}")
        for a in comp:
            for b in sorted(set(modules[a].imports) & set(comp)):
                where = ", ".join(f"{line}{' (in function)' if f else ''}" for line, f in modules[a].imports[b])
                print(f"    {a} -> {b}  line {where}")
    return 1 if comps else 0


if __name__ == "__main__":
    sys.exit(main())
