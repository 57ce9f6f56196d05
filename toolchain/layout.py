"""Where wasiports keeps each recipe's files, in one place.

The work tree of a recipe::

    build/<id>/build.log                   every command of its build, and its output
    build/<id>/fetch.json                  which origin served the source, its sha256
    build/<id>/src/                        unpacked upstream tree with the patch series applied
    build/<id>/src/cross-build/build/      the native build (when the recipe has one)
    build/<id>/src/cross-build/<host>/     the wasm build (the source tree for in-tree builds)
    build/<id>/config.site                 rendered from the recipe's overrides
    build/<id>/stage/                      `make install DESTDIR=…` (or the prefix itself)
    build/<id>/test/results.json           the last `doit test` run (the report reads it)
    dist/<id>-wasi/                        the packaged artifact
"""

from __future__ import annotations

from pathlib import Path

from . import paths
from .recipe import Recipe

PATCHED_STAMP = ".wasiports-patched"


def work_dir(recipe: Recipe) -> Path:
    return paths.BUILD / recipe.id


def log_path(recipe: Recipe) -> Path:
    return work_dir(recipe) / "build.log"


def src_dir(recipe: Recipe) -> Path:
    return work_dir(recipe) / "src"


def native_dir(recipe: Recipe) -> Path:
    return src_dir(recipe) / "cross-build" / "build"


def bench_native_dir(recipe: Recipe) -> Path:
    """Where ``doit native:<id>`` builds the recipe's ``bench.native`` interpreter."""
    return src_dir(recipe) / "cross-build" / "bench-native"


def host_dir(recipe: Recipe) -> Path:
    if recipe.build.in_tree:
        return src_dir(recipe)
    return src_dir(recipe) / "cross-build" / recipe.build.host


def stage_dir(recipe: Recipe) -> Path:
    """Where `make install` puts things: DESTDIR, or the prefix itself (``build.destdir = false``)."""
    return work_dir(recipe) / "stage"


def configured_stamp(recipe: Recipe) -> Path:
    return host_dir(recipe) / ".wasiports-configured"


def installed_stamp(recipe: Recipe) -> Path:
    return stage_dir(recipe) / ".wasiports-installed"


def fetch_record(recipe: Recipe) -> Path:
    return work_dir(recipe) / "fetch.json"


def patched_stamp(recipe: Recipe) -> Path:
    return src_dir(recipe) / PATCHED_STAMP


def sdk_record() -> Path:
    return paths.BUILD / "sdk.json"


def dist_dir(recipe: Recipe) -> Path:
    return paths.DIST / f"{recipe.id}-wasi"


def test_dir(recipe: Recipe) -> Path:
    return work_dir(recipe) / "test"


def results_path(recipe: Recipe) -> Path:
    """The raw run of the last `doit test` (the report reads it)."""
    return test_dir(recipe) / "results.json"
