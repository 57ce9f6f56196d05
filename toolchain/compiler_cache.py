"""The compiler cache: Debian's ``ccache`` in front of the recipes' compilers.

Recipes name their compilers through the template names ``{{ cc }}`` and ``{{ cxx }}`` (the
SDK's clang and clang++, whichever SDK origin is in use) and ``{{ host_cc }}`` (the host's ``cc``,
for native helper builds such as CPython's build-python). With ccache installed, each is spelled
``/usr/bin/ccache <compiler>``; with it missing, or ``WASIPORTS_CCACHE=0``, the plain compiler.

ccache keeps its objects in ``~/.cache/wasiports/ccache`` and checks the compiler by what
``<compiler> -v`` prints (the Debian-assembled SDK's clang is a wrapper script, whose own bytes
do not change when the clang behind it does). The default ``hash_dir`` and no ``base_dir``: ccache
then runs the compiler with exactly the arguments it was given, so an object is the same bytes
with and without the cache; the price is that a checkout in another directory (its paths are in
the arguments) does not share the cached objects of this one.

What a step did in the cache is counted from a stats log of its own (``CCACHE_STATSLOG``, set
for the steps of the thread that runs :func:`counted`), not from the cache's global counters: the
pipeline may run two recipes' steps at once (``scripts/build``), and each step's figures must be
its own.

The launcher is a build-machine detail: :func:`relabels` removes it from the files a recipe's
``build.relabel`` rewrites (CPython's sysconfig data, Ruby's rbconfig.rb, PHP's configure line),
so an artifact built with the cache is the same as one built without.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from . import paths

ENABLE_ENV = "WASIPORTS_CCACHE"
COUNTERS = {"hits": ("direct_cache_hit", "preprocessed_cache_hit"),
            "misses": ("cache_miss",),
            "uncacheable": ("autoconf_test", "called_for_link", "called_for_preprocessing",
                            "multiple_source_files", "no_input_file", "compile_failed",
                            "output_to_stdout", "unsupported_compiler_option",
                            "unsupported_source_language")}
"""ccache's counters (``--print-stats``) summed into what the build's timings record."""

_STATS_LOG: ContextVar[Path | None] = ContextVar("wasiports_ccache_stats_log", default=None)
"""The stats log of the step this thread runs (:func:`counted`); doit runs each task in a thread
of its own when it runs tasks in parallel, and a thread starts with an empty context."""


def launcher() -> str:
    """The ccache executable, or "" when it is off or not installed."""
    if os.environ.get(ENABLE_ENV, "1") == "0":
        return ""
    return shutil.which("ccache") or ""


def wrap(compiler: str) -> str:
    """``compiler`` behind the launcher, when there is one."""
    found = launcher()
    return f"{found} {compiler}" if found else compiler


def environment() -> dict[str, str]:
    """What a build step's environment adds for ccache (nothing when it is off)."""
    if not launcher():
        return {}
    env = {"CCACHE_DIR": str(paths.ccache_dir()),
           "CCACHE_COMPILERCHECK": "%compiler% -v",
           "CCACHE_MAXSIZE": os.environ.get("CCACHE_MAXSIZE", "5G")}
    log = _STATS_LOG.get()
    if log is not None:
        env["CCACHE_STATSLOG"] = str(log)
    return env


def relabels() -> list[tuple[str, str]]:
    """(text, replacement) that removes the launcher from a generated file."""
    found = launcher()
    return [(f"{found} ", "")] if found else []


def parse_log(text: str) -> dict[str, int]:
    """A stats log (``CCACHE_STATSLOG``: per compiler call a ``# <source>`` line, then one line per
    counter it raised, the ids of ``ccache --print-stats``) summed into :data:`COUNTERS`."""
    raw = Counter(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return {label: sum(raw.get(n, 0) for n in names) for label, names in COUNTERS.items()}


def counted(log: Path, func: Callable[..., Any], *args: Any) -> dict[str, int] | None:
    """Run ``func(*args)`` with the compiles of its steps logged to ``log`` (emptied first), and
    say what they added to each counter; None when ccache is off."""
    if not launcher():
        func(*args)
        return None
    log.unlink(missing_ok=True)
    token = _STATS_LOG.set(log)
    try:
        func(*args)
    finally:
        _STATS_LOG.reset(token)
    try:
        return parse_log(log.read_text(errors="replace"))
    except FileNotFoundError:  # the step compiled nothing
        return parse_log("")
