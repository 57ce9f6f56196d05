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
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
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


def _receive(conn: socket.socket) -> tuple[dict[str, object], list[int]]:
    """One request: a length-prefixed JSON object, with the client's three descriptors."""
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
    return json.loads(data[HEADER.size:HEADER.size + length]), list(fds)


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


def serve(path: Path) -> None:
    """Accept launches on the Unix socket ``path`` until SIGTERM/SIGINT."""
    from . import runner_cli  # noqa: F401 - imported once here (with the runner), inherited by every child

    server = _listen(path)
    me = os.getpid()
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()
        server.close()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"wasiports runner server: listening on {path}", flush=True)
    while not stop.is_set():
        try:
            conn, _ = server.accept()
        except OSError:
            break
        pid = os.fork()
        if pid == 0:
            server.close()
            _child(conn, me)
        threading.Thread(target=_watch, args=(conn, pid), daemon=True).start()
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


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


def main(argv: list[str]) -> int:
    """``python -m toolchain.runner_server SOCKET``: serve until SIGTERM/SIGINT."""
    if len(argv) != 1:
        print("usage: python -m toolchain.runner_server SOCKET", file=sys.stderr)
        return 2
    try:
        serve(Path(argv[0]))
    except RunnerError as e:
        print(f"wasiports runner server: {e.render()}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
