"""The wasmtime engine the runner configures, and its cache of compiled modules.

Compiling CPython's 30 MB module takes most of a minute; the compiled form is kept in
``paths.wasm_cache_dir()`` keyed by the module's digest, wasmtime's version and the engine
settings, with a checksum beside each entry. A damaged, foreign or stale entry is deleted and the
module compiled again, never trusted.
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
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import wasmtime
from wasmtime import _ffi as wasmtime_ffi

from . import paths
from .errors import RunnerError

if TYPE_CHECKING:
    from .runner import RunSpec

log = logging.getLogger("toolchain.runner")

PROG = "wasiports run"
"""How the runner names itself in the lines it prints."""
ASYNC_STACK_MARGIN = 1024 * 1024
"""wasmtime requires async stack size > max_wasm_stack; we keep this much on top."""


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
        "epoch_interruption": epoch_interruption(spec),
        "wasm_exceptions": spec.wasm_exceptions,
    }


def epoch_interruption(spec: RunSpec) -> bool:
    """Whether a run's code checks an epoch: only a run with a timeout needs to be stopped from
    outside (measured on CPython's bench programs, the checks cost 3-38% of a CPU-bound run's
    time, about 15-20% in the geometric mean; docs/performance.md)."""
    return spec.timeout is not None


def _make_engine(spec: RunSpec) -> wasmtime.Engine:
    """An engine for one run: epoch interruption when it has a timeout, stack as asked (async
    stack raised first)."""
    if spec.stack_size <= 0:
        raise RunnerError(f"invalid wasm stack size {spec.stack_size}", hint="give a positive size")
    config = wasmtime.Config()
    # Must precede max_wasm_stack: a wasm stack above the async stack panics Engine().
    wasmtime_ffi.wasmtime_config_async_stack_size_set(
        config.ptr(), ctypes.c_size_t(spec.stack_size + ASYNC_STACK_MARGIN)
    )
    config.max_wasm_stack = spec.stack_size
    config.epoch_interruption = epoch_interruption(spec)
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


