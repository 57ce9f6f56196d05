"""The scheduler: :func:`run_suite` runs a suite's units on worker threads, retries the ones that
ended badly, turns kills into outcomes, and stops cleanly on SIGINT/SIGTERM (see the package
docstring for the scratch-directory, interrupt and retry rules)."""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from ..errors import HarnessError
from ..results import CaseResult, Host, Outcome, SuiteRun, UnitResult, host_info, is_bad, tail_text
from .executors import _signal_name, log_path
from ..runner_outcome import trap_message
from .interfaces import Adapter, Completed, Executor, Parsed
from .shards import shard_units


def unit_slug(unit: str) -> str:
    """A file name for ``unit``: the id itself when it is safe, else a cleaned form plus a hash."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", unit).strip("._") or "unit"
    if clean == unit and len(unit) <= 100:
        return unit
    return f"{clean[:80]}-{hashlib.sha256(unit.encode()).hexdigest()[:10]}"


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
            parsed: Parsed | None = self.adapter.parse(unit, scratch, completed)
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
    parsed: Parsed | None,
    problem: str,
    completed: Completed,
) -> UnitResult:
    """The unit's result: what the adapter parsed, the fields the harness owns, and kills
    turned into outcomes."""
    outcome = parsed.outcome if parsed else Outcome.ERROR
    reason = parsed.reason if parsed else problem
    cases: tuple[CaseResult, ...] = parsed.cases if parsed else ()
    trap = trap_message(completed.exit_code, completed.output)
    if completed.timed_out:
        outcome, reason = Outcome.TIMEOUT, completed.note or "killed by the harness (timeout)"
    elif completed.signal is not None:
        outcome = Outcome.CRASH
        reason = f"the unit's process died: {completed.note or _signal_name(completed.signal)}"
    log_tail = tail_text(completed.output)
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
    only: Sequence[str] = (),
    keep_scratch: bool = False,
    out: TextIO | None = None,
    host: Host | None = None,
) -> SuiteRun:
    """Run the adapter's units (or shard ``(i, n)`` of them) on ``workers`` threads.

    ``retry_if`` narrows the retries to bad results it accepts (e.g. not fully expected ones).
    ``skip`` maps units not to run at all (a name or an fnmatch glob, as expectations write
    them) to a reason; they are reported as ``skip``. ``only`` runs just those units (each must
    be one the adapter lists), in place of all of them, before sharding. One progress line per finished unit goes to ``out`` (default stdout).
    On SIGINT/SIGTERM (main thread) or a harness bug, running units are killed through
    ``executor.cancel()`` before the exception propagates (:class:`Interrupted` for signals).
    """
    out = out if out is not None else sys.stdout
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise HarnessError(f"workers must be at least 1, not {workers}")
    units, skips = _plan(adapter, shard, skip or {}, only)
    todo = [u for u in units if u not in skips]
    scratch_root = work_dir / "scratch"
    scratch_root.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)
    began = time.monotonic()
    scheduler = _Scheduler(pending=deque((u, 1) for u in todo), total=len(units))
    state = _Run(adapter, executor, scratch_root, retry_failed, keep_scratch, out, scheduler,
                 retry_if=retry_if)
    shard_text = f" (shard {shard[0]}/{shard[1]})" if shard else ""
    state.say(
        f"{adapter.suite}{shard_text}: {len(units)} units, {len(todo)} to run on "
        f"{min(workers, max(len(todo), 1))} workers"
    )
    _record_skips(state, units, skips)
    _run_workers(state, min(workers, len(todo)))
    run = SuiteRun(
        suite=adapter.suite,
        started=started,
        finished=datetime.now(timezone.utc),
        host=host or host_info(),
        shard=f"{shard[0]}/{shard[1]}" if shard else None,
        units=tuple(scheduler.results[u] for u in units),
    )
    counts = ", ".join(f"{n} {o.value}" for o, n in run.summary.units.items() if n)
    took = time.monotonic() - began
    state.say(f"{adapter.suite}{shard_text}: {counts or 'no units'} in {took:.1f} s")
    return run


def _plan(adapter: Adapter, shard: tuple[int, int] | None, skip: Mapping[str, str],
          only: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The units of this run (its shard, sorted) and which of them are skipped, with why."""
    listed = adapter.list_units()
    duplicates = sorted({u for u in listed if listed.count(u) > 1})
    if duplicates:
        raise HarnessError(
            f"{adapter.suite}: the adapter lists units twice: {', '.join(duplicates[:5])}"
        )
    if only:
        unknown = [u for u in only if u not in set(listed)]
        if unknown:
            raise HarnessError(f"{adapter.suite}: no such test unit(s): {', '.join(unknown)}")
        listed = list(only)
    units = shard_units(listed, shard)
    return units, resolve_skips(units, skip)


def _record_skips(state: _Run, units: Sequence[str], skips: Mapping[str, str]) -> None:
    """Report the skipped units as results, in order, without running them."""
    for unit in units:
        if unit in skips:
            state.scheduler.results[unit] = UnitResult(
                suite=state.adapter.suite, unit=unit, outcome=Outcome.SKIP, duration=0.0,
                exit_code=None, reason=skips[unit],
            )  # fmt: skip
            state.scheduler.finished += 1
            state.say(f"{state.counter()} {unit} ... skip: {skips[unit]}")


def _run_workers(state: _Run, count: int) -> None:
    """Run the pending units on ``count`` threads until done; on an interrupt or a harness bug,
    kill the running units through the executor, then let the exception propagate."""
    scheduler = state.scheduler
    threads = [threading.Thread(target=state.worker, name=f"harness-{i + 1}", daemon=True)
               for i in range(count)]
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
            state.executor.cancel()
            for thread in threads:
                if thread.ident is not None:  # started
                    thread.join(timeout=30)
            raise
    for thread in threads:
        thread.join()
