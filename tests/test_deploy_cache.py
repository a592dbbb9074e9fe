"""pxcore.inference.cache: cache files written under a name of their own, renamed into place."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from pxcore.inference.cache import atomic_output, atomic_write_bytes


def test_the_result_appears_whole_under_its_name_and_nothing_else_stays(tmp_path):
    target = tmp_path / "model-abc.onnx"
    with atomic_output(target) as tmp:
        assert tmp.parent != tmp_path and tmp.parent.parent == tmp_path  # a folder beside it
        assert tmp.name == target.name and not target.exists()
        tmp.write_bytes(b"whole")
        (tmp.parent / "side-file").write_text("a converter's leftovers")
    assert target.read_bytes() == b"whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-abc.onnx"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_files(tmp_path):
    target = tmp_path / "k.engine"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="converter died"):
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("converter died")
    with pytest.raises(FileNotFoundError, match="nothing was written"):
        with atomic_output(target):
            pass
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["k.engine"]


def test_atomic_write_bytes_replaces_and_an_unwritable_folder_is_an_oserror(tmp_path):
    target = tmp_path / "k.engine"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two" and [p.name for p in tmp_path.iterdir()] == ["k.engine"]
    with pytest.raises(OSError):
        atomic_write_bytes(tmp_path / "missing-folder" / "x", b"")


_WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from pxcore.inference.cache import atomic_write_bytes
    target, tag = Path(sys.argv[1]), sys.argv[2]
    go = target.parent / "go"
    while not go.exists():
        time.sleep(0.001)
    for _ in range(200):
        atomic_write_bytes(target, tag.encode() * 100_000)
""")


def test_processes_writing_the_same_file_never_show_a_mixed_or_partial_one(tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir()
    target = folder / "same.bin"
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(target), tag]) for tag in "ab"]
    (folder / "go").touch()
    seen = set()
    while any(w.poll() is None for w in writers):
        if target.exists():
            data = target.read_bytes()
            assert len(data) == 100_000 and data in (b"a" * 100_000, b"b" * 100_000)
            seen.add(data[:1])
    assert [w.returncode for w in writers] == [0, 0]
    assert seen and sorted(p.name for p in folder.iterdir()) == ["go", "same.bin"]
