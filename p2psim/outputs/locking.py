"""One writer per output: an exclusive ``flock`` on ``<parent>/.<name>.lock`` while a command writes ``<name>``.

The lock file holds the holder's pid, command line and start time, so a second writer can say who
holds it (:class:`~p2psim.errors.OutputError`, exit status 2). The kernel drops the lock when the
holder exits however it ends (even ``kill -9``), so a stale lock file never blocks anyone. The
holder removes the file before releasing the lock; a process that locked a file meanwhile removed
(its inode no longer at the path) retries on the new one, so two writers can never both hold it.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path

from p2psim.errors import OutputError
from p2psim.outputs.interrupts import deferred_signals

COMMAND_LINE: list[str] = []
"""The command being run, as the user typed it (set by :func:`p2psim.cli.main`); shown to other writers."""


def lock_path(out: Path) -> Path:
    """The lock file of output ``out``: a hidden sibling."""
    return out.parent / f".{out.name}.lock"


def _holder(path: Path, wait_s: float = 1.0) -> str:
    """Who holds the lock, as its lock file says (the holder writes it just after locking: wait a moment)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            info = json.loads(path.read_text())
            return f"pid {info['pid']}, `{info['command']}`, since {info['started']}"
        except (OSError, ValueError, KeyError, TypeError):
            if time.monotonic() > deadline:
                return "a process that is just starting"
            time.sleep(0.02)


class OutputLock:
    """Exclusive lock of one output path (a context manager)."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.path = lock_path(self.out)
        self.fd: int | None = None

    def acquire(self) -> OutputLock:
        """Take the lock or raise OutputError naming the holder and the fix."""
        try:
            with deferred_signals():  # an interrupt never leaves a lock file behind
                self._acquire()
        except BaseException:
            self.release()
            raise
        return self

    def _acquire(self) -> None:
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as exc:
                raise OutputError(f"cannot create the lock file {str(self.path)!r} ({exc.strerror}); "
                                  f"--out {str(self.out)!r} needs a writable parent directory") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise OutputError(f"{str(self.out)!r} is being written by another p2psim process "
                                  f"({_holder(self.path)}); wait for it to finish or choose another --out") from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the previous holder removed the file after we opened it: lock the new one
        self.fd = fd
        command = " ".join(COMMAND_LINE) if COMMAND_LINE else " ".join(sys.argv)
        info = {"pid": os.getpid(), "command": command, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode())

    def release(self) -> None:
        """Remove the lock file and release the lock (idempotent)."""
        if self.fd is None:
            return
        with deferred_signals():
            try:
                self.path.unlink(missing_ok=True)
            finally:
                os.close(self.fd)
                self.fd = None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


__all__ = ["COMMAND_LINE", "OutputLock", "lock_path"]
