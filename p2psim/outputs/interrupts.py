"""Interrupts: Ctrl-C (SIGINT) and SIGTERM unwind a command, so it keeps only what finished.

The command line (:func:`p2psim.cli.main`) runs every command inside :func:`signals_unwind`:

- SIGINT raises ``KeyboardInterrupt`` (exit status 130 = 128 + 2);
- SIGTERM (a timeout, a batch scheduler, ``kill``) raises :class:`Terminated`, a
  ``KeyboardInterrupt`` subclass, so every ``except KeyboardInterrupt`` / ``finally`` clean-up runs
  for it too (exit status 143 = 128 + 15).

Whatever owns an output (a staging directory, a training run, a sweep) catches the exception on its
way out, cleans up and adds a note saying exactly what it kept (:meth:`BaseException.add_note`); the
CLI prints those notes. A second signal while the command is cleaning up is ignored (with a line
saying so), so the clean-up itself is never cut short; a third one raises again. A signal the
process was started to ignore (a background job of a non-interactive shell ignores SIGINT) stays
ignored.

Solvers that catch a signal themselves (Gurobi installs its own SIGINT handler during ``optimize``,
and swallows an exception raised in its callback, where Python runs the SIGTERM handler) report an
``interrupted`` status, which :func:`p2psim.markets._lp.solve` turns back into the exception of the
signal (:func:`interrupted_by_signal`). HiGHS runs without callbacks (for speed): a signal during a
HiGHS solve takes effect when that solve returns (within ``SolverOptions.time_limit_s``).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_STATE = {"count": 0, "last": int(signal.SIGINT)}
"""Signals received within :func:`signals_unwind` and the last one (a solver that swallowed it is stopped for it)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; unwinds like Ctrl-C.

    Plain on purpose: libraries copy exceptions as ``type(e)(*e.args)`` (simpy does, between processes).
    """

    signum = int(signal.SIGTERM)


def exit_status(exc: BaseException) -> int:
    """128 + the signal number: 130 after SIGINT, 143 after SIGTERM."""
    return 128 + _signal_of(exc)


def _signal_of(exc: BaseException) -> int:
    if isinstance(exc, Terminated):
        return Terminated.signum
    if isinstance(exc, KeyboardInterrupt):
        return int(signal.SIGINT)
    return _STATE["last"]  # another exception a library made of the interrupt (see signal_received)


def signal_received() -> bool:
    """Whether SIGINT or SIGTERM arrived within the current :func:`signals_unwind`.

    Some libraries turn the KeyboardInterrupt raised inside them into their own exception (a C
    extension interrupted while it is imported raises ImportError); after a signal, the CLI treats
    any exception as the interrupt it stands for.
    """
    return _STATE["count"] > 0


def interrupt_message(exc: BaseException) -> str:
    """One line: what stopped the command and what it kept (the notes its owners added)."""
    what = "terminated (SIGTERM)" if _signal_of(exc) == signal.SIGTERM else "interrupted"
    kept = [str(n) for n in getattr(exc, "__notes__", ())] or ["nothing was written"]
    return f"p2psim: {what}; " + "; ".join(kept)


@contextmanager
def signals_unwind() -> Iterator[None]:
    """Within the block SIGINT and SIGTERM raise (see the module docstring); handlers restored after."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers live in the main thread
        yield
        return
    _STATE["count"] = 0

    def handler(signum, frame):
        _STATE["count"] += 1
        _STATE["last"] = int(signum)
        if _STATE["count"] == 2:
            print("p2psim: still cleaning up after the interrupt; signal once more to stop at once",
                  file=sys.stderr)
            return
        if signum == signal.SIGTERM:
            raise Terminated("SIGTERM")
        raise KeyboardInterrupt

    previous = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        if previous[s] is not signal.SIG_IGN:  # started to ignore it (nohup, a background job): keep ignoring it
            signal.signal(s, handler)
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old if old is not None else signal.SIG_DFL)


def interrupted_by_signal() -> KeyboardInterrupt:
    """The exception for a stop a library reported instead of raising (Gurobi's ``INTERRUPTED`` status).

    Counts as the first signal, so one more during the clean-up is ignored as usual.
    """
    _STATE["count"] = max(_STATE["count"], 1)
    return Terminated("SIGTERM") if _STATE["last"] == signal.SIGTERM else KeyboardInterrupt()


@contextmanager
def deferred_signals() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block ends (they are delivered right after it)."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def ignore_sigint() -> None:
    """Worker processes ignore Ctrl-C (it reaches the whole process group): the parent stops them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


__all__ = ["Terminated", "deferred_signals", "exit_status", "ignore_sigint", "interrupt_message",
           "interrupted_by_signal", "signal_received", "signals_unwind"]
