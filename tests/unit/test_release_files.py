"""What a release publishes, made from a fake build tree (no process, no network): the artifact
directory, its README, manifest, tarball and SBOM name no host path; the tarball is the same bytes
whenever and wherever it is made; SHA256SUMS checks; the test bundle and the OCI push plan."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
import wasmtime

from toolchain import (build, bundle, checksums, dist, hostpaths, paths, publish, recipe,
                       release_cli, tarball)
from toolchain.errors import WasiportsError

SLIM = next(r for r in recipe.discover() if r.id == "php-8.2.32-slim")
EPOCH = 1700000000


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """build/ (sdk.json, fetch record, patched stamp, install stage) and dist/ under tmp_path."""
    monkeypatch.setattr(paths, "BUILD", tmp_path / "build")
    monkeypatch.setattr(paths, "DIST", tmp_path / "dist")
    monkeypatch.setenv("WASIPORTS_CACHE", str(tmp_path / "cache"))
    sdk = {"path": str(tmp_path / "cache" / "sdk"), "origin": "debian", "clang_version": "19.1.7",
           "details": {"wasi_libc": "wasi-libc 0.0~git1-2", "wasi_libc_sha256": "cd" * 32,
                       "wasi_libc_url": "http://example.org/wasi-libc.deb"},
           "tools": {"wasm-opt": str(tmp_path / "checkout" / "node_modules" / ".bin" / "wasm-opt")}}
    build.sdk_record().parent.mkdir(parents=True)
    build.sdk_record().write_text(json.dumps(sdk))
    work = build.work_dir(SLIM)
    (work / "src").mkdir(parents=True)
    build.fetch_record(SLIM).write_text(json.dumps({
        "archive": SLIM.source.archive, "sha256": SLIM.source.sha256, "size": 5, "repack": False,
        "pin_provenance": "the release page", "path": str(tmp_path / "cache" / "downloads" / "php.tar.xz"),
        "origin": "cache", "url": f"file://{tmp_path}/cache/downloads/php.tar.xz",
        "downloaded_from": {"origin": "upstream", "url": "https://example.org/php.tar.xz"}}))
    patches = [{"name": p.name, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for p in SLIM.patches()]
    build.patched_stamp(SLIM).write_text(json.dumps({"source_date_epoch": EPOCH, "patches": patches}))
    stage = build.stage_dir(SLIM) / "usr" / "local"
    (stage / "bin").mkdir(parents=True)
    for name in ("php", "php-cgi"):  # modules without DWARF, as the recipe's no_debug_info says
        (stage / "bin" / name).write_bytes(bytes(wasmtime.wat2wasm(f'(module (func ${name.replace("-", "_")}))')))
    (stage / "etc").mkdir()
    (stage / "etc" / "php.ini").write_text("memory_limit=128M\n")
    os.utime(stage / "etc" / "php.ini", (12345, 12345))
    return tmp_path


def test_package_writes_readme_manifest_tarball_and_sbom(tree: Path) -> None:
    dist.package(SLIM)
    final = build.dist_dir(SLIM)
    assert sorted(p.name for p in final.iterdir()) == ["README.md", "etc", "manifest.json", "php",
                                                       "php-cgi", "php-cgi.wasm", "php.wasm"]
    manifest = json.loads(dist.manifest_path(SLIM).read_text())
    assert manifest["source"]["origin"] == "upstream" and "path" not in manifest["source"]
    assert manifest["source"]["url"] == "https://example.org/php.tar.xz"
    assert manifest["patches"][0]["upstream_status"] == "Pending"
    assert manifest["sdk"]["wasi_libc"] == "wasi-libc 0.0~git1-2" and "path" not in manifest["sdk"]
    assert manifest["sdk"]["tools"][0] == {"name": "wasm-opt", "package": "binaryen", "version": "132.0.0",
                                           "why": manifest["sdk"]["tools"][0]["why"]}
    assert manifest["source_date_epoch"] == EPOCH
    assert manifest["debug_companion"] == {"tarball": None, "why_none": SLIM.artifact.no_debug_info}
    assert not dist.debug_tarball_path(SLIM).exists() and not final.with_name(final.name + ".tmp").exists()
    assert any(a.startswith("$BUILD/php-8.2.32-slim/src/") for a in manifest["configure"])
    sbom = json.loads(dist.sbom_path(SLIM).read_text())
    assert sbom["spdxVersion"] == "SPDX-2.3" and sbom["creationInfo"]["created"] == "2023-11-14T22:13:20Z"


def test_a_failed_package_leaves_no_half_made_directory(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_: object) -> None:
        raise WasiportsError("llvm-objcopy failed")
    monkeypatch.setattr(dist, "_drop_dwarf", fail)
    with pytest.raises(WasiportsError, match="objcopy"):
        dist.package(SLIM)
    assert not [p.name for p in paths.DIST.iterdir() if p.name.endswith(".tmp")]


def test_nothing_published_names_a_host_path(tree: Path) -> None:
    dist.package(SLIM)
    checksums.write(paths.DIST)
    needles = [*hostpaths.needles(), f"{tree}/".encode()]
    found = []
    for path in [*paths.DIST.glob("*"), *build.dist_dir(SLIM).rglob("*")]:
        if path.is_file():
            found += hostpaths.leaks(path.read_bytes(), path.name, needles)
    with tarfile.open(dist.tarball_path(SLIM)) as tar:
        for member in tar.getmembers():
            found += hostpaths.leaks(f"{member.name} {member.linkname} {member.uname}".encode(), member.name, needles)
            if member.isfile():
                found += hostpaths.leaks(tar.extractfile(member).read(), member.name, needles)  # type: ignore[union-attr]
    assert found == []


def test_the_readme_has_the_wasmtime_command_and_the_limits(tree: Path) -> None:
    dist.package(SLIM)
    text = dist.readme_path(SLIM).read_text()
    assert "wasmtime run --wasm max-wasm-stack=16777216 --wasm exceptions=y \\\n" in text
    assert '  --dir "$ART/etc::/usr/local/etc" \\\n' in text
    assert '  --env "PWD=$PWD" \\\n' in text
    assert '  --argv0 php-cgi "$ART/php-cgi.wasm" --version\n' in text
    assert "| `$ART/etc` | `/usr/local/etc` |" in text
    assert SLIM.artifact is not None and all(f"- {line}\n" in text for line in SLIM.artifact.limits)
    assert "Licence: `PHP-3.01`." in text


def test_the_tarball_is_the_same_bytes_whenever_it_is_made(tmp_path: Path) -> None:
    top = tmp_path / "demo-wasi"
    (top / "lib" / "sub").mkdir(parents=True)
    (top / "lib" / "sub" / "a.py").write_text("a")
    (top / "run").write_text("#!/bin/sh\n")
    (top / "run").chmod(0o700)
    (top / "link").symlink_to("lib/sub/a.py")
    tarball.write(top, tmp_path / "one.tar.gz", EPOCH)
    for path in top.rglob("*"):
        os.utime(path, (999, 999), follow_symlinks=False)
    (top / "lib" / "sub" / "a.py").chmod(0o600)
    tarball.write(top, tmp_path / "two.tar.gz", EPOCH)
    one, two = (tmp_path / "one.tar.gz").read_bytes(), (tmp_path / "two.tar.gz").read_bytes()
    assert one == two
    assert int.from_bytes(one[4:8], "little") == EPOCH and one[3] & 0x08 == 0  # mtime; no FNAME
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(one))) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["demo-wasi", "demo-wasi/lib", "demo-wasi/lib/sub",
                                         "demo-wasi/lib/sub/a.py", "demo-wasi/link", "demo-wasi/run"]
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == {(0, 0, "", "", EPOCH)}
    modes = {m.name.rsplit("/", 1)[-1]: m.mode for m in members}
    assert (modes["a.py"], modes["run"], modes["lib"]) == (0o644, 0o755, 0o755)


def test_an_absolute_symlink_is_refused(tmp_path: Path) -> None:
    top = tmp_path / "demo-wasi"
    top.mkdir()
    (top / "escape").symlink_to("/etc/passwd")
    with pytest.raises(WasiportsError, match="symlink to the absolute path /etc/passwd"):
        tarball.write(top, tmp_path / "out.tar.gz", EPOCH)
    assert not (tmp_path / "out.tar.gz").exists()


def test_scrub_replaces_whole_path_components_only() -> None:
    known = [("/work/main/build", "$BUILD"), ("/work/main", "$CHECKOUT")]
    assert hostpaths.scrub("--with-x=/work/main/build/a /work/main:/work/mainline", known) == \
        "--with-x=$BUILD/a $CHECKOUT:/work/mainline"
    assert hostpaths.portable_url("file:///srv/mirror/zlib.tar.gz") == "file:zlib.tar.gz"


def test_checksums_write_and_verify(tmp_path: Path) -> None:
    (tmp_path / "a-wasi.tar.gz").write_bytes(b"a")
    (tmp_path / "a-wasi.spdx.json").write_text("{}")
    (tmp_path / "other.txt").write_text("not published")
    sums = checksums.write(tmp_path)
    lines = sums.read_text().splitlines()
    assert lines == [f"{hashlib.sha256(b'{}').hexdigest()}  a-wasi.spdx.json",
                     f"{hashlib.sha256(b'a').hexdigest()}  a-wasi.tar.gz"]
    assert checksums.verify(sums) == []
    (tmp_path / "a-wasi.tar.gz").write_bytes(b"changed")
    (tmp_path / "a-wasi.spdx.json").unlink()
    problems = checksums.verify(sums)
    assert problems[0] == "SHA256SUMS:1: a-wasi.spdx.json: missing"
    assert problems[1].startswith("SHA256SUMS:2: a-wasi.tar.gz: sha256 ")
    with pytest.raises(WasiportsError, match="nothing to checksum"):
        checksums.write(tmp_path / "empty")


def test_the_bundle_holds_what_the_suite_reads(tree: Path) -> None:
    php = next(r for r in recipe.discover() if r.id == "php-8.2.32")
    with pytest.raises(WasiportsError, match="is not packaged"):
        bundle.members(php)
    dist.package(SLIM)
    names = [bundle.arcname(p) for p in bundle.members(SLIM)]  # slim has no suite: the artifact only
    assert "build/sdk.json" in names and "dist/php-8.2.32-slim-wasi/php.wasm" in names
    assert "dist/php-8.2.32-slim-wasi.spdx.json" in names and not any("/stage" in n for n in names)
    (build.src_dir(SLIM) / "run-tests.php").write_text("<?php")
    (build.src_dir(SLIM) / "main.o").write_bytes(b"obj")
    tested = SLIM.model_copy(update={"test": SLIM.test.model_copy(update={"suite": "php-run-tests"})})
    names = [bundle.arcname(p) for p in bundle.members(tested)]
    assert "build/php-8.2.32-slim/src/run-tests.php" in names
    assert "build/php-8.2.32-slim/src/main.o" not in names
    assert len(names) == len(set(names))


def test_the_push_plan(tree: Path) -> None:
    dist.package(SLIM)
    plan = publish.plan(SLIM, "127.0.0.1:5000/wasiports")
    assert plan.reference == "127.0.0.1:5000/wasiports:php-8.2.32-slim"
    assert [media for _, media in plan.layers] == [publish.WASM, publish.TARBALL, publish.SBOM]
    assert plan.config["architecture"] == "wasm" and plan.config["os"] == "wasip1"
    module = hashlib.sha256((build.dist_dir(SLIM) / "php.wasm").read_bytes()).hexdigest()
    assert plan.config["layerDigests"] == [f"sha256:{module}"]
    assert plan.annotations["dev.wasiports.source.sha256"] == SLIM.source.sha256
    assert publish.is_loopback("127.0.0.1:5000") and publish.is_loopback("localhost:1")
    assert publish.is_loopback("[::1]:5000") and not publish.is_loopback("ghcr.io")
    with pytest.raises(WasiportsError, match="is not REGISTRY/REPO"):
        publish.plan(SLIM, "wasiports")


def test_gate_exits_non_zero_on_a_regression(tree: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import datetime, timezone

    from toolchain import results
    from toolchain.__main__ import main

    python = next(r for r in recipe.discover() if r.id == "python-3.13.5")
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    bad = results.UnitResult(suite=python.id, unit="test_nobody_expects", outcome=results.Outcome.FAIL,
                             duration=1, exit_code=1)
    run = results.SuiteRun(suite=python.id, started=now, finished=now, host=results.host_info(), units=(bad,))
    path = tmp_path / "merged.json"
    path.write_text(results.to_json(run))
    assert main(["gate", python.id, str(path)]) == 9
    assert "test_nobody_expects" in capsys.readouterr().err
    good = run.model_copy(update={"units": (bad.model_copy(update={"outcome": results.Outcome.PASS}),)})
    path.write_text(results.to_json(good))
    assert main(["gate", python.id, str(path)]) == 0
    assert release_cli.COMMANDS == ("gate", "bundle", "checksums", "check-sbom", "publish", "repro")
