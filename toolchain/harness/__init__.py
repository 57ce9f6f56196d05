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

The package: :mod:`.interfaces` (Adapter, Executor, UnitCommand, Completed), :mod:`.executors`
(ProcessExecutor), :mod:`.scheduler` (run_suite), :mod:`.shards` (sharding and merge). What a
runner exit status means is :mod:`toolchain.runner_outcome`, re-exported here for the adapters.
"""

from __future__ import annotations

from ..runner_outcome import exit_outcome, runner_diagnostic, trap_message
from .executors import DEFAULT_GRACE, UNIT_TOKEN_ENV, ProcessExecutor, kill_escaped, log_path
from .interfaces import Adapter, Completed, Executor, Parsed, UnitCommand
from .scheduler import Interrupted, resolve_skips, run_suite, unit_slug
from .shards import merge, parse_shard, shard_units

__all__ = [
    "DEFAULT_GRACE", "UNIT_TOKEN_ENV", "Adapter", "Completed", "Executor", "Interrupted",
    "Parsed",
    "ProcessExecutor", "UnitCommand", "exit_outcome", "kill_escaped", "log_path", "merge",
    "parse_shard", "resolve_skips", "run_suite", "runner_diagnostic", "shard_units",
    "trap_message", "unit_slug",
]
