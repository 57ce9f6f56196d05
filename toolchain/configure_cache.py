"""Autoconf cache files: the answers of a recipe's configure checks kept between builds.

An autoconf-generated ``configure`` reads the answers to its checks (``ac_cv_*``) from its cache
file and writes them back at the end. wasiports keeps one such file per recipe and per everything
those answers could depend on, in ``~/.cache/wasiports/configure/``:

- the rendered configure line, environment and config.site (:func:`build.rendered_config`,
  which holds the SDK's and the dependencies' paths), the SDK's record (``build/sdk.json``) and
  each dependency's install stamp (a digest of what it installed);
- the configure script's own bytes (a patch or another release is another key);
- the host's side: its package list (``/var/lib/dpkg/status``), the PATH configure searches, and
  the host's values of autoconf's usual precious variables (``CFLAGS``, ``LIBS``, …).

Any change to them is another key. Configure's checks compile and link small programs with the SDK
(ccache does not cache those): reusing their answers is what makes a warm configure fast. If a
configure run with cached answers fails all the same, the build drops the entry and runs it once
more without them (:func:`toolchain.build.configure`).

The cache file is chosen by a site script, not by ``--cache-file``: configure records its
arguments (Ruby's rbconfig, CPython's sysconfig, PHP's ``php -i``), and an artifact must not depend
on whether a cache was used. The site script sets ``cache_file`` only for the recipe's own
configure script, never for a configure it runs inside (which would share the file), then reads
the recipe's config.site (the build always names one, ``/dev/null`` when the recipe has none, so
the host's own site files are never read, cache or not). It is the whole of ``CONFIG_SITE``:
autoconf 2.69 (CPython 3.11's configure) takes one file there, where 2.70 and later take a list.

Off with ``WASIPORTS_CONFIGURE_CACHE=0``. A failed configure stores nothing and drops the entry it
started from, so the next attempt runs every check afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
from pathlib import Path
from typing import Any

from . import fileio, paths

ENABLE_ENV = "WASIPORTS_CONFIGURE_CACHE"
FORMAT = 1
"""Bumped when what the key covers changes."""
HOST_PACKAGES = Path("/var/lib/dpkg/status")
AUTOCONF_MARK = b"Let the site file select an alternate cache file"
"""A line every autoconf-generated configure script has (hand-written ones, zlib's, do not)."""
HOST_VARIABLES = ("CC", "CFLAGS", "CPP", "CPPFLAGS", "CXX", "CXXFLAGS", "CXXCPP", "LDFLAGS", "LIBS",
                  "PKG_CONFIG", "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR", "YACC", "YFLAGS",
                  "LT_SYS_LIBRARY_PATH")
"""autoconf's usual precious variables: a cached answer is refused when the host's value changed."""


def enabled() -> bool:
    return os.environ.get(ENABLE_ENV, "1") != "0"


def cache_dir() -> Path:
    return paths.cache_root() / "configure"


def is_autoconf(script: Path) -> bool:
    """Whether ``script`` is an autoconf-generated configure (which honours a site's cache_file)."""
    try:
        return AUTOCONF_MARK in script.read_bytes()
    except OSError:
        return False


def host_facts(env: dict[str, str]) -> dict[str, Any]:
    """What configure finds on the host: its packages, the PATH it searches (``env``'s, else the
    process's) and the host's values of :data:`HOST_VARIABLES` that ``env`` does not set."""
    return {"packages": fileio.sha256_of(HOST_PACKAGES) if HOST_PACKAGES.is_file() else "",
            "path": env.get("PATH", os.environ.get("PATH", "")),
            "variables": {v: os.environ[v] for v in HOST_VARIABLES if v in os.environ and v not in env}}


def key(recipe_id: str, facts: dict[str, Any], script: Path) -> str:
    """The entry's name: the recipe, then a digest of everything the answers could depend on."""
    everything = {"format": FORMAT, "facts": facts, "script": fileio.sha256_of(script)}
    digest = hashlib.sha256(json.dumps(everything, sort_keys=True).encode()).hexdigest()
    return f"{recipe_id}-{digest[:24]}"


def site_script(argv0: str, cache_file: Path, site: str = "") -> str:
    """A site script that selects ``cache_file`` for the configure started as ``argv0`` only, then
    reads the recipe's site file ``site`` (one path, as autoconf 2.69 takes it), if readable."""
    lines = ["# Written by wasiports (toolchain/configure_cache.py): the autoconf cache of this",
             "# recipe's own configure (a configure it runs inside keeps its own, none), then the",
             "# recipe's site file.",
             f"case $0 in {shlex.quote(argv0)}) cache_file={shlex.quote(str(cache_file))} ;; esac"]
    if site:
        lines.append(f"if test -r {shlex.quote(site)}; then . {shlex.quote(site)}; fi")
    return "\n".join(lines) + "\n"


class Session:
    """One configure run's use of the cache: :meth:`prepare` before it, :meth:`finish` after."""

    def __init__(self, recipe_id: str, facts: dict[str, Any], argv0: str, cwd: Path, work: Path,
                 env: dict[str, str]) -> None:
        """``facts``: the build's side of the key (rendered flags, SDK, dependencies); ``argv0``:
        the configure script as it is started (``../../configure``), from ``cwd``; ``work``: where
        the cache file and the site script are written; ``env``: what the build adds to
        configure's environment."""
        script = cwd / argv0
        self.active = enabled() and is_autoconf(script)
        self.entry = (cache_dir() / f"{key(recipe_id, {**facts, 'host': host_facts(env)}, script)}.cache"
                      if self.active else Path())
        self.local = work / "config.cache"
        self.site = work / "configure-cache.site"
        self.argv0 = argv0
        self.hit = False

    def prepare(self, env: dict[str, str]) -> dict[str, str]:
        """Put the stored answers (if any) where configure will read them; ``env`` with the site
        script as CONFIG_SITE (it reads the recipe's own)."""
        self.local.unlink(missing_ok=True)
        if not self.active:
            return env
        self.hit = self.entry.is_file()
        if self.hit:
            shutil.copyfile(self.entry, self.local)
        fileio.write_text(self.site, site_script(self.argv0, self.local, env.get("CONFIG_SITE", "")))
        return {**env, "CONFIG_SITE": str(self.site)}

    def finish(self, ok: bool) -> str:
        """Store the answers of a configure that succeeded; drop the entry a failed one started
        from. Returns what happened, for the log."""
        if not self.active:
            return "off" if not enabled() else "not an autoconf script"
        if not ok:
            self.entry.unlink(missing_ok=True)
            return "configure failed: nothing stored"
        if not self.local.is_file():
            return "configure wrote no cache file: nothing stored"
        fileio.write_bytes(self.entry, self.local.read_bytes())
        return f"{'hit' if self.hit else 'miss'}, stored {self.entry.name}"
