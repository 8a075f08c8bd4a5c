"""Atomic outputs: a file or directory is replaced whole, or left as it was."""

import pytest

from p2psim.outputs import staging_directory, write_text_atomic


def test_write_text_atomic_replaces_the_file_whole(tmp_path):
    path = write_text_atomic(tmp_path / "results" / "table.md", "old\n")
    assert path.read_text() == "old\n"
    write_text_atomic(path, "new\n")
    assert path.read_text() == "new\n"
    assert [p.name for p in path.parent.iterdir()] == ["table.md"]  # no temporary sibling left


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = write_text_atomic(tmp_path / "table.md", "old\n")
    monkeypatch.setattr("os.replace", lambda *_: (_ for _ in ()).throw(OSError("rename failed")))
    with pytest.raises(OSError, match="rename failed"):
        write_text_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.md"]


def test_failed_staging_keeps_the_previous_directory(tmp_path):
    out = tmp_path / "run"
    with staging_directory(out) as staging:
        (staging / "a.txt").write_text("first")
    with pytest.raises(RuntimeError), staging_directory(out) as staging:
        (staging / "a.txt").write_text("second")
        raise RuntimeError("interrupted")
    assert (out / "a.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
