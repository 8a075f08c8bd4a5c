"""Output safety: p2psim replaces only what it wrote, stages what it writes, and keeps what finished.

This module holds the rules (the marker, :func:`check_out`) and atomic single files; the
directories are written through :mod:`p2psim.outputs.staging`.

Rules every writing command follows (run, pareto, evaluate, explain, train, sweep):

- Every output directory p2psim creates carries a marker file :data:`MARKER` naming the command,
  the p2psim version and the entries it wrote.
- An existing ``--out`` is replaced only when it is an empty directory, or carries the marker and
  holds nothing the marker does not list. Anything else (a directory of other files, a file, a
  symbolic link, ``.``, the current directory or one of its ancestors, a directory holding the
  command's own inputs, a path below a regular file) raises :class:`~p2psim.errors.OutputError`
  (exit status 2) naming the path and the fix, before any long work starts.
- Staged commands (:func:`p2psim.outputs.staging.output_directory`) write into a hidden sibling created up front (so an
  unwritable parent fails at once) and rename it into place when complete: the old output is
  renamed away first, the new one renamed in, then the old one removed. Interrupted or failed, the
  staging is removed and the previous output stays as it was.
- Incremental commands (:func:`p2psim.outputs.staging.owned_directory`: train's checkpoints, sweep's rows) own their
  directory for the whole command and write each piece atomically, so an interrupt keeps every
  finished piece.
- One writer per output (:class:`p2psim.outputs.locking.OutputLock`); directories get the user's umask.

Package: :mod:`~p2psim.outputs.staging` (staged and owned directories),
:mod:`~p2psim.outputs.locking` (one writer per output) and :mod:`~p2psim.outputs.interrupts`
(SIGINT and SIGTERM unwind alike, exit 130/143, and say what was kept).
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterable
from functools import cache
from importlib import metadata
from pathlib import Path

from p2psim.errors import OutputError
from p2psim.outputs.interrupts import deferred_signals

MARKER = ".p2psim-output.json"
INCREMENTAL = {"train": ("checkpoints", "logs", "learning_curve.csv", "policy"), "sweep": ("rows", "sweep.parquet")}
"""Commands that build their directory piece by piece, and the entries they own."""


def umask() -> int:
    """The process's file-creation mask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def chmod_default(path: str | Path, *, directory: bool) -> None:
    """Give ``path`` the mode a plain ``mkdir``/``open`` would (``tempfile`` makes 0700/0600)."""
    os.chmod(path, (0o777 if directory else 0o666) & ~umask())


@cache
def p2psim_version() -> str:
    """The installed p2psim version."""
    from importlib import metadata

    try:
        return metadata.version("p2psim")
    except metadata.PackageNotFoundError:
        return "unknown"


def read_marker(directory: Path) -> dict | None:
    """The marker of ``directory``, or None when it has none (or an unreadable one)."""
    try:
        data = json.loads((Path(directory) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and data.get("tool") == "p2psim" and isinstance(data.get("files"), list)
    return data if ok else None


def write_marker(directory: Path, command: str, files: Iterable[str]) -> None:
    """Mark ``directory`` as written by p2psim ``command``; ``files`` are the entries it owns."""
    data = {"tool": "p2psim", "command": command, "p2psim_version": p2psim_version(),
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "files": sorted(set(files) - {MARKER})}
    (Path(directory) / MARKER).write_text(json.dumps(data, indent=1) + "\n")


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def foreign_entries(directory: Path, marker: dict | None) -> list[str]:
    """Entries of ``directory`` its marker does not list (all of them without a marker)."""
    owned = set(marker["files"]) if marker else set()
    return sorted(e.name for e in Path(directory).iterdir() if e.name != MARKER and e.name not in owned)


def refuse(given: str, problem: str, fix: str = "", what: str = "--out") -> OutputError:
    """The OutputError for ``what given``: the problem, then the fix (by default: another path)."""
    fix = fix or f"choose a new {what} (for example {str(Path(given) / 'run')!r}) or move it away yourself"
    return OutputError(f"{what} {given!r} {problem}; {fix}")


def _not_a_directory(path: Path) -> str | None:
    if path.is_symlink():
        return "is a symbolic link; p2psim never replaces links"
    if not path.is_dir():
        return "is a file, not a directory; p2psim writes a directory there and never replaces files"
    return None


def legacy_run(directory: Path) -> bool:
    """A run directory written before output markers existed: its run.json records p2psim's version."""
    try:
        run = json.loads((Path(directory) / "run.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(run, dict) and isinstance(run.get("versions"), dict) and "p2psim" in run["versions"]


def replace_problem(path: Path, command: str) -> str | None:
    """Why the existing ``path`` must not be replaced by ``command`` (None when it may be)."""
    problem = _not_a_directory(path)
    if problem:
        return problem
    marker = read_marker(path)
    foreign = foreign_entries(path, marker)
    if marker is None and foreign and legacy_run(path):
        return (f"looks like a run of an earlier p2psim (its run.json names p2psim) but has no {MARKER}, so p2psim "
                "cannot tell its files from yours and never replaces it; delete it yourself if it holds nothing "
                "of yours")
    if marker is None and foreign:
        return (f"already exists and holds files p2psim did not write ({_names(foreign)}; no {MARKER}); "
                "p2psim never replaces them")
    if marker is None:
        return None  # an empty directory
    kind = marker.get("command")
    if kind in INCREMENTAL and kind != command:
        return f"holds the output of `p2psim {kind}` ({_names(list(INCREMENTAL[kind]))}), which only {kind} continues"
    if foreign:
        return f"holds files p2psim did not write ({_names(foreign)}) next to the output of `p2psim {kind}`"
    return None


def continue_problem(path: Path, command: str, *, rewrite: bool = False,
                     legacy: Callable[[Path], bool] | None = None) -> str | None:
    """Why ``command`` must not continue (train, sweep) or ``rewrite`` (explain) the existing ``path``.

    It may when ``path`` carries the marker of the same command, is empty (not for a rewrite), or is
    accepted by ``legacy`` (a directory an earlier p2psim wrote without a marker). Other files in it
    are left alone, so they do not matter.
    """
    problem = _not_a_directory(path)
    if problem:
        return problem
    marker = read_marker(path)
    if marker is not None:
        kind = marker.get("command")
        return None if kind == command else f"holds the output of `p2psim {kind}`, not of {command}"
    foreign = foreign_entries(path, None)
    if not foreign:
        return "is empty" if rewrite else None
    if legacy is not None and legacy(path):
        return None
    return f"holds files p2psim did not write ({_names(foreign)}; no {MARKER})"


def check_out(out: str | Path, command: str, *, inputs: Iterable[str | Path] = (), mode: str = "replace",
              legacy: Callable[[Path], bool] | None = None, what: str = "--out") -> Path:
    """Return ``out`` as an absolute path, or raise OutputError if ``command`` must not write there.

    ``mode``: ``replace`` (staged commands: see :func:`replace_problem`), ``continue`` (incremental
    commands) or ``rewrite`` (explain: an existing output of ``command`` rewritten in place); for the
    last two see :func:`continue_problem`. ``what`` names the argument in messages.
    """
    given = str(out)
    path = Path(os.path.abspath(out))
    real, cwd = path.resolve(), Path.cwd().resolve()
    if real == cwd or real in cwd.parents or path == Path(path.anchor):
        where = "the current directory" if real == cwd else "an ancestor of the current directory"
        raise refuse(given, f"is {where}; p2psim replaces its output directory as a whole",
                     "give it a directory of its own, e.g. --out runs/NAME, or run from its parent directory", what)
    for item in inputs:
        source = Path(item).resolve()
        if source == real or real in source.parents:
            raise refuse(given, f"contains {str(item)!r}, an input of this command",
                         "choose an output directory outside the inputs, e.g. --out runs/NAME", what)
    ancestor = path.parent
    while not os.path.lexists(ancestor):
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise refuse(given, f"lies below {str(ancestor)!r}, which is a file, not a directory",
                     "choose a path inside a directory", what)
    if not os.path.lexists(path):
        if mode == "rewrite":
            raise refuse(given, "does not exist", f"write it first: python -m p2psim STUDY.py --out {given}", what)
        return path
    if mode == "replace":
        problem = replace_problem(path, command)
    else:
        problem = continue_problem(path, command, rewrite=mode == "rewrite", legacy=legacy)
    if problem and mode == "rewrite":
        raise refuse(given, problem, "give a directory written by python -m p2psim STUDY.py --out DIR", what)
    if problem:
        raise refuse(given, problem, what=what)
    return path


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temp)`` on a temporary sibling, then ``os.replace`` it to ``path``: all of it or nothing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = None
    try:
        with deferred_signals():  # an interrupt never leaves the temporary file behind
            handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(handle)
        write(Path(temp))
        chmod_default(temp, directory=False)
        os.replace(temp, path)
    except BaseException:
        if temp is not None:
            Path(temp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary sibling and ``os.replace``: all of it or nothing."""

    def write(temp: Path) -> None:
        with open(temp, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())

    return write_atomic(path, write)


VERSIONED_PACKAGES = ("p2psim", "numpy", "scipy", "pandas", "highspy", "mesa", "simpy", "networkx", "simbench")


def versions() -> dict[str, str]:
    """Installed versions of the packages that decide results."""
    out = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
