"""Fixtures of the coordinator tests: the rural study, fast settings."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RURAL = str(REPO / "studies" / "rural.py")


@pytest.fixture(scope="session")
def rural_path() -> str:
    return RURAL


def make_env(**kwargs):
    from p2psim.rl.env import EquityEnv

    kwargs.setdefault("episode_days", 3)
    return EquityEnv.from_study(RURAL, **kwargs)
