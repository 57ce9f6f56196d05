"""Running unit commands as host processes: :class:`ProcessExecutor` gives each unit its own
process group, captures its output through a bounded pipe, stops it past its timeout, and leaves
no process of it behind."""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path

from ..capture import BoundedCapture
from ..errors import HarnessError
from .interfaces import Completed, UnitCommand

UNIT_TOKEN_ENV = "WASIPORTS_UNIT_TOKEN"
"""Set for each unit process to a fresh token: descendants that leave its process group carry
it, so the harness can find and kill them (:func:`kill_escaped`)."""
DEFAULT_GRACE = 30.0
"""Seconds a unit process gets beyond its own timeout (runner start, module compile) before the
harness kills it."""


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _exited(pid: int) -> bool:
    """Has ``pid`` (our child) ended? Does not reap it, so its pid and group id stay reserved."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def log_path(scratch: Path) -> Path:
    """Where an attempt's output is kept: beside its scratch directory, which the guest may see,
    so a guest can neither replace it nor have the harness read through a link it planted."""
    return scratch.with_name(f"{scratch.name}.log")


def kill_escaped(token: str) -> list[int]:
    """SIGKILL every process whose environment carries this unit's token.

    A unit's descendants that left its process group (``setsid``, a daemon's double fork) are
    out of reach of the group kill; they still inherit the environment the harness gave the unit
    (a process that clears its whole environment escapes this too). Returns the pids killed."""
    needle = f"{UNIT_TOKEN_ENV}={token}".encode() + b"\0"
    killed = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                found = needle in b"\0" + f.read()
        except OSError:  # gone, or not ours
            continue
        if found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
    return killed


class ProcessExecutor:
    """Runs each unit as a host process in its own process group (session).

    The output goes through a bounded pipe into :func:`log_path` (see :mod:`toolchain.capture`).
    A process still running ``timeout`` + ``grace`` seconds after its start gets SIGTERM, then
    (``term_wait`` later) SIGKILL, sent to its whole group. When the leader ends, anything left
    in its group is killed too, before the leader is reaped (so the group id cannot have been
    reused), and so is any descendant that left the group but carries the unit's token
    (:func:`kill_escaped`), so no unit leaves processes behind.
    """

    def __init__(
        self, *, grace: float = DEFAULT_GRACE, term_wait: float = 2.0, poll: float = 0.05
    ) -> None:
        self.grace = grace
        self.term_wait = term_wait
        self.poll = poll
        self._live: dict[int, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self._cancelled = threading.Event()

    def execute(self, command: UnitCommand, scratch: Path) -> Completed:
        if self._cancelled.is_set():
            raise HarnessError("the executor was cancelled")
        token = secrets.token_hex(8)
        env = {**os.environ, **command.env, UNIT_TOKEN_ENV: token}
        capture = BoundedCapture(log_path(scratch))
        began = time.monotonic()
        try:
            proc = subprocess.Popen(
                list(command.argv), cwd=command.cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=capture.write_fd, stderr=capture.write_fd, start_new_session=True,
            )  # fmt: skip
        except OSError as e:
            capture.close()
            raise HarnessError(
                f"cannot start {shlex.join(command.argv)}",
                why=str(e),
                hint="is the interpreter built and the command right?",
            ) from e
        capture.started()
        pid = proc.pid
        with self._lock:
            self._live[pid] = proc
            if self._cancelled.is_set():
                _signal_group(pid, signal.SIGKILL)
        timed_out, note = False, ""
        try:
            timed_out, note = self._wait(pid, began, command.timeout)
        finally:
            with self._lock:
                self._live.pop(pid, None)
                _signal_group(pid, signal.SIGKILL)  # stragglers; the zombie leader holds the pgid
            kill_escaped(token)
            returncode = proc.wait()
        duration = time.monotonic() - began
        output, cut = capture.finish()
        signum = -returncode if returncode < 0 else None
        if signum is not None and not timed_out:
            note = f"killed by {_signal_name(signum)}"
        return Completed(
            exit_code=returncode if returncode >= 0 else None, output=output, output_cut=cut,
            duration=duration, timed_out=timed_out, signal=signum, pid=pid, note=note,
        )  # fmt: skip

    def _wait(self, pid: int, began: float, timeout: float) -> tuple[bool, str]:
        """Wait for the unit's leader; past its timeout + grace, stop its group."""
        deadline = began + timeout + self.grace
        while not _exited(pid):
            if time.monotonic() >= deadline:
                return True, self._stop(pid, began, timeout)
            time.sleep(self.poll)
        return False, ""

    def _stop(self, pid: int, began: float, timeout: float) -> str:
        """SIGTERM the group, wait a little for the leader, then SIGKILL the group."""
        _signal_group(pid, signal.SIGTERM)
        end = time.monotonic() + self.term_wait
        while not _exited(pid) and time.monotonic() < end:
            time.sleep(self.poll)
        if not _exited(pid):
            _signal_group(pid, signal.SIGKILL)
            # waitid without WNOHANG: the leader is ours and SIGKILL cannot be ignored
            with contextlib.suppress(ChildProcessError):
                os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        return (
            f"killed by the harness after {time.monotonic() - began:.1f} s "
            f"(timeout {timeout:g} s + {self.grace:g} s grace)"
        )

    def cancel(self) -> None:
        """SIGTERM every running unit's group, then SIGKILL what is left after ``term_wait``."""
        self._cancelled.set()
        with self._lock:
            pids = list(self._live)
            for pid in pids:
                _signal_group(pid, signal.SIGTERM)
        end = time.monotonic() + self.term_wait
        while time.monotonic() < end:
            with self._lock:
                if not any(pid in self._live and not _exited(pid) for pid in pids):
                    break
            time.sleep(self.poll)
        with self._lock:
            for pid in pids:
                if pid in self._live:
                    _signal_group(pid, signal.SIGKILL)

    def running(self) -> list[int]:
        """Process (group) ids of the units running now."""
        with self._lock:
            return sorted(self._live)
