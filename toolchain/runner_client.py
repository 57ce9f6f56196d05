"""Thin client of :mod:`toolchain.runner_server`: standard library only, run as ``python -I -S``.

``runner_client.py SOCKET RUNNER-ARGS…`` hands the runner arguments, the working directory, the
environment and its own stdin/stdout/stderr to the server (whose forked child then reads and
writes through those very descriptors) and exits with the guest's status. When the server cannot
be reached it runs the runner itself: ``WASIPORTS_RUNNER_FALLBACK`` (a command line) when set,
else ``python -m toolchain.runner run`` with the Python it runs on.
"""

import json
import os
import shlex
import socket
import struct
import sys


def _fallback(args):
    # This Python (the launcher's WASIPORTS_PYTHON) runs the runner itself, without -I -S.
    command = shlex.split(os.environ.get("WASIPORTS_RUNNER_FALLBACK", "")) or \
        [sys.executable, "-m", "toolchain.runner", "run"]
    os.execv(command[0], command + args)


def _die_with_parent():
    """Test drivers (run-tests.php) start the launcher through `sh -c` and, on a timeout, kill
    that shell only. Ask Linux to kill this client when its parent dies: the server then sees
    the socket close and kills the guest."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the server's wall-clock limit still applies
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        sys.exit(137)


def main(argv):
    path, args = argv[0], argv[1:]
    _die_with_parent()
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
    except OSError:
        _fallback(args)
    payload = json.dumps({"argv": ["run", *args], "cwd": os.getcwd(), "environ": dict(os.environ)}).encode()
    message = struct.pack("!I", len(payload)) + payload
    fds = struct.pack("3i", 0, 1, 2)
    conn.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
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
