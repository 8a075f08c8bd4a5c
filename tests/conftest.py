"""Shared fixtures: the tiny study's book, settlement of a clearing, and one SimBench load per session.

The tiny study (studies/tiny.py) is the hand-checkable reference: 3 participants, 4 six-hour
intervals, perfect forecasts. Book-level helpers here let rule tests clear it and settle the result
without running the co-simulation, so a rule's known answer does not depend on the clock or the
ledger.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from p2psim.markets import ClearingContext, OrderBook, make_market

from p2psim.config.study import Study, load_study
from p2psim.energy_game.settlement_rule import run_options
from p2psim.sim.model import CommunityModel
from p2psim.sim.settlement import Prices, day_bills
from p2psim.world.community import build_scenario, community_stream

REPO = Path(__file__).resolve().parents[1]
STUDIES = REPO / "studies"
TINY_PATH = STUDIES / "tiny.py"
RURAL_PATH = STUDIES / "rural.py"
PYTHON = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable



@pytest.fixture
def sigint_raises():
    """Ctrl-C raises KeyboardInterrupt within the test, even when the tests run as a background job
    (whose SIGINT is ignored from the start)."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="session")
def tiny_study() -> Study:
    return load_study(TINY_PATH)


@pytest.fixture(scope="session")
def rural_study() -> Study:
    return load_study(RURAL_PATH)


def tiny_model(study: Study, market: str = "mid_market_rate_v1", **kwargs) -> CommunityModel:
    """A CommunityModel of a (possibly overridden) tiny study; nothing is run."""
    study = replace(study, market=market)
    scenario = build_scenario(study, community_stream(study.seed))
    return CommunityModel(scenario, make_market(market), seed=study.seed, options=run_options(study), **kwargs)


def tiny_book(study: Study) -> tuple[OrderBook, CommunityModel]:
    """The day-0 order book of the tiny study (perfect forecasts, so book = actuals)."""
    model = tiny_model(study)
    forecasts = [member.forecast(0, model.forecast_rng) for member in model.members]
    return model.order_book(0, forecasts), model


def settle(book: OrderBook, clearing) -> dict[str, np.ndarray]:
    """Settle a clearing of ``book`` with perfect forecasts: the day's bill components per participant."""
    flows = CommunityModel._flows(clearing, book.load_kw, book.pv_kw, book.load_kw, book.pv_kw)
    prices = Prices(book.import_price_per_kwh, book.export_price_per_kwh, clearing.pool_price_per_kwh,
                    book.p2p_fee_per_kwh, book.peak_price_per_kw)
    return day_bills(flows, prices, book.interval_hours)


def clear(name: str, book: OrderBook, feeder, seed: int = 0):
    """Clear ``book`` with rule ``name`` and a fresh rng of ``seed``."""
    return make_market(name).clear(book, ClearingContext(feeder=feeder, rng=np.random.default_rng(seed)))


@pytest.fixture(scope="session")
def tiny_book_and_model(tiny_study):
    return tiny_book(tiny_study)


@pytest.fixture(scope="session")
def helpers():
    """The helpers above, for test modules (importlib mode cannot import conftest by name)."""
    return SimpleNamespace(tiny_model=tiny_model, tiny_book=tiny_book, settle=settle, clear=clear,
                           REPO=REPO, STUDIES=STUDIES, TINY_PATH=TINY_PATH, RURAL_PATH=RURAL_PATH, PYTHON=PYTHON)


@pytest.fixture(scope="session")
def rural_two_days(rural_study):
    """The rural study run for 2 days with seed 0 (SimBench is loaded once per process)."""
    from p2psim.runner import run

    return run(replace(rural_study, days=2, seed=0))
