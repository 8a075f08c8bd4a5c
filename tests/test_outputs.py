"""Output safety in process: atomic files, staged directories, the marker, the refusals, the lock.

Every refusal is checked on a real directory of user files: the command raises OutputError (exit 2)
naming the path, and every user file is byte-for-byte where it was.
"""

import os
import stat
from pathlib import Path

import pytest

from p2psim.errors import OutputError
from p2psim.outputs import MARKER, check_out, read_marker, write_text_atomic
from p2psim.outputs.locking import OutputLock, lock_path
from p2psim.outputs.staging import output_directory, owned_directory


def user_files(directory: Path) -> dict[str, bytes]:
    """A directory of a user's files (their thesis); returns name -> bytes to compare later."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {"thesis.tex": b"\\chapter{Years of work}", "data.csv": b"a,b\n1,2\n"}
    for name, data in files.items():
        (directory / name).write_bytes(data)
    (directory / "figures").mkdir(exist_ok=True)
    (directory / "figures" / "plot.png").write_bytes(b"\x89PNG")
    return {**files, "figures/plot.png": b"\x89PNG"}


def untouched(directory: Path, files: dict[str, bytes]) -> bool:
    return all((directory / name).read_bytes() == data for name, data in files.items())


def staged_run(out, command="run", text="new", **kwargs):
    with output_directory(out, command, **kwargs) as staging:
        (staging / "summary.json").write_text(text)


# -- atomic files -----------------------------------------------------------------------------------


def test_write_text_atomic_replaces_the_file_whole(tmp_path):
    path = write_text_atomic(tmp_path / "results" / "table.md", "old\n")
    assert path.read_text() == "old\n"
    write_text_atomic(path, "new\n")
    assert path.read_text() == "new\n"
    assert [p.name for p in path.parent.iterdir()] == ["table.md"]  # no temporary sibling left
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~current_umask()  # not mkstemp's 0600


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = write_text_atomic(tmp_path / "table.md", "old\n")
    monkeypatch.setattr("os.replace", lambda *_: (_ for _ in ()).throw(OSError("rename failed")))
    with pytest.raises(OSError, match="rename failed"):
        write_text_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.md"]


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# -- staged directories -------------------------------------------------------------------------------


def test_new_output_is_marked_and_gets_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        staged_run(tmp_path / "a" / "run")
    finally:
        os.umask(old)
    out = tmp_path / "a" / "run"
    marker = read_marker(out)
    assert marker["command"] == "run" and marker["files"] == ["summary.json"] and marker["p2psim_version"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o750  # 0o777 & ~0o027, not mkdtemp's 0700
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]  # no staging, trash or lock file left
    assert sorted(p.name for p in out.parent.iterdir()) == ["run"]


def test_failed_staging_keeps_the_previous_output(tmp_path):
    out = tmp_path / "run"
    staged_run(out, text="first")
    with pytest.raises(RuntimeError) as info, output_directory(out, "run") as staging:
        (staging / "summary.json").write_text("second")
        raise RuntimeError("interrupted")
    assert (out / "summary.json").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert info.value.__notes__ == [f"{out} left as it was"]


def test_failure_in_a_new_parent_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError) as info, output_directory(tmp_path / "x" / "y" / "run", "run"):
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []  # the parents it created are gone too
    assert info.value.__notes__ == [f"nothing written to {tmp_path / 'x' / 'y' / 'run'}"]


def test_a_marked_output_is_replaced_an_empty_directory_adopted(tmp_path):
    out = tmp_path / "run"
    staged_run(out, text="first")
    staged_run(out, text="second")
    assert (out / "summary.json").read_text() == "second"
    (tmp_path / "empty").mkdir()
    staged_run(tmp_path / "empty")
    assert read_marker(tmp_path / "empty")["command"] == "run"


@pytest.mark.parametrize("command", ["run", "pareto", "evaluate"])
def test_a_directory_of_user_files_is_refused(tmp_path, command):
    files = user_files(tmp_path / "thesis")
    with pytest.raises(OutputError, match=r"'.*thesis' already exists and holds files p2psim did not write"):
        staged_run(tmp_path / "thesis", command)
    assert untouched(tmp_path / "thesis", files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"]


def test_a_user_file_added_to_a_marked_output_is_refused(tmp_path):
    out = tmp_path / "run"
    staged_run(out)
    (out / "notes.md").write_text("mine")
    with pytest.raises(OutputError, match=r"holds files p2psim did not write \(notes.md\)"):
        staged_run(out, text="second")
    assert (out / "notes.md").read_text() == "mine" and (out / "summary.json").read_text() == "new"


def test_a_file_written_into_the_output_during_the_run_is_kept(tmp_path):
    out = tmp_path / "run"
    staged_run(out, text="first")
    with pytest.raises(OutputError, match="complete in") as info, output_directory(out, "run") as staging:
        (staging / "summary.json").write_text("second")
        (out / "notes.md").write_text("written meanwhile")
    assert (out / "notes.md").read_text() == "written meanwhile" and (out / "summary.json").read_text() == "first"
    parked = [p for p in tmp_path.iterdir() if p.name.startswith("run.new-")]
    assert len(parked) == 1 and (parked[0] / "summary.json").read_text() == "second"
    assert str(parked[0]) in str(info.value)


def test_files_links_and_paths_below_files_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("keep")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    for out, words in ((tmp_path / "notes.txt", "is a file"), (tmp_path / "link", "symbolic link"),
                       (tmp_path / "notes.txt" / "run", "lies below")):
        with pytest.raises(OutputError, match=words):
            staged_run(out)
    assert (tmp_path / "notes.txt").read_text() == "keep" and (tmp_path / "link").is_symlink()
    assert list((tmp_path / "real").iterdir()) == []


def test_the_current_directory_its_ancestors_and_inputs_are_refused(tmp_path, monkeypatch):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    for out in (".", "..", str(tmp_path), "../b"):
        with pytest.raises(OutputError, match="current directory"):
            check_out(out, "run")
    study = tmp_path / "studies" / "tiny.py"
    study.parent.mkdir()
    study.write_text("STUDY = None")
    with pytest.raises(OutputError, match="an input of this command"):
        check_out(tmp_path / "studies", "run", inputs=[study])


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_an_unwritable_parent_is_refused_before_any_work(tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        with pytest.raises(OutputError, match=r"cannot|writable"), output_directory(parent / "run", "run"):
            pytest.fail("the block must not run")
    finally:
        parent.chmod(0o755)


def test_an_uncreatable_parent_is_refused_before_any_work(tmp_path):
    with pytest.raises(OutputError, match="cannot be created"), output_directory("/proc/p2psim/run", "run"):
        pytest.fail("the block must not run")


# -- incremental outputs ------------------------------------------------------------------------------


def test_owned_directory_is_continued_only_by_its_own_command(tmp_path):
    out = tmp_path / "sweep"
    with owned_directory(out, "sweep") as owned:
        assert owned.created
        (out / "rows").mkdir()
    assert read_marker(out)["command"] == "sweep" and read_marker(out)["files"] == ["rows", "sweep.parquet"]
    with owned_directory(out, "sweep") as owned:
        assert not owned.created
    with pytest.raises(OutputError, match="holds the output of `p2psim sweep`"):
        staged_run(out, "run")
    with pytest.raises(OutputError, match="not of train"), owned_directory(out, "train"):
        pass
    files = user_files(tmp_path / "thesis")
    with pytest.raises(OutputError, match="did not write"), owned_directory(tmp_path / "thesis", "train"):
        pass
    assert untouched(tmp_path / "thesis", files) and not (tmp_path / "thesis" / MARKER).exists()


def test_an_owned_directory_with_nothing_worth_keeping_is_removed(tmp_path):
    with pytest.raises(KeyboardInterrupt), owned_directory(tmp_path / "new" / "train", "train") as owned:
        owned.worth_keeping = lambda: False
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(KeyboardInterrupt), owned_directory(tmp_path / "kept", "train"):
        raise KeyboardInterrupt
    assert (tmp_path / "kept" / MARKER).exists()


# -- one writer ---------------------------------------------------------------------------------------


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "run"
    with OutputLock(out):
        assert lock_path(out).exists()
        with pytest.raises(OutputError, match=rf"being written by another p2psim process \(pid {os.getpid()}"):
            staged_run(out)
        with pytest.raises(OutputError, match="another p2psim process"), owned_directory(out, "train"):
            pass
    assert not lock_path(out).exists()
    staged_run(out)  # free again


def test_a_run_of_an_earlier_p2psim_is_never_replaced_but_can_be_re_explained(tmp_path):
    import json

    legacy = tmp_path / "old-run"
    legacy.mkdir()
    (legacy / "run.json").write_text(json.dumps({"versions": {"p2psim": "0.0.9"}}))
    (legacy / "bills.parquet").write_bytes(b"table")
    (legacy / "thesis.tex").write_text("mine")
    with pytest.raises(OutputError, match="looks like a run of an earlier p2psim"):
        staged_run(legacy)
    from p2psim.outputs import legacy_run

    with output_directory(legacy, "run", rewrite=True, legacy=legacy_run) as staging:
        assert (staging / "thesis.tex").read_text() == "mine"  # the rewrite starts from a copy
        (staging / "report.md").write_text("rewritten")
    assert (legacy / "thesis.tex").read_text() == "mine" and (legacy / "report.md").read_text() == "rewritten"
    assert read_marker(legacy)["files"] == ["report.md"]  # only what p2psim wrote now is marked as its own
    with pytest.raises(OutputError, match=r"holds files p2psim did not write \(bills.parquet, run.json, thesis.tex"):
        staged_run(legacy)
    with pytest.raises(OutputError, match=r"RUN_DIR .* holds files p2psim did not write"), output_directory(
            tmp_path / "old-run" / "..", "run", rewrite=True, legacy=legacy_run, what="RUN_DIR"):
        pass


def test_signals_unwind_raises_for_both_and_keeps_an_inherited_ignore():
    import signal

    from p2psim.outputs.interrupts import Terminated, exit_status, signals_unwind

    with signals_unwind(), pytest.raises(Terminated) as info:
        signal.raise_signal(signal.SIGTERM)
    assert exit_status(info.value) == 143 and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a background job of a non-interactive shell
    try:
        with signals_unwind():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            signal.raise_signal(signal.SIGINT)  # ignored: nothing raised
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_an_interrupt_a_library_turned_into_another_exception_still_exits_as_the_interrupt(monkeypatch, capsys):
    import signal

    from p2psim import cli

    def interrupted_import(argv):
        try:
            signal.raise_signal(signal.SIGTERM)
        except KeyboardInterrupt as exc:  # what pybind does when a module is interrupted while it initialises
            raise ImportError("generic_type: type 'ObjSense' is already registered!") from exc
        return 0

    monkeypatch.setitem(cli.SUBCOMMANDS, "interrupted-import", interrupted_import)
    assert cli.main(["interrupted-import"]) == 143
    assert capsys.readouterr().err == "p2psim: terminated (SIGTERM); nothing was written\n"
    monkeypatch.setitem(cli.SUBCOMMANDS, "plain-bug", lambda argv: 1 / 0)
    with pytest.raises(ZeroDivisionError):  # without a signal, a bug is still a bug (a traceback)
        cli.main(["plain-bug"])
