"""A long-lived runner for test suites that start a wasm program thousands of times.

Each launch through ``python -m toolchain.runner run`` pays Python's start-up and the import of
wasmtime (about 0.09 s) before the guest runs (PHP: 13 ms). The server pays that once: it loads
the runner and waits on a Unix socket. :mod:`toolchain.runner_client` (standard library only,
started with ``python -I -S``) connects, sends its runner arguments, working directory and its
stdin/stdout/stderr (SCM_RIGHTS), and the server forks a child that takes over those descriptors
and runs the guest exactly as ``runner run`` would. The child's exit status goes back to the
client, which exits with it.

A client that goes away (killed by a test driver's timeout) closes the socket: the server kills
that child at once, so no guest outlives its launcher. A server that dies (even by SIGKILL) takes
its children with it: each asks Linux for SIGKILL when its parent dies (``PR_SET_PDEATHSIG``).
Launchers use the server only when ``WASIPORTS_RUNNER_SOCKET`` names a live socket, and
``WASIPORTS_RUNNER_CLIENT`` the client and ``WASIPORTS_PYTHON`` the Python to start it with;
:func:`serving` runs one for a block of code and sets all three.

Socket paths: ``sun_path`` holds 108 bytes on Linux, so :func:`serving` makes its private
directory under ``$TMPDIR`` only when the socket's path fits there, else under ``/tmp``; it
removes the directory when the block ends. Failures are :class:`~toolchain.errors.RunnerError`.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import marshal
import os
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from .errors import RunnerError

ENV = "WASIPORTS_RUNNER_SOCKET"
SOCKET_NAME = "runner.sock"
DIR_PREFIX = "wasiports-runner-"
MAX_SOCKET_PATH = 107
"""Bytes of a socket path: Linux's ``sun_path`` is 108, one kept for peers that add a NUL."""
PR_SET_PDEATHSIG = 1
"""From ``<linux/prctl.h>``."""
START_TIMEOUT = 60.0
FALLBACK_DIRS = ("/tmp",)
"""Where the socket directory goes when ``$TMPDIR`` is too long for a socket path."""
HEADER = struct.Struct("!I")
STATUS = struct.Struct("!i")
MAX_REQUEST = 1 << 20
TICK = 0.5
"""Seconds between the server's checks of its idle time and its code, while no launch arrives."""


def _receive(conn: socket.socket) -> tuple[dict[str, object], list[int]]:
    """One request: a length-prefixed ``marshal``-ed dict (the client runs on this very Python),
    with the client's three descriptors."""
    fds = array.array("i")
    data, ancdata, _flags, _addr = conn.recvmsg(MAX_REQUEST, socket.CMSG_SPACE(3 * fds.itemsize))
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
    while len(data) < HEADER.size or len(data) < HEADER.size + HEADER.unpack_from(data)[0]:
        more = conn.recv(MAX_REQUEST)
        if not more:
            raise ConnectionError("the client sent a partial request")
        data += more
    (length,) = HEADER.unpack_from(data)
    request = marshal.loads(data[HEADER.size:HEADER.size + length])
    if not isinstance(request, dict):
        raise ConnectionError(f"the request is a {type(request).__name__}, not a dict")
    return request, list(fds)


def _die_with_server(server: int) -> None:
    """In a forked child: ask Linux to SIGKILL it when the server dies, so no guest outlives a
    server killed with SIGKILL (nothing could then kill the children). The parent that
    ``PR_SET_PDEATHSIG`` watches is the thread that forked: :func:`serve`'s accepting main
    thread, which lives as long as the server."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the client's hang-up still kills the child
        return
    if os.getppid() != server:  # the server died before prctl took effect
        os._exit(128 + signal.SIGKILL)


def _child(conn: socket.socket, server: int) -> None:
    """In the forked child: become the launch (descriptors, directory), run it, report, exit."""
    status = 70  # EX_SOFTWARE: the request could not be served
    _die_with_server(server)
    try:
        request, fds = _receive(conn)
        if len(fds) != 3:
            raise ConnectionError(f"expected 3 descriptors, got {len(fds)}")
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(str(request["cwd"]))
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in dict(request["environ"]).items()})  # type: ignore[arg-type]
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        from . import runner_cli

        status = runner_cli.main([str(a) for a in request["argv"]])  # type: ignore[union-attr]
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException as exc:  # noqa: BLE001 - whatever happens, the client gets a status
        print(f"wasiports runner server: {type(exc).__name__}: {exc}", file=sys.stderr)
    finally:
        with contextlib.suppress(OSError):
            sys.stdout.flush()
            sys.stderr.flush()
            conn.sendall(STATUS.pack(status))
        os._exit(status & 0xFF)


def _client_gone(conn: socket.socket) -> bool:
    """Has the client closed its end? (Unread request bytes, or none yet, mean it has not.)"""
    try:
        return not conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:  # the child took the request between select() and here
        return False


def _watch(conn: socket.socket, pid: int) -> None:
    """In the server: reap the child; kill it if its client disconnects first."""
    try:
        while True:
            done, _status = os.waitpid(pid, os.WNOHANG)
            if done:
                return
            readable, _, _ = select.select([conn], [], [], 0.05)
            if readable and _client_gone(conn):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return
    except ConnectionError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    finally:
        conn.close()


def _listen(path: Path) -> socket.socket:
    """A listening Unix socket at ``path``; :class:`RunnerError` if there can be none."""
    size = len(os.fsencode(path))
    if size > MAX_SOCKET_PATH:
        raise RunnerError(
            f"cannot listen on {path}",
            why=f"a Unix socket path holds at most {MAX_SOCKET_PATH} bytes, this one has {size}",
            hint="give a shorter path (runner_server.serving() picks one itself)",
        )
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(path))
        server.listen(64)
    except OSError as e:
        server.close()
        raise RunnerError(f"cannot listen on {path}", why=e.strerror or str(e),
                          hint="is its directory writable?") from None
    return server


class _Launches:
    """The server's count of running launches, and when the last one ended (for its idle exit)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self.since = time.monotonic()

    def started(self) -> None:
        with self._lock:
            self.running += 1

    def ended(self) -> None:
        with self._lock:
            self.running -= 1
            self.since = time.monotonic()

    def idle_for(self) -> float:
        with self._lock:
            return 0.0 if self.running else time.monotonic() - self.since


def _watched(conn: socket.socket, pid: int, launches: _Launches) -> None:
    try:
        _watch(conn, pid)
    finally:
        launches.ended()


def _fork(server: socket.socket, conn: socket.socket, me: int, launches: _Launches) -> None:
    """Serve one launch in a forked child; a thread of the server watches it."""
    launches.started()
    pid = os.fork()
    if pid == 0:
        server.close()
        _child(conn, me)
    threading.Thread(target=_watched, args=(conn, pid, launches), daemon=True).start()


def serve(path: Path, idle_exit: float | None = None,
          changed: Callable[[], str | None] | None = None) -> str:
    """Accept launches on the Unix socket ``path`` until SIGTERM/SIGINT; or, for a user's server,
    until no launch has run for ``idle_exit`` seconds, or ``changed()`` names a reason (its code
    was replaced on disk). Launches still running then are waited for. Returns why it stopped."""
    from . import runner_cli  # noqa: F401 - imported once here (with the runner), inherited by every child

    # wasmtime sets up its process-wide state (its trap handlers) with the first engine: done
    # here once, before any thread exists, instead of in every child (about 2 ms a launch).
    import wasmtime

    wasmtime.Engine()
    server = _listen(path)
    listening = os.stat(path).st_ino
    me = os.getpid()
    stop = threading.Event()
    launches = _Launches()
    why = "stopped by a signal"

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"wasiports runner server: listening on {path}", flush=True)
    while not stop.is_set():
        try:
            readable, _, _ = select.select([server], [], [], TICK)
        except InterruptedError:
            continue
        if not readable:
            if idle_exit is not None and launches.idle_for() >= idle_exit:
                why = f"no launch for {idle_exit:g} s"
                break
            if changed is not None and (reason := changed()):
                why = reason
                break
            continue
        try:
            conn, _ = server.accept()
        except OSError:  # the client left already; or no descriptor is free (EMFILE): wait a bit
            time.sleep(0.05)
            continue
        _fork(server, conn, me, launches)
    with contextlib.suppress(FileNotFoundError):
        if os.stat(path).st_ino == listening:  # not a socket a newer server bound since
            path.unlink()
    if not stop.is_set():
        # A user's server retiring: with the socket gone new launches go the slow way; those
        # that connected before are in the backlog, so serve them, and let every launch finish.
        # (On a signal the launches die with the server.)
        server.setblocking(False)
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                conn.setblocking(True)
                _fork(server, conn, me, launches)
        while launches.running and not stop.is_set():
            time.sleep(TICK)
    server.close()
    print(f"wasiports runner server: {why}", flush=True)
    return why


def _socket_dir() -> Path:
    """A new private directory whose socket path fits: under ``$TMPDIR``, else under ``/tmp``."""
    tried: list[str] = []
    for base in dict.fromkeys([tempfile.gettempdir(), *FALLBACK_DIRS]):
        # mkdtemp adds 8 characters to the prefix
        size = len(os.fsencode(os.path.join(base, DIR_PREFIX + "x" * 8, SOCKET_NAME)))
        if size > MAX_SOCKET_PATH:
            tried.append(f"{base}: the socket path would have {size} bytes")
            continue
        try:
            return Path(tempfile.mkdtemp(prefix=DIR_PREFIX, dir=base))
        except OSError as e:
            tried.append(f"{base}: {e.strerror or e}")
    raise RunnerError(
        "no directory for the runner server's socket",
        why=f"a Unix socket path holds at most {MAX_SOCKET_PATH} bytes; " + "; ".join(tried),
        hint="set TMPDIR to a short writable directory",
    )


def _start(path: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start a server on ``path`` (its stderr to ``log``); return once it listens."""
    with open(log, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "toolchain.runner_server", str(path)],
                                cwd=Path(__file__).resolve().parent.parent,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            ended = f"exit status {proc.returncode}" if proc.returncode is not None else "no socket"
            said = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise RunnerError(
                "the runner server did not start",
                why=" / ".join([f"{ended} after {time.monotonic() - deadline + START_TIMEOUT:.1f} s",
                                *said]),
                hint=f"run {sys.executable} -m toolchain.runner_server {path} to see why",
            )
        time.sleep(0.05)
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


CLIENT_ENV = "WASIPORTS_RUNNER_CLIENT"
PYTHON_ENV = "WASIPORTS_PYTHON"
"""The launchers' other two variables: the thin client's path, and a Python with wasiports (the
launchers carry no path of the build machine, so wasiports' own runs tell them these)."""


def runner_python() -> str:
    """The Python the launchers should start the runner (and the client) with: this one's
    ``python3`` in its prefix (a virtualenv's), as :func:`toolchain.build.runner_command` spells it."""
    python = Path(sys.prefix) / "bin" / "python3"
    return str(python if python.exists() else sys.executable)


@contextlib.contextmanager
def launcher_env(**values: str) -> Iterator[None]:
    """``os.environ`` with ``values`` set for the block (and ``WASIPORTS_PYTHON`` unless already
    set), restored afterwards."""
    values = {PYTHON_ENV: os.environ.get(PYTHON_ENV) or runner_python(), **values}
    previous = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def serving() -> Iterator[Path]:
    """Run a server for the duration of the block, with ``WASIPORTS_RUNNER_SOCKET``,
    ``WASIPORTS_RUNNER_CLIENT`` and ``WASIPORTS_PYTHON`` set; its directory (socket, log) is
    removed afterwards."""
    work = _socket_dir()
    path = work / SOCKET_NAME
    try:
        proc = _start(path, work / "server.log")
        try:
            with launcher_env(**{ENV: str(path), CLIENT_ENV: str(Path(__file__).with_name("runner_client.py"))}):
                yield path
        finally:
            _stop(proc)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- a user's server: what the packaged launchers use by default ---------------------------------
#
# `wasiports run` (the launchers' route where wasiports is installed) starts one in the background
# when none answers, so the launches after it cost a fork instead of a Python start-up. It lives in
# a private directory (user_dir(); the launchers compute the same path in sh and use it only if
# they own it), exits after DEFAULT_IDLE seconds without a launch, or when its code changes on disk
# (an upgrade), and never runs with WASIPORTS_SERVER=off.

SERVER_ENV = "WASIPORTS_SERVER"
"""``off``: no launcher or ``wasiports run`` uses or starts a user's runner server. (``wasiports
run`` reads it by name before it imports this module; the launchers' template by name too.)"""
IDLE_ENV = "WASIPORTS_SERVER_IDLE"
"""Seconds a user's server waits for a launch before it exits (default :data:`DEFAULT_IDLE`)."""
DEFAULT_IDLE = 900.0
USER_DIR_PREFIX = "wasiports-"
CLIENT_NAME = "client"
PID_NAME = "server.pid"
LOCK_NAME = "server.lock"
LOG_NAME = "server.log"
MAX_SHEBANG = 255
"""Bytes of a ``#!`` line Linux reads; a longer Python path gets no client (launches go the slow way)."""
USER_START_TIMEOUT = 60.0


def user_server_wanted(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get(SERVER_ENV, "") != "off"


def user_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """A user's server directory: ``wasiports-<uid>`` in ``$XDG_RUNTIME_DIR`` when that is an
    absolute path, else in ``/tmp``. The launchers compute the same path in sh."""
    base = environ.get("XDG_RUNTIME_DIR", "")
    return Path(base if base.startswith("/") else "/tmp") / f"{USER_DIR_PREFIX}{os.getuid()}"


def private_dir(path: Path) -> Path:
    """``path``, made with mode 0700 if missing; :class:`RunnerError` unless it is a directory (not
    a link) of this user's that nobody else can enter: the launchers execute the client in it."""
    try:
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
        st = os.lstat(path)
    except OSError as e:
        raise RunnerError(f"cannot make the runner server directory {path}", why=e.strerror or str(e),
                          hint=f"set XDG_RUNTIME_DIR to a private directory, or {SERVER_ENV}=off") from None
    problems = []
    if not stat.S_ISDIR(st.st_mode):
        problems.append("it is not a directory (a symbolic link or a file)")
    if st.st_uid != os.getuid():
        problems.append(f"it belongs to uid {st.st_uid}, not to this user ({os.getuid()})")
    if st.st_mode & 0o077:
        problems.append(f"its mode is {stat.S_IMODE(st.st_mode):04o}: others have access")
    if problems:
        raise RunnerError(f"refusing the runner server directory {path}", why="; ".join(problems),
                          hint=f"remove {path} (the server makes it again, mode 0700), or set "
                               f"XDG_RUNTIME_DIR to a private directory")
    return path


def code_stamp(roots: Sequence[Path] | None = None) -> tuple[tuple[str, int, int], ...]:
    """The runner's code as on disk: every module of wasiports and of wasmtime-py, with its
    modification time and size (a file gone counts as -1)."""
    if roots is None:
        import wasmtime

        roots = [Path(__file__).parent, Path(wasmtime.__file__).parent]
    stamp = []
    for file in sorted(f for root in roots for f in root.glob("*.py")):
        try:
            st = file.stat()
            stamp.append((str(file), st.st_mtime_ns, st.st_size))
        except OSError:
            stamp.append((str(file), -1, -1))
    return tuple(stamp)


def _code_replaced(roots: Sequence[Path] | None = None) -> Callable[[], str | None]:
    start = code_stamp(roots)

    def changed() -> str | None:
        return None if code_stamp(roots) == start else "its code changed on disk (an upgrade)"

    return changed


def _write_client(directory: Path) -> bool:
    """The launchers' client, ``<dir>/client``: runner_client.py run by this Python (``-IS``)."""
    shebang = f"#!{sys.executable} -IS\n"
    if len(os.fsencode(shebang)) > MAX_SHEBANG or any(c.isspace() for c in sys.executable):
        print(f"wasiports runner server: no client: {sys.executable} cannot be a #! line", flush=True)
        return False
    source = Path(__file__).with_name("runner_client.py").read_text()
    part = directory / f".{CLIENT_NAME}.{os.getpid()}"
    part.write_text(shebang + source)
    part.chmod(0o700)
    os.replace(part, directory / CLIENT_NAME)
    return True


def serve_user(environ: Mapping[str, str] = os.environ) -> int:
    """``python -m toolchain.runner_server --user``: a user's server, until idle, upgraded or
    stopped. Exits at once (0) when another holds the directory's lock."""
    import fcntl

    directory = private_dir(user_dir(environ))
    raw_idle = environ.get(IDLE_ENV) or str(DEFAULT_IDLE)
    try:
        idle = float(raw_idle)
    except ValueError:
        raise RunnerError(f"{IDLE_ENV}={raw_idle!r} is not a number of seconds",
                          hint=f"unset it (default {DEFAULT_IDLE:g} s)") from None
    lock = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        print(f"wasiports runner server: one already runs in {directory}", file=sys.stderr)
        return 0
    os.chdir("/")
    log = os.open(directory / LOG_NAME, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    pidfile = directory / PID_NAME
    try:
        _write_client(directory)
        pidfile.write_text(f"{os.getpid()}\n")
        serve(directory / SOCKET_NAME, idle_exit=idle, changed=_code_replaced())
    finally:
        with contextlib.suppress(OSError):
            if pidfile.read_text().strip() == str(os.getpid()):
                pidfile.unlink()
        os.close(lock)
    return 0


def answers(sock: Path) -> bool:
    """Does a server accept on ``sock``?"""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(sock))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def spawn_user_server(environ: Mapping[str, str] = os.environ) -> bool:
    """Start a user's server in the background (its own session, no terminal), unless
    ``WASIPORTS_SERVER=off`` or one answers; do not wait for it. True if one was started.
    ``-I``: the launch's working directory must not be able to put modules on its path."""
    if not user_server_wanted(environ) or answers(user_dir(environ) / SOCKET_NAME):
        return False
    null = os.devnull
    actions = [(os.POSIX_SPAWN_OPEN, 0, null, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, null, os.O_WRONLY, 0),
               (os.POSIX_SPAWN_OPEN, 2, null, os.O_WRONLY, 0)]
    os.posix_spawn(sys.executable, [sys.executable, "-I", "-m", "toolchain.runner_server", "--user"],
                   dict(environ), file_actions=actions, setsid=True)
    return True


def start_user_server(environ: Mapping[str, str] = os.environ) -> Path:
    """``wasiports server start``: start a user's server (unless one answers) and wait until it
    accepts; its socket's path. :class:`RunnerError` if it does not come up."""
    sock = user_dir(environ) / SOCKET_NAME
    if not user_server_wanted(environ):
        raise RunnerError("no runner server: WASIPORTS_SERVER=off", hint="unset WASIPORTS_SERVER")
    spawn_user_server(environ)
    deadline = time.monotonic() + USER_START_TIMEOUT
    while not answers(sock):
        if time.monotonic() > deadline:
            log = user_dir(environ) / LOG_NAME
            said = log.read_text(errors="replace").strip().splitlines()[-3:] if log.is_file() else []
            raise RunnerError("the runner server did not start",
                              why=" / ".join(said) or f"nothing accepted on {sock} in {USER_START_TIMEOUT:g} s",
                              hint=f"run {sys.executable} -m toolchain.runner_server --user to see why")
        time.sleep(0.05)
    return sock


def user_server_pid(environ: Mapping[str, str] = os.environ) -> int | None:
    """The pid of the user's server, if one answers on its socket."""
    directory = user_dir(environ)
    if not answers(directory / SOCKET_NAME):
        return None
    try:
        return int((directory / PID_NAME).read_text())
    except (OSError, ValueError):
        return None


def _gone(pid: int) -> bool:
    """Has ``pid`` exited? Reaped here if it is this process's child (started by
    :func:`start_user_server` in a long-lived process, such as the bench); a zombie counts as gone."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    except OSError:  # no /proc: ask the kernel whether the pid exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return state[state.rindex(")") + 2] == "Z"


def stop_user_server(environ: Mapping[str, str] = os.environ, timeout: float = 30.0) -> int | None:
    """``wasiports server stop``: SIGTERM the user's server and wait for it to go; its pid, or
    None if none ran. (Its running launches are killed with it.)"""
    pid = user_server_pid(environ)
    if pid is None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(pid):
            return pid
        time.sleep(0.05)
    raise RunnerError(f"the runner server (pid {pid}) did not stop in {timeout:g} s",
                      hint=f"kill -KILL {pid}")


def main(argv: list[str]) -> int:
    """``python -m toolchain.runner_server SOCKET``: serve until SIGTERM/SIGINT.
    ``python -m toolchain.runner_server --user``: a user's server (:func:`serve_user`)."""
    if len(argv) != 1:
        print("usage: python -m toolchain.runner_server SOCKET | --user", file=sys.stderr)
        return 2
    try:
        if argv[0] == "--user":
            return serve_user()
        serve(Path(argv[0]))
    except RunnerError as e:
        print(f"wasiports runner server: {e.render()}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
