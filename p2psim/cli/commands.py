"""Registers the CLI sub-commands (imported by ``python -m p2psim``).

Each feature module defines its sub-command with ``@p2psim.cli.subcommand(NAME)``; importing the
module registers it. A missing optional module (for example while a feature is being developed)
must not break the main command, so each import is tried separately.
"""

from __future__ import annotations

import importlib

COMMAND_MODULES = (
    "p2psim.cli.pareto",
    "p2psim.cli.sweep",
    "p2psim.cli.rl",
    "p2psim.cli.explain",
)


def register_all() -> None:
    """Import the modules that define sub-commands so they register themselves."""
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a missing dependency inside the module is a real error
                raise
