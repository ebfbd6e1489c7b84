"""Atomic writes: nothing half-written after a failure, and files others can read."""

import pytest
from cxrloc.atomic import atomic_dir, atomic_path, atomic_write_text


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "out.json") as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_outputs_get_the_usual_permissions_not_the_temporary_files_0600(tmp_path, monkeypatch):
    monkeypatch.setattr("cxrloc.atomic.UMASK", 0o022)
    atomic_write_text(tmp_path / "metrics.json", "{}")
    with atomic_dir(tmp_path / "images") as d:
        (d / "a.png").write_bytes(b"x")
    assert (tmp_path / "metrics.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "images").stat().st_mode & 0o777 == 0o755
