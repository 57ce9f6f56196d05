"""Thin client of :mod:`toolchain.runner_server`: standard library only, run as ``python -I -S``.

``runner_client.py SOCKET RUNNER-ARGS…`` hands the runner arguments, the working directory, the
environment and its own stdin/stdout/stderr to the server (whose forked child then reads and
writes through those very descriptors) and exits with the guest's status. When the server cannot
be reached it runs the runner itself: ``WASIPORTS_RUNNER_FALLBACK`` (a command line, looked up
on ``PATH``) when set, else ``python -m toolchain.runner run`` with the Python it runs on.

It runs before every launch through a server, so it imports little: the request is a
``marshal``-ed dict (client and server run the same Python), and the socket is ``_socket``'s (the
``socket`` and ``json`` modules would cost about 10 ms of imports, a third of a launch of a
module that does nothing).
"""

import _signal
import _socket
import marshal
import os
import struct
import sys


def _fallback(args):
    # This Python (the launcher's WASIPORTS_PYTHON) runs the runner itself, without -I -S.
    import shlex

    command = shlex.split(os.environ.get("WASIPORTS_RUNNER_FALLBACK", "")) or \
        [sys.executable, "-m", "toolchain.runner", "run"]
    os.execvp(command[0], command + args)


def _die_with_parent():
    """Test drivers (run-tests.php) start the launcher through `sh -c` and, on a timeout, kill
    that shell only. Ask Linux to kill this client when its parent dies: the server then sees
    the socket close and kills the guest. Only for test runs (their launchers name the server in
    WASIPORTS_RUNNER_SOCKET): a user's launch outlives its parent as any command does, and
    ctypes costs 3 ms."""
    if not os.environ.get("WASIPORTS_RUNNER_SOCKET"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, _signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the server's wall-clock limit still applies
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        sys.exit(137)


def main(argv):
    path, args = argv[0], argv[1:]
    # Ctrl-C ends the launch as it would end `wasmtime run`: this client dies of the signal (no
    # traceback), and the server, seeing the socket close, kills the guest.
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
    _die_with_parent()
    try:
        conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        conn.connect(path)
    except OSError:
        _fallback(args)
    payload = marshal.dumps({"argv": ["run", *args], "cwd": os.getcwd(), "environ": dict(os.environ)})
    message = struct.pack("!I", len(payload)) + payload
    fds = struct.pack("3i", 0, 1, 2)
    conn.sendmsg([message], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
    status = b""
    while len(status) < 4:
        chunk = conn.recv(4 - len(status))
        if not chunk:
            sys.stderr.write("wasiports: the runner server ended the launch without a status\n")
            sys.exit(134)
        status += chunk
    sys.exit(struct.unpack("!i", status)[0] & 0xFF)


if __name__ == "__main__":
    main(sys.argv[1:])
