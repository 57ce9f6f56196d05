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

The launcher is a build-machine detail: :func:`relabels` removes it from the files a recipe's
``build.relabel`` rewrites (CPython's sysconfig data, Ruby's rbconfig.rb, PHP's configure line),
so an artifact built with the cache is the same as one built without.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from . import paths

ENABLE_ENV = "WASIPORTS_CCACHE"
COUNTERS = {"hits": ("direct_cache_hit", "preprocessed_cache_hit"),
            "misses": ("cache_miss",),
            "uncacheable": ("autoconf_test", "called_for_link", "called_for_preprocessing",
                            "multiple_source_files", "no_input_file", "compile_failed",
                            "output_to_stdout", "unsupported_compiler_option",
                            "unsupported_source_language")}
"""ccache's counters (``--print-stats``) summed into what the build's timings record."""


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
    return {"CCACHE_DIR": str(paths.ccache_dir()),
            "CCACHE_COMPILERCHECK": "%compiler% -v",
            "CCACHE_MAXSIZE": os.environ.get("CCACHE_MAXSIZE", "5G")}


def relabels() -> list[tuple[str, str]]:
    """(text, replacement) that removes the launcher from a generated file."""
    found = launcher()
    return [(f"{found} ", "")] if found else []


def parse_stats(text: str) -> dict[str, int]:
    """``ccache --print-stats`` (``counter<TAB>value`` lines) summed into :data:`COUNTERS`."""
    raw: dict[str, int] = {}
    for line in text.splitlines():
        name, _, value = line.partition("\t")
        if value.strip().isdigit():
            raw[name.strip()] = int(value)
    return {label: sum(raw.get(n, 0) for n in names) for label, names in COUNTERS.items()}


def stats() -> dict[str, int] | None:
    """The cache's counters now, or None when ccache is off or cannot say."""
    found = launcher()
    if not found:
        return None
    try:
        out = subprocess.run([found, "--print-stats"], env={**os.environ, **environment()},
                             capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_stats(out)


def difference(before: dict[str, int] | None, after: dict[str, int] | None) -> dict[str, int] | None:
    """What a step added to each counter."""
    if before is None or after is None:
        return None
    return {k: after.get(k, 0) - before.get(k, 0) for k in after}
