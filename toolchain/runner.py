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

Timeout: every engine has epoch interruption on and each store a deadline of one tick. Each run
gets its own engine, and its epoch is only ever bumped to stop that run: by the waiting caller
when ``timeout`` expires, or on Ctrl-C. Epochs are checked in wasm code only; a guest blocked in
a host call (reading an empty pipe) is abandoned after :data:`HOST_CALL_GRACE` on its daemon
thread, which does not keep the process alive.

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
import functools
import hashlib
import json
import logging
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

import wasmtime
from wasmtime import _ffi as wasmtime_ffi

from . import paths
from .errors import RunnerError

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
ASYNC_STACK_MARGIN = 1024 * 1024
"""wasmtime requires async stack size > max_wasm_stack; we keep this much on top."""
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
PROG = "wasiports run"

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


# --- engine and compiled-module cache ---------------------------------------------------------


@functools.cache
def _wasmtime_version() -> str:
    # The dist-info directory's name, not importlib.metadata: importing that costs ~25 ms, a
    # quarter of a launch.
    site = Path(wasmtime.__file__).resolve().parent.parent
    found = sorted(site.glob("wasmtime-*.dist-info"))
    if found:
        return found[-1].name.removeprefix("wasmtime-").removesuffix(".dist-info")
    else:  # pragma: no cover - vendored copies
        lib = Path(wasmtime_ffi.dll._name)
        st = lib.stat()
        return f"unknown-{st.st_size}-{st.st_mtime_ns}"


def _compile_settings(spec: RunSpec) -> dict[str, object]:
    """The engine settings that shape compiled code (the cache key's config part)."""
    return {
        "wasmtime": _wasmtime_version(),
        "machine": platform.machine(),
        "epoch_interruption": True,
        "wasm_exceptions": spec.wasm_exceptions,
    }


def _make_engine(spec: RunSpec) -> wasmtime.Engine:
    """An engine for one run: epoch interruption on, stack as asked (async stack raised first)."""
    if spec.stack_size <= 0:
        raise RunnerError(f"invalid wasm stack size {spec.stack_size}", hint="give a positive size")
    config = wasmtime.Config()
    # Must precede max_wasm_stack: a wasm stack above the async stack panics Engine().
    wasmtime_ffi.wasmtime_config_async_stack_size_set(
        config.ptr(), ctypes.c_size_t(spec.stack_size + ASYNC_STACK_MARGIN)
    )
    config.max_wasm_stack = spec.stack_size
    config.epoch_interruption = True
    if spec.wasm_exceptions:
        config.wasm_exceptions = True
    return wasmtime.Engine(config)


def _atomic_write(target: Path, data: bytes | bytearray) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _stamp(st: os.stat_result) -> list[int]:
    """What changes whenever a file is written or replaced: its inode and ctime are part of it
    (``utime`` can set the mtime back to what it was, never the ctime)."""
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _file_sha256(f: BinaryIO) -> str:
    return hashlib.file_digest(f, "sha256").hexdigest()


def module_digest(module: Path, cache_dir: Path | None = None) -> str:
    """sha256 of the module's bytes, memoised by its path and :func:`_stamp`."""
    cache_dir = cache_dir or paths.wasm_cache_dir()
    resolved = module.resolve()
    with open(resolved, "rb") as f:
        stamp = [str(resolved), *_stamp(os.fstat(f.fileno()))]
        memo = cache_dir / "digests" / (hashlib.sha256(str(resolved).encode()).hexdigest() + ".json")
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            saved = json.loads(memo.read_text())
            if saved["stamp"] == stamp:
                return str(saved["sha256"])
        digest = _file_sha256(f)
    try:
        _atomic_write(memo, json.dumps({"stamp": stamp, "sha256": digest}).encode())
    except OSError as e:
        log.debug("cannot write digest memo %s: %s", memo, e)
    return digest


def cache_path(spec: RunSpec, cache_dir: Path | None = None) -> Path:
    """Where the compiled form of ``spec.module`` for ``spec``'s engine settings is cached."""
    cache_dir = cache_dir or paths.wasm_cache_dir()
    settings = json.dumps(_compile_settings(spec), sort_keys=True).encode()
    config_key = hashlib.sha256(settings).hexdigest()[:16]
    return cache_dir / "modules" / f"{module_digest(spec.module, cache_dir)}-{config_key}.cwasm"


def _compile(engine: wasmtime.Engine, module: Path) -> wasmtime.Module:
    """Compile a module from its bytes (slow: seconds for a 29 MB python.wasm)."""
    return wasmtime.Module(engine, module.read_bytes())


def checksum_path(cached: Path) -> Path:
    """The sidecar of a cache entry: the entry's sha256, and the stamp it was last verified at."""
    return cached.with_name(cached.name + ".sum")


def _entry_problem(cached: Path) -> str | None:
    """Why the cache entry ``cached`` must not be used, or ``None`` when it checks out.

    The sha256 recorded when the entry was written is compared with the file's; a match records
    the file's :func:`_stamp`, and while that stamp holds the file is not hashed again (a write
    through the kernel changes the ctime, which nothing can set back). A launch thus pays an
    open, a stat and a small read (0.06 ms); hashing a 30 MB entry (26-32 ms, measured on a busy
    2-core machine) is paid once after each change, where a check on every launch would double
    the cost of a launch through the runner server.
    """
    record_path = checksum_path(cached)
    try:
        record = json.loads(record_path.read_text())
        expected = str(record["sha256"])
    except FileNotFoundError:
        return "no checksum was recorded for it"
    except (OSError, ValueError, KeyError, TypeError) as e:
        return f"its checksum record is unreadable ({e})"
    try:
        with open(cached, "rb") as f:
            stamp = _stamp(os.fstat(f.fileno()))
            if record.get("verified") == stamp:
                return None
            actual = _file_sha256(f)
    except OSError as e:
        return f"it cannot be read ({e.strerror or e})"
    if actual != expected:
        return f"its sha256 {actual[:16]}… differs from the {expected[:16]}… recorded"
    with contextlib.suppress(OSError):
        _atomic_write(record_path, json.dumps({"sha256": expected, "verified": stamp}).encode())
    return None


def _discard(cached: Path, problem: str) -> None:
    """Delete a bad cache entry (and its sidecar), saying so in one line."""
    print(f"{PROG}: warning: module cache entry {cached} is unusable ({problem}); deleted, "
          "recompiling", file=sys.stderr, flush=True)
    for path in (cached, checksum_path(cached)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _store(cached: Path, module: wasmtime.Module) -> None:
    """Write a cache entry: its sidecar first, then the entry itself (each atomically)."""
    try:
        data = module.serialize()
        record = {"sha256": hashlib.sha256(data).hexdigest()}
        _atomic_write(checksum_path(cached), json.dumps(record).encode())
        _atomic_write(cached, data)
    except (OSError, wasmtime.WasmtimeError) as e:
        log.warning("cannot write module cache %s: %s", cached, e)


def load_module(engine: wasmtime.Engine, spec: RunSpec) -> tuple[wasmtime.Module, bool]:
    """Load ``spec.module`` through the cache; return it and whether it came from the cache.

    The key is the sha256 of the module bytes plus a hash of the wasmtime version, CPU and the
    code-shaping engine settings. An entry is used only if its checksum holds (see
    :func:`_entry_problem`) and wasmtime accepts it; else it is deleted with a one-line warning
    and the module recompiled (a corrupt entry that wasmtime accepts runs garbage: it once
    killed the runner with SIGTRAP). wasmtime maps cache files into memory, so they are only
    ever replaced by rename, never rewritten in place (that would SIGBUS every live user); an
    unwritable cache only costs the compile next time.
    """
    try:
        cached = cache_path(spec)
    except OSError as e:
        raise RunnerError(f"cannot read wasm module {spec.module}", why=str(e)) from e
    if cached.is_file():
        problem = _entry_problem(cached)
        if problem is None:
            try:
                module = wasmtime.Module.deserialize_file(engine, str(cached))
                log.debug("module cache hit: %s", cached)
                return module, True
            except wasmtime.WasmtimeError as e:
                problem = f"wasmtime refused it: {_one_line(str(e))}"
        _discard(cached, problem)
    try:
        module = _compile(engine, spec.module)
    except OSError as e:
        raise RunnerError(f"cannot read wasm module {spec.module}", why=str(e)) from e
    except wasmtime.WasmtimeError as e:
        raise RunnerError(
            f"cannot compile wasm module {spec.module}",
            why=_one_line(str(e)),
            hint="is it a wasm32-wasi core module (not a component)? does it need --exceptions?",
        ) from e
    _store(cached, module)
    return module, False


# --- running ------------------------------------------------------------------------------------


def _one_line(message: str) -> str:
    """The useful line of a wasmtime error: the root cause if there is a ``Caused by:`` chain."""
    lines = [line.strip() for line in message.splitlines()]
    if "Caused by:" in lines:
        causes = [line for line in lines[lines.index("Caused by:") + 1 :] if line]
        if causes:
            cause = causes[-1]
            # anyhow numbers chained causes ("0: ...", "1: ...")
            head, sep, rest = cause.partition(": ")
            return rest if sep and head.isdigit() else cause
    return next((line for line in lines if line), "unknown error")


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


# --- command line -------------------------------------------------------------------------------

USAGE = f"""\
usage: {PROG} [options] MODULE [ARGS...]
       (python -m toolchain.runner run [options] MODULE [ARGS...])

Run a WASI preview 1 command module. Options end at MODULE; what follows goes to the guest.

  --dir HOST::GUEST     preopen HOST as GUEST (--dir PATH: the same path on both sides);
                        a value with more than one '::' is refused
  --dir-ro HOST::GUEST  the same, read-only (this runner's own option, not wasmtime's)
  --mapdir GUEST::HOST  old wasmtime spelling of --dir (note the order)
  --env K=V             set K in the guest (--env K: copy K from our environment)
  --inherit-env         pass our whole environment through
  -W, --wasm KEY=VAL    wasmtime options; max-wasm-stack=BYTES and exceptions[=y|n] are used,
                        others ignored with a warning
  --max-wasm-stack N    old spelling of -W max-wasm-stack=N
  -S, --wasi KEY        accepted and ignored (WASI preview 1 is always used)
  --timeout SECONDS     wall-clock limit; exit {EXIT_TIMEOUT} when hit
  --max-memory BYTES    cap on each linear memory and (at {TABLE_ELEMENT_BYTES} bytes an element) each
                        table; suffixes K, M, G allowed; default: ${MAX_MEMORY_ENV}
  --argv0 NAME          the guest's argv[0] (default: the module's file name)
  --exceptions          enable wasm exception handling
  -h, --help            this text

Exit status: the guest's; {EXIT_TRAP} on a trap, {EXIT_TIMEOUT} on timeout, \
{RunnerError.exit_code} if the module cannot be run.
"""

_VALUE_OPTIONS = {
    "--dir", "--dir-ro", "--mapdir", "--env", "-W", "--wasm", "--max-wasm-stack", "-S", "--wasi",
    "--timeout", "--max-memory", "--argv0",
}  # fmt: skip
_FLAG_OPTIONS = {"--inherit-env", "--exceptions", "-h", "--help"}


class UsageError(Exception):
    """A malformed command line (exit status 2)."""


def _parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    scale = units.get(text[-1:].upper(), 1)
    digits = text[:-1] if scale > 1 else text
    try:
        value = int(digits, 0) * scale
    except ValueError:
        raise UsageError(f"not a size in bytes: {text!r}") from None
    if value <= 0:
        raise UsageError(f"size must be positive: {text!r}")
    return value


def _split_dir(value: str, *, option: str = "--dir", guest_first: bool = False) -> tuple[str, str]:
    """``HOST::GUEST`` (or ``GUEST::HOST``) as ``(host, guest)``; a plain path maps to itself."""
    if value.count("::") > 1 or ":::" in value:
        raise RunnerError(
            f"ambiguous directory mapping {option} {value!r}",
            why="it contains '::' more than once, so no split into HOST::GUEST is certain to be "
            "the one meant (a directory whose name contains '::' cannot be mapped)",
            hint="use a path without '::' (e.g. a symlink to the directory), or run from another "
            "directory if it is the working directory a launcher maps",
        )
    if "::" not in value:
        return value, value
    first, _, second = value.partition("::")
    if not first or not second:
        raise UsageError(f"bad directory mapping {value!r}")
    return (second, first) if guest_first else (first, second)


@dataclass
class _Options:
    """What the options of one command line said so far (:func:`parse_args` fills it)."""

    dirs: list[Preopen] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    stack: int = DEFAULT_STACK_SIZE
    timeout: float | None = None
    memory: int | None = None
    argv0: str | None = None
    inherit_env: bool = False
    exceptions: bool = False


def _apply_wasm(opts: _Options, value: str) -> None:
    for item in filter(None, value.split(",")):
        key, _, val = item.partition("=")
        if key == "max-wasm-stack":
            opts.stack = _parse_size(val)
        elif key == "exceptions":
            opts.exceptions = val.lower() in ("", "y", "yes", "true", "1")
        elif key == "timeout":  # the wasmtime CLI's spelling: 2, 2s, 500ms, 1m
            opts.timeout = _parse_duration(val)
        else:
            print(f"{PROG}: warning: ignoring --wasm {item}", file=sys.stderr)


def _parse_duration(text: str) -> float:
    """``-W timeout=`` values as the wasmtime CLI writes them: seconds, or with ms/s/m."""
    for suffix, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("", 1.0)):
        if text.endswith(suffix):
            try:
                value = float(text[: len(text) - len(suffix)] if suffix else text)
            except ValueError:
                break
            if value > 0:
                return value * scale
            break
    raise UsageError(f"bad -W timeout={text!r} (write seconds, e.g. 30s or 500ms)")


def _apply_value(opts: _Options, name: str, value: str) -> None:
    """Record option ``name`` (one of :data:`_VALUE_OPTIONS`) with its ``value``."""
    if name in ("--dir", "--dir-ro", "--mapdir"):
        host, guest = _split_dir(value, option=name, guest_first=name == "--mapdir")
        opts.dirs.append(Preopen(host, guest, read_only=name == "--dir-ro"))
    elif name == "--env":
        key, has_value, val = value.partition("=")
        if not key:
            raise UsageError(f"bad --env {value!r}")
        if has_value:
            opts.env[key] = val
        elif key in os.environ:
            opts.env[key] = os.environ[key]
    elif name in ("-W", "--wasm"):
        _apply_wasm(opts, value)
    elif name == "--max-wasm-stack":
        opts.stack = _parse_size(value)
    elif name == "--timeout":
        try:
            opts.timeout = float(value)
        except ValueError:
            raise UsageError(f"--timeout needs seconds, not {value!r}") from None
        if opts.timeout <= 0:
            raise UsageError("--timeout must be positive")
    elif name == "--max-memory":
        opts.memory = _parse_size(value)
    elif name == "--argv0":
        opts.argv0 = value
    # -S/--wasi: preview 1 is all we run; preview2 etc. are wasmtime implementation choices


def _default_memory(environ: Mapping[str, str]) -> int | None:
    """The memory cap ``$WASIPORTS_MAX_MEMORY`` asks for (unset or empty: none)."""
    text = environ.get(MAX_MEMORY_ENV, "").strip()
    if not text:
        return None
    try:
        return _parse_size(text)
    except UsageError as e:
        raise RunnerError(
            f"invalid {MAX_MEMORY_ENV}={text!r}",
            why=str(e),
            hint="give bytes, optionally with a K, M or G suffix (e.g. 512M), or unset it",
        ) from None


def _options(argv: Sequence[str], opts: _Options) -> int:
    """Read the options at the front of ``argv`` into ``opts``; return the index of MODULE."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return i + 1
        if not arg.startswith("-") or arg == "-":
            return i
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name not in _VALUE_OPTIONS and name not in _FLAG_OPTIONS:
            raise UsageError(f"unknown option {arg!r}")
        i += 1
        if name in _FLAG_OPTIONS:
            if eq:
                raise UsageError(f"option {name} takes no value")
            if name in ("-h", "--help"):
                print(USAGE, end="")
                raise SystemExit(0)
            opts.inherit_env = opts.inherit_env or name == "--inherit-env"
            opts.exceptions = opts.exceptions or name == "--exceptions"
            continue
        if not eq:
            if i >= len(argv):
                raise UsageError(f"option {name} needs a value")
            value = argv[i]
            i += 1
        _apply_value(opts, name, value)
    return i


def parse_args(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> RunSpec:
    """Turn ``run [options] MODULE [ARGS...]`` (without the leading ``run``) into a RunSpec.

    ``environ`` (default: ours) supplies ``$WASIPORTS_MAX_MEMORY``. Raises :class:`UsageError`
    on a malformed line, :class:`RunnerError` on an ambiguous ``--dir`` or a bad
    ``$WASIPORTS_MAX_MEMORY``; ``-h`` prints the usage and raises ``SystemExit(0)``.
    """
    opts = _Options()
    i = _options(argv, opts)
    if i >= len(argv):
        raise UsageError("no MODULE given")
    if opts.memory is None:
        opts.memory = _default_memory(os.environ if environ is None else environ)
    return RunSpec(
        module=Path(argv[i]),
        args=tuple(argv[i + 1 :]),
        argv0=opts.argv0,
        dirs=tuple(opts.dirs),
        env=opts.env,
        inherit_env=opts.inherit_env,
        stack_size=opts.stack,
        timeout=opts.timeout,
        memory_limit=opts.memory,
        wasm_exceptions=opts.exceptions,
    )


def main(argv: list[str] | None = None) -> int:
    """``run [options] MODULE [ARGS...]``: run the module; return the guest's exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE, end="")
        return 0
    if argv[:1] != ["run"]:
        print(f"{PROG}: the first word must be 'run'\n{USAGE}", end="", file=sys.stderr)
        return 2
    try:
        spec = parse_args(argv[1:])
    except UsageError as e:
        print(f"{PROG}: {e}\n{USAGE}", end="", file=sys.stderr)
        return 2
    except SystemExit as e:
        return int(e.code or 0)
    except RunnerError as e:  # an ambiguous --dir, a bad $WASIPORTS_MAX_MEMORY
        print(f"{PROG}: {e.render()}", file=sys.stderr)
        return e.exit_code
    try:
        result = run(spec)
    except RunnerError as e:
        print(f"{PROG}: {e.render()}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: {spec.module.name}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if result.trap is not None:
        print(f"{PROG}: {spec.module.name}: {result.trap}", file=sys.stderr)
    return result.exit_code


if __name__ == "__main__":
    verbose = os.environ.get("WASIPORTS_VERBOSE", "") not in ("", "0")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format=f"{PROG}: %(message)s"
    )
    sys.exit(main())
