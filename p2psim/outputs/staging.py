"""Output directories written safely: staged and renamed into place, or owned piece by piece.

See :mod:`p2psim.outputs` for the rules. :func:`output_directory` (run, pareto, evaluate, explain)
yields a staging directory created before the long work and renamed over ``--out`` when complete;
:func:`owned_directory` (train, sweep) holds an incremental directory for the whole command. Both
check ``--out`` first, create missing parents (removed again if nothing is written), and lock it
(:class:`p2psim.outputs.locking.OutputLock`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from p2psim.errors import OutputError
from p2psim.outputs import (
    INCREMENTAL,
    check_out,
    chmod_default,
    foreign_entries,
    read_marker,
    refuse,
    replace_problem,
    write_marker,
)
from p2psim.outputs.interrupts import deferred_signals
from p2psim.outputs.locking import OutputLock


def make_parents(directory: Path, given: str) -> list[Path]:
    """Create ``directory`` and its missing parents; return the ones created (outermost first)."""
    missing = []
    while not os.path.lexists(directory):
        missing.append(directory)
        directory = directory.parent
    created: list[Path] = []
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            remove_empty(created)
            raise refuse(given, f"cannot be created: {str(d)!r}: {exc.strerror}",
                          "choose a path in a directory you can write") from None
        created.append(d)
    return created


def remove_empty(created: list[Path]) -> None:
    """Remove directories this command created, innermost first, if they are still empty."""
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            return


def new_staging(path: Path, given: str) -> Path:
    """A hidden, empty sibling of ``path`` with the user's umask."""
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".staging", dir=path.parent))
    except OSError as exc:
        raise refuse(given, f"cannot be written: {str(path.parent)!r}: {exc.strerror}",
                      "choose a path in a directory you can write") from None
    chmod_default(staging, directory=True)
    return staging


def _park(staging: Path, path: Path, given: str, problem: str, what: str) -> OutputError:
    park = path.with_name(f"{path.name}.new-{time.strftime('%Y%m%d-%H%M%S')}")
    staging.rename(park)
    return OutputError(f"{what} {given!r} {problem} while p2psim was running, so it was left as it is; the new "
                       f"output is complete in {str(park)!r}: move it where you want it")


def publish(staging: Path, path: Path, command: str, given: str, *, carried: Iterable[str] = (),
            snapshot: set[str] | None = None, what: str = "--out") -> None:
    """Mark ``staging`` and rename it to ``path``: the old output renamed away first, removed after.

    ``carried`` names entries copied from the old output that p2psim did not write (kept, not marked).
    ``snapshot`` (a rewrite) lists the old output's entries when it was copied: anything added to it
    since is not lost; the new output is parked beside it instead (as when ``path`` may no longer be
    replaced).
    """
    write_marker(staging, command, set(os.listdir(staging)) - set(carried))
    with deferred_signals():  # the swap (and removing the old output) is never cut in half by Ctrl-C or SIGTERM
        if os.path.lexists(path):
            if snapshot is None:
                problem = replace_problem(path, command)
            else:
                added = sorted(set(os.listdir(path)) - snapshot)
                problem = f"gained {', '.join(added[:3])}" if added else None
            if problem:
                raise _park(staging, path, given, problem, what)
            if not any(path.iterdir()):
                os.rmdir(path)
        if not os.path.lexists(path):
            staging.rename(path)
            return
        trash = path.with_name(f".{path.name}.old-{os.getpid()}")
        path.rename(trash)
        try:
            staging.rename(path)
        except BaseException:
            trash.rename(path)
            raise
        shutil.rmtree(trash, ignore_errors=True)


def _untouched(staging: Path, snapshot: dict[str, int]) -> list[str]:
    """Entries of ``staging`` still as copied (same modification time as in ``snapshot``)."""
    return [name for name, mtime in snapshot.items()
            if os.path.lexists(staging / name) and (staging / name).stat(follow_symlinks=False).st_mtime_ns == mtime]


@contextmanager
def output_directory(out: str | Path, command: str, *, inputs: Iterable[str | Path] = (), rewrite: bool = False,
                     legacy: Callable[[Path], bool] | None = None, what: str = "--out") -> Iterator[Path]:
    """Check ``out``, lock it and yield a staging directory that replaces it once the block completes.

    Everything is checked and the staging created before the block runs (so call this before the long
    work). On any exception the staging is removed, ``out`` stays as it was, and the exception gets
    a note saying so. ``rewrite`` (explain): ``out`` must be an existing output of ``command`` (or one
    ``legacy`` accepts); the staging starts as a copy of it, whose other files are carried over.
    """
    given = str(out)
    mode = "rewrite" if rewrite else "replace"
    path = check_out(out, command, inputs=inputs, mode=mode, legacy=legacy, what=what)
    existed = os.path.lexists(path)
    created: list[Path] = []
    staging: Path | None = None
    published = False
    try:  # signals are deferred while a directory is made, so none is made without being cleaned up
        with deferred_signals():
            created = make_parents(path.parent, given)
        with OutputLock(path):
            check_out(out, command, inputs=inputs, mode=mode, legacy=legacy, what=what)  # now nobody else writes it
            try:
                with deferred_signals():
                    staging = new_staging(path, given)
                carried, snapshot, marker = (), None, None
                if rewrite:
                    snapshot = {e.name: e.stat(follow_symlinks=False).st_mtime_ns for e in os.scandir(path)}
                    shutil.copytree(path, staging, symlinks=True, dirs_exist_ok=True)
                    marker = read_marker(path)
                    carried = foreign_entries(path, marker) if marker else ()
                yield staging
                if rewrite and marker is None:  # legacy: only what this command rewrote is known to be p2psim's
                    carried = _untouched(staging, snapshot)
                try:
                    publish(staging, path, command, given, carried=carried,
                            snapshot=None if snapshot is None else set(snapshot), what=what)
                finally:  # a signal deferred during the swap is raised once it is done
                    published = not os.path.lexists(staging)
            finally:
                if staging is not None:
                    shutil.rmtree(staging, ignore_errors=True)
    except BaseException as exc:
        if published:
            exc.add_note(f"the output in {given} was complete and is kept")
        else:
            remove_empty(created)
            exc.add_note(f"{given} left as it was" if existed else f"nothing written to {given}")
        raise


@dataclass
class OwnedOutput:
    """An incremental output directory held by one command (see :func:`owned_directory`)."""

    path: Path
    created: bool
    """Whether this command created the directory (it may then remove it when nothing is worth keeping)."""
    worth_keeping: Callable[[], bool] = field(default=lambda: True)
    """Asked after an interrupt or a failure: False removes a directory this command created."""


@contextmanager
def owned_directory(out: str | Path, command: str, *, inputs: Iterable[str | Path] = (), must_exist: bool = False,
                    legacy: Callable[[Path], bool] | None = None) -> Iterator[OwnedOutput]:
    """Check, create (with the marker) and lock ``out`` for an incremental ``command``; yield it.

    ``out`` may be new, empty, or a directory marked by the same command (resumed: its pieces are
    kept and continued), or one ``legacy`` accepts (written by an earlier p2psim without a marker; it
    gets one). ``must_exist`` (resume) refuses a missing ``out``.
    """
    given = str(out)
    path = check_out(out, command, inputs=inputs, mode="continue", legacy=legacy)
    if must_exist and not path.is_dir():
        raise OutputError(f"{given!r} does not exist, so there is nothing to resume; start a new {command} "
                          "without --resume")
    created_parents: list[Path] = []
    try:
        with deferred_signals():
            created_parents = make_parents(path.parent, given)
        with OutputLock(path):
            check_out(out, command, inputs=inputs, mode="continue", legacy=legacy)
            owned = OwnedOutput(path, created=not os.path.lexists(path))
            try:
                with deferred_signals():  # never an unmarked directory of ours
                    if owned.created:
                        path.mkdir()
                    if read_marker(path) is None:
                        write_marker(path, command, INCREMENTAL.get(command, ()))
                yield owned
            except BaseException:
                if owned.created and not owned.worth_keeping():
                    shutil.rmtree(path, ignore_errors=True)
                raise
    except BaseException:
        if not os.path.lexists(path):
            remove_empty(created_parents)
        raise


__all__ = ["OwnedOutput", "output_directory", "owned_directory", "publish"]
