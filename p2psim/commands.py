"""Registers the CLI sub-commands (imported by ``python -m p2psim``)."""

from __future__ import annotations


def register_all() -> None:
    """Import the modules that define sub-commands so they register themselves."""
