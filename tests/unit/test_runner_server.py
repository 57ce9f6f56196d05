"""toolchain.runner_server without processes: where the socket goes, and the errors when it
cannot go anywhere (a Unix socket path holds 108 bytes)."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import pytest

from toolchain import runner_server
from toolchain.errors import RunnerError


def long_dir(tmp_path: Path) -> Path:
    path = tmp_path / ("d" * 60) / ("e" * 60)
    path.mkdir(parents=True)
    return path


def test_the_socket_directory_avoids_a_too_long_tmpdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(long_dir(tmp_path)))
    short = tmp_path / "s"
    short.mkdir()
    monkeypatch.setattr(runner_server, "FALLBACK_DIRS", (str(short),))
    work = runner_server._socket_dir()
    assert work.parent == short and work.name.startswith("wasiports-runner-")
    assert len(bytes(work / runner_server.SOCKET_NAME)) <= runner_server.MAX_SOCKET_PATH


def test_the_socket_directory_is_under_tmpdir_when_it_fits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_space = tmp_path / "t m p"
    with_space.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(with_space))
    assert runner_server._socket_dir().parent == with_space


def test_no_short_directory_is_a_runner_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(long_dir(tmp_path)))
    monkeypatch.setattr(runner_server, "FALLBACK_DIRS", (str(tmp_path / "missing"),))
    with pytest.raises(RunnerError) as raised:
        runner_server._socket_dir()
    assert raised.value.what == "no directory for the runner server's socket"
    assert "at most 107 bytes" in raised.value.why and "the socket path would have" in raised.value.why
    assert "TMPDIR" in raised.value.hint


def test_listening_on_a_too_long_path_is_a_runner_error(tmp_path: Path) -> None:
    path = long_dir(tmp_path) / "runner.sock"
    with pytest.raises(RunnerError, match="cannot listen on") as raised:
        runner_server._listen(path)
    assert "at most 107 bytes" in raised.value.why
    assert not path.exists()


def test_listening_on_a_short_path(tmp_path: Path) -> None:
    path = tmp_path / "r.sock"
    server = runner_server._listen(path)
    try:
        assert server.family == socket.AF_UNIX and path.is_socket()
    finally:
        server.close()
