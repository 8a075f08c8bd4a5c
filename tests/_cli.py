"""Run ``python -m p2psim`` in a subprocess (the tests of the command line share these)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYTHON = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable


def default_signals() -> None:
    """Child set-up: SIGINT and SIGTERM at their defaults, even when the tests run as a background job
    (which ignores SIGINT, an ignoring its children inherit and p2psim keeps)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def start(args: list, cwd: Path = REPO) -> subprocess.Popen:
    """Start ``python -m p2psim ARGS`` in ``cwd`` (warnings shown), capturing its output as text."""
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    return subprocess.Popen([PYTHON, "-m", "p2psim", *map(str, args)], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=default_signals)


def finish(proc: subprocess.Popen, timeout: float = 600) -> subprocess.CompletedProcess:
    """Wait for ``proc`` (fail the test, with its stderr, if it takes longer than ``timeout`` seconds)."""
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        pytest.fail(f"{proc.args} did not finish within {timeout} s:\n{stderr[-2000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
