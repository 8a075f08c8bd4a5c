"""Ctrl-C and SIGTERM during a real Gurobi solve stop the command; the partial solve is never used.

Gurobi installs its own SIGINT handler during ``optimize`` and reports status INTERRUPTED (11), which
p2psim maps to ``interrupted`` (never ``time_limit``) and turns back into the signal's exception.
The solve is a market-split instance (Cornuejols and Dawande 1999: 4 equality rows over 46
binaries, minimise the slack), which branch and bound needs far longer than a second for, yet it
fits the size-limited pip licence.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from tests._cli import default_signals

pytestmark = pytest.mark.solver

REPO = Path(__file__).resolve().parents[2]
PYTHON = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable

SCRIPT = """
import sys
from p2psim.outputs.interrupts import exit_status, interrupt_message, signals_unwind
from p2psim.markets._lp import solve
from p2psim.markets.base import SolverOptions
sys.path.insert(0, {tests!r})
from test_lp_interrupt import market_split

with signals_unwind():
    try:
        print("solving", flush=True)
        result = solve(market_split(), SolverOptions(backend="gurobi", time_limit_s=120), label="market split")
        print("returned", result.status, flush=True)
    except KeyboardInterrupt as exc:
        print(interrupt_message(exc), file=sys.stderr)
        sys.exit(exit_status(exc))
"""


def market_split(m: int = 4, n: int = 46, seed: int = 1):
    """sum_j a_ij x_j + s+_i - s-_i = floor(sum_j a_ij / 2), x binary, minimise sum(s+ + s-)."""
    from p2psim.markets._lp_program import LinearProgram

    a = np.random.default_rng(seed).integers(0, 100, size=(m, n))
    rhs = (a.sum(axis=1) // 2).astype(float)
    return LinearProgram(
        c=np.r_[np.zeros(n), np.ones(2 * m)],
        A=sp.hstack([sp.csr_matrix(a), sp.eye(m), -sp.eye(m)], format="csr"),
        row_lower=rhs, row_upper=rhs,
        col_lower=np.zeros(n + 2 * m), col_upper=np.r_[np.ones(n), np.full(2 * m, np.inf)],
        integrality=np.r_[np.ones(n, bool), np.zeros(2 * m, bool)],
    )


@pytest.fixture(scope="module")
def licensed():
    from p2psim.markets._lp_gurobi import gurobi_problem

    problem = gurobi_problem(market_split())
    if problem:
        pytest.skip(problem)


@pytest.mark.parametrize(("signum", "status", "word"), [(signal.SIGINT, 130, "interrupted"),
                                                        (signal.SIGTERM, 143, "terminated (SIGTERM)")])
def test_a_signal_stops_a_gurobi_solve_at_once(licensed, signum, status, word):
    proc = subprocess.Popen([PYTHON, "-c", SCRIPT.format(tests=str(Path(__file__).parent))], cwd=REPO,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=default_signals)
    assert proc.stdout.readline().strip() == "solving"
    time.sleep(1.0)  # inside optimize (model set-up takes milliseconds)
    proc.send_signal(signum)
    sent = time.monotonic()
    out, err = proc.communicate(timeout=150)
    assert proc.returncode == status, (out, err)
    assert time.monotonic() - sent < 10
    assert "returned" not in out  # the partial result never came back as a result
    assert f"p2psim: {word}; market split: the gurobi solve was interrupted after" in err
    assert "(status interrupted) and its partial solution discarded" in err and "Traceback" not in err


def test_interrupted_is_a_status_of_its_own():
    from p2psim.markets._lp import _HIGHS_STATUS
    from p2psim.markets._lp_gurobi import _STATUS
    from p2psim.markets._lp_program import STATUSES

    assert _STATUS[11] == "interrupted" and _HIGHS_STATUS["kInterrupt"] == "interrupted"
    assert "interrupted" in STATUSES and "time_limit" not in {_STATUS[11], _HIGHS_STATUS["kInterrupt"]}


def test_after_a_gurobi_solve_ctrl_c_still_interrupts_a_wait(licensed, sigint_raises):
    # Gurobi leaves SIGINT registered with SA_RESTART after optimize; p2psim registers Python's handler again,
    # so a wait on a lock (a process pool's results) is cut short at once, not when the wait ends
    import threading

    from p2psim.markets._lp import solve
    from p2psim.markets.base import SolverOptions

    assert solve(market_split(n=12), SolverOptions(backend="gurobi")).backend == "gurobi"
    lock = threading.Lock()
    lock.acquire()
    threading.Timer(0.3, lambda: signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)).start()
    release = threading.Timer(8.0, lock.release)
    release.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        lock.acquire()
    release.cancel()
    assert time.monotonic() - started < 4
