"""Release files of real builds: each interpreter whose install stage exists is packaged afresh
into a temporary dist/ (tarball, README, manifest, SBOM, SHA256SUMS); the SBOM is validated with
spdx-tools, every published file and every file inside the tarball is grepped for the build
machine's paths, and the README's `wasmtime run` line is run with the wasmtime CLI.

The build tree is this checkout's ``build/``, or ``$WASIPORTS_RELEASE_BUILD_DIR`` (another
checkout's build, read only: its own ``patches/`` are the ones its stamps record). A recipe not
built there is skipped with the reason."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolchain import build, checksums, dist, hostpaths, paths, recipe, release_cli, wasmfile, wasmtime_cli

from .conftest import smoke

pytestmark = pytest.mark.integration

BUILD_DIR = Path(os.environ.get("WASIPORTS_RELEASE_BUILD_DIR", str(paths.BUILD)))
INTERPRETERS = [r for r in recipe.discover() if r.kind == "interpreter" and r.release]  # what a release ships
OWN_FILES = re.compile(r"^[^/]+/(README\.md|manifest\.json|[a-z-]+)$")
"""Files of the tarball that wasiports writes itself: README, manifest, launchers (no extension)."""


@pytest.fixture(scope="module", params=[r.id for r in INTERPRETERS])
def packaged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[recipe.Recipe]:
    r = next(x for x in INTERPRETERS if x.id == request.param)
    with pytest.MonkeyPatch.context() as mp:
        if BUILD_DIR == paths.BUILD:
            smoke(r.id)  # built through the pipeline (the main job would build it anyway)
        mp.setattr(paths, "BUILD", BUILD_DIR)
        if not build.installed_stamp(r).is_file():  # only with WASIPORTS_RELEASE_BUILD_DIR
            pytest.skip(f"{r.id} is not built in {BUILD_DIR} (no {build.installed_stamp(r).name})")
        other = BUILD_DIR.parent
        if other != paths.ROOT and (other / "dodo.py").is_file():
            mp.setattr(paths, "PATCHES", other / "patches")  # the series that build applied
        mp.setattr(paths, "DIST", tmp_path_factory.mktemp(f"dist-{r.id}"))
        started = time.monotonic()
        dist.package(r)
        checksums.write(paths.DIST)
        print(f"packaged {r.id} in {time.monotonic() - started:.1f} s")
        yield r


def own_needles() -> list[bytes]:
    return [*hostpaths.needles(), f"{BUILD_DIR}/".encode(), f"{BUILD_DIR.parent}/".encode()]


def test_the_sbom_is_valid_spdx(packaged: recipe.Recipe) -> None:
    assert release_cli.check_sbom([dist.sbom_path(packaged)]) == 0


def test_files_we_write_name_no_host_path(packaged: recipe.Recipe) -> None:
    needles, found = own_needles(), []
    for path in (dist.sbom_path(packaged), paths.DIST / checksums.NAME, dist.manifest_path(packaged),
                 dist.readme_path(packaged), *(build.dist_dir(packaged) / n for n in dist.launches(packaged))):
        found += hostpaths.leaks(path.read_bytes(), path.name, needles)
    with tarfile.open(dist.tarball_path(packaged)) as tar:
        for m in tar.getmembers():
            found += hostpaths.leaks(f"{m.name}\0{m.linkname}\0{m.uname}\0{m.gname}".encode(), m.name, needles)
            if m.isfile() and OWN_FILES.match(m.name):
                found += hostpaths.leaks(tar.extractfile(m).read(), m.name, needles)  # type: ignore[union-attr]
    assert found == []


def test_shipped_modules_are_stripped_and_the_dwarf_is_in_the_companion(packaged: recipe.Recipe) -> None:
    manifest = json.loads(dist.manifest_path(packaged).read_text())
    sums = (paths.DIST / checksums.NAME).read_text()
    for module in dist.launches(packaged).values():
        shipped = wasmfile.read_sections(build.dist_dir(packaged) / module)
        assert wasmfile.debug_bytes(shipped) == 0
        assert any(s.name == "name" for s in shipped), f"{module} has no name section: traps would not name functions"
        entry = next(f for f in manifest["files"] if f["path"] == module)
        if not dist.has_debug_companion(packaged):
            assert "debug" not in entry and manifest["debug_companion"]["why_none"]
            continue
        whole = dist.debug_dir(packaged) / dist.debug_module_name(module)
        assert entry["debug"]["dwarf_bytes"] == wasmfile.debug_bytes(wasmfile.read_sections(whole)) > 0
        assert entry["debug"]["stripped_bytes"] == entry["size"] < entry["debug"]["debug_bytes"]
        print(f"{packaged.id}: {module} {entry['size']:,} B shipped, {entry['debug']['debug_bytes']:,} B "
              f"with its {entry['debug']['dwarf_bytes']:,} B of DWARF")
    if dist.has_debug_companion(packaged):
        assert f"  {dist.debug_tarball_path(packaged).name}\n" in sums


def test_the_interpreters_own_files_name_no_host_path(packaged: recipe.Recipe) -> None:
    """Modules and runtime files made by the interpreters' own builds (compiled-in __FILE__ paths
    and configure lines, CPython's _sysconfigdata, Ruby's rbconfig.rb, the DWARF of the debug
    companion): the prefix maps and the recipes' build.relabel entries must have renamed them all."""
    needles, found = own_needles(), []
    tarballs = [dist.tarball_path(packaged)]
    if dist.has_debug_companion(packaged):
        tarballs.append(dist.debug_tarball_path(packaged))
    for path in tarballs:
        with tarfile.open(path) as tar:
            for m in tar.getmembers():
                if m.isfile() and not OWN_FILES.match(m.name):
                    hits = hostpaths.leaks(tar.extractfile(m).read(), m.name, needles)  # type: ignore[union-attr]
                    found += hits[:1]
    assert found == [], "\n".join(found)


def test_the_readme_command_runs_with_the_wasmtime_cli(packaged: recipe.Recipe, tmp_path: Path) -> None:
    with tarfile.open(dist.tarball_path(packaged)) as tar:
        tar.extractall(tmp_path, filter="data")
    readme = dist.readme_path(packaged).read_text()
    block = readme.split("```sh\nART=", 1)[1].split("```", 1)[0]
    main = f"ART={block.split(chr(10) + 'wasmtime run')[0]}\nwasmtime run" + \
        block.split("\nwasmtime run", 2)[1]
    env = {**os.environ, "PATH": f"{wasmtime_cli.bin_dir()}:{os.environ['PATH']}"}
    out = subprocess.run(["bash", "-c", main], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, (main, out.stderr[-2000:])
    assert packaged.version in out.stdout


def test_the_launcher_runs_with_wasmtime_run(packaged: recipe.Recipe, tmp_path: Path) -> None:
    with tarfile.open(dist.tarball_path(packaged)) as tar:
        tar.extractall(tmp_path, filter="data")
    launcher = tmp_path / build.dist_dir(packaged).name / packaged.name
    env = {k: v for k, v in os.environ.items() if not k.startswith("WASIPORTS_")}
    env.update(WASIPORTS_RUNNER="wasmtime run", PATH=f"{wasmtime_cli.bin_dir()}:{os.environ['PATH']}")
    out = subprocess.run([str(launcher), "--version"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert packaged.version in out.stdout
