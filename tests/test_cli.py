"""The command line in a subprocess: every study runs; bad input exits 2 with one message and no output.

Also the golden report of the tiny study (tests/golden/tiny.md). To regenerate it after a deliberate
change, check the new numbers by hand against the tiny hand check (test_baseline_rules.py) and run

    P2PSIM_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_cli.py -k golden -p no:cacheprovider
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from p2psim.markets import MARKETS

from tests._cli import REPO, finish, start

TINY = REPO / "studies" / "tiny.py"
GOLDEN = Path(__file__).resolve().parent / "golden" / "tiny.md"
STUDY_FILES = sorted((REPO / "studies").glob("*.py"))
# until eqwm_v1 is registered, run every study with a baseline rule
MARKET_ARGS = [] if "eqwm_v1" in MARKETS else ["--market", "mid_market_rate_v1"]
SUMMARY_KEYS = {"peak_reduction_pct", "self_sufficiency_pct", "solar_utilisation_pct", "total_cost",
                "gini_relative_benefit", "min_relative_saving_pct", "per_class"}
RUN_FILES = {"summary.json", "trades.parquet", "dispatch.parquet", "bills.parquet", "run.json", "report.html",
             "report.md"}


# -- good runs ----------------------------------------------------------------------------------------


# Studies whose one-day run costs more than ~6 s of CPU (large SimBench grids, EqWM, allocation) run only
# with -m slow; every other study file, including new ones, runs in the default suite.
HEAVY_STUDIES = {"urban", "ev_evening", "mixed_income", "winter", "semiurban", "heat_pumps"}
STUDY_PARAMS = [
    pytest.param(p.stem, marks=[pytest.mark.slow]) if p.stem in HEAVY_STUDIES else p.stem
    for p in STUDY_FILES
]


@pytest.fixture(scope="module")
def study_runs(cli_runs):
    """The default-suite studies with --days 1; {stem: (completed process, out dir)}."""
    return cli_runs["studies"]


def _study_run(stem, study_runs, tmp_path):
    if stem in study_runs:
        return study_runs[stem]
    path = REPO / "studies" / f"{stem}.py"
    return finish(start([path, "--days", "1", "--out", tmp_path / stem, *MARKET_ARGS]), timeout=1800), tmp_path / stem


def test_the_example_studies_exist():
    assert {"tiny", "rural"} <= {p.stem for p in STUDY_FILES}


@pytest.mark.parametrize("stem", STUDY_PARAMS)
def test_every_study_runs_for_one_day(study_runs, stem, tmp_path):
    proc, out = _study_run(stem, study_runs, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert {p.name for p in out.iterdir()} >= RUN_FILES
    summary = json.loads((out / "summary.json").read_text())
    assert summary.keys() >= SUMMARY_KEYS
    assert summary["days"] == 1.0
    assert isinstance(summary["per_class"], dict) and summary["per_class"]
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["study"] == stem and run_json["seed"] == 0
    assert {"versions", "timings_s", "solver_records", "market", "settings"} <= run_json.keys()
    assert run_json["versions"]["p2psim"] != "not installed"
    dispatch = pd.read_parquet(out / "dispatch.parquet")
    bills = pd.read_parquet(out / "bills.parquet")
    assert dispatch.day.unique().tolist() == [0] and bills.day.unique().tolist() == [0]
    assert summary["total_cost"] == pytest.approx(bills.bill.sum())
    pd.read_parquet(out / "trades.parquet")
    html = (out / "report.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html>") and "data:image/png;base64," in html
    assert "Summary" in (out / "report.md").read_text()
    # nothing but the run directory in its parent (no staging leftovers)
    assert not [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    assert f"-> {out}" in proc.stdout


def test_tiny_summary_by_hand(study_runs):
    proc, out = study_runs["tiny"]
    summary = json.loads((out / "summary.json").read_text())
    # see test_baseline_rules.py / test_model.py: 24.1 in total, 42/102 self-sufficiency, no peak reduction
    assert summary["total_cost"] == pytest.approx(24.1)
    assert summary["self_sufficiency_pct"] == pytest.approx(100 * 42 / 102)
    assert summary["solar_utilisation_pct"] == pytest.approx(100.0)
    assert summary["peak_reduction_pct"] == pytest.approx(0.0, abs=1e-9)
    assert set(summary["per_class"]) == {"low", "middle", "high"}
    bills = pd.read_parquet(out / "bills.parquet").set_index("participant").bill
    assert bills.to_dict() == pytest.approx({"hh-a": 16.34, "hh-b": -1.30, "hh-c": 9.06})
    assert "total_cost" in proc.stdout and "24.100" in proc.stdout


def test_golden_report(study_runs):
    _, out = study_runs["tiny"]
    report = (out / "report.md").read_text()
    if os.environ.get("P2PSIM_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(report)
    assert GOLDEN.exists(), "no golden file: run with P2PSIM_UPDATE_GOLDEN=1 after checking the numbers by hand"
    assert report == GOLDEN.read_text()


def test_golden_report_holds_the_hand_numbers():
    # the golden file itself carries the hand-checked tiny numbers (guards against a careless regeneration).
    # Market side: test_baseline_rules.py. Stand-alone (grid_only_v1, each alone, LP optimum, each paying the
    # demand charge 0.5 on its OWN peak, as in the game's c({i})): hh-a 6 * (0.3 * 5 + 0.4 * 3) + 0.5 * 3 = 17.70;
    # hh-b 6 * (0.3 + 0.4) - 6 * 0.1 * 5 + 0.5 * 1 = 1.70; hh-c charges its 6 kWh before 18:00 (peak 2 kW) and
    # covers its 1 kW at 18-24: 6 * 0.3 * (1 + 1 + 2 + 1) + 0.5 * 2 = 10.00 -> total 29.40 and a gain of
    # 29.40 - 24.10 = 5.30. The stand-alone community imports 3 + 1 + 0 = 4 kW at 18-24: -25 % vs stand-alone.
    # Need (load at import prices + own load peak): hh-a 17.70, hh-b 6 * 1.3 + 0.5 = 8.30, hh-c 6 * 1.6 + 1 = 10.60;
    # relative benefit 1.36 / 17.7 = 0.08, 3.00 / 8.3 = 0.36, 0.94 / 10.6 = 0.09. hh-b, a net exporter (bill
    # -1.30), has energy burden 0 and earns 1.30. Renewable access of hh-a: pool 17 of 48 kWh = 35.42 %.
    # Shapley of the day-ahead game (gains v(ab) = 4.32, v(ac) = 0.5, v(bc) = 4.82, v(abc) = 29.4 - 23.0 = 6.4):
    #   hh-a 4.32/6 + 0.5/6 + (6.4 - 4.82)/3 = 1.33 -> worst saving 1.33 / 17.7 = 7.5 %.
    text = GOLDEN.read_text()
    for row in ("| hh-a | household | low | 0.00 | 0.00 | 16.34 | 17.70 | 1.36 | 17.70 | 0.08 | 39.76 | 0.00 | 0.35 |",
                "| hh-b | household | high | 5.00 | 0.00 | -1.30 | 1.70 | 3.00 | 8.30 | 0.36 | 0.00 | 1.30 | 0.50 |",
                "| hh-c | household | middle | 0.00 | 6.00 | 9.06 | 10.00 | 0.94 | 10.60 | 0.09 |",
                "| Community total cost (EUR) | 24.10 |", "| Cooperative gain (EUR) | 5.30 |",
                "| Stand-alone total cost (EUR) | 29.40 |", "| Peak reduction vs stand-alone (%) | -25.00 |",
                "| Self-sufficiency: consumption not of grid origin (%) | 41.18 |",
                "| Energy traded in the pool (kWh) | 30.00 |",
                "| Solar utilisation (%) | 100.00 |", "| Peak reduction vs raw load (%) | 0.00 |",
                "| shapley | 6.40 | 0.357 | 0.677 | 7.5 | 0 | -0.250; exact | 0; 0 of 6 | yes |"):
        assert row in text, row


# -- bad input ----------------------------------------------------------------------------------------

SCENARIO_TEMPLATE = """\
import runpy
from dataclasses import replace

import numpy as np

tiny = runpy.run_path({tiny!r})
a, b, c = tiny["PARTICIPANTS"]
PARTICIPANTS = {participants}
STUDY = replace(tiny["STUDY"], name="bad", community=replace(tiny["STUDY"].community, participants=PARTICIPANTS))
"""

SCENARIO_CASES = {
    "unknown_bus": ('(replace(a, bus="b9"), b, c)', ["'hh-a'", "'b9'", "add it to the feeder"]),
    "negative_capacity": ("(a, b, replace(c, battery=replace(c.battery, capacity_kwh=-6.0)))",
                          ["'hh-c'", "battery.capacity_kwh=-6.0", ">= 0"]),
    "soc_inverted": ("(a, b, replace(c, battery=replace(c.battery, min_soc=0.9, max_soc=0.2)))",
                     ["'hh-c'", "min_soc=0.9", "max_soc=0.2", "swap"]),
    "nan_profile": ("(replace(a, load_kw=np.array([1.0, np.nan, 2.0, 3.0])), b, c)",
                    ["'hh-a'", "load_kw", "NaN", "interval 1", "fill the gap"]),
    "wrong_length": ("(a, replace(b, pv_kw=np.zeros(3)), c)", ["'hh-b'", "pv_kw", "(3,)", "(4,)"]),
}

OTHER_CASES = {
    "missing_file": (None, [], ["does not exist", "missing.py"]),
    "syntax_error": ("from p2psim import Study\nSTUDY = Study(name='x',\n", [],
                     ["syntax_error.py", "syntax error at line"]),
    "no_study": ("X = 1\n", [], ["no_study.py", "no STUDY constant", "STUDY = Study(...)"]),
    "unknown_market": (TINY, ["--market", "eqwn_v1"],
                       ["no market named 'eqwn_v1'", *(["did you mean 'eqwm_v1'?"] if "eqwm_v1" in MARKETS else [])]),
    "unknown_field": (TINY, ["--set", "tariffs.p2p_fee_per_kw=0.03"],
                      ["--set tariffs.p2p_fee_per_kw", "'p2p_fee_per_kw'", "did you mean 'p2p_fee_per_kwh'?"]),
    "unknown_settlement_rule": (TINY, ["--set", "settlement_rule=shaply"],
                                ["settlement_rule='shaply' is not a settlement rule", "market, shapley, "
                                 "weighted_shapley, owen, equitable_core, nucleolus, equal_split, proportional"]),
    # the exact nucleolus at n = 100 (ev_evening): refused before the simulation, naming the limit and the way out
    "settlement_rule_beyond_its_size": (REPO / "studies" / "ev_evening.py", ["--set", "settlement_rule=nucleolus"],
                                        ["settlement_rule='nucleolus' settles communities of at most 10 members",
                                         "this one has 100", "--set settlement_rule=equitable_core"]),
}

BAD_CASES = sorted([*SCENARIO_CASES, *OTHER_CASES])


def _start_bad_case(case: str, folder: Path):
    folder.mkdir()
    out = folder / "outputs" / "run"
    if case in SCENARIO_CASES:
        study = folder / f"{case}.py"
        study.write_text(SCENARIO_TEMPLATE.format(tiny=str(TINY), participants=SCENARIO_CASES[case][0]))
        args = [study]
    else:
        source, args, _ = OTHER_CASES[case]
        if source is None:
            study = folder / "missing.py"
        elif isinstance(source, Path):
            study = source
        else:
            study = folder / f"{case}.py"
            study.write_text(source)
        args = [study, *args]
    return start([*args, "--out", out]), out


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """Every subprocess of this module, started at once (they are independent) and then awaited:
    {"studies": {stem: (completed, out)}, "bad": {case: (completed, out)}}."""
    runs, bad = tmp_path_factory.mktemp("runs"), tmp_path_factory.mktemp("bad")
    light = [p for p in STUDY_FILES if p.stem not in HEAVY_STUDIES]
    studies = {p.stem: (start([p, "--days", "1", "--out", runs / p.stem, *MARKET_ARGS]), runs / p.stem) for p in light}
    cases = {case: _start_bad_case(case, bad / case) for case in BAD_CASES}
    return {"studies": {stem: (finish(proc), out) for stem, (proc, out) in studies.items()},
            "bad": {case: (finish(proc), out) for case, (proc, out) in cases.items()}}


@pytest.fixture(scope="module")
def bad_runs(cli_runs):
    return cli_runs["bad"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_exits_2_with_one_message_and_no_output(bad_runs, case):
    proc, out = bad_runs[case]
    expected = SCENARIO_CASES[case][1] if case in SCENARIO_CASES else OTHER_CASES[case][2]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("p2psim: error: "), proc.stderr
    assert proc.stderr.count("p2psim: error:") == 1
    for words in expected:
        assert words in proc.stderr, (words, proc.stderr)
    assert proc.stdout == ""
    # nothing written: neither the run directory nor a hidden staging sibling
    assert not out.exists()
    parent = out.parent
    assert not parent.exists() or not [p.name for p in parent.iterdir() if p.name.startswith(".run.")]


# -- more bad input, in process (cheaper than a subprocess; same entry point) -----------------------------


def main_in_process(argv, capsys):
    from p2psim.cli import main

    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_scenario_error_lists_every_problem_in_one_message(tmp_path, capsys):
    study = tmp_path / "many.py"
    study.write_text(SCENARIO_TEMPLATE.format(
        tiny=str(TINY),
        participants='(replace(a, bus="b9"), replace(b, pv_kw=np.zeros(3)), '
                     "replace(c, battery=replace(c.battery, capacity_kwh=-6.0, min_soc=0.9, max_soc=0.2)))"))
    status, out, err = main_in_process([study, "--out", tmp_path / "out"], capsys)
    assert status == 2 and out == ""
    assert err.startswith("p2psim: error: the scenario has 4 problem(s):")
    for words in ("'b9'", "pv_kw has shape (3,)", "capacity_kwh=-6.0", "swap"):
        assert words in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "words"), [
    (["--market", "mid_markt_rate_v1"], ["no market named 'mid_markt_rate_v1'", "did you mean 'mid_market_rate_v1'?"]),
    (["--days", "0"], ["--days 0", ">= 1"]),
    (["--set", "days=two"], ["--set days='two'", "expected a number"]),
    (["--set", "tarifs.p2p_fee_per_kwh=0.03"], ["did you mean 'tariffs'?"]),
    (["--set", "tariffs.p2p_fee_per_kwh=-1"], ["tariffs.p2p_fee_per_kwh=-1.0 must be finite and >= 0"]),
    (["--set", "class_weights=5"], ["class_weights=5 must be (name, value) pairs", "(('low', 2.0),"]),
    (["--set", "class_weights=(('low', -1.0),)"], ["class_weights['low']=-1.0 must be > 0"]),
    (["--set", "community.max_participants=abc", "--study", "rural"], ["community.max_participants='abc'",
                                                                       "whole number or None"]),
    (["--set", "community.home_battery=5", "--study", "rural"], ["community.home_battery=5 must be a BatterySpec",
                                                                 "--set community.home_battery.capacity_kwh="]),
    (["--set", "community.community_battery.capacity_kwh=-3", "--study", "rural"],
     ["community.community_battery: battery.capacity_kwh=-3.0 must be finite and >= 0"]),
    (["--set", "market=eqwm_v1", "--set", "market_options=(('p2p_prcie', 0.2),)"],
     ["no option of eqwm_v1 named 'p2p_prcie'", "did you mean 'p2p_price'?"]),
    (["--set", "market=eqwm_v1", "--set", "market_options=(('p2p_price', 'abc'),)"],
     ["market_options p2p_price='abc' must be None, one price >= 0 per kWh, or 4 of them"]),
    (["--set", "market_options=(('p2p_price', 0.2),)"], ["no option of mid_market_rate_v1 named 'p2p_price'"]),
    (["--set", "solver.backend=bogus"], ["solver.backend='bogus' must be one of 'auto', 'highs', 'gurobi'"]),
    (["--set", "equity.use_binaries=bogus"], ["equity.use_binaries='bogus' must be one of 'auto', 'always'"]),
    (["--set", "equity.rawlsian_weight=nan"], ["equity.rawlsian_weight=nan must be a finite number"]),
    (["--set", "solver.threads=0"], ["solver.threads=0 must be >= 1"]),
    (["--set", "name=../escape"], ["name='../escape' must be a non-empty name without '/'"]),
    (["--set", "tariffs.import_price_per_kwh=(0.3, 0.4)"], ["24 finite hourly prices, or one number for a flat"]),
    (["--seed", "4294967296"], ["--seed 4294967296 must be a whole number from 0 to 4294967295"]),
])
def test_more_bad_input_in_process(tmp_path, capsys, args, words):
    study = TINY
    if "--study" in args:  # a SimBench study: its community fields are checked before any grid loads
        study, args = REPO / "studies" / f"{args[-1]}.py", args[:-2]
    status, out, err = main_in_process([study, *args, "--out", tmp_path / "out"], capsys)
    assert status == 2 and out == "", err
    assert err.count("p2psim: error:") == 1
    for w in words:
        assert w in err, (w, err)
    assert not (tmp_path / "out").exists()


FAST = ["--days", "1", "--set", "allocation=false", "--set", "explain=false", "--no-report"]


def test_a_flat_tariff_is_one_number(tmp_path, capsys):
    status, _, err = main_in_process([TINY, *FAST, "--set", "tariffs.import_price_per_kwh=0.3",
                                        "--out", tmp_path / "out"], capsys)
    assert status == 0, err
    settings = json.loads((tmp_path / "out" / "run.json").read_text())["settings"]
    assert settings["tariffs"]["import_price_per_kwh"] == [0.3] * 24


def test_a_study_that_exits_is_an_error_not_a_silent_success(tmp_path, capsys):
    study = tmp_path / "exits.py"
    study.write_text("import sys\nsys.exit(0)\n")
    status, _, err = main_in_process([study, "--out", tmp_path / "out"], capsys)
    assert status == 2 and "called sys.exit(0) while loading" in err and not (tmp_path / "out").exists()


def test_help_lists_every_sub_command_and_the_exit_statuses(capsys):
    from p2psim.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for name in ("pareto", "sweep", "train", "evaluate", "explain"):
        assert f"\n  {name} " in text, name
    assert "130 interrupted" in text and "143 terminated" in text


def test_pareto_rejects_lambdas_that_are_not_finite(tmp_path, capsys):
    for lambdas in ("nan,1", "inf", "-1,0"):
        status, _, err = main_in_process(["pareto", TINY, f"--lambdas={lambdas}", "--out", tmp_path / "p"], capsys)
        assert status == 2 and "finite numbers >= 0" in err, err
    assert not (tmp_path / "p").exists()


# -- atomic writing (in process) -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_result(tiny_study):
    from p2psim.runner import run

    return run(replace(tiny_study, market="mid_market_rate_v1"))


def test_write_run_failure_leaves_nothing(tiny_result, tmp_path):
    from p2psim.runner import write_run

    def broken_writer(result, directory):
        (directory / "partial.txt").write_text("half")
        raise RuntimeError("disk full")

    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="disk full"):
        write_run(tiny_result, out, report=False, writers=(broken_writer,))
    assert list(tmp_path.iterdir()) == []


def test_write_run_replaces_an_old_run_it_wrote_and_nothing_else(tiny_result, tmp_path):
    from p2psim.errors import OutputError
    from p2psim.runner import write_run

    out = tmp_path / "run"
    write_run(tiny_result, out, report=False)
    (out / "bills.parquet").write_text("an older table")
    write_run(tiny_result, out, report=False)
    names = {p.name for p in out.iterdir()}
    assert {"summary.json", "dispatch.parquet", "run.json", ".p2psim-output.json"} <= names
    pd.read_parquet(out / "bills.parquet")  # replaced
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "stale.txt").write_text("old")
    with pytest.raises(OutputError, match="holds files p2psim did not write"):
        write_run(tiny_result, mine, report=False)
    assert [p.name for p in mine.iterdir()] == ["stale.txt"]


def test_run_json_timings_add_up_and_the_printed_time_is_the_wall_time(study_runs):
    proc, out = study_runs["tiny"]
    timings = json.loads((out / "run.json").read_text())["timings_s"]
    assert list(timings)[-1] == "total_s"
    stages = {k: v for k, v in timings.items() if k != "total_s"}
    assert {"build_scenario_s", "simulate_s", "allocation_s", "explanation_s", "write_s"} <= stages.keys()
    assert timings["total_s"] >= sum(stages.values())  # measured from the start, so never less than its parts
    printed = float(proc.stdout.split("finished in ")[1].split()[0])
    assert printed >= round(sum(stages.values()), 1) - 0.05
    assert "stages (s): build_scenario" in proc.stdout


# -- bad input that escapes as a traceback (library bugs, see the reasons) ------------------------------


def test_zero_interval_is_bad_input(tmp_path, capsys):
    status, _, err = main_in_process([TINY, "--set", "interval_minutes=0", "--out", tmp_path / "o"], capsys)
    assert status == 2 and "interval_minutes=0" in err


def test_negative_interval_is_bad_input(tmp_path, capsys):
    status, _, err = main_in_process([TINY, "--set", "interval_minutes=-360", "--out", tmp_path / "o"], capsys)
    assert status == 2
    assert "interval_minutes=-360" in err


def test_negative_seed_is_bad_input(tmp_path, capsys):
    status, _, err = main_in_process([TINY, "--seed", "-1", "--out", tmp_path / "o"], capsys)
    assert status == 2 and "seed" in err


def test_wrong_literal_type_is_bad_input(tmp_path, capsys):
    status, _, err = main_in_process([TINY, "--set", "market_options=5", "--out", tmp_path / "o"], capsys)
    assert status == 2 and "market_options" in err


def test_negative_forecast_error_is_bad_input(tmp_path, capsys):
    status, _, err = main_in_process([TINY, "--set", "forecast_error=-0.1", "--out", tmp_path / "o"], capsys)
    assert status == 2 and "forecast_error" in err
