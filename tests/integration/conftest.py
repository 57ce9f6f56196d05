"""Shared fixtures for the integration tests: the real CPython 3.13.5 build, made (or found up to
date) through the pipeline once per session."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from toolchain import paths, runner_server

PYTHON_ID = "python-3.13.5"


def doit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "doit", "-f", str(paths.ROOT / "dodo.py"), *args],
                          cwd=paths.ROOT, capture_output=True, text=True)


def smoke(recipe_id: str) -> None:
    """Build and package ``recipe_id`` through the pipeline up to its smoke test (or find it up
    to date); the calling test fails with the pipeline's output if that fails."""
    result = doit(f"smoke:{recipe_id}")
    if result.returncode != 0:
        pytest.fail(f"pipeline failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}")


def native(recipe_id: str) -> None:
    """Build ``recipe_id``'s bench.native interpreter (``doit native:<id>``), or find it up to date."""
    result = doit(f"native:{recipe_id}")
    if result.returncode != 0:
        pytest.fail(f"native build failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}")


@pytest.fixture(scope="session")
def python_built() -> None:
    smoke(PYTHON_ID)


@pytest.fixture(scope="session", autouse=True)
def launchers_find_our_runner() -> Iterator[None]:
    """Packaged launchers name no path of the build machine: tests that start one directly get
    this Python as the runner's, as the pipeline's smoke test and the harness do. And no test
    starts the user's runner server (``wasiports run`` would, in /tmp) unless it says so, in a
    directory of its own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(runner_server.PYTHON_ENV, runner_server.runner_python())
        mp.setenv(runner_server.SERVER_ENV, "off")
        yield
