"""toolchain.runner_server without processes: where the socket goes, and the errors when it
cannot go anywhere (a Unix socket path holds 108 bytes)."""

from __future__ import annotations

import os
import socket
import stat
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


# --- a user's server ----------------------------------------------------------------------------


def test_the_users_directory_is_in_an_absolute_xdg_runtime_dir_else_in_tmp() -> None:
    uid = os.getuid()
    assert runner_server.user_dir({"XDG_RUNTIME_DIR": "/run/user/7"}) == Path(f"/run/user/7/wasiports-{uid}")
    for value in ({}, {"XDG_RUNTIME_DIR": ""}, {"XDG_RUNTIME_DIR": "run/user/7"}):
        assert runner_server.user_dir(value) == Path(f"/tmp/wasiports-{uid}")


def test_the_users_directory_is_made_private(tmp_path: Path) -> None:
    made = runner_server.private_dir(tmp_path / "wasiports-x")
    assert made.is_dir() and stat.S_IMODE(made.stat().st_mode) & 0o077 == 0


def test_a_users_directory_others_can_enter_is_refused(tmp_path: Path) -> None:
    open_dir = tmp_path / "wasiports-x"
    open_dir.mkdir()
    open_dir.chmod(0o755)
    with pytest.raises(RunnerError, match="refusing the runner server directory") as raised:
        runner_server.private_dir(open_dir)
    assert raised.value.why == "its mode is 0755: others have access"
    assert f"remove {open_dir}" in raised.value.hint


def test_a_link_in_place_of_the_users_directory_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    link = tmp_path / "wasiports-x"
    link.symlink_to(target)
    with pytest.raises(RunnerError) as raised:
        runner_server.private_dir(link)
    assert raised.value.why.startswith("it is not a directory (a symbolic link or a file)")


def test_the_code_stamp_sees_a_module_change_appear_or_go(tmp_path: Path) -> None:
    module = tmp_path / "a.py"
    module.write_text("x = 1\n")
    changed = runner_server._code_replaced([tmp_path])
    assert changed() is None
    module.write_text("x = 22\n")
    assert changed() == "its code changed on disk (an upgrade)"
    changed = runner_server._code_replaced([tmp_path])
    (tmp_path / "b.py").write_text("")
    assert changed() is not None
    changed = runner_server._code_replaced([tmp_path])
    module.unlink()
    assert changed() is not None


def test_no_users_server_with_wasiports_server_off(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_spawn(*args: object, **kw: object) -> None:
        raise AssertionError("spawned")

    monkeypatch.setattr(os, "posix_spawn", no_spawn)
    assert runner_server.spawn_user_server({runner_server.SERVER_ENV: "off"}) is False
    with pytest.raises(RunnerError, match="WASIPORTS_SERVER=off"):
        runner_server.start_user_server({runner_server.SERVER_ENV: "off"})


def test_the_launchers_look_where_the_server_listens() -> None:
    from toolchain import dist, paths, recipe

    r = recipe.load(paths.RECIPES / "php" / "8.2.32.toml")
    text = dist.render_launcher(r, {"recipe": r}, "php", "php.wasm")
    assert f'served=$served/{runner_server.USER_DIR_PREFIX}$(id -u)' in text
    assert (f'exec "$served/{runner_server.CLIENT_NAME}" "$served/{runner_server.SOCKET_NAME}" "$@"'
            in text)
    assert f'[ "${{{runner_server.SERVER_ENV}:-}}" != off ]' in text
