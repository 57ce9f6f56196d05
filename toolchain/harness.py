"""Run a test suite's units in parallel from the host and collect one :class:`SuiteRun`.

WASI preview 1 has neither processes nor threads, so a suite's own ``-j`` cannot work inside the
guest: the harness runs every *unit* (a test file or module) as its own host process, a few at a
time. A language plugs in through an :class:`Adapter` (which units exist, the command for one,
how to read its output); an :class:`Executor` runs the commands (:class:`ProcessExecutor` in
production, :class:`InProcessExecutor` for the sealed unit tests).

Sharding: the unit list is sorted; shard ``i`` of ``n`` (1-based) takes the units at 0-based
positions ``k`` with ``k % n == i - 1`` (round-robin over the sorted list). The shards of one
list partition it, and neighbours (often of similar cost, e.g. ``test_asyncio.*``) are spread.

Scratch directories: attempt ``a`` of a unit gets a fresh ``WORK/scratch/<slug>/attempt-<a>/``,
the adapter's to use: it may map it into the guest (as its ``/`` or ``/tmp``) or build the unit's
own copy of a source tree in it (:mod:`toolchain.unittree`). The unit's output is kept beside it
in ``attempt-<a>.log`` (:func:`log_path`), which no guest sees; it is captured through a bounded
pipe (:mod:`toolchain.capture`), never read back by path. An attempt's directory and log are
removed once its result is parsed unless the attempt ended badly (fail, error, crash, timeout):
those are kept for inspection, including the failed first attempt of a flaky unit.
``keep_scratch=True`` keeps all. A unit's directory is emptied before its first attempt, so
reruns never see stale files; other units' are not touched.

Interrupts: while a suite runs, SIGINT and SIGTERM (in the main thread) kill the running units
and raise :class:`Interrupted`, even when the process inherited SIGINT as ignored (a background
job of a non-interactive shell does, and so do some CI services that cancel jobs with SIGINT): a
test run is always stoppable. The previous dispositions are restored when the run ends.

Retries: with ``retry_failed``, a unit that ended badly is queued once more behind all other
units (when the machine is less loaded). If the retry does not end badly the unit is reported
with that outcome, ``flaky=True`` and ``attempts=2``; otherwise the retry's result stands.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import hashlib
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TextIO

from . import runner
from .capture import BoundedCapture, read_guest_file
from .errors import HarnessError, RunnerError
from .results import (
    CaseResult,
    Host,
    Outcome,
    RunPart,
    SuiteRun,
    UnitResult,
    host_info,
    is_bad,
    tail_text,
)

MAX_OUTPUT_CHARS = 32 * 1024 * 1024
"""Bytes read at most from an output file of :class:`InProcessExecutor`."""
UNIT_TOKEN_ENV = "WASIPORTS_UNIT_TOKEN"
"""Set for each unit process to a fresh token: descendants that leave its process group carry
it, so the harness can find and kill them (:func:`kill_escaped`)."""
DEFAULT_GRACE = 30.0
"""Seconds a unit process gets beyond its own timeout (runner start, module compile) before the
harness kills it."""


# --- the plug-in interfaces ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class UnitCommand:
    """How to run one unit on the host."""

    argv: tuple[str, ...]
    timeout: float
    """The unit's own time budget in seconds (the executor adds a grace before killing)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Changes to the harness's environment for the host process (not the guest's)."""
    cwd: Path | None = None

    def __post_init__(self) -> None:
        if not self.argv:
            raise HarnessError("a unit command needs a program to run")
        if self.timeout <= 0:
            raise HarnessError(f"unit timeout must be positive, not {self.timeout!r}")
        object.__setattr__(self, "argv", tuple(os.fspath(a) for a in self.argv))


@dataclass(frozen=True, kw_only=True)
class Completed:
    """How a unit's process ended."""

    exit_code: int | None
    """Its exit status; ``None`` when it had none (killed by a signal)."""
    output: str
    """stdout and stderr (interleaved by :class:`ProcessExecutor`)."""
    duration: float
    timed_out: bool = False
    """The executor killed it for running past ``timeout`` + grace."""
    signal: int | None = None
    """The signal that ended it, if one did."""
    pid: int | None = None
    """The host process id (also its process group id), if it was a process."""
    note: str = ""
    """What the executor did or saw, e.g. ``killed after 32 s (timeout 2 s + 30 s grace)``."""
    output_cut: int = 0
    """Bytes of output the executor dropped to stay within its cap (see :mod:`toolchain.capture`)."""


class Adapter(Protocol):
    """A language's test suite, seen as a list of independent units."""

    @property
    def suite(self) -> str:
        """The suite's name, the recipe id (``python-3.13.5``)."""
        ...

    def list_units(self) -> list[str]:
        """Every unit id of the suite (any order; the harness sorts)."""
        ...

    def command(self, unit: str, scratch: Path) -> UnitCommand:
        """The command for ``unit``; ``scratch`` is a fresh directory to map as the guest's /tmp."""
        ...

    def parse(self, unit: str, scratch: Path, completed: Completed) -> UnitResult:
        """Read the unit's output into a result.

        The harness then sets the fields it owns (suite, unit, duration, exit_code, attempts,
        flaky; log_tail if left empty) and overrides the outcome with ``timeout``/``crash`` when
        the executor killed the process or it died of a signal (cases parsed so far are kept).
        """
        ...


class Executor(Protocol):
    """Runs unit commands; must be safe to call from several threads at once."""

    def execute(self, command: UnitCommand, scratch: Path) -> Completed:
        """Run ``command`` to its end (or kill it); :class:`HarnessError` if it cannot start."""
        ...

    def cancel(self) -> None:
        """Kill everything running now (the harness was interrupted); later calls may fail."""
        ...


# --- small helpers adapters use -----------------------------------------------------------------

_RUNNER_LINE = re.compile(rf"^{re.escape(runner.PROG)}: (?:(?P<module>[^:\s]+): )?(?P<msg>.+)$")


def runner_diagnostic(output: str) -> str | None:
    """The last line the wasm runner itself printed (a trap, a timeout, a load error), if any."""
    found = None
    for line in output.splitlines():
        match = _RUNNER_LINE.match(line.strip())
        # "wasiports run: warning: …" (the "warning" would otherwise pass for a module name)
        if match is None or match["module"] == "warning" or match["msg"].startswith("warning:"):
            continue
        found = match["msg"]
    return found


def exit_outcome(exit_code: int | None, output: str = "") -> tuple[Outcome, str]:
    """Outcome and reason for a ``toolchain.runner`` exit status (see its module docstring).

    A timeout is told by the runner's own ``timed out after …`` line, not by the status: a
    guest may ``exit(124)`` itself, and that is a failing exit status like any other.
    """
    diagnostic = runner_diagnostic(output)
    if exit_code is None:
        return Outcome.CRASH, "the process ended without an exit status"
    if exit_code == 0:
        return Outcome.PASS, ""
    if exit_code == runner.EXIT_TIMEOUT and diagnostic is not None:
        if diagnostic.startswith(runner.TIMEOUT_MESSAGE):
            return Outcome.TIMEOUT, diagnostic
    if exit_code == runner.EXIT_TRAP:
        return Outcome.CRASH, diagnostic or "the guest trapped"
    if exit_code == runner.EXIT_INTERRUPTED and diagnostic:
        return Outcome.ERROR, diagnostic
    if exit_code == RunnerError.exit_code and diagnostic:
        return Outcome.ERROR, diagnostic  # the runner could not load or start the module
    return Outcome.FAIL, f"exit status {exit_code}"


def trap_message(exit_code: int | None, output: str) -> str | None:
    """The wasm trap of a run that trapped (exit status 134), else ``None``."""
    if exit_code != runner.EXIT_TRAP:
        return None
    return runner_diagnostic(output) or "unknown trap"


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` → ``(2, 4)``; a :class:`HarnessError` for anything else."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise HarnessError(f"bad shard {text!r}", hint="write it as I/N, e.g. 2/4 (1-based)")
    shard = (int(match[1]), int(match[2]))
    _check_shard(shard)
    return shard


def _check_shard(shard: tuple[int, int]) -> None:
    index, count = shard
    if count < 1 or not 1 <= index <= count:
        raise HarnessError(
            f"bad shard {index}/{count}", hint="the shard index runs from 1 to the shard count"
        )


def shard_units(units: Iterable[str], shard: tuple[int, int] | None) -> list[str]:
    """The sorted units of shard ``(i, n)``: every n-th, starting at the i-th (all if ``None``)."""
    ordered = sorted(set(units))
    if shard is None:
        return ordered
    _check_shard(shard)
    index, count = shard
    return ordered[index - 1 :: count]


def unit_slug(unit: str) -> str:
    """A file name for ``unit``: the id itself when it is safe, else a cleaned form plus a hash."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", unit).strip("._") or "unit"
    if clean == unit and len(unit) <= 100:
        return unit
    return f"{clean[:80]}-{hashlib.sha256(unit.encode()).hexdigest()[:10]}"


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


# --- executors ----------------------------------------------------------------------------------


def _exited(pid: int) -> bool:
    """Has ``pid`` (our child) ended? Does not reap it, so its pid and group id stay reserved."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _read_output(path: Path) -> str:
    """A file the runner wrote for :class:`InProcessExecutor` (no symlink followed; bounded)."""
    data = read_guest_file(path, MAX_OUTPUT_CHARS) or b""
    return data.decode("utf-8", errors="replace")


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


class InProcessExecutor:
    """Runs ``… -m toolchain.runner run ARGS…`` commands with :func:`toolchain.runner.run` on a
    thread of this process (for tests that may not start processes).

    Only the runner arguments are used: ``UnitCommand.env`` and ``cwd`` (host-process settings)
    are ignored. The guest's stdout and stderr go to two files in ``scratch``; ``output`` is
    stdout followed by stderr and the runner's own trap/timeout line, as the command line prints.
    """

    def execute(self, command: UnitCommand, scratch: Path) -> Completed:
        argv = list(command.argv)
        if "toolchain.runner" not in argv:
            raise HarnessError(
                f"InProcessExecutor runs toolchain.runner commands, not {shlex.join(argv)}"
            )
        args = argv[argv.index("toolchain.runner") + 1 :]
        if args[:1] != ["run"]:
            raise HarnessError(f"expected 'toolchain.runner run …', got {shlex.join(argv)}")
        began = time.monotonic()
        try:
            spec = runner.parse_args(args[1:])
        except (runner.UsageError, RunnerError) as e:
            raise HarnessError(f"bad runner command {shlex.join(argv)}", why=str(e)) from e
        out, err = scratch / "stdout.log", scratch / "stderr.log"
        spec = _replace_stdio(spec, out, err)
        try:
            result = runner.run(spec)
            exit_code, diagnostic = result.exit_code, result.trap
        except RunnerError as e:
            exit_code, diagnostic = RunnerError.exit_code, e.render()
        output = _read_output(out) + _read_output(err)
        if diagnostic is not None:
            output += f"{runner.PROG}: {spec.module.name}: {diagnostic}\n"
        return Completed(
            exit_code=exit_code, output=output, duration=time.monotonic() - began
        )

    def cancel(self) -> None:
        """Nothing to kill: in-process guests stop at their runner timeout."""


def _replace_stdio(spec: runner.RunSpec, stdout: Path, stderr: Path) -> runner.RunSpec:
    return dataclasses.replace(spec, stdout=stdout, stderr=stderr)


# --- a generic adapter --------------------------------------------------------------------------


class WasmCommandAdapter:
    """A suite whose units are WASI command modules (named by file name); exit 0 passes.

    Each unit runs as ``python -m toolchain.runner run --timeout T --dir SCRATCH::/tmp
    [runner_options] MODULE``. Useful on its own for suites of small test programs.
    """

    def __init__(
        self,
        suite: str,
        modules: Iterable[Path],
        *,
        timeout: float = 60.0,
        runner_options: Sequence[str] = (),
        python: str = sys.executable,
    ) -> None:
        self._suite = suite
        self.timeout = timeout
        self.runner_options = tuple(runner_options)
        self.python = python
        self.modules: dict[str, Path] = {}
        for module in modules:
            if module.name in self.modules:
                raise HarnessError(
                    f"two modules named {module.name}: {self.modules[module.name]} and {module}",
                    hint="unit ids are file names and must be unique",
                )
            self.modules[module.name] = module

    @property
    def suite(self) -> str:
        return self._suite

    def list_units(self) -> list[str]:
        return sorted(self.modules)

    def command(self, unit: str, scratch: Path) -> UnitCommand:
        argv = (
            self.python, "-m", "toolchain.runner", "run",
            "--timeout", f"{self.timeout:g}", "--dir", f"{scratch}::/tmp",
            *self.runner_options, str(self.modules[unit]),
        )  # fmt: skip
        return UnitCommand(argv=argv, timeout=self.timeout)

    def parse(self, unit: str, scratch: Path, completed: Completed) -> UnitResult:
        outcome, reason = exit_outcome(completed.exit_code, completed.output)
        return UnitResult(
            suite=self.suite,
            unit=unit,
            outcome=outcome,
            duration=completed.duration,
            exit_code=completed.exit_code,
            trap=trap_message(completed.exit_code, completed.output),
            reason=reason,
        )


# --- the scheduler ------------------------------------------------------------------------------


class Interrupted(KeyboardInterrupt):
    """The harness got SIGINT or SIGTERM; running units were killed first."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by {_signal_name(signum)}")


@contextlib.contextmanager
def _interrupt_handlers() -> Iterator[None]:
    """In the main thread: turn SIGINT and SIGTERM into :class:`Interrupted` while running,
    whatever disposition the process inherited (see the module docstring)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    raised = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if not raised.is_set():  # a second Ctrl-C must not cut the cleanup short
            raised.set()
            raise Interrupted(signum)

    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.getsignal(signum)
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


class _Stopped(Exception):
    """A worker's unit was abandoned because the run is stopping."""


@dataclass
class _Scheduler:
    """The shared work list: first attempts in order, retries queued behind them."""

    pending: deque[tuple[str, int]]
    total: int
    finished: int = 0
    in_flight: int = 0
    results: dict[str, UnitResult] = field(default_factory=dict)
    first_attempts: dict[str, UnitResult] = field(default_factory=dict)
    stopping: bool = False
    error: BaseException | None = None
    cond: threading.Condition = field(default_factory=threading.Condition)

    def take(self) -> tuple[str, int] | None:
        with self.cond:
            while True:
                if self.stopping:
                    return None
                if self.pending:
                    self.in_flight += 1
                    return self.pending.popleft()
                if self.in_flight == 0:
                    return None
                self.cond.wait()

    def release(self) -> None:
        with self.cond:
            self.in_flight -= 1
            self.cond.notify_all()

    def stop(self, error: BaseException | None = None) -> None:
        with self.cond:
            self.stopping = True
            if error is not None and self.error is None:
                self.error = error
            self.cond.notify_all()

    def wait(self, timeout: float) -> bool:
        """True once all work is done or the run is stopping."""
        with self.cond:
            if not (self.stopping or (not self.pending and self.in_flight == 0)):
                self.cond.wait(timeout)
            return self.stopping or (not self.pending and self.in_flight == 0)


@dataclass
class _Run:
    adapter: Adapter
    executor: Executor
    scratch_root: Path
    retry_failed: bool
    keep_scratch: bool
    out: TextIO
    scheduler: _Scheduler
    retry_if: Callable[[UnitResult], bool] | None = None
    print_lock: threading.Lock = field(default_factory=threading.Lock)

    def say(self, line: str) -> None:
        with self.print_lock:
            print(line, file=self.out, flush=True)

    def counter(self) -> str:
        width = len(str(self.scheduler.total))
        return f"[{self.scheduler.finished:>{width}}/{self.scheduler.total}]"

    def worker(self) -> None:
        try:
            while (item := self.scheduler.take()) is not None:
                try:
                    self.one(*item)
                except _Stopped:
                    pass
                finally:
                    self.scheduler.release()
        except BaseException as e:  # a bug in the harness or an adapter: stop the run
            self.scheduler.stop(e)

    def one(self, unit: str, attempt: int) -> None:
        unit_dir = self.scratch_root / unit_slug(unit)
        if attempt == 1:
            shutil.rmtree(unit_dir, ignore_errors=True)
        scratch = unit_dir / f"attempt-{attempt}"
        scratch.mkdir(parents=True, exist_ok=True)
        result = self.attempt(unit, scratch, attempt)
        if not self.keep_scratch and not is_bad(result.outcome):
            shutil.rmtree(scratch, ignore_errors=True)
            log_path(scratch).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                unit_dir.rmdir()  # only if no kept attempt is in it
        sched = self.scheduler
        retry = (self.retry_failed and attempt == 1 and is_bad(result.outcome)
                 and (self.retry_if is None or self.retry_if(result)))
        with sched.cond:
            if sched.stopping:
                raise _Stopped
            if retry:
                sched.first_attempts[unit] = result
                sched.pending.append((unit, attempt + 1))
                line = f"[retry] {unit} ... {self.describe(result)}; will retry"
            else:
                first = sched.first_attempts.get(unit)
                if first is not None:
                    result = _after_retry(first, result)
                sched.results[unit] = result
                sched.finished += 1
                line = f"{self.counter()} {unit} ... {self.describe(result)}"
            self.say(line)  # under the lock, so the counter only goes up

    @staticmethod
    def describe(result: UnitResult) -> str:
        text = f"{result.outcome.value} ({result.duration:.1f} s)"
        if result.flaky:
            text += f" flaky, {result.attempts} attempts"
        if is_bad(result.outcome) and result.reason:
            reason = result.reason.splitlines()[0]
            text += f": {reason[:117] + '...' if len(reason) > 120 else reason}"
        return text

    def attempt(self, unit: str, scratch: Path, attempt: int) -> UnitResult:
        """Run one attempt; whatever goes wrong becomes this unit's result, never the run's."""
        suite = self.adapter.suite
        try:
            command = self.adapter.command(unit, scratch)
        except Exception as e:
            return _error_unit(suite, unit, attempt, f"the adapter gave no command: {_exc(e)}")
        try:
            completed = self.executor.execute(command, scratch)
        except Exception as e:
            if self.scheduler.stopping:
                raise _Stopped from e
            return _error_unit(suite, unit, attempt, f"could not run the unit: {_exc(e)}")
        try:
            parsed: UnitResult | None = self.adapter.parse(unit, scratch, completed)
            problem = ""
        except Exception as e:
            parsed, problem = None, f"the adapter could not read the output: {_exc(e)}"
        return _finalize(suite, unit, attempt, parsed, problem, completed)


def _exc(e: BaseException) -> str:
    text = e.render() if isinstance(e, HarnessError) else str(e)
    return f"{type(e).__name__}: {text}".splitlines()[0] if text else type(e).__name__


def _error_unit(suite: str, unit: str, attempt: int, reason: str) -> UnitResult:
    return UnitResult(
        suite=suite, unit=unit, outcome=Outcome.ERROR, duration=0.0, exit_code=None,
        reason=reason, attempts=attempt,
    )  # fmt: skip


def _finalize(
    suite: str,
    unit: str,
    attempt: int,
    parsed: UnitResult | None,
    problem: str,
    completed: Completed,
) -> UnitResult:
    """The adapter's result with the harness-owned fields set and kills turned into outcomes."""
    outcome = parsed.outcome if parsed else Outcome.ERROR
    reason = parsed.reason if parsed else problem
    cases: tuple[CaseResult, ...] = parsed.cases if parsed else ()
    trap = parsed.trap if parsed else None
    if completed.timed_out:
        outcome, reason = Outcome.TIMEOUT, completed.note or "killed by the harness (timeout)"
    elif completed.signal is not None:
        outcome = Outcome.CRASH
        reason = f"the unit's process died: {completed.note or _signal_name(completed.signal)}"
    log_tail = parsed.log_tail if parsed and parsed.log_tail else tail_text(completed.output)
    if completed.output_cut and not reason:
        reason = f"output cut by the harness: {completed.output_cut} bytes dropped"
    return UnitResult(
        suite=suite,
        unit=unit,
        outcome=outcome,
        duration=round(completed.duration, 3),
        exit_code=completed.exit_code,
        trap=trap,
        reason=reason,
        attempts=attempt,
        flaky=False,
        cases=cases,
        log_tail=log_tail,
        output_cut=completed.output_cut,
    )


def _after_retry(first: UnitResult, last: UnitResult) -> UnitResult:
    """The final result of a retried unit: flaky if the retry did not end badly."""
    was = f"first attempt: {first.outcome.value}" + (f" ({first.reason})" if first.reason else "")
    if is_bad(last.outcome):
        if last.outcome == first.outcome:
            return last
        return last.model_copy(update={"reason": f"{last.reason}; {was}".lstrip("; ")})
    return last.model_copy(update={"flaky": True, "reason": f"flaky: {was}"})


def resolve_skips(units: Sequence[str], skip: Mapping[str, str]) -> dict[str, str]:
    """unit -> reason for each of ``units`` that a ``skip`` key names or matches as a glob (the
    exact name wins over a glob; of several globs, the first)."""
    out: dict[str, str] = {}
    for unit in units:
        if unit in skip:
            out[unit] = skip[unit]
        elif match := next((p for p in skip if fnmatch.fnmatchcase(unit, p)), None):
            out[unit] = skip[match]
    return out


def run_suite(
    adapter: Adapter,
    executor: Executor,
    *,
    work_dir: Path,
    workers: int | None = None,
    shard: tuple[int, int] | None = None,
    retry_failed: bool = True,
    retry_if: Callable[[UnitResult], bool] | None = None,
    skip: Mapping[str, str] | None = None,
    keep_scratch: bool = False,
    out: TextIO | None = None,
    host: Host | None = None,
) -> SuiteRun:
    """Run the adapter's units (or shard ``(i, n)`` of them) on ``workers`` threads.

    ``retry_if`` narrows the retries to bad results it accepts (e.g. not fully expected ones).
    ``skip`` maps units not to run at all (a name or an fnmatch glob, as expectations write
    them) to a reason; they are reported as ``skip``. One progress line per finished unit goes to ``out`` (default stdout).
    On SIGINT/SIGTERM (main thread) or a harness bug, running units are killed through
    ``executor.cancel()`` before the exception propagates (:class:`Interrupted` for signals).
    """
    out = out if out is not None else sys.stdout
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise HarnessError(f"workers must be at least 1, not {workers}")
    listed = adapter.list_units()
    duplicates = sorted({u for u in listed if listed.count(u) > 1})
    if duplicates:
        raise HarnessError(
            f"{adapter.suite}: the adapter lists units twice: {', '.join(duplicates[:5])}"
        )
    units = shard_units(listed, shard)
    skip = resolve_skips(units, skip or {})
    todo = [u for u in units if u not in skip]
    scratch_root = work_dir / "scratch"
    scratch_root.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)
    began = time.monotonic()
    scheduler = _Scheduler(pending=deque((u, 1) for u in todo), total=len(units))
    state = _Run(adapter, executor, scratch_root, retry_failed, keep_scratch, out, scheduler, retry_if=retry_if)
    shard_text = f" (shard {shard[0]}/{shard[1]})" if shard else ""
    state.say(
        f"{adapter.suite}{shard_text}: {len(units)} units, {len(todo)} to run on "
        f"{min(workers, max(len(todo), 1))} workers"
    )
    for unit in units:
        if unit in skip:
            scheduler.results[unit] = UnitResult(
                suite=adapter.suite, unit=unit, outcome=Outcome.SKIP, duration=0.0,
                exit_code=None, reason=skip[unit],
            )  # fmt: skip
            scheduler.finished += 1
            state.say(f"{state.counter()} {unit} ... skip: {skip[unit]}")
    threads = [
        threading.Thread(target=state.worker, name=f"harness-{i + 1}", daemon=True)
        for i in range(min(workers, len(todo)))
    ]
    with _interrupt_handlers():
        try:
            for thread in threads:
                thread.start()
            while not scheduler.wait(0.2):
                pass
            if scheduler.error is not None:
                raise scheduler.error
        except BaseException:
            scheduler.stop()
            executor.cancel()
            for thread in threads:
                if thread.ident is not None:  # started
                    thread.join(timeout=30)
            raise
    for thread in threads:
        thread.join()
    finished = datetime.now(timezone.utc)
    run = SuiteRun(
        suite=adapter.suite,
        started=started,
        finished=finished,
        host=host or host_info(),
        shard=f"{shard[0]}/{shard[1]}" if shard else None,
        units=tuple(scheduler.results[u] for u in units),
    )
    counts = ", ".join(f"{n} {o.value}" for o, n in run.summary.units.items() if n)
    took = time.monotonic() - began
    state.say(f"{adapter.suite}{shard_text}: {counts or 'no units'} in {took:.1f} s")
    return run


# --- merging shards -----------------------------------------------------------------------------


def _shard_set(run: SuiteRun) -> tuple[set[int], int] | None:
    if run.shard is None:
        return None
    indices, _, count = run.shard.partition("/")
    return {int(i) for i in indices.split(",")}, int(count)


def merge(runs: Sequence[SuiteRun], *, allow_partial: bool = False) -> SuiteRun:
    """Combine shard runs of one suite into one run, losing nothing.

    Units are kept as they are (sorted by id); each input's shard, host and times are kept in
    ``parts`` (flattened if an input was itself merged). Refused: no runs, different suites,
    a unit in two runs, a shard twice, shard counts that differ, an unsharded run among
    shards, and (unless ``allow_partial``) missing shards. A partial merge gets a shard such
    as ``"1,3/4"``; a complete one none.
    """
    if not runs:
        raise HarnessError("nothing to merge")
    suites = sorted({r.suite for r in runs})
    if len(suites) > 1:
        raise HarnessError(f"cannot merge runs of different suites: {', '.join(suites)}")
    suite = suites[0]
    owner: dict[str, int] = {}
    for n, run in enumerate(runs):
        for unit in run.units:
            if unit.unit in owner:
                raise HarnessError(
                    f"{suite}: unit {unit.unit!r} is in run {owner[unit.unit] + 1} and run {n + 1}",
                    why="shards must partition the units",
                    hint="were the shards made from different unit lists or the same shard twice?",
                )
            owner[unit.unit] = n
    shards = [_shard_set(r) for r in runs]
    shard: str | None = None
    if any(s is None for s in shards):
        if len(runs) > 1:
            raise HarnessError(
                f"{suite}: cannot merge an unsharded run with other runs",
                hint="merge only the runs of one `--shard I/N` split",
            )
    else:
        counts = {s[1] for s in shards if s is not None}
        if len(counts) > 1:
            splits = ", ".join(f"/{n}" for n in sorted(counts))
            raise HarnessError(f"{suite}: shards of different splits: {splits}")
        count = counts.pop()
        seen: set[int] = set()
        for s in shards:
            assert s is not None
            if seen & s[0]:
                raise HarnessError(f"{suite}: shard {min(seen & s[0])}/{count} appears twice")
            seen |= s[0]
        missing = sorted(set(range(1, count + 1)) - seen)
        if missing and not allow_partial:
            raise HarnessError(
                f"{suite}: shards missing: {', '.join(f'{i}/{count}' for i in missing)}",
                hint="merge all shards, or pass allow_partial to merge what there is",
            )
        shard = f"{','.join(map(str, sorted(seen)))}/{count}" if missing else None
    parts: list[RunPart] = []
    for run in runs:
        parts.extend(run.parts or [
            RunPart(shard=run.shard, host=run.host, started=run.started,
                    finished=run.finished, units=len(run.units))
        ])  # fmt: skip
    parts.sort(key=lambda p: (_first_index(p.shard), p.started))
    units = sorted((u for r in runs for u in r.units), key=lambda u: u.unit)
    return SuiteRun(
        suite=suite,
        started=min(r.started for r in runs),
        finished=max(r.finished for r in runs),
        host=parts[0].host,
        shard=shard,
        parts=tuple(parts) if len(parts) > 1 or runs[0].parts else (),
        units=tuple(units),
    )


def _first_index(shard: str | None) -> int:
    return int(shard.partition("/")[0].split(",")[0]) if shard else 0
