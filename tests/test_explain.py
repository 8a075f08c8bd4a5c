"""Explanations: SHAP finds the known driver, additivity holds, days are held out, bad input fails clearly."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from p2psim.cli import main
from p2psim.errors import P2PSimError
from p2psim.explain import SECTION_TITLE, explain, explanation_markdown
from p2psim.explain.coordinator import NO_LOG_NOTE, explain_coordinator
from p2psim.explain.features import FEATURES, ExplanationInputError, build_samples
from p2psim.explain.surrogate import day_groups, fit_surrogate, heldout_predictions
from p2psim.explain.synthetic import synthetic_coordinator_log, synthetic_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return synthetic_run(tmp_path_factory.mktemp("synthetic") / "run", driver="distance_km", days=5)


@pytest.fixture(scope="module")
def samples(run_dir):
    return build_samples(run_dir)


@pytest.mark.parametrize("driver", ["distance_km", "battery_kwh"])
def test_shap_ranks_the_known_driver_first(tmp_path, driver):
    run = synthetic_run(tmp_path / "run", driver=driver, days=4, report=False)
    s = fit_surrogate(build_samples(run), "weighted_shapley", FEATURES)
    ranking = s.mean_abs()
    assert ranking.index[0] == driver
    assert ranking.iloc[0] > 5 * ranking.iloc[1]
    assert s.r2_heldout > 0.9


def test_shap_additivity_base_plus_sum_is_the_prediction(samples):
    s = fit_surrogate(samples, "weighted_shapley", FEATURES, seed=3)
    np.testing.assert_allclose(s.base_value + s.shap_values.sum(axis=1), s.samples.prediction, atol=1e-9)
    assert s.additivity_error < 1e-9
    long = s.frame()
    assert len(long) == len(s.samples) * len(FEATURES)
    per_sample = long.groupby(["day", "participant"]).shap.sum()
    np.testing.assert_allclose(per_sample.to_numpy() + s.base_value,
                               s.samples.set_index(["day", "participant"]).prediction.loc[per_sample.index])


def test_fidelity_holds_out_whole_days(samples):
    """A day's held-out predictions come from a model that never saw that day: changing its targets changes nothing."""
    groups = day_groups(samples)
    assert len(np.unique(groups)) == samples.day.nunique()
    x, y = samples[list(FEATURES)].to_numpy(), samples.market.to_numpy()
    before, folds = heldout_predictions(x, y, groups)
    day0 = (samples.day == samples.day.min()).to_numpy()
    after, _ = heldout_predictions(x, np.where(day0, y + 100.0, y), groups)
    assert folds == 5
    np.testing.assert_array_equal(before[day0], after[day0])
    assert not np.allclose(before[~day0], after[~day0])


def test_several_runs_keep_their_days_apart(run_dir, tmp_path):
    other = synthetic_run(tmp_path / "other", driver="distance_km", days=3, seed=1, report=False)
    exp = explain([run_dir, other], targets=["weighted_shapley"])
    s = exp.primary
    assert s.n_days == 5 + 3
    assert s.mean_abs().index[0] == "distance_km"


def test_deterministic(samples):
    a = fit_surrogate(samples, "market", FEATURES, seed=0)
    b = fit_surrogate(samples, "market", FEATURES, seed=0)
    np.testing.assert_array_equal(a.shap_values, b.shap_values)
    assert a.r2_heldout == b.r2_heldout


def test_run_without_allocations_says_what_to_run(tmp_path):
    run = synthetic_run(tmp_path / "run", allocation=False, report=False)
    with pytest.raises(ExplanationInputError, match=r"allocation.*python -m p2psim"):
        explain(run, targets=["weighted_shapley"])
    assert isinstance(ExplanationInputError("x"), P2PSimError)
    # the market settlement still explains; the default picks what the run has
    assert list(explain(run).surrogates) == ["market", "normalised"]


def test_too_few_days_says_what_to_run(tmp_path):
    run = synthetic_run(tmp_path / "run", days=2, report=False)
    with pytest.raises(ExplanationInputError, match=r"at least 3 days.*--days 7"):
        explain(run)


def test_cli_exit_status_2_on_bad_input(tmp_path, capsys):
    run = synthetic_run(tmp_path / "run", allocation=False)
    assert main(["explain", str(run)]) == 2
    err = capsys.readouterr().err
    assert "allocation_daily.parquet" in err and "python -m p2psim" in err and "Traceback" not in err
    assert main(["explain", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    short = synthetic_run(tmp_path / "short", days=2)
    assert main(["explain", str(short)]) == 2
    assert "at least 3 days" in capsys.readouterr().err


def test_cli_reexplains_in_place(run_dir, capsys):
    before = {p.name for p in run_dir.parent.iterdir()}
    (run_dir / "coordinator.parquet").unlink(missing_ok=True)
    args = ["explain", str(run_dir), "--target", "weighted_shapley", "--target", "market"]
    assert main(args) == 0
    assert "held-out R^2" in capsys.readouterr().out
    for name in ("explain_samples.parquet", "explain_shap.parquet", "explain_fidelity.parquet",
                 "explain_beeswarm.png", "explain_classes.png", "explain_waterfall_worst-off.png", "report.html"):
        assert (run_dir / name).exists(), name
    assert {p.name for p in run_dir.parent.iterdir()} == before  # no staging or trash left behind
    markdown = (run_dir / "report.md").read_text()
    assert f"## {SECTION_TITLE}" in markdown and "held-out days" in markdown
    assert markdown.count(f"## {SECTION_TITLE}") == 1
    first = markdown
    assert main(args) == 0  # again: replaced, not appended, and identical
    assert (run_dir / "report.md").read_text() == first
    sections = json.loads((run_dir / "report_sections.json").read_text())
    assert [s["title"] for s in sections] == [SECTION_TITLE]
    fidelity = pd.read_parquet(run_dir / "explain_fidelity.parquet")
    assert set(fidelity.target) == {"weighted_shapley", "market"}


def test_low_fidelity_is_flagged(samples, tmp_path):
    noisy = samples.assign(market=np.random.default_rng(0).normal(size=len(samples)))
    s = fit_surrogate(noisy, "market", FEATURES)
    assert s.poor and "Warning" in s.fidelity_text() and "Warning" in s.fidelity_short()
    exp = explain(synthetic_run(tmp_path / "run", days=4, report=False), targets=["weighted_shapley"])
    exp.surrogates = {"market": s, **exp.surrogates}
    text, _ = explanation_markdown(exp, tmp_path)
    assert "Warning" in text and "(low fidelity)" in text


def test_class_paragraphs_name_the_driver(run_dir):
    exp = explain(run_dir, targets=["weighted_shapley"])
    text, pngs = explanation_markdown(exp, run_dir)
    assert "Low-income households" in text and "feeder distance" in text
    assert all(p.exists() for p in pngs) and len(pngs) >= 4


def test_coordinator_weight_changes_are_explained():
    surrogates, _ = explain_coordinator(synthetic_coordinator_log(days=30))
    assert surrogates["delta_weight_low"].mean_abs().index[0] == "obs_gini"
    assert surrogates["delta_weight_low"].r2_heldout > 0.8
    assert explain_coordinator(None) == ({}, [NO_LOG_NOTE])


def test_coordinator_log_in_run_directory(tmp_path):
    run = synthetic_run(tmp_path / "run", days=4, report=False)
    synthetic_coordinator_log(days=20).to_parquet(run / "coordinator.parquet")
    exp = explain(run, targets=["weighted_shapley"])
    assert "delta_weight_low" in exp.coordinator
    text, pngs = explanation_markdown(exp, tmp_path)
    assert "obs_gini" in text and any(p.name == "explain_coordinator.png" for p in pngs)
