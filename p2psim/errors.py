"""The p2psim error hierarchy.

Every error a user can cause by bad input is a subclass of :class:`P2PSimError`; the CLI turns
those into one clear line and exit status 2 (input) or 3 (clearing), never a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class P2PSimError(Exception):
    """Base class of every error p2psim raises on purpose."""

    exit_status = 2


class StudyError(P2PSimError, ValueError):
    """A study file cannot be loaded or an override names a field that does not exist."""


class ScenarioError(P2PSimError, ValueError):
    """A scenario is inconsistent; the message lists every problem found, each with its fix."""

    def __init__(self, problems: Iterable[str]) -> None:
        """Build one message from all problems."""
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the scenario has {len(self.problems)} problem(s):\n{lines}")


class OutputError(P2PSimError, ValueError):
    """An output path cannot be used as asked (it holds what p2psim did not write, or another run holds it)."""


class OrderError(P2PSimError, ValueError):
    """An order or action lies outside what the participant (or space) allows."""


class UnknownNameError(P2PSimError, KeyError):
    """A name (market, study field, backend) is not known; the message lists the valid ones."""

    def __str__(self) -> str:
        """Show the message without KeyError's quoting."""
        return str(self.args[0]) if self.args else ""


class ClearingError(P2PSimError, RuntimeError):
    """A market could not be cleared (infeasible, unbounded, time-limited without incumbent)."""

    exit_status = 3

    def __init__(self, message: str, *, status: str = "", diagnosis: str = "") -> None:
        """Keep the solver status and a human diagnosis next to the message."""
        self.status = status
        self.diagnosis = diagnosis
        text = message if not diagnosis else f"{message}\n{diagnosis}"
        super().__init__(text)


class InvariantError(P2PSimError, AssertionError):
    """An energy, money or allocation balance does not hold; the message carries the numbers."""

    exit_status = 3


class GameError(P2PSimError, ValueError):
    """A cooperative game or allocation request is malformed (players, weights, value function)."""


def shown(value: object) -> str:
    """A value as a message shows it: text quoted, numbers plain (``-1.0``, never ``np.float64(-1.0)``)."""
    return repr(value) if isinstance(value, str) else str(value)


def unknown_name(kind: str, name: str, known: Iterable[str]) -> UnknownNameError:
    """Return an UnknownNameError for ``name`` listing the known names and the nearest miss."""
    known = sorted(known)
    near = [k for k in known if k.startswith(name)][:1] or difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return UnknownNameError(f"no {kind} named {name!r}; known: {known}{hint}")
