"""``wasiports repro ID``: build a recipe a second time, elsewhere, and compare the bytes.

The first build is the checkout's own (``doit`` brings it up to date: a no-op after
``scripts/build``). The second runs the same ``doit`` task in ``build/repro/<id>/`` with its own
build directory, dist directory, doit state file and ``TMPDIR`` (shared: the download cache and
the SDK, which are inputs, not outputs). Then every output is compared byte for byte:

- an interpreter: each file of ``dist/<id>-wasi/`` (modules, stdlib, launchers, manifest), its
  tarball, its SBOM and its debug companion;
- a library: each file of its install stage.

A difference names the file and where in it: for a module the first differing section (``code``,
``.debug_line``, ``producers``…; :func:`toolchain.wasmfile.first_difference`), for a tarball the
first differing member. Any difference exits non-zero. ``build/repro/<id>.json`` keeps the result.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import sys
import tarfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import build, cmd, dist, fileio, paths, wasmfile
from .recipe import Recipe


@dataclass
class Outcome:
    id: str
    second_build: str
    """where the second build ran (relative to the checkout)"""
    seconds: float
    """wall time of the second build"""
    compared: list[str] = field(default_factory=list)
    differences: dict[str, str] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return bool(self.compared) and not self.differences


def repro_root(recipe: Recipe) -> Path:
    return paths.BUILD / "repro" / recipe.id


def result_path(recipe: Recipe) -> Path:
    return paths.BUILD / "repro" / f"{recipe.id}.json"


def task_of(recipe: Recipe) -> str:
    """The doit task whose targets are compared: ``dist`` for interpreters, ``install`` for libraries."""
    return f"{'dist' if recipe.kind == 'interpreter' else 'install'}:{recipe.id}"


def doit(task: str, env: dict[str, str], db_file: Path, log: Path) -> None:
    cmd.run([sys.executable, "-m", "doit", "-f", paths.ROOT / "dodo.py", "--db-file", db_file, task],
            cwd=paths.ROOT, env=env, log=log)


def outputs(recipe: Recipe, build_dir: Path, dist_dir: Path) -> dict[str, Path]:
    """Name -> file of everything compared, for a build whose directories are ``build_dir`` and
    ``dist_dir``."""
    saved = paths.BUILD, paths.DIST
    paths.BUILD, paths.DIST = build_dir, dist_dir
    try:
        if recipe.kind != "interpreter":
            top, stamp = build.stage_dir(recipe), build.installed_stamp(recipe)  # the stamp: a digest of the rest
            return {f"stage/{p.relative_to(top)}": p for p in sorted(top.rglob("*")) if p.is_file() and p != stamp}
        top = build.dist_dir(recipe)
        found = {f"{top.name}/{p.relative_to(top)}": p for p in sorted(top.rglob("*"))
                 if p.is_file() or p.is_symlink()}
        if dist.has_debug_companion(recipe):
            debug = dist.debug_dir(recipe)
            found.update({f"{debug.name}/{p.relative_to(debug)}": p for p in sorted(debug.rglob("*"))
                          if p.is_file()})
        return {**found, **{p.name: p for p in dist.release_files(recipe)}}
    finally:
        paths.BUILD, paths.DIST = saved


def difference(a: Path, b: Path, builds: tuple[Path, Path] | None = None) -> str | None:
    """None if ``a`` and ``b`` hold the same bytes (symlinks: the same target); else where they
    first differ. A pkg-config file (``.pc``) or libtool archive (``.la``) names its library's
    install prefix, in the build directory, by design: it is compared with each build directory
    (``builds``) replaced by ``$BUILD``."""
    if a.is_symlink() or b.is_symlink():
        same = a.is_symlink() and b.is_symlink() and os.readlink(a) == os.readlink(b)
        return None if same else f"symlink {os.readlink(a) if a.is_symlink() else '-'} vs " \
                                 f"{os.readlink(b) if b.is_symlink() else '-'}"
    if filecmp.cmp(a, b, shallow=False):
        return None
    if a.suffix in (".pc", ".la") and builds:
        x, y = (f.read_text().replace(str(d), "$BUILD") for f, d in zip((a, b), builds))
        return None if x == y else "differs with the build directories replaced by $BUILD: " + \
            _byte_difference(x.encode(), y.encode())
    if a.suffix == ".wasm":
        return wasmfile.first_difference(a.read_bytes(), b.read_bytes(), where=a.name)
    if a.name.endswith(".tar.gz"):
        return _tar_difference(a, b)
    return _byte_difference(a.read_bytes(), b.read_bytes())


def _byte_difference(x: bytes, y: bytes) -> str:
    at = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
    return f"differs from byte {at:,} ({len(x):,} and {len(y):,} bytes)"


def _tar_difference(a: Path, b: Path) -> str:
    with tarfile.open(a) as left, tarfile.open(b) as right:
        members_a, members_b = left.getmembers(), right.getmembers()
        for x, y in zip(members_a, members_b):
            if x.get_info() != y.get_info():
                return f"member {x.name}: headers differ (vs {y.name})"
            if x.isfile():
                data_x = left.extractfile(x).read()  # type: ignore[union-attr]
                data_y = right.extractfile(y).read()  # type: ignore[union-attr]
                if data_x != data_y:
                    inner = (wasmfile.first_difference(data_x, data_y, x.name) if x.name.endswith(".wasm")
                             else _byte_difference(data_x, data_y))
                    return f"member {x.name}: {inner}"
        if len(members_a) != len(members_b):
            return f"{len(members_a)} and {len(members_b)} members"
    return "same members, different compressed bytes (gzip header or compression)"


def compare(recipe: Recipe, first: tuple[Path, Path], second: tuple[Path, Path]) -> tuple[list[str], dict[str, str]]:
    """Compare the outputs of two builds ((build dir, dist dir) each): (names compared, differences)."""
    left, right = outputs(recipe, *first), outputs(recipe, *second)
    differences = {name: "only in the first build" for name in left.keys() - right.keys()}
    differences.update({name: "only in the second build" for name in right.keys() - left.keys()})
    for name in sorted(left.keys() & right.keys()):
        if said := difference(left[name], right[name], (first[0], second[0])):
            differences[name] = said
    return sorted(left.keys() | right.keys()), dict(sorted(differences.items()))


def check(recipe: Recipe) -> Outcome:
    """Bring the checkout's build of ``recipe`` up to date, build it again in :func:`repro_root`,
    compare; write :func:`result_path`."""
    task = task_of(recipe)
    root = repro_root(recipe)
    second_build, second_dist, tmp = root / "build", root / "dist", root / "tmp"
    log = paths.BUILD / "repro" / f"{recipe.id}.log"
    print(f"repro: {recipe.id}: the first build (this checkout: {task}); log {log}", flush=True)
    doit(task, {}, paths.ROOT / ".doit.db", log)
    shutil.rmtree(root, ignore_errors=True)
    tmp.mkdir(parents=True)
    print(f"repro: {recipe.id}: the second build, in {root}", flush=True)
    started = time.monotonic()
    doit(task, {"WASIPORTS_BUILD_DIR": str(second_build), "WASIPORTS_DIST_DIR": str(second_dist),
                "TMPDIR": str(tmp)}, root / "doit.db", log)
    outcome = Outcome(recipe.id, str(root.relative_to(paths.ROOT)) if root.is_relative_to(paths.ROOT)
                      else str(root), round(time.monotonic() - started, 1))
    outcome.compared, outcome.differences = compare(recipe, (paths.BUILD, paths.DIST),
                                                    (second_build, second_dist))
    fileio.write_json(result_path(recipe), {**asdict(outcome), "identical": outcome.identical})
    return outcome


def main(recipes: list[Recipe]) -> int:
    """``wasiports repro ID…``: 0 when every recipe's outputs are identical, 1 otherwise."""
    status = 0
    for r in recipes:
        outcome = check(r)
        if outcome.identical:
            print(f"repro: {r.id}: identical: {len(outcome.compared)} files "
                  f"(second build {outcome.seconds:.0f} s)")
            continue
        status = 1
        print(f"repro: {r.id}: {len(outcome.differences)} of {len(outcome.compared)} files differ "
              f"(second build {outcome.seconds:.0f} s):")
        for name, said in outcome.differences.items():
            print(f"  {name}: {said}")
    return status
