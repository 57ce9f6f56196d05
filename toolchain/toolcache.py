"""The tool-output cache: a deterministic post-link tool's output, kept by what went into it.

binaryen's ``wasm-opt`` runs on every interpreter after it is linked (PHP: translate-to-exnref at
-O2, twice per build; Ruby: the Asyncify pass). Those runs take minutes and are deterministic:
the same input bytes, flags and tool version give the same output bytes. So, like ccache for the
compiler, a run is looked up by a key made of

- the tool's identity (its pinned ``--version`` line and the sha256 of the file that runs),
- its arguments, each argument that names an existing file replaced by the file's sha256 (also
  after ``=`` or ``@``: ``--pass-arg=asyncify-onlylist@list.txt``), the output path by a marker,

so the key holds no path and a clean clone in any directory finds what another one stored. A run
with one output (``-o FILE``) and nothing else it writes is cached; any other (no ``-o``, a source
map or symbol map) runs the tool as it is. A failing run stores nothing.

Entries live in ``~/.cache/wasiports/tool-outputs/``; after each store the oldest are removed
until the directory holds at most ``WASIPORTS_TOOL_CACHE_BYTES`` (default 2 GiB).
``WASIPORTS_TOOL_CACHE=0`` turns the cache off (every run is a miss that stores nothing).

Recipes reach a cached tool as ``{{ tools['wasm-opt'] }}``: for an sdk.toml tool with a ``cache``
reason, the ``sdk`` task writes a shim (``build/tools/<name>``) that runs this module.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import fileio, paths
from .fileio import sha256_of

OUTPUT_FLAGS = ("-o", "--output")
"""What names the one output (as the next argument, or as ``-o=FILE``)."""
OTHER_OUTPUTS = ("--output-source-map", "-osm", "--symbolmap", "--emit-js-wrapper", "--emit-spec-wrapper")
"""Flags that write a second file: a run with one of them is not cached."""
DEFAULT_MAX_BYTES = 2 << 30
KEY_VERSION = "1"
"""Part of every key: a change in how keys are made invalidates the old entries."""


@dataclass(frozen=True)
class Call:
    """One cacheable run: its key and where its output goes (None: not cacheable)."""

    key: str
    output: Path | None


def cache_dir() -> Path:
    return paths.cache_root() / "tool-outputs"


def enabled() -> bool:
    return os.environ.get("WASIPORTS_TOOL_CACHE", "1") != "0"


def _as_input(text: str, cwd: Path) -> str:
    """``text`` with a path to an existing file (the whole argument, or what follows its first
    ``=`` or last ``@``) replaced by that file's content hash."""
    def digest(candidate: str) -> str | None:
        path = cwd / candidate
        return f"<file {sha256_of(path)}>" if candidate and path.is_file() else None

    if (whole := digest(text)) is not None:
        return whole
    for sep, find in (("@", text.rfind), ("=", text.find)):
        at = find(sep)
        if at > 0 and (part := digest(text[at + 1:])) is not None:
            return text[:at + 1] + part
    return text


def plan(tool_identity: str, args: Sequence[str], cwd: Path) -> Call:
    """The key of running the tool with ``args`` in ``cwd``, and its one output."""
    output: Path | None = None
    normal: list[str] = []
    cacheable = True
    skip_next = False
    for i, arg in enumerate(args):
        if skip_next:
            skip_next = False
            continue
        if arg in OUTPUT_FLAGS:
            if output is not None or i + 1 >= len(args):
                cacheable = False
                break
            output = cwd / args[i + 1]
            normal += [arg, "<output>"]
            skip_next = True
            continue
        flag, eq, value = arg.partition("=")
        if eq and flag in OUTPUT_FLAGS:
            if output is not None:
                cacheable = False
                break
            output = cwd / value
            normal.append(f"{flag}=<output>")
            continue
        if flag in OTHER_OUTPUTS:
            cacheable = False
            break
        normal.append(_as_input(arg, cwd))
    if not cacheable:
        output = None
    blob = json.dumps({"v": KEY_VERSION, "tool": tool_identity, "args": normal})
    return Call(key=hashlib.sha256(blob.encode()).hexdigest(), output=output)


def identity(tool: Path, version_line: str) -> str:
    """What a key says about the tool: its version line and the bytes of the file that runs."""
    return f"{version_line.strip()} {sha256_of(tool.resolve())}"


def lookup(key: str) -> Path | None:
    entry = cache_dir() / key
    if not entry.is_file():
        return None
    os.utime(entry)  # recently used: pruned last
    return entry


def store(key: str, output: Path, *, max_bytes: int | None = None) -> None:
    """Copy ``output`` into the cache under ``key`` (atomically), then prune to ``max_bytes``."""
    fileio.write_bytes(cache_dir() / key, output.read_bytes())
    prune(max_bytes if max_bytes is not None else _max_bytes(), keep=key)


def _max_bytes() -> int:
    try:
        return int(os.environ.get("WASIPORTS_TOOL_CACHE_BYTES", DEFAULT_MAX_BYTES))
    except ValueError:
        return DEFAULT_MAX_BYTES


def prune(max_bytes: int, *, keep: str = "") -> list[str]:
    """Remove the least recently used entries until the cache holds at most ``max_bytes`` (the
    entry ``keep`` stays whatever its size); return the removed keys."""
    entries = [(p.stat().st_mtime_ns, p.stat().st_size, p) for p in cache_dir().iterdir()
               if p.is_file() and not p.name.startswith(".")]
    total = sum(size for _, size, _ in entries)
    removed: list[str] = []
    for _, size, path in sorted(entries, key=lambda e: (e[0], e[2].name)):
        if total <= max_bytes:
            break
        if path.name == keep:
            continue
        path.unlink(missing_ok=True)
        total -= size
        removed.append(path.name)
    return removed


def restore(entry: Path, output: Path) -> None:
    """The cached bytes at ``output``. Like the tool, an existing file is overwritten in place
    (keeping its mode: Ruby's ``-o ruby ruby`` keeps the linker's executable bit)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(entry, output)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m toolchain.toolcache VERSION_LINE TOOL ARGS...``: run TOOL with ARGS, or put
    its output in place from the cache."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 2:
        print("usage: python -m toolchain.toolcache VERSION_LINE TOOL [ARGS...]", file=sys.stderr)
        return 2
    version_line, tool, args = argv[0], Path(argv[1]), argv[2:]
    name = tool.name
    cwd = Path.cwd()
    call = plan(identity(tool, version_line), args, cwd) if enabled() else Call("", None)
    if call.output is not None and (entry := lookup(call.key)) is not None:
        restore(entry, call.output)
        print(f"toolcache: {name}: hit {call.key[:16]} -> {call.output}", file=sys.stderr)
        return 0
    code = subprocess.call([str(tool), *args])
    if code == 0 and call.output is not None and call.output.is_file():
        store(call.key, call.output)
        print(f"toolcache: {name}: stored {call.key[:16]} ({call.output.stat().st_size} bytes)",
              file=sys.stderr)
    return code


def shim_text(python: str, version_line: str, tool: Path, checkout: Path) -> str:
    """The shell script recipes call instead of the tool (it runs ``checkout``'s toolchain, even
    when the virtualenv was made by another checkout)."""
    command = shlex.join(["env", f"PYTHONPATH={checkout}", python, "-m", "toolchain.toolcache",
                          version_line, str(tool)])
    return ("#!/bin/sh\n"
            f"# {tool.name} through wasiports' tool-output cache (toolchain/toolcache.py)\n"
            f'exec {command} "$@"\n')


if __name__ == "__main__":
    sys.exit(main())
