"""Run WASI preview 1 command modules with wasmtime-py, in-process, sandboxed by default.

Library: ``run(RunSpec(...)) -> RunResult``. Command line (shaped like ``wasmtime run`` so that
CPython's build can use it as ``HOSTRUNNER``)::

    python -m toolchain.runner run [options] MODULE [ARGS...]

The guest sees nothing of the host unless asked: no directories but the ``--dir`` preopens
(``--dir-ro``: read-only, an option only this runner has), no environment but ``--env`` (or
``--inherit-env``), argv exactly as given. Stdio is inherited. A mapping is split at its one
``::`` (``HOST::GUEST``); a value with more than one is refused, since no split is the right one
for a directory whose name contains ``::``.

Exit statuses (of :func:`run` and of the command):

* the guest's own status, from ``proc_exit`` or 0 when ``_start`` returns. WASI statuses are
  unsigned 32-bit; like a POSIX ``wait`` status they are reduced to their low byte (``exit(-1)``
  and ``exit(255)`` give 255, ``exit(256)`` gives 0, as natively).
* :data:`EXIT_TRAP` (134 = 128 + SIGABRT, as ``wasmtime run`` reports traps) when the guest
  traps; :attr:`RunResult.trap` holds one line such as
  ``wasm trap: wasm `unreachable` instruction executed``.
* :data:`EXIT_TIMEOUT` (124, as coreutils ``timeout``) when the wall-clock limit was hit; the
  command line then prints ``wasiports run: MODULE: timed out after …`` (:data:`TIMEOUT_MESSAGE`).
  A guest may exit with 124 itself: only that line tells a timeout (``harness.exit_outcome``).
* :data:`EXIT_INTERRUPTED` (130 = 128 + SIGINT), command line only, on Ctrl-C.
* ``RunnerError.exit_code`` (8), command line only, when the module cannot be loaded or linked.

Why ``proc_exit`` is ours: wasmtime's WASI refuses statuses outside ``[0, 126)``. Observed with
wasmtime 50.0.1: ``proc_exit(255)`` raises a plain ``WasmtimeError`` (not ``ExitTrap``, no
``.code``) whose root cause is ``exit with invalid exit status outside of [0..126)`` - the status
is lost. PHP exits with 255 on fatal errors, so the runner shadows
``wasi_snapshot_preview1.proc_exit`` with a host function that records the status and unwinds.

Stack: CPython needs a 16 MiB wasm stack. ``Config.max_wasm_stack`` above wasmtime's async stack
size (2 MiB by default) makes ``Engine()`` panic and abort the process, and wasmtime-py has no
setter for the latter, so :func:`_make_engine` calls the C API's
``wasmtime_config_async_stack_size_set`` (bound in ``wasmtime._ffi``) first. The wasm stack
also lives on the native stack of the calling thread: a main thread with the usual 8 MiB
``ulimit -s`` segfaults long before 16 MiB of wasm frames, so guests run on a worker thread
created with a stack of ``stack_size`` + :data:`THREAD_STACK_MARGIN`.

Timeout: a run with a ``timeout`` gets an engine with epoch interruption on and a store deadline
of one tick. Each run gets its own engine, and its epoch is only ever bumped to stop that run: by
the waiting caller when ``timeout`` expires, or on Ctrl-C. Epochs are checked in wasm code only; a
guest blocked in a host call (reading an empty pipe) is abandoned after :data:`HOST_CALL_GRACE`
on its daemon thread, which does not keep the process alive. A run without a timeout (the
launcher's default) compiles without the checks, which cost 3-38% of a CPU-bound program's
time (docs/performance.md): Ctrl-C then abandons the guest on its daemon thread at once.

Limits: ``--max-memory`` (default: ``$WASIPORTS_MAX_MEMORY``, bytes; the option wins) caps each
linear memory and, at :data:`TABLE_ELEMENT_BYTES` an element, each table: a 40M-element table
once took 368 MB of a run capped at far less. ``memory.grow``/``table.grow`` past the cap return
-1 in the guest; a module whose initial sizes exceed it cannot be instantiated.

Compiled modules are cached in ``paths.wasm_cache_dir()`` (see :func:`load_module`), each entry
with a sha256 recorded when it was written and checked before use (a corrupt entry that
wasmtime accepted once killed the runner with SIGTRAP). Both the module's digest and an entry's
check are memoised by a stat stamp that includes the inode and ctime, which a write always
changes and ``utime`` cannot set back. Measured on a 30 MB module, wasmtime 50.0.1, a busy
2-core machine: a cache hit costs 0.4-0.5 ms in all (0.3-0.35 ms without the check); the full
check of an entry, after a change, 26-32 ms. wasmtime's own ``Config.cache`` is left off (it
writes to ``~/.cache/wasmtime``).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import wasmtime

from .errors import RunnerError
from .runner_cache import (  # noqa: F401 (PROG and ASYNC_STACK_MARGIN re-exported)
    ASYNC_STACK_MARGIN,
    PROG,
    _make_engine,
    epoch_interruption,
    _one_line,
    load_module,
)

log = logging.getLogger(__name__)

EXIT_TRAP = 134
"""Exit status of a guest that trapped (128 + SIGABRT, like ``wasmtime run``)."""
EXIT_TIMEOUT = 124
"""Exit status of a guest stopped by the wall-clock limit (like coreutils ``timeout``)."""
TIMEOUT_MESSAGE = "timed out after"
"""How the runner's own line about a timeout begins (after ``wasiports run: MODULE: ``)."""
EXIT_INTERRUPTED = 130
"""Exit status of the command line when interrupted by Ctrl-C (128 + SIGINT)."""

DEFAULT_STACK_SIZE = 16 * 1024 * 1024
THREAD_STACK_MARGIN = 8 * 1024 * 1024
"""Native stack for host frames (Python, wasmtime, WASI calls) on top of the wasm stack."""
HOST_CALL_GRACE = 1.0
"""Seconds an interrupted guest gets to reach an epoch check; a guest blocked in a host call
(e.g. reading an empty stdin) does not, and is then abandoned on its daemon thread."""

TABLE_ELEMENT_BYTES = 8
"""What wasmtime 50 documents a table element to take (``Store.set_limits``): the memory cap in
bytes divided by this bounds each table's elements."""
MAX_MEMORY_ENV = "WASIPORTS_MAX_MEMORY"
"""The default of ``--max-memory`` (bytes, or with a K/M/G suffix); the option wins."""

WASI_MODULE = "wasi_snapshot_preview1"

_thread_stack_lock = threading.Lock()


class Preopen(NamedTuple):
    """A host directory granted to the guest under ``guest``; read-only if asked."""

    host: str
    guest: str
    read_only: bool = False


@dataclass(frozen=True)
class RunSpec:
    """What to run and with which permissions; everything not granted here stays hidden."""

    module: Path
    args: Sequence[str] = ()
    """Guest argv after argv[0]."""
    argv0: str | None = None
    """Guest argv[0]; default: the module's file name."""
    dirs: Sequence[Preopen | tuple[str, str]] = ()
    """Preopened directories: :class:`Preopen` or ``(host_path, guest_path)`` (writable)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """The guest's environment (on top of the host's if ``inherit_env``)."""
    inherit_env: bool = False
    """Pass the host environment through (explicit opt-in)."""
    stack_size: int = DEFAULT_STACK_SIZE
    """Maximum wasm stack in bytes."""
    timeout: float | None = None
    """Wall-clock limit in seconds, enforced by epoch interruption."""
    memory_limit: int | None = None
    """Cap in bytes on each linear memory and (at :data:`TABLE_ELEMENT_BYTES` an element) on each
    table; ``memory.grow`` and ``table.grow`` past it return -1."""
    cwd: str | None = None
    """Guest working directory, passed as ``PWD``."""
    stdin: Path | None = None
    stdout: Path | None = None
    stderr: Path | None = None
    """Files for the guest's stdio (stdout/stderr are truncated); ``None`` inherits ours."""
    wasm_exceptions: bool = False
    """Force on wasm exception handling (PHP's setjmp/longjmp). ``False`` keeps wasmtime's
    default, which in 50.0.1 already accepts the (exnref) proposal; the legacy encoding is
    refused either way."""


@dataclass(frozen=True)
class RunResult:
    """How a guest ended: see the module docstring for the exit-status conventions."""

    exit_code: int
    trap: str | None
    timed_out: bool
    duration: float


# --- running ------------------------------------------------------------------------------------


def _guest_env(spec: RunSpec) -> list[tuple[str, str]]:
    env: dict[str, str] = dict(os.environ) if spec.inherit_env else {}
    env.update(spec.env)
    if spec.cwd is not None:
        env["PWD"] = spec.cwd
    pairs = []
    for key, value in env.items():
        try:
            key.encode("utf-8")
            value.encode("utf-8")
        except UnicodeEncodeError:
            log.warning("not passing %s to the guest: not valid UTF-8", key)
            continue
        pairs.append((key, value))
    return pairs


def _wasi_config(spec: RunSpec) -> wasmtime.WasiConfig:
    wasi = wasmtime.WasiConfig()
    argv0 = spec.argv0 if spec.argv0 is not None else spec.module.name
    wasi.argv = [argv0, *spec.args]
    wasi.env = _guest_env(spec)
    for entry in spec.dirs:
        mount = Preopen(*entry)
        if not Path(mount.host).is_dir():
            raise RunnerError(
                f"cannot preopen {mount.host} as {mount.guest}",
                why="not a directory on the host",
                hint="create it or fix the --dir HOST::GUEST mapping",
            )
        # wasmtime 50: fs_mutable=False grants only reads under the mount (writes fail: EPERM)
        wasi.preopen_dir(str(mount.host), mount.guest, fs_mutable=not mount.read_only)
    streams = (
        (spec.stdin, "stdin_file", wasi.inherit_stdin),
        (spec.stdout, "stdout_file", wasi.inherit_stdout),
        (spec.stderr, "stderr_file", wasi.inherit_stderr),
    )
    for path, attr, inherit in streams:
        if path is None:
            inherit()
            continue
        try:
            setattr(wasi, attr, str(path))
        except wasmtime.WasmtimeError as e:
            raise RunnerError(f"cannot open {path} as the guest's {attr[:-5]}", why=str(e)) from e
    return wasi


class _GuestExit(Exception):
    """Raised by our ``proc_exit`` to unwind the guest."""


@dataclass
class _Outcome:
    """Filled in by the guest thread."""

    exit_code: int | None = None
    trap: str | None = None
    trap_code: wasmtime.TrapCode | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


def _execute(
    engine: wasmtime.Engine, module: wasmtime.Module, spec: RunSpec, outcome: _Outcome
) -> None:
    """Instantiate and call ``_start`` (on the guest thread); record how it ended in ``outcome``."""
    exit_status: list[int] = []

    def proc_exit(status: int) -> None:
        exit_status.append(status & 0xFFFFFFFF)
        raise _GuestExit(status)

    try:
        store = wasmtime.Store(engine)
        if epoch_interruption(spec):
            store.set_epoch_deadline(1)
        if spec.memory_limit is not None:
            store.set_limits(
                memory_size=spec.memory_limit,
                table_elements=max(1, spec.memory_limit // TABLE_ELEMENT_BYTES),
            )
        store.set_wasi(_wasi_config(spec))
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        linker.allow_shadowing = True
        linker.define_func(
            WASI_MODULE, "proc_exit", wasmtime.FuncType([wasmtime.ValType.i32()], []), proc_exit
        )
        try:
            instance = linker.instantiate(store, module)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as e:
            raise RunnerError(
                f"cannot instantiate {spec.module.name}",
                why=_one_line(str(e)),
                hint="missing imports mean the module is not a WASI p1 command "
                "(or needs more than wasmtime's WASI); a memory or table limit error may be "
                f"--max-memory or ${MAX_MEMORY_ENV}",
            ) from e
        start = _export(store, instance, "_start")
        if start is None:
            raise RunnerError(
                f"{spec.module.name} has no _start export", hint="is it a reactor or a library?"
            )
        if not isinstance(start, wasmtime.Func):
            raise RunnerError(f"{spec.module.name}: _start is not a function")
        try:
            start(store)
            outcome.exit_code = 0
        except BaseException as e:  # the guest's end, whichever way it came
            if exit_status:  # checked first: wasmtime-py's exception hand-off is process-global
                outcome.exit_code = exit_status[0] & 0xFF
            elif isinstance(e, wasmtime.ExitTrap):
                outcome.exit_code = e.code & 0xFF
            elif isinstance(e, wasmtime.Trap):
                outcome.trap, outcome.trap_code = _one_line(e.message), e.trap_code
            elif isinstance(e, wasmtime.WasmtimeError):
                outcome.trap = _one_line(str(e))
            else:
                raise
    except BaseException as e:
        outcome.error = e
    finally:
        outcome.done.set()


def _export(store: wasmtime.Store, instance: wasmtime.Instance, name: str) -> object | None:
    """One export by name. ``instance.exports(store)`` wraps every export first, which costs
    ~0.15 s for modules that export thousands of functions (PHP links with --export-dynamic)."""
    from wasmtime import _ffi as ffi
    from wasmtime._extern import wrap_extern

    raw = name.encode()
    item = ffi.wasmtime_extern_t()
    found = ffi.wasmtime_instance_export_get(
        store._context(), ctypes.byref(instance._instance), raw, len(raw), ctypes.byref(item)
    )
    return wrap_extern(item) if found else None


def _start_thread(target: threading.Thread, stack: int) -> None:
    """Start ``target`` with a native stack of ``stack`` bytes (rounded up to 64 KiB)."""
    stack = -(-stack // 65536) * 65536
    with _thread_stack_lock:
        previous = threading.stack_size(stack)
        try:
            target.start()
        finally:
            threading.stack_size(previous)


def run(spec: RunSpec) -> RunResult:
    """Run a WASI p1 command module to completion; return its exit status, trap or timeout.

    Raises :class:`RunnerError` when the module cannot be read, compiled, linked or given its
    preopens/stdio (never because of what the guest did). ``KeyboardInterrupt`` stops the guest
    and propagates.
    """
    if not spec.module.is_file():
        raise RunnerError(f"wasm module {spec.module} not found", hint="build it first")
    if spec.timeout is not None and spec.timeout <= 0:
        raise RunnerError(f"invalid timeout {spec.timeout}", hint="give seconds > 0")
    began = time.monotonic()
    engine = _make_engine(spec)
    module, _ = load_module(engine, spec)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()

    outcome = _Outcome()
    worker = threading.Thread(
        target=_execute, args=(engine, module, spec, outcome), name="wasm-guest", daemon=True
    )
    _start_thread(worker, spec.stack_size + THREAD_STACK_MARGIN)
    timed_out = False
    try:
        if not outcome.done.wait(spec.timeout):
            timed_out = True
            engine.increment_epoch()
            if not outcome.done.wait(HOST_CALL_GRACE):
                return RunResult(
                    exit_code=EXIT_TIMEOUT,
                    trap=f"{TIMEOUT_MESSAGE} {spec.timeout:g} s (guest blocked in a host call; "
                    "abandoned)",
                    timed_out=True,
                    duration=time.monotonic() - began,
                )
    except KeyboardInterrupt:
        if epoch_interruption(spec):
            engine.increment_epoch()
            outcome.done.wait(HOST_CALL_GRACE)
        raise
    duration = time.monotonic() - began
    if outcome.error is not None:
        raise outcome.error
    if timed_out and outcome.exit_code is None:
        return RunResult(
            exit_code=EXIT_TIMEOUT,
            trap=f"{TIMEOUT_MESSAGE} {spec.timeout:g} s",
            timed_out=True,
            duration=duration,
        )
    if outcome.exit_code is not None:
        return RunResult(outcome.exit_code, None, False, duration)
    return RunResult(EXIT_TRAP, outcome.trap or "unknown trap", False, duration)


if __name__ == "__main__":
    from toolchain.runner_cli import main

    verbose = os.environ.get("WASIPORTS_VERBOSE", "") not in ("", "0")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format=f"{PROG}: %(message)s"
    )
    sys.exit(main())
