"""p2psim: equity-aware peer-to-peer energy trading in community microgrids.

Run a study with ``python -m p2psim studies/rural.py``; in Python::

    from p2psim import load_study, run
    result = run(load_study("studies/rural.py"))
"""

from __future__ import annotations

from p2psim.config.study import Study, load_study
from p2psim.markets import make_market, register_market
from p2psim.world.feeder import Feeder
from p2psim.world.scenario import Scenario

__version__ = "0.1.0"


def run(study: Study, **kwargs):
    """Run a study and return its :class:`p2psim.runner.RunResult` (see :func:`p2psim.runner.run`)."""
    from p2psim.runner import run as _run

    return _run(study, **kwargs)


__all__ = [
    "Feeder",
    "Scenario",
    "Study",
    "__version__",
    "load_study",
    "make_market",
    "register_market",
    "run",
]
