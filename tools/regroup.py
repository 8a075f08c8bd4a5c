"""Regroup p2psim's flat modules into one package per concept: ``git mv`` plus every reference rewritten.

Deterministic and idempotent: run it from the repository root (``python tools/regroup.py``) on any
tree that still holds some old modules, for example after merging a branch written against the
flat layout. It

1. moves each module in :data:`MAPPING` whose old file exists and whose new file does not
   (``git mv``, so git's rename detection carries later content changes into the moved file);
   a module ``x.py`` that becomes the package ``x/`` moves to ``x/__init__.py`` and keeps its name;
2. writes the ``__init__.py`` of each new package (:data:`PACKAGES`) when it is missing or holds
   only a docstring, so every package says what it holds;
3. rewrites every reference in the tracked text files (``.py``, ``.md``, ``.toml``, ``.cfg``,
   ``.ini``, ``.txt``, ``.yml``, ``Makefile``, ``.ci/run``, ``.importlinter``): dotted names in
   imports, docstrings, ``"module:function"`` hooks, ``monkeypatch``/``mock.patch`` strings and
   entry points (longest old prefix wins: ``p2psim.data.community.build_scenario`` ->
   ``p2psim.world.community.build_scenario``); ``from PACKAGE import module`` forms; names moved
   between modules (:data:`NAME_MOVES`, in import statements); relative imports
   inside the moved modules; file paths (``p2psim/study.py`` -> ``p2psim/config/study.py``); and the
   ``[tool.setuptools] packages`` list of ``pyproject.toml``;
4. removes the old folders left holding nothing but ``__pycache__``;
5. prints what it did, the flat modules it does not know (add them to :data:`MAPPING` and run it
   again), and runs ``ruff check --fix --select I`` on the changed Python files so import blocks
   stay sorted.

A second run changes nothing (every new name is a fixed point of the rewrite; checked at start).
``--check`` only reports what a run would do and exits 1 when it would change anything.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: old dotted module -> new dotted module, in data-flow order. A module whose new name equals its old
#: one becomes a package (``x.py`` -> ``x/__init__.py``). Modules another branch adds (marked) are
#: moved when they exist and skipped otherwise.
MAPPING: dict[str, str] = {
    # the recipe: Study, its loader, overrides and checks
    "p2psim.study": "p2psim.config.study",
    "p2psim.study_checks": "p2psim.config.checks",
    # the world: feeder, scenario, SimBench and profile loaders, building a community from a recipe
    "p2psim.data": "p2psim.world",
    "p2psim.data.community": "p2psim.world.community",
    "p2psim.data.simbench": "p2psim.world.simbench",
    "p2psim.data.ev_sessions": "p2psim.world.ev_sessions",
    "p2psim.data.heat": "p2psim.world.heat",
    "p2psim.feeder": "p2psim.world.feeder",
    "p2psim.scenario": "p2psim.world.scenario",
    # the co-simulation: clock, gate, device fleet, model, ledger, settlement, invariants
    "p2psim.clock": "p2psim.sim.clock",
    "p2psim.gate": "p2psim.sim.gate",
    "p2psim.fleet": "p2psim.sim.fleet",
    "p2psim.fleet_checks": "p2psim.sim.fleet_checks",
    "p2psim.model": "p2psim.sim.model",
    "p2psim.ledger": "p2psim.sim.ledger",
    "p2psim.settlement": "p2psim.sim.settlement",
    "p2psim.invariants": "p2psim.sim.invariants",
    # metrics: the run summary, equity tables, inequality indices, renewable provenance
    "p2psim.metrics": "p2psim.metrics",
    "p2psim.equity": "p2psim.metrics.equity",
    "p2psim.inequality": "p2psim.metrics.inequality",
    "p2psim.provenance": "p2psim.metrics.provenance",
    # outputs: the rules for what p2psim may write, staging, locks, interrupts
    "p2psim.outputs": "p2psim.outputs",
    "p2psim.staging": "p2psim.outputs.staging",
    "p2psim.locking": "p2psim.outputs.locking",
    "p2psim.interrupts": "p2psim.outputs.interrupts",
    # the run: run(study) -> RunResult, the coordinator in a run, post-run stages
    "p2psim.runner": "p2psim.runner",
    "p2psim.coordinator": "p2psim.runner.coordinator",
    "p2psim.stages": "p2psim.runner.stages",
    "p2psim.progress": "p2psim.runner.progress",
    # the day's savings game and the allocation stage
    "p2psim.game.energy": "p2psim.energy_game.game",
    "p2psim.game.energy_inner": "p2psim.energy_game.inner",
    "p2psim.game.energy_separation": "p2psim.energy_game.separation",
    "p2psim.game.aggregate": "p2psim.energy_game.aggregate",
    "p2psim.allocate": "p2psim.energy_game.allocate",
    "p2psim.allocate_core": "p2psim.energy_game.core_checks",
    "p2psim.allocate_report": "p2psim.energy_game.stage",
    "p2psim.game.energy_bounds": "p2psim.energy_game.bounds",  # added by issue 17
    # settlement by an allocation rule: the energy game applied to each day's bills (added by issue 18)
    "p2psim.settlement_rule": "p2psim.energy_game.settlement_rule",
    "p2psim.settlement_report": "p2psim.energy_game.settlement_report",
    # explanations
    "p2psim.explain": "p2psim.explain",
    "p2psim.explain_features": "p2psim.explain.features",
    "p2psim.explain_model": "p2psim.explain.surrogate",
    "p2psim.explain_text": "p2psim.explain.text",
    "p2psim.explain_coordinator": "p2psim.explain.coordinator",
    "p2psim.explain_synthetic": "p2psim.explain.synthetic",
    # batch: grids of runs and the efficiency-equity front
    "p2psim.sweep": "p2psim.batch.sweep",
    "p2psim.pareto": "p2psim.batch.pareto",
    # the report
    "p2psim.report": "p2psim.report",
    "p2psim.report_equity": "p2psim.report.equity",
    "p2psim.plots": "p2psim.report.plots",
    "p2psim.device_report": "p2psim.report.devices",
    # the command line: one module per sub-command
    "p2psim.cli": "p2psim.cli",
    "p2psim.commands": "p2psim.cli.commands",
    "p2psim.pareto_cli": "p2psim.cli.pareto",
    "p2psim.sweep_cli": "p2psim.cli.sweep",
    "p2psim.explain_cli": "p2psim.cli.explain",
    "p2psim.rl.commands": "p2psim.cli.rl",
}

#: names the regroup's earlier commits moved between modules, keyed by the (new) module they left:
#: ``from p2psim.runner import community_stream`` (in a branch written before them) becomes
#: ``from p2psim.world.community import community_stream``. Only import statements are rewritten:
#: a dotted string such as a monkeypatch target names where a name is looked up, which is unchanged.
NAME_MOVES: dict[tuple[str, str], str] = {
    ("p2psim.runner", "community_stream"): "p2psim.world.community",
    ("p2psim.runner", "run_options"): "p2psim.sim.model",
    ("p2psim.runner", "versions"): "p2psim.outputs",
    ("p2psim.runner", "VERSIONED_PACKAGES"): "p2psim.outputs",
    ("p2psim.config.study", "DerivedStudy"): "p2psim.world.community",
    ("p2psim.config.study", "BuiltCommunity"): "p2psim.world.community",
    ("p2psim.cli", "check_seed_option"): "p2psim.config.checks",
    ("p2psim.explain", "explain_command"): "p2psim.cli.explain",
    ("p2psim.batch.sweep", "sweep_command"): "p2psim.cli.sweep",
    **{("p2psim.markets._lp", name): "p2psim.markets._lp_program"
       for name in ("LinearProgram", "LPResult", "NameBlock", "INF", "STATUSES")},
}

#: modules that stay where they are (the flat ones are reported as unknown otherwise)
STAY = {
    "p2psim", "p2psim.__main__", "p2psim.units", "p2psim.errors", "p2psim.testing", "p2psim.parallel",
    "p2psim.experimental", "p2psim.game", "p2psim.rl", "p2psim.agents", "p2psim.markets",
}

#: new package -> the docstring of its ``__init__.py`` (written when missing or docstring-only)
PACKAGES: dict[str, str] = {
    "p2psim.config": "The recipe, pure data: what a study asks for.\n\n"
    ":class:`~p2psim.config.study.Study` and its communities, tariffs and options, the study file\n"
    "reader and ``--set`` overrides (:mod:`~p2psim.config.study`), the field checks and THE study\n"
    "loader every command uses (:func:`~p2psim.config.checks.checked_study`: file, overrides, seed,\n"
    "days, market, every field checked). Nothing here builds a community or runs anything.",
    "p2psim.world": "The world a study describes: what exists before anything runs.\n\n"
    "The feeder (:mod:`~p2psim.world.feeder`), the scenario and its validation\n"
    "(:mod:`~p2psim.world.scenario`), the SimBench, EV-session and heat-demand loaders (data shipped in\n"
    "PyPI packages) and building a community from a recipe (:mod:`~p2psim.world.community`,\n"
    "including :class:`~p2psim.world.community.DerivedStudy`).",
    "p2psim.sim": "The co-simulation of one run: time, agents, clearing, delivery and settlement.\n\n"
    "The SimPy day-ahead clock (:mod:`~p2psim.sim.clock`), the gate\n"
    "that gathers forecasts, bids and devices into an order book (:mod:`~p2psim.sim.gate`), the\n"
    "device fleet over the run (:mod:`~p2psim.sim.fleet`), the Mesa :class:`~p2psim.sim.model.CommunityModel`,\n"
    "the ledger, settlement (bills) and the energy and money invariants the model raises\n"
    "(:mod:`~p2psim.sim.invariants`).",
    "p2psim.energy_game": "The day's savings game on the day model, and who gets what of it.\n\n"
    "Coalition values from the day model\n"
    "(:mod:`~p2psim.energy_game.game`, :mod:`~p2psim.energy_game.aggregate`), separation oracles for the\n"
    "core (:mod:`~p2psim.energy_game.separation`, :mod:`~p2psim.energy_game.inner`), the allocation\n"
    "rules over a run (:mod:`~p2psim.energy_game.allocate`), exact core checks\n"
    "(:mod:`~p2psim.energy_game.core_checks`) and the allocation stage (:mod:`~p2psim.energy_game.stage`).\n"
    "The generic cooperative games live in :mod:`p2psim.game`.",
    "p2psim.batch": "Many runs at once.\n\n"
    "Sweeps over studies x settings x seeds into one Parquet table\n"
    "(:mod:`~p2psim.batch.sweep`) and the efficiency-equity front of EqWM (:mod:`~p2psim.batch.pareto`).",
}

LINE_LENGTH = 120  # ruff's line-length in pyproject.toml
TEXT_SUFFIXES = {".py", ".md", ".toml", ".cfg", ".ini", ".txt", ".yml", ".yaml", ".pyi"}
TEXT_NAMES = {"Makefile", "run", ".importlinter"}
DOTTED = re.compile(r"(?<![\w.])p2psim(?:\.\w+)+")
FROM_IMPORT = re.compile(r"^(?P<indent>[ \t]*)from (?P<pkg>p2psim(?:\.\w+)*) import (?P<names>\([^)]*\)|[^\n#]+)", re.M)
PACKAGE_DIRS = {"p2psim.agents": "agents", "p2psim.markets": "markets", "p2psim": "p2psim"}


def module_file(name: str, *, package: bool) -> Path:
    """Repository path of a dotted module (``package``: its ``__init__.py``)."""
    for prefix in sorted(PACKAGE_DIRS, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "."):
            rest = name[len(prefix) + 1:].split(".") if name != prefix else []
            base = Path(PACKAGE_DIRS[prefix], *rest)
            return base / "__init__.py" if package else base.with_suffix(".py")
    raise ValueError(f"{name} is not a p2psim module")


def old_file(name: str) -> Path:
    """The old file of ``name``: ``x.py`` or, for a package, ``x/__init__.py``."""
    flat = module_file(name, package=False)
    return flat if (ROOT / flat).exists() or not (ROOT / module_file(name, package=True)).exists() else (
        module_file(name, package=True))


def new_file(old: str, new: str) -> Path:
    """Where ``old`` goes: a package stays a package; a module whose name is kept becomes one."""
    flat, package = ROOT / module_file(old, package=False), ROOT / module_file(old, package=True)
    was_package = package.exists() and not flat.exists()
    return module_file(new, package=was_package or old == new)


def rename(name: str) -> str:
    """Rewrite one dotted name: the longest old prefix in :data:`MAPPING` is replaced by its new name."""
    parts = name.split(".")
    for k in range(len(parts), 1, -1):
        head = ".".join(parts[:k])
        if head in MAPPING:
            return ".".join([MAPPING[head], *parts[k:]])
    return name


def check_mapping() -> None:
    """Idempotency: every new name is a fixed point of :func:`rename`, and no two old names share a new one."""
    for old, new in MAPPING.items():
        if rename(new) != new:
            raise SystemExit(f"regroup: {old} -> {new} is not stable: {new} would become {rename(new)}")
    news = list(MAPPING.values())
    if len(set(news)) != len(news):
        raise SystemExit("regroup: two old modules map to the same new module")


def git(*args: str, check: bool = True) -> str:
    """Run git in the repository root and return its output."""
    return subprocess.run(["git", *args], cwd=ROOT, check=check, capture_output=True, text=True).stdout


def plan_moves() -> list[tuple[Path, Path]]:
    """(old path, new path) of every move still to do; refuses a move whose target is taken."""
    moves = []
    for old, new in MAPPING.items():
        src = old_file(old)
        if not (ROOT / src).exists():
            continue  # moved already, or a module another branch adds that is not merged
        dst = new_file(old, new)
        if src == dst:
            continue
        if (ROOT / dst).exists():
            raise SystemExit(f"regroup: both {src} and {dst} exist; merge them by hand, then run again")
        moves.append((src, dst))
    return moves


def do_moves(moves: list[tuple[Path, Path]]) -> None:
    """``git mv`` each file (a module that becomes a package first, so its folder can be created)."""
    for src, dst in moves:
        (ROOT / dst).parent.mkdir(parents=True, exist_ok=True)
        git("mv", str(src), str(dst))
        print(f"moved   {src} -> {dst}")


def _docstring_only(text: str) -> bool:
    import ast

    try:
        body = ast.parse(text).body
    except SyntaxError:
        return False
    return len(body) <= 1 and all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body)


def write_packages(dry: bool) -> list[Path]:
    """Create or refresh the ``__init__.py`` of each package in :data:`PACKAGES`."""
    changed = []
    for name, doc in PACKAGES.items():
        path = ROOT / module_file(name, package=True)
        text = f'"""{doc}\n"""\n'
        if path.exists() and (not _docstring_only(path.read_text()) or path.read_text() == text):
            continue
        if not path.parent.exists() and not any(new.startswith(name + ".") for new in MAPPING.values()):
            continue
        changed.append(path.relative_to(ROOT))
        if not dry:
            path.parent.mkdir(parents=True, exist_ok=True)
            existed = path.exists()
            path.write_text(text)
            if not existed:
                git("add", str(path.relative_to(ROOT)))
            print(f"package {path.relative_to(ROOT)}")
    return changed


def path_mapping() -> dict[str, str]:
    """Old file path -> new file path (``p2psim/study.py`` -> ``p2psim/config/study.py``) and package folders."""
    out = {}
    for old, new in MAPPING.items():
        if old == new:  # x.py became the package x/
            out[str(module_file(old, package=False))] = str(module_file(new, package=True))
            continue
        for package in (False, True):
            out[str(module_file(old, package=package))] = str(module_file(new, package=package))
        out[str(module_file(old, package=True).parent) + "/"] = str(module_file(new, package=True).parent) + "/"
    return out


def _rewrite_from_imports(text: str) -> str:
    """``from p2psim import plots`` -> ``from p2psim.report import plots`` (split when the names part ways)."""

    def one(match: re.Match) -> str:
        pkg, raw = match["pkg"], match["names"]
        inner = raw.strip()
        paren = inner.startswith("(")
        items = [x.strip() for x in inner.strip("()").replace("\n", " ").split(",") if x.strip()]
        targets = []
        for item in items:
            name = item.split(" as ")[0].strip()
            full = f"{pkg}.{name}"
            moved = MAPPING.get(full)
            if (rename(pkg), name) in NAME_MOVES:
                targets.append((NAME_MOVES[(rename(pkg), name)], item))
            elif moved and moved != full:
                parent, _, leaf = moved.rpartition(".")
                targets.append((parent, item if leaf == name else f"{leaf} as {item.split(' as ')[-1].strip()}"))
            else:
                targets.append((rename(pkg), item))
        if all(parent == rename(pkg) for parent, _ in targets):
            return match.group(0)  # the dotted rewrite handles the package itself
        groups: dict[str, list[str]] = {}
        for parent, item in targets:
            groups.setdefault(parent, []).append(item)
        indent = match["indent"]
        lines = []
        for parent, names in groups.items():
            line = f"{indent}from {parent} import {', '.join(names)}"
            if paren or len(line) > 110:
                items = "".join(f"{indent}    {n},\n" for n in names)
                line = f"{indent}from {parent} import (\n{items}{indent})"
            lines.append(line)
        return "\n".join(lines)

    return FROM_IMPORT.sub(one, text)


def _rewrite_relative(text: str, module: str) -> str:
    """Turn relative imports of a moved module into absolute ones (resolved against its old name)."""
    package = module if MAPPING.get(module) == module else module.rpartition(".")[0]

    def one(match: re.Match) -> str:
        dots, rest = match["dots"], match["rest"] or ""
        base = package
        for _ in range(len(dots) - 1):
            base = base.rpartition(".")[0]
        target = f"{base}.{rest}" if rest else base
        return f"{match['indent']}from {rename(target)} import "

    return re.sub(r"^(?P<indent>[ \t]*)from (?P<dots>\.+)(?P<rest>[\w.]*) import ", one, text, flags=re.M)


def rewrite_text(text: str, paths: dict[str, str]) -> str:
    """Every reference in one file's text, rewritten."""
    text = _rewrite_from_imports(text)
    text = DOTTED.sub(lambda m: rename(m.group(0)), text)
    files = sorted((p for p in paths if not p.endswith("/")), key=len, reverse=True)
    folders = sorted((p for p in paths if p.endswith("/")), key=len, reverse=True)
    if files:  # a file name, not the start of a longer one
        pattern = re.compile(r"(?<![\w/.])(" + "|".join(map(re.escape, files)) + r")(?![\w])")
        text = pattern.sub(lambda m: paths[m.group(1)], text)
    if folders:  # a folder prefix: p2psim/data/ -> p2psim/world/
        pattern = re.compile(r"(?<![\w/.])(" + "|".join(map(re.escape, folders)) + r")")
        text = pattern.sub(lambda m: paths[m.group(1)], text)
    return text


def setuptools_packages(text: str) -> str:
    """The ``packages = [...]`` list of ``[tool.setuptools]``, listing every package folder found."""
    found = sorted({".".join(["p2psim", *p.parent.relative_to(ROOT / "p2psim").parts])
                    for p in (ROOT / "p2psim").rglob("__init__.py") if "__pycache__" not in p.parts})
    found += ["p2psim.agents", "p2psim.markets"]
    body = "packages = [\n" + "".join(f'    "{name}",\n' for name in found) + "]"
    return re.sub(r"(?ms)^packages = \[.*?\]", lambda _: body, text, count=1)


def text_files() -> list[Path]:
    """The tracked text files the rewrite looks at (this script excepted: it holds the mapping)."""
    out = []
    for line in git("ls-files").splitlines():
        path = Path(line)
        if path == Path("tools/regroup.py") or not (ROOT / path).is_file():
            continue
        if path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES:
            out.append(path)
    return out


def new_module_names(moved_new: set[Path]) -> dict[Path, str]:
    """New path -> old dotted name for the files moved (for their relative imports)."""
    reverse = {}
    for old, new in MAPPING.items():
        for package in (False, True):
            reverse[module_file(new, package=package or old == new)] = old
    return {p: reverse[p] for p in moved_new if p in reverse}


def unknown_modules() -> list[str]:
    """Flat modules of p2psim that neither move nor stay on purpose."""
    known = set(MAPPING) | set(MAPPING.values()) | STAY
    out = []
    for path in sorted((ROOT / "p2psim").glob("*.py")):
        name = "p2psim" if path.stem == "__init__" else f"p2psim.{path.stem}"
        if name not in known:
            out.append(str(path.relative_to(ROOT)))
    return out


def remove_empty_folders() -> None:
    """Old package folders left with nothing but ``__pycache__``."""
    for old, new in MAPPING.items():
        folder = ROOT / module_file(old, package=True).parent
        if old == new or not folder.is_dir():
            continue
        if all(p.name == "__pycache__" for p in folder.iterdir()):
            shutil.rmtree(folder)
            print(f"removed {folder.relative_to(ROOT)}/ (only __pycache__ left)")


def main(argv: list[str] | None = None) -> int:
    """Move, write packages, rewrite references; ``--check`` reports only."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report what would change; exit 1 if anything")
    parser.add_argument("--no-ruff", action="store_true", help="do not sort the import blocks with ruff")
    args = parser.parse_args(argv)
    check_mapping()
    moves = plan_moves()
    if args.check:
        for src, dst in moves:
            print(f"would move {src} -> {dst}")
    else:
        do_moves(moves)
    packages = write_packages(args.check)
    paths = path_mapping()
    moved_new = {dst for _, dst in moves}
    relative = new_module_names(moved_new)
    changed: list[Path] = []
    long_lines: list[str] = []
    for path in text_files():
        text = (ROOT / path).read_text(encoding="utf-8")
        new = rewrite_text(text, paths)
        if path in relative:
            new = _rewrite_relative(new, relative[path])
        if path == Path("pyproject.toml"):
            new = setuptools_packages(new)
        if new != text:
            changed.append(path)
            before = {line for line in text.splitlines() if len(line) > LINE_LENGTH}
            for number, line in enumerate(new.splitlines(), 1):
                if len(line) > LINE_LENGTH and line not in before and path.suffix == ".py":
                    long_lines.append(f"{path}:{number}")
            if not args.check:
                (ROOT / path).write_text(new, encoding="utf-8")
    for path in changed:
        print(f"{'would rewrite' if args.check else 'rewrote'} {path}")
    if not args.check:
        remove_empty_folders()
        python = [str(p) for p in changed if p.suffix == ".py"] + [str(p) for p in packages]
        ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
        if python and not args.no_ruff and Path(ruff).exists():
            subprocess.run([ruff, "check", "--fix", "--select", "I", "--quiet", *python], cwd=ROOT, check=False)
    for where in long_lines:
        print(f"line longer than {LINE_LENGTH} after the rewrite (wrap it by hand): {where}")
    for path in unknown_modules():
        print(f"unknown flat module {path}: add it to MAPPING (or STAY) in tools/regroup.py and run again")
    print(f"regroup: {len(moves)} move(s), {len(changed)} file(s) rewritten, {len(packages)} package file(s)")
    return 1 if args.check and (moves or changed or packages) else 0


if __name__ == "__main__":
    sys.exit(main())
