"""`wasiports publish --oci` against a real registry: Debian's docker-registry on 127.0.0.1 (a
free port, a temporary storage directory, plain HTTP), stopped at the end. A small artifact (a
WAT module standing in for the interpreter) is pushed, pulled back and compared by digest."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.test_runner import echo_module
from toolchain import build, dist, paths, publish, recipe

pytestmark = pytest.mark.integration

REGISTRY = Path("/usr/bin/docker-registry")
PHP = recipe.load(paths.RECIPES / "php" / "8.2.32.toml")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    if not REGISTRY.is_file():
        pytest.skip(f"{REGISTRY} is missing: scripts/setup installs Debian's docker-registry")
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text("version: 0.1\nlog: {level: error}\n"
                      f"storage: {{filesystem: {{rootdirectory: {tmp_path / 'storage'}}}}}\n"
                      f"http: {{addr: \"127.0.0.1:{port}\"}}\n")
    log = (tmp_path / "registry.log").open("wb")
    proc = subprocess.Popen([str(REGISTRY), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"docker-registry did not start:\n{(tmp_path / 'registry.log').read_text()}")
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture
def packaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A php artifact in a temporary dist/: a small module, a tarball, an SBOM, a manifest."""
    monkeypatch.setattr(paths, "DIST", tmp_path / "dist")
    final = build.dist_dir(PHP)
    final.mkdir(parents=True)
    shutil.copy(echo_module(tmp_path, "args"), final / "php.wasm")
    dist.manifest_path(PHP).write_text(json.dumps(
        {"source_date_epoch": 1700000000, "source": {"sha256": "ab" * 32}}))
    dist.tarball_path(PHP).write_bytes(b"\x1f\x8b tarball stand-in")
    dist.sbom_path(PHP).write_text('{"spdxVersion": "SPDX-2.3"}\n')
    return final


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_push_pull_and_compare_digests(registry: str, packaged: Path, tmp_path: Path) -> None:
    target = f"{registry}/wasiports/interpreters"
    started = time.monotonic()
    digest = publish.push(publish.plan(PHP, target))
    seconds = time.monotonic() - started
    assert digest.startswith("sha256:") and seconds < 30
    reference = f"{target}:{PHP.id}"
    manifest = publish.manifest(reference)
    assert manifest["config"]["mediaType"] == publish.CONFIG
    layers = manifest["layers"]
    assert [layer["mediaType"] for layer in layers] == [publish.WASM, publish.TARBALL, publish.SBOM]
    files = (packaged / "php.wasm", dist.tarball_path(PHP), dist.sbom_path(PHP))
    assert [layer["digest"] for layer in layers] == [sha256(f) for f in files]
    notes = manifest["annotations"]
    assert notes["org.opencontainers.image.version"] == PHP.version
    assert notes["dev.wasiports.source.sha256"] == "ab" * 32
    assert notes["dev.wasiports.sbom.digest"] == sha256(dist.sbom_path(PHP))
    assert notes["org.opencontainers.image.created"] == "2023-11-14T22:13:20Z"
    # the registry's digest of what it stores is the digest push reported
    with urllib.request.urlopen(urllib.request.Request(
            f"http://{registry}/v2/wasiports/interpreters/manifests/{PHP.id}",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}), timeout=10) as r:
        assert "sha256:" + hashlib.sha256(r.read()).hexdigest() == digest
    pulled = publish.pull(reference, tmp_path / "pulled")
    assert sorted(p.name for p in pulled) == sorted(f.name for f in files)
    for original in files:
        assert sha256(tmp_path / "pulled" / original.name) == sha256(original)


def test_an_unpackaged_artifact_is_refused_before_anything_is_sent(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "DIST", tmp_path / "dist")
    with pytest.raises(Exception, match="is not packaged"):
        publish.plan(PHP, "127.0.0.1:1/wasiports")
