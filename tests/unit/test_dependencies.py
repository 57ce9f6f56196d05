"""Library recipes: dependency order, the flags rendered for dependents, repack labelling."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w

from toolchain import build, paths, recipe
from toolchain.errors import RecipeError

ZLIB = paths.RECIPES / "zlib" / "1.3.1.toml"


def library(tmp_path: Path, name: str, version: str, depends: list[str]) -> recipe.Recipe:
    data = tomllib.loads(ZLIB.read_text())
    data.update(name=name, version=version, depends=depends)
    target = tmp_path / name / f"{version}.toml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(tomli_w.dumps(data).encode())
    return recipe.load(target)


def test_dependencies_come_first_and_once(tmp_path: Path) -> None:
    a = library(tmp_path, "a", "1", [])
    b = library(tmp_path, "b", "1", ["a"])
    c = library(tmp_path, "c", "1", ["a"])
    top = library(tmp_path, "top", "1", ["c", "b"])
    order = [r.id for r in recipe.dependencies(top, [a, b, c, top])]
    assert order == ["a-1", "c-1", "b-1"]


def test_unknown_dependency_suggests_a_name(tmp_path: Path) -> None:
    zlib = library(tmp_path, "zlib", "1", [])
    top = library(tmp_path, "top", "1", ["zlb"])
    with pytest.raises(RecipeError) as info:
        recipe.dependencies(top, [zlib, top])
    assert "top/1.toml: depends: 'zlb' is no recipe (did you mean 'zlib'?)" in str(info.value)


def test_ambiguous_name_needs_a_version(tmp_path: Path) -> None:
    one, two = library(tmp_path, "z", "1", []), library(tmp_path, "z", "2", [])
    top = library(tmp_path, "top", "1", ["z"])
    with pytest.raises(RecipeError) as info:
        recipe.dependencies(top, [one, two, top])
    assert "'z' is ambiguous: z-1, z-2" in str(info.value)
    pinned = library(tmp_path, "top", "1", ["z-2"])
    assert [r.id for r in recipe.dependencies(pinned, [one, two, pinned])] == ["z-2"]


def test_cycles_are_named(tmp_path: Path) -> None:
    a = library(tmp_path, "a", "1", ["b"])
    b = library(tmp_path, "b", "1", ["a"])
    with pytest.raises(RecipeError) as info:
        recipe.dependencies(a, [a, b])
    assert "dependency cycle a-1 -> b-1 -> a-1" in str(info.value)


def test_dependents_get_pkg_config_and_flags(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    python = recipe.load(paths.RECIPES / "python" / "3.13.5.toml")
    info = build.sdk.SdkInfo(tmp_path / "sdk", "debian", "19.1.7")
    ctx = build.context(python, info)
    deps = build.dependencies(python)
    assert [d.name for d in deps] == python.depends
    for dep in deps:
        assert str(build.stage_dir(dep) / "lib" / "pkgconfig") in ctx["deps_pkg_config_path"].split(":")
        assert f"-I{build.stage_dir(dep) / 'include'}" in ctx["deps_cflags"].split()
    env = build.build_env(python, ctx)
    assert env["PKG_CONFIG_LIBDIR"].startswith(ctx["deps_pkg_config_path"] + ":")


def test_repacked_debian_tarball_is_labelled() -> None:
    zlib = recipe.load(ZLIB)
    assert zlib.source.debian is not None and not zlib.source.debian.identical
    assert zlib.source.debian.sha256 != zlib.source.sha256
    assert "repack" in zlib.source.debian.note


def test_every_library_recipe_builds_a_static_library() -> None:
    libraries = [r for r in recipe.discover() if r.kind == "library"]
    assert {"zlib", "bzip2", "xz"} <= {r.name for r in libraries}
    for lib in libraries:
        assert lib.build.product.endswith(".a"), lib.id
        assert lib.artifact is None and lib.smoke is None


def test_fetch_falls_back_to_the_labelled_repack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib
    import http.server
    import json
    import threading

    from toolchain import fetch

    repack = b"debian repack bytes"
    files = {"/zlib_repack.orig.tar.gz": repack}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = files.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        monkeypatch.setenv("WASIPORTS_CACHE", str(tmp_path / "cache"))
        monkeypatch.setenv("WASIPORTS_FETCH_RETRIES", "1")
        monkeypatch.delenv("WASIPORTS_MIRRORS", raising=False)
        monkeypatch.setattr(paths, "BUILD", tmp_path / "build")
        zlib = recipe.load(ZLIB)
        deb = zlib.source.debian.model_copy(update={
            "file": "zlib_repack.orig.tar.gz", "sha256": hashlib.sha256(repack).hexdigest()})
        source = zlib.source.model_copy(update={"urls": [f"{base}/zlib-1.3.1.tar.gz"], "debian": deb})
        zlib = zlib.model_copy(update={"source": source})
        monkeypatch.setattr(build, "_debian_origin",
                            lambda r, file: fetch.Origin("debian", f"{base}/{file}"))
        build.fetch_source(zlib)
        record = json.loads(build.fetch_record(zlib).read_text())
        assert record["repack"] is True and record["archive"] == "zlib_repack.orig.tar.gz"
        assert record["origin"] == "debian" and record["sha256"] == deb.sha256
        assert "repack" in record["repack_note"]
    finally:
        server.shutdown()
