"""Bad input of long runs: a calendar past the data year, exits 2 before any work and names the fix."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def main_in_process(argv, capsys):
    from p2psim.cli import main

    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(("study", "args", "words"), [
    ("rural", ["--set", "start_day=1", "--days", "366"], ["start_day=1 with days=366",
                                                          "the last valid start day for 366 days is 0"]),
    ("rural", ["--set", "start_day=300", "--days", "100"], ["the last valid start day for 100 days is 266",
                                                            "--set start_day=266"]),
    ("rural", ["--days", "400"], ["days=400", "at most 366 days fit"]),
    ("heat_pumps", ["--days", "367"], ["days=367", "at most 366 days fit"]),
])
def test_days_past_the_data_year_exit_2_before_any_work(tmp_path, capsys, study, args, words):
    status, out, err = main_in_process([REPO / "studies" / f"{study}.py", *args, "--out", tmp_path / "o"], capsys)
    assert status == 2 and out == "", err
    assert err.startswith("p2psim: error:") and "Traceback" not in err
    for w in words:
        assert w in err, (w, err)
    assert not (tmp_path / "o").exists()
