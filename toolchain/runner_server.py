"""A long-lived runner for test suites that start a wasm program thousands of times.

Each launch through ``python -m toolchain.runner run`` pays Python's start-up and the import of
wasmtime (about 0.09 s) before the guest runs (PHP: 13 ms). The server pays that once: it loads
the runner and waits on a Unix socket. :mod:`toolchain.runner_client` (standard library only,
started with ``python -I -S``) connects, sends its runner arguments, working directory and its
stdin/stdout/stderr (SCM_RIGHTS), and the server forks a child that takes over those descriptors
and runs the guest exactly as ``runner run`` would. The child's exit status goes back to the
client, which exits with it.

A client that goes away (killed by a test driver's timeout) closes the socket: the server kills
that child at once, so no guest outlives its launcher. Launchers use the server only when
``WASIPORTS_RUNNER_SOCKET`` names a live socket; :func:`serving` runs one for a block of code.
"""

from __future__ import annotations

import array
import contextlib
import json
import os
import select
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

ENV = "WASIPORTS_RUNNER_SOCKET"
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


def _child(conn: socket.socket) -> None:
    """In the forked child: become the launch (descriptors, directory), run it, report, exit."""
    status = 70  # EX_SOFTWARE: the request could not be served
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
        from . import runner

        status = runner.main([str(a) for a in request["argv"]])  # type: ignore[union-attr]
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


def serve(path: Path) -> None:
    """Accept launches on the Unix socket ``path`` until SIGTERM/SIGINT."""
    from . import runner  # noqa: F401 - imported once here, inherited by every child

    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(64)
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
            _child(conn)
        threading.Thread(target=_watch, args=(conn, pid), daemon=True).start()
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@contextlib.contextmanager
def serving() -> Iterator[Path]:
    """Run a server for the duration of the block, with ``WASIPORTS_RUNNER_SOCKET`` set."""
    work = Path(tempfile.mkdtemp(prefix="wasiports-runner-"))
    path = work / "runner.sock"
    proc = subprocess.Popen([sys.executable, "-m", "toolchain.runner_server", str(path)],
                            cwd=Path(__file__).resolve().parent.parent,
                            stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not path.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the runner server did not start (exit {proc.poll()})")
            time.sleep(0.05)
        previous = os.environ.get(ENV)
        os.environ[ENV] = str(path)
        try:
            yield path
        finally:
            if previous is None:
                os.environ.pop(ENV, None)
            else:
                os.environ[ENV] = previous
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with contextlib.suppress(OSError):
            path.unlink()
            work.rmdir()


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
