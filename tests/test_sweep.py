"""``python -m p2psim sweep``: the grid, resumable row files, the Parquet table, bad input, Ray parity."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

import p2psim.batch.sweep as sweep_module
from p2psim.batch.sweep import (
    RunSpec,
    SweepError,
    build_grid,
    deterministic_columns,
    parse_seeds,
    parse_set,
    split_values,
    sweep,
)
from p2psim.cli import main

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "studies" / "tiny.py"
FEES = ("tariffs.p2p_fee_per_kwh", ["0.01", "0.03"])


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """The table without wall-clock timings (which differ between any two runs)."""
    return frame[deterministic_columns(frame.columns)].reset_index(drop=True)


# -- parsing ---------------------------------------------------------------------------------------


def test_values_split_on_top_level_commas_only():
    assert split_values("0.01,0.03") == ["0.01", "0.03"]
    assert split_values("(('low', 2.0), ('high', 1.0)),(('low', 1.0),)") == [
        "(('low', 2.0), ('high', 1.0))", "(('low', 1.0),)"]
    assert split_values("'a,b',c") == ["'a,b'", "c"]
    for bad in ("1,,2", "", "1,", "(1,2", "1)", "'open"):
        with pytest.raises(SweepError):
            split_values(bad, "x")


def test_set_and_seeds_parse_and_reject_malformed_input():
    assert parse_set(["tariffs.p2p_fee_per_kwh=0.01,0.03", "market=eqwm_v1"]) == [
        FEES, ("market", ["eqwm_v1"])]
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds("3-5,1,3") == [3, 4, 5, 1]
    for bad in (["days"], ["=1"], ["a..b=1"], ["days=1", "days=2"], ["seed=1,2"]):
        with pytest.raises(SweepError):
            parse_set(bad)
    for bad in ("x", "1,,2", "-1", "5-3", "4294967296"):
        with pytest.raises(SweepError):
            parse_seeds(bad)


def test_grid_is_the_cartesian_product_with_keys_on_the_study_content(tmp_path):
    import hashlib

    grid = build_grid([TINY, TINY.parent / "rural.py"], [FEES, ("days", ["1", "2"])], [0, 1])
    assert len(grid) == 2 * 2 * 2 * 2
    assert len({spec.key for spec in grid}) == len(grid)
    assert grid[0].study_sha256 == hashlib.sha256(TINY.read_bytes()).hexdigest()
    copy = tmp_path / "elsewhere.py"
    copy.write_bytes(TINY.read_bytes())
    again = build_grid([str(copy)], [FEES, ("days", ["1", "2"])], [0, 1])
    assert [s.key for s in again] == [s.key for s in grid[:8]]  # same content, settings, seed -> same key
    copy.write_bytes(TINY.read_bytes() + b"\n# edited\n")
    edited = build_grid([str(copy)], [FEES, ("days", ["1", "2"])], [0, 1])
    assert not {s.key for s in edited} & {s.key for s in grid}  # any edit: new keys
    spec = RunSpec(str(TINY.resolve()), (("days", "1"),), 0, "abc")
    assert spec.key == RunSpec("/moved/tiny.py", (("days", "1"),), 0, "abc").key != RunSpec(
        str(TINY.resolve()), (("days", "1"),), 1, "abc").key


# -- running ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep-local")
    rows, stats = sweep([TINY], [FEES], [0, 1], out=out, backend="local", workers=2, progress=False)
    return out, rows, stats


def test_local_sweep_writes_one_row_per_run(local_sweep):
    out, _, stats = local_sweep
    assert stats == {**stats, "total": 4, "skipped": 0, "ran": 4, "failed": 0}
    table = pd.read_parquet(out / "sweep.parquet")
    assert len(table) == 4 and (table.status == "ok").all()
    assert list(table.seed) == [0, 1, 0, 1]
    assert list(table["set.tariffs.p2p_fee_per_kwh"]) == ["0.01", "0.01", "0.03", "0.03"]
    assert [json.loads(s) for s in table.settings] == [{"tariffs.p2p_fee_per_kwh": v} for v in
                                                       ("0.01", "0.01", "0.03", "0.03")]
    for column in ("study", "market", "peak_reduction_pct", "cooperative_gain_per_day", "self_sufficiency_pct",
                   "solar_utilisation_pct", "gini_relative_benefit", "gini_relative_benefit_daily_first",
                   "gini_relative_benefit_daily_last",
                   "worst_class_saving_pct", "solve_time_s", "time_solve_max_s", "time_total_s",
                   "time_worker_s"):
        assert column in table.columns, column
    assert set(table.study) == {"tiny"} and set(table.market) == {"mid_market_rate_v1"}
    # a dearer P2P fee cannot raise the cooperative gain of the same community
    by_fee = table.groupby("set.tariffs.p2p_fee_per_kwh").cooperative_gain.mean()
    assert by_fee["0.03"] <= by_fee["0.01"]
    assert len(list((out / "rows").glob("*.json"))) == 4
    assert not list((out / "rows").glob(".*"))  # no temporary files left


def test_rerun_skips_finished_runs(local_sweep):
    out, _, _ = local_sweep
    before = pd.read_parquet(out / "sweep.parquet")
    _, stats = sweep([TINY], [FEES], [0, 1], out=out, backend="local", workers=2, progress=False)
    assert stats["skipped"] == 4 and stats["ran"] == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), before)
    # one more seed runs only the two new grid points
    _, stats = sweep([TINY], [FEES], [0, 1, 2], out=out, backend="local", workers=2, progress=False)
    assert stats["skipped"] == 4 and stats["ran"] == 2
    assert len(pd.read_parquet(out / "sweep.parquet")) == 6


def test_failed_run_is_reported_and_retried(tmp_path, capsys):
    # a transformer limit of 0.5 kW makes the day's EqWM clearing infeasible: found only by running it
    code = main(["sweep", str(TINY), "--set", "market=eqwm_v1", "--set", "transformer_limit_kw=None,0.5",
                 "--set", "allocation=false", "--set", "explain=false", "--seeds", "0", "--workers", "1",
                 "--out", str(tmp_path / "s"), "--no-progress"])
    assert code == 3
    table = pd.read_parquet(tmp_path / "s" / "sweep.parquet")
    assert list(table.status) == ["ok", "error"]
    assert "transformer limit of 0.5 kW" in table.loc[table.status == "error", "error"].iloc[0]
    assert len(list((tmp_path / "s" / "rows").glob("*.json"))) == 1  # only the good run is kept
    assert "failed" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--set", "tariffs.p2p_fe=0.01,0.03"], "p2p_fee_per_kwh"),
    (["--set", "tariffs.p2p_fee_per_kwh=0.01,,0.03"], "empty item"),
    (["--set", "tariffs.p2p_fee_per_kwh=abc"], "expected a number"),
    (["--set", "days"], "dotted.field="),
    (["--backend", "slurm"], "known: ['local', 'ray']"),
    (["--seeds", "0,x"], "is not a seed"),
    (["--set", "market=nosuch_v1"], "no market named"),
    (["--address", "127.0.0.1:6379"], "--backend ray"),
    (["--set", "interval_minutes=7,360"], "interval_minutes=7 must be a positive divisor of 1440"),
    (["--set", "solver.backend=highs,bogus"], "solver.backend='bogus' must be one of"),
    (["--seeds", "4294967296"], "must be a whole number from 0 to 4294967295"),
])
def test_bad_input_exits_2_with_one_message(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["sweep", str(TINY), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("p2psim: error:") and message in err and "Traceback" not in err
    assert err.count("p2psim: error:") == 1
    assert not out.exists()  # checked before any run


def test_ray_backend_without_ray_exits_2_with_the_fix(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert main(["sweep", str(TINY), "--backend", "ray", "--out", str(tmp_path / "out")]) == 2
    assert "pip install 'p2psim[ray]'" in capsys.readouterr().err


def test_worker_functions_are_importable():
    # the pool pickles the worker by reference: it must live at module level of an importable module
    for func in (sweep_module.run_one, sweep_module.run_task):
        assert func.__module__ == "p2psim.batch.sweep" and func.__qualname__ == func.__name__


def test_an_edited_study_is_swept_again_with_fresh_rows(tmp_path):
    study = tmp_path / "tiny.py"
    study.write_bytes(TINY.read_bytes())
    settings = [("allocation", ["false"]), ("explain", ["false"])]
    rows, stats = sweep([study], settings, [0], out=tmp_path / "s", progress=False)
    assert stats["ran"] == 1 and rows[0]["total_cost"] == pytest.approx(24.1)  # the hand-checked tiny total
    # hh-a's load doubles (1, 2, 2, 3 -> 2, 4, 4, 6 kW)
    study.write_text(study.read_text().replace("load_kw=np.array([1.0, 2.0, 2.0, 3.0])",
                                               "load_kw=np.array([2.0, 4.0, 4.0, 6.0])"))
    rows, stats = sweep([study], settings, [0], out=tmp_path / "s", progress=False)
    assert stats["skipped"] == 0 and stats["ran"] == 1
    from p2psim.config.study import apply_overrides, load_study
    from p2psim.runner import run

    fresh = run(apply_overrides(load_study(study), ["allocation=false", "explain=false"])).summary["total_cost"]
    assert rows[0]["total_cost"] == pytest.approx(fresh) and fresh > 24.1 + 1
    assert len(list((tmp_path / "s" / "rows").glob("*.json"))) == 2  # the stale row stays, unused
    assert pd.read_parquet(tmp_path / "s" / "sweep.parquet").total_cost.tolist() == pytest.approx([fresh])
