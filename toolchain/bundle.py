"""A test bundle: what ``wasiports test <id>`` needs on a machine that did not build ``<id>``.

CI builds each recipe in one job and runs its suite in shards on other machines. The build job
runs ``wasiports bundle <id> --out bundle.tar.gz``; a test job unpacks it in a checkout
(``tar -xzf bundle.tar.gz``) and runs ``wasiports test <id> --shard i/n``. Names in the bundle are
``build/…`` and ``dist/…``, relative to the checkout, whatever ``WASIPORTS_BUILD_DIR`` and
``WASIPORTS_DIST_DIR`` said on the build machine. What goes in:

- always: ``build/sdk.json`` (the adapters render the build context), ``build/<id>/fetch.json``,
  the patched stamp, and the packaged artifact ``dist/<id>-wasi/`` with its tarball and SBOM;
- ``cpython-regrtest``: the install stage (``build/<id>/stage``: the module and the stdlib with its
  ``test`` package, which regrtest runs);
- ``php-run-tests`` and ``ruby-tests``: the source tree the drivers and test files live in
  (``build/<id>/src``), without what the build made in it (objects, archives, modules).

The bundle is compressed at gzip level 1: it is read once, a few minutes later.
"""

from __future__ import annotations

import fnmatch
import tarfile
from collections.abc import Iterator
from pathlib import Path

from . import build, dist, paths
from .errors import WasiportsError
from .recipe import Recipe

NEEDS: dict[str, tuple[str, ...]] = {
    "cpython-regrtest": ("stage",),
    "php-run-tests": ("src",),
    "ruby-tests": ("src",),
}
"""What each suite adapter reads besides the packaged artifact."""
BUILT = ("*.o", "*.lo", "*.a", "*.la", "*.so", "*.wasm", "*.obj", ".libs", ".deps", "cross-build",
         "*.gcda", "build.log")
"""Build products left out of a source tree (file or directory names)."""


def _walk(root: Path, skip: tuple[str, ...]) -> Iterator[Path]:
    for path in sorted(root.iterdir()):
        if any(fnmatch.fnmatch(path.name, pattern) for pattern in skip):
            continue
        yield path
        if path.is_dir() and not path.is_symlink():
            yield from _walk(path, skip)


def members(recipe: Recipe) -> list[Path]:
    """Every file, directory and link of the bundle (absolute paths on this machine)."""
    top = [build.sdk_record(), build.fetch_record(recipe), build.patched_stamp(recipe),
           build.dist_dir(recipe),
           *([dist.tarball_path(recipe), dist.sbom_path(recipe)] if recipe.release else [])]
    missing = [p for p in top if not p.exists()]
    if missing:
        raise WasiportsError(f"{recipe.id} is not packaged: {missing[0]} is missing",
                             why="a test bundle carries the packaged artifact and what its suite reads",
                             hint=f"run `scripts/build dist:{recipe.id}` first")
    found = [*top, *_walk(build.dist_dir(recipe), ())]
    for need in NEEDS.get(recipe.test.suite, ()):
        root = build.stage_dir(recipe) if need == "stage" else build.src_dir(recipe)
        found += [root, *_walk(root, BUILT if need == "src" else ())]
    return list(dict.fromkeys(found))  # the patched stamp is in src/ too


def arcname(path: Path) -> str:
    """``build/…`` or ``dist/…``: where the file goes in the checkout that unpacks the bundle."""
    for base, name in ((paths.BUILD, "build"), (paths.DIST, "dist")):
        if path == base or base in path.parents:
            return "/".join((name, *path.relative_to(base).parts))
    raise WasiportsError(f"{path} is neither under {paths.BUILD} nor under {paths.DIST}",
                         why="a bundle holds only build and dist files")


def write(recipe: Recipe, out: Path) -> Path:
    """Pack :func:`members` into ``out`` (a .tar.gz), replacing it atomically."""
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with tarfile.open(tmp, "w:gz", compresslevel=1) as tar:
            for path in members(recipe):
                tar.add(path, arcname=arcname(path), recursive=False)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    print(f"bundle: {recipe.id}: {out} ({out.stat().st_size:,} bytes)")
    return out
