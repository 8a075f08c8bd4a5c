"""The efficiency-equity front of EqWM over the Rawlsian weight."""

from __future__ import annotations

import numpy as np

from p2psim.batch.pareto import pareto_front, plot_pareto
from tests.markets._books import make_context, random_book


def test_front_is_monotone_and_plots(tmp_path) -> None:
    book, feeder = random_book(2, n=8, horizon=12, class_weight=np.linspace(0.7, 1.5, 8))
    frame = pareto_front(book, make_context(feeder), rawlsian_weights=(0.0, 1.0, 10.0, 100.0))
    assert list(frame.columns[:4]) == ["rawlsian_weight", "community_cost", "worst_off_normalised_benefit",
                                       "gini_relative_benefit"]
    assert (np.diff(frame.worst_off_normalised_benefit) >= -1e-6).all()
    assert not frame.dominated.iloc[-1]
    out = plot_pareto(frame, tmp_path / "front.png")
    assert out.exists() and out.stat().st_size > 1000
