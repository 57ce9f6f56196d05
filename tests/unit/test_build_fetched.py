"""build.fetched and build.prepare_source: a cached tarball is re-checked, never just trusted."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
import tomllib
from pathlib import Path

import pytest
import tomli_w

from toolchain import build, paths, recipe
from toolchain.errors import CachedFileChanged

ZLIB = paths.RECIPES / "zlib" / "1.3.1.toml"


def _tarball(path: Path, text: bytes = b"zlib readme\n") -> str:
    """A small ``zlib-1.3.1/README`` tarball at ``path``; returns its sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("zlib-1.3.1/README")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _recipe(tmp_path: Path, upstream_sha: str, repack_sha: str = "0" * 64) -> recipe.Recipe:
    """zlib's recipe with other pins (its Debian origin is a repack with its own pin)."""
    data = tomllib.loads(ZLIB.read_text())
    data["source"]["sha256"] = upstream_sha
    data["source"]["debian"]["sha256"] = repack_sha
    target = tmp_path / "recipes" / "zlib" / "1.3.1.toml"
    target.parent.mkdir(parents=True)
    target.write_bytes(tomli_w.dumps(data).encode())
    return recipe.load(target)


def _record(r: recipe.Recipe, path: Path, sha256: str, *, repack: bool = False) -> None:
    build.fetch_record(r).parent.mkdir(parents=True, exist_ok=True)
    build.fetch_record(r).write_text(json.dumps(
        {"archive": path.name, "path": str(path), "sha256": sha256, "repack": repack}))


@pytest.fixture(autouse=True)
def build_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(paths, "BUILD", tmp_path / "build")
    return tmp_path / "build"


def _damage(path: Path) -> None:
    time.sleep(0.05)  # past the file system's timestamp granularity (a clock tick)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1  # same size, other bytes
    path.write_bytes(bytes(data))


def test_fetched_is_false_once_the_cached_tarball_changed(tmp_path: Path) -> None:
    archive = tmp_path / "cache" / "zlib-1.3.1.tar.gz"
    sha = _tarball(archive)
    r = _recipe(tmp_path, sha)
    _record(r, archive, sha)
    assert build.fetched(r)
    _damage(archive)
    assert not build.fetched(r)  # so doit fetches it again


def test_fetched_is_false_when_the_record_has_another_pin(tmp_path: Path) -> None:
    archive = tmp_path / "cache" / "zlib-1.3.1.tar.gz"
    sha = _tarball(archive)
    r = _recipe(tmp_path, "1" * 64)
    _record(r, archive, sha)
    assert not build.fetched(r)


def test_fetched_holds_a_repack_to_its_own_pin(tmp_path: Path) -> None:
    archive = tmp_path / "cache" / "zlib_1.3.dfsg+really1.3.1.orig.tar.gz"
    sha = _tarball(archive)
    r = _recipe(tmp_path, "1" * 64, repack_sha=sha)
    _record(r, archive, sha, repack=True)
    assert build.fetched(r)


@pytest.mark.parametrize("content", [None, "{", '{"path": 3}', "[]"])
def test_fetched_is_false_without_a_usable_record(tmp_path: Path, content: str | None) -> None:
    r = _recipe(tmp_path, "1" * 64)
    if content is not None:
        build.fetch_record(r).parent.mkdir(parents=True)
        build.fetch_record(r).write_text(content)
    assert not build.fetched(r)


def test_prepare_source_refuses_a_changed_tarball(tmp_path: Path) -> None:
    archive = tmp_path / "cache" / "zlib-1.3.1.tar.gz"
    sha = _tarball(archive)
    r = _recipe(tmp_path, sha)
    _record(r, archive, sha)
    _damage(archive)
    actual = hashlib.sha256(archive.read_bytes()).hexdigest()
    with pytest.raises(CachedFileChanged) as info:
        build.prepare_source(r)
    message = str(info.value)
    assert str(archive) in message and sha in message and actual in message
    assert f"rm {archive} && doit fetch:{r.id}" in message
    assert not build.src_dir(r).exists()


def test_prepare_source_unpacks_a_matching_tarball(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "cache" / "zlib-1.3.1.tar.gz"
    sha = _tarball(archive)
    r = _recipe(tmp_path, sha)
    _record(r, archive, sha)
    applied: list[Path] = []
    monkeypatch.setattr(build, "apply_series", lambda series, src, log: applied.append(src))
    build.prepare_source(r)
    assert (build.src_dir(r) / "README").read_bytes() == b"zlib readme\n"
    assert applied == [build.src_dir(r)]
    assert json.loads(build.patched_stamp(r).read_text())["archive_sha256"] == sha
