"""Nothing lost, through the real command line (subprocesses of ``python -m p2psim``).

- every writing command refuses a directory of user files (exit 2) and leaves it byte for byte;
- SIGINT and SIGTERM sent while a run or an explanation is staged (the staging directory has just
  appeared) exit 130 / 143, keep the previous output intact and leave no staging or lock behind;
- an interrupted sweep keeps its finished rows and stops its workers at once;
- two writers of one output: the second exits 2 naming the first (its pid).

Interrupted training (checkpoints kept, resumed without repeated episodes) is in tests/rl/test_train.py.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from p2psim.explain.synthetic import synthetic_run
from tests._cli import REPO, finish, start

TINY = str(REPO / "studies" / "tiny.py")
RURAL = str(REPO / "studies" / "rural.py")
POLICY = "feedback"
QUICK = ["--days", "1", "--set", "allocation=false", "--set", "explain=false"]


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file below ``directory`` (relative path -> bytes)."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def thesis(directory: Path) -> dict[str, bytes]:
    directory.mkdir(parents=True)
    (directory / "thesis.tex").write_text("\\chapter{Years of work}")
    (directory / "summary.md").write_text("my own summary, not evaluate's")
    (directory / "policy").mkdir()
    (directory / "policy" / "notes.txt").write_text("a folder train would write into")
    return snapshot(directory)


def wait_for(condition, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Poll ``condition()`` every 5 ms until it holds (fail if the process ends first)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"{proc.args} ended before the point to interrupt: {proc.communicate()[1][-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{proc.args}: the point to interrupt never came")
        time.sleep(0.005)


def staging_of(out: Path):
    return lambda: any(p.name.startswith(f".{out.name}.") and p.name.endswith(".staging")
                       for p in out.parent.iterdir())


# -- a directory of user files is never replaced --------------------------------------------------------

COMMANDS = {
    "run": [TINY, *QUICK],
    "pareto": ["pareto", TINY, "--days", "1", "--lambdas", "0,1"],
    "evaluate": ["evaluate", RURAL, "--policy", POLICY, "--seeds", "0", "--start-day", "200", "--days", "1"],
    "explain": ["explain"],
    "train": ["train", TINY, "--steps", "16", "--episode-days", "1", "--no-progress"],
    "sweep": ["sweep", TINY, "--set", "allocation=false", "--no-progress", "--workers", "1"],
}


@pytest.fixture(scope="module")
def refusals(tmp_path_factory):
    """Every writing command pointed at a thesis folder, all started at once: {command: (result, folder, files)}."""
    root = tmp_path_factory.mktemp("refusals")
    started = {}
    for command, args in COMMANDS.items():
        folder = root / command / "thesis"
        files = thesis(folder)
        argv = [*args, folder] if command == "explain" else [*args, "--out", folder]
        started[command] = (start(argv, root), folder, files)
    return {c: (finish(p), folder, files) for c, (p, folder, files) in started.items()}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_folder_of_user_files_is_refused_and_left_alone(refusals, command):
    proc, folder, files = refusals[command]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and proc.stderr.count("p2psim: error:") == 1
    assert str(folder) in proc.stderr and "did not write" in proc.stderr and "thesis.tex" in proc.stderr
    assert snapshot(folder) == files
    assert [p.name for p in folder.parent.iterdir()] == ["thesis"]  # no staging, lock or marker anywhere


# -- interrupted at a file-appearance point ----------------------------------------------------------------


@pytest.fixture(scope="module")
def previous_run(tmp_path_factory):
    """A complete tiny run (seed 0) to be replaced by interrupted runs."""
    root = tmp_path_factory.mktemp("previous")
    proc = finish(start([TINY, "--out", root / "run"], root))
    assert proc.returncode == 0, proc.stderr
    return root / "run"


@pytest.mark.parametrize(("signum", "status", "word"), [(signal.SIGINT, 130, "interrupted"),
                                                        (signal.SIGTERM, 143, "terminated (SIGTERM)")])
def test_an_interrupted_run_keeps_the_previous_output(previous_run, tmp_path, signum, status, word):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(previous_run, out)
    before = snapshot(out)
    proc = start([TINY, "--seed", "1", "--out", out], tmp_path)
    wait_for(staging_of(out), proc)  # the staging exists from before the simulation to the final rename
    proc.send_signal(signum)
    done = finish(proc)
    assert done.returncode == status, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert f"p2psim: {word}; " in done.stderr and f"{out} left as it was" in done.stderr
    assert snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging, no trash, no lock file


def test_a_terminated_explanation_keeps_the_run(tmp_path):
    run = synthetic_run(tmp_path / "run", driver="distance_km", days=5)
    before = snapshot(run)
    proc = start(["explain", run, "--target", "weighted_shapley"], tmp_path)
    wait_for(staging_of(run), proc)
    proc.send_signal(signal.SIGTERM)
    done = finish(proc)
    assert done.returncode == 143, done.stderr[-2000:]
    assert f"{run} left as it was" in done.stderr
    assert snapshot(run) == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (the sweep's forkserver and its workers), from /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie (a dead process its new parent has not reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to list the workers")
def test_an_interrupted_sweep_keeps_finished_rows_and_stops_its_workers(tmp_path):
    out = tmp_path / "sweep"
    args = ["sweep", TINY, "--seeds", "0-199", "--workers", "2", "--no-progress", "--out", out]
    proc = start(args, tmp_path)
    wait_for(lambda: len(list((out / "rows").glob("*.json"))) >= 2 if (out / "rows").exists() else False, proc)
    workers = _descendants(proc.pid)
    proc.send_signal(signal.SIGINT)
    stopped = time.monotonic()
    done = finish(proc)
    assert time.monotonic() - stopped < 10  # not the ~200 runs still to do
    assert done.returncode == 130, done.stderr[-2000:]
    rows = list((out / "rows").glob("*.json"))
    assert 2 <= len(rows) < 200
    assert f"{len(rows)} of the grid's 200 are kept in {out / 'rows'}" in done.stderr
    assert not (out / "sweep.parquet").exists()
    deadline = time.monotonic() + 5  # the pool's forkserver and resource tracker exit once the sweep has
    while any(map(_running, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = [pid for pid in workers if _running(pid)]
    assert not alive, f"workers still running: {alive}"


# -- one writer per output ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "train"])
def test_of_two_writers_started_together_the_second_exits_2_naming_the_first(tmp_path, command):
    out = tmp_path / "out"
    args = ([TINY, "--days", "1"] if command == "run"
            else ["train", TINY, "--steps", "256", "--episode-days", "1", "--no-progress"])
    procs = [start([*args, "--out", out], tmp_path) for _ in range(2)]
    done = [finish(p) for p in procs]
    assert sorted(d.returncode for d in done) == [0, 2], [d.stderr[-1000:] for d in done]
    winner, loser = (0, 1) if done[0].returncode == 0 else (1, 0)
    assert f"is being written by another p2psim process (pid {procs[winner].pid}, `p2psim " in done[loser].stderr
    assert (out / ("run.json" if command == "run" else "policy/policy.json")).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # the lock file is gone


def _sleep_then_return(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_an_interrupted_process_map_stops_its_workers_at_once(sigint_raises):
    import threading

    from p2psim.parallel import process_map

    assert process_map(_sleep_then_return, [0.0, 0.01], 2) == [0.0, 0.01]
    timer = threading.Timer(1.0, lambda: signal.pthread_kill(threading.main_thread().ident, signal.SIGINT))
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        process_map(_sleep_then_return, [30.0] * 6, 2)  # 90 s if the queued items still ran
    assert time.monotonic() - started < 10
