"""toolchain.fileio: bookkeeping written atomically and read tolerantly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolchain import fileio


@pytest.mark.parametrize("content", [b"", b"{\"half\": ", b"\xff\xfe not utf-8", b"[1, 2"])
def test_damaged_files_read_as_absent(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "record.json"
    path.write_bytes(content)
    assert fileio.read_json(path) is None
    assert fileio.read_json_object(path) is None


def test_missing_file_or_directory_reads_as_absent(tmp_path: Path) -> None:
    assert fileio.read_json(tmp_path / "none.json") is None
    (tmp_path / "dir.json").mkdir()
    assert fileio.read_json(tmp_path / "dir.json") is None


def test_a_value_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    path.write_text("[1, 2]\n")
    assert fileio.read_json(path) == [1, 2]
    assert fileio.read_json_object(path) is None


def test_write_json_round_trip_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "record.json"  # the directory is created
    fileio.write_json(path, {"a": 1})
    assert fileio.read_json_object(path) == {"a": 1}
    assert path.read_text() == '{\n  "a": 1\n}\n'
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["record.json"]


def test_failed_write_keeps_the_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "record.json"
    fileio.write_json(path, {"old": True})

    def no_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_replace)
    with pytest.raises(OSError):
        fileio.write_json(path, {"new": True})
    assert fileio.read_json(path) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]
