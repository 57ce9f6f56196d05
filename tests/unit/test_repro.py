"""The repro check's comparison: two builds' outputs, file by file, and where they differ."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import wasmtime

from toolchain import build, dist, paths, recipe, repro, tarball

RECIPES = {r.id: r for r in recipe.discover()}
ZLIB = next(r for r in RECIPES.values() if r.name == "zlib")
PYTHON = next(r for r in RECIPES.values() if r.name == "python" and dist.has_debug_companion(r))


def wasm(text: str) -> bytes:
    return bytes(wasmtime.wat2wasm(f'(module (@custom ".debug_line" "{text}") (func (export "_start")))'))


def stage(root: Path, pc_prefix: Path, lib: bytes = b"!<arch>\n") -> tuple[Path, Path]:
    build_dir = root / "build"
    top = build_dir / ZLIB.id / "stage"
    (top / "lib" / "pkgconfig").mkdir(parents=True)
    (top / "lib" / "libz.a").write_bytes(lib)
    (top / "lib" / "pkgconfig" / "zlib.pc").write_text(f"prefix={pc_prefix}\nlibdir=${{prefix}}/lib\n")
    (top / ".wasiports-installed").write_text(f"{ZLIB.id} {root.name}\n")  # a digest: not compared
    return build_dir, root / "dist"


def test_a_library_built_twice_alike_is_identical(tmp_path: Path) -> None:
    first = stage(tmp_path / "a", tmp_path / "a" / "build" / ZLIB.id / "stage")
    second = stage(tmp_path / "bb", tmp_path / "bb" / "build" / ZLIB.id / "stage")
    compared, differences = repro.compare(ZLIB, first, second)
    assert compared == ["stage/lib/libz.a", "stage/lib/pkgconfig/zlib.pc"] and differences == {}


def test_a_pkg_config_file_naming_another_path_differs(tmp_path: Path) -> None:
    first = stage(tmp_path / "a", tmp_path / "a" / "build" / ZLIB.id / "stage")
    second = stage(tmp_path / "b", Path("/elsewhere"))
    assert list(repro.compare(ZLIB, first, second)[1]) == ["stage/lib/pkgconfig/zlib.pc"]


def test_a_changed_archive_is_named(tmp_path: Path) -> None:
    first = stage(tmp_path / "a", Path("/p"))
    second = stage(tmp_path / "b", Path("/p"), lib=b"!<arch>\nX")
    assert repro.compare(ZLIB, first, second)[1] == \
        {"stage/lib/libz.a": "differs from byte 8 (8 and 9 bytes)"}


def artifact(root: Path, line: str, extra: str = "") -> tuple[Path, Path]:
    """A packaged interpreter: its directory, tarball, SBOM and debug companion."""
    build_dir, dist_dir = root / "build", root / "dist"
    saved = paths.BUILD, paths.DIST
    paths.BUILD, paths.DIST = build_dir, dist_dir
    try:
        top, debug = build.dist_dir(PYTHON), dist.debug_dir(PYTHON)
        (top / "lib").mkdir(parents=True)
        debug.mkdir(parents=True)
        (top / "python.wasm").write_bytes(wasm(""))
        (top / "lib" / "os.py").write_text(f"# os {extra}\n")
        (debug / "python.debug.wasm").write_bytes(wasm(line))
        dist.sbom_path(PYTHON).write_text("{}")
        tarball.write(top, dist.tarball_path(PYTHON), 0)
        tarball.write(debug, dist.debug_tarball_path(PYTHON), 0)
    finally:
        paths.BUILD, paths.DIST = saved
    return build_dir, dist_dir


def test_an_interpreter_built_twice_alike_is_identical(tmp_path: Path) -> None:
    compared, differences = repro.compare(PYTHON, artifact(tmp_path / "a", "x"), artifact(tmp_path / "b", "x"))
    name = build.dist_dir(PYTHON).name
    assert differences == {}
    assert set(compared) == {f"{name}/python.wasm", f"{name}/lib/os.py", f"{name}-debug/python.debug.wasm",
                             f"{name}.tar.gz", f"{name}-debug.tar.gz", f"{name}.spdx.json"}


def test_a_debug_section_difference_is_named_in_the_module_and_the_tarball(tmp_path: Path) -> None:
    _, differences = repro.compare(PYTHON, artifact(tmp_path / "a", "/build/a"),
                                   artifact(tmp_path / "b", "/build/b"))
    name = build.dist_dir(PYTHON).name
    said = "section '.debug_line' (#4) differs from byte 21 of it"  # id, size, name (1+11), "/build/"
    assert differences == {f"{name}-debug/python.debug.wasm": said,
                           f"{name}-debug.tar.gz": f"member {name}-debug/python.debug.wasm: {said}"}


def test_a_tarball_difference_names_its_member(tmp_path: Path) -> None:
    _, differences = repro.compare(PYTHON, artifact(tmp_path / "a", "x", extra="1"),
                                   artifact(tmp_path / "b", "x", extra="2"))
    name = build.dist_dir(PYTHON).name
    assert differences[f"{name}.tar.gz"] == f"member {name}/lib/os.py: differs from byte 5 (7 and 7 bytes)"
    assert set(differences) == {f"{name}.tar.gz", f"{name}/lib/os.py"}


def test_gzip_headers_alone_are_told_apart(tmp_path: Path) -> None:
    def pack(level: int) -> Path:
        out = tmp_path / f"x{level}.tar.gz"
        with tarfile.open(out, "w:gz", compresslevel=level) as tar:
            info = tarfile.TarInfo("a")
            info.size = 1000
            tar.addfile(info, io.BytesIO(b"a" * 1000))
        return out

    assert repro.difference(pack(1), pack(9)) == \
        "same members, different compressed bytes (gzip header or compression)"
