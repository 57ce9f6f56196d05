"""The runner's command line, shaped like ``wasmtime run`` (``python -m toolchain.runner run``):
:func:`parse_args` turns it into a :class:`~toolchain.runner.RunSpec`, :func:`main` runs it."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import RunnerError
from .runner import (
    DEFAULT_STACK_SIZE,
    EXIT_INTERRUPTED,
    EXIT_TIMEOUT,
    EXIT_TRAP,
    MAX_MEMORY_ENV,
    PROG,
    Preopen,
    TABLE_ELEMENT_BYTES,
    RunSpec,
    run,
)

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


