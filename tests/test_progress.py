"""The run's progress bar: its ETA by hand on a fake clock, and the stages a real run goes through."""

import pytest

import p2psim.runner.progress as progress_module
from p2psim.runner.progress import RunProgress, format_s


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(progress_module.time, "perf_counter", c)
    return c


def test_eta_uses_the_priors_then_rescales_them_then_the_measured_rate(clock):
    bar = RunProgress("x", [("simulation", 10, 1.0), ("allocation", 4, 5.0), ("explanation", 0, 9.0),
                            ("report", 1, 2.0)], enabled=False)
    assert [s.name for s in bar.stages] == ["simulation", "allocation", "report"]  # 0 units: skipped
    bar.stage("simulation")
    assert bar.eta_s() == pytest.approx(10 * 1 + 4 * 5 + 2)  # nothing measured: the priors (k = 1)
    clock.t += 4.0
    bar.advance(2)  # 2 days in 4 s: 2 s a day measured, k = 4 s / (2 x 1 s) = 2
    assert bar.scale() == pytest.approx(2.0)
    assert bar.eta_s() == pytest.approx(8 * 2.0 + 2 * (4 * 5 + 2))
    clock.t += 16.0
    bar.stage("allocation")  # simulation done: 20 s for 10 prior seconds, k = 2
    assert bar.eta_s() == pytest.approx(2 * (4 * 5 + 2))
    clock.t += 3.0
    bar.advance(1)  # the allocation's own rate now: 3 s a day
    assert bar.eta_s() == pytest.approx(3 * 3.0 + 2 * (23 / 15))  # k = (20 + 3) / (10 + 5)
    bar.stage("report")
    clock.t += 1.0
    bar.advance(1)
    assert bar.eta_s() == 0.0


def test_format():
    assert format_s(59.6) == "1:00" and format_s(3725) == "1:02:05" and format_s(-3) == "0:00"
