"""``wasiports publish --oci REGISTRY/REPO``: each packaged artifact as an OCI artifact (``oras``).

The layout follows the Wasm OCI artifact format (CNCF TAG Runtime's wasm-oci-artifact): the config
is ``application/vnd.wasm.config.v0+json`` (``architecture: wasm``, ``os: wasip1``, the digest of
the module layer) and the first layer is the module itself, ``application/wasm``, so runtimes and
registries that know Wasm find it. wasiports adds two layers: the tarball (the module with its
runtime files and launchers) and the SBOM. Tag: the recipe id (``REGISTRY/REPO:python-3.13.5``).

Manifest annotations: ``org.opencontainers.image.{title,version,licenses,created,description}``
(``created`` is the release's SOURCE_DATE_EPOCH), ``dev.wasiports.source.sha256`` (the upstream
tarball's pin) and ``dev.wasiports.sbom.digest`` (the SBOM layer's digest).

Transport: plain HTTP for a registry on the loopback (127.0.0.0/8, ``localhost``, ``[::1]``: a
test registry), HTTPS for every other one. Credentials: ``WASIPORTS_OCI_USERNAME`` and
``WASIPORTS_OCI_PASSWORD`` when set, else the Docker configuration oras reads
(``~/.docker/config.json``).
"""

from __future__ import annotations

import ipaddress
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import build, dist, fileio
from .errors import WasiportsError
from .fileio import sha256_of
from .recipe import Recipe

WASM = "application/wasm"
CONFIG = "application/vnd.wasm.config.v0+json"
TARBALL = "application/vnd.wasiports.artifact.v1.tar+gzip"
SBOM = "application/spdx+json"


@dataclass(frozen=True)
class Push:
    """What one push sends: the files with their media types, the config and the annotations."""

    reference: str  # registry/repo:tag
    layers: tuple[tuple[Path, str], ...]
    config: dict[str, Any]
    annotations: dict[str, str]


def registry_host(target: str) -> str:
    """``127.0.0.1:5000`` of ``127.0.0.1:5000/wasiports/python``; refuses a target without a repo."""
    host, _, repo = target.partition("/")
    if not repo or "." not in host and ":" not in host and host != "localhost":
        raise WasiportsError(f"--oci {target!r} is not REGISTRY/REPO",
                             why="the first component must be a registry host (with a '.' or a port)",
                             hint="e.g. ghcr.io/OWNER/wasiports or 127.0.0.1:5000/wasiports")
    return host


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def plan(recipe: Recipe, target: str) -> Push:
    """The push of ``recipe``'s packaged artifact to ``target`` (nothing sent yet)."""
    assert recipe.artifact is not None
    if not recipe.release:
        raise WasiportsError(f"{recipe.id} is built for testing only: it is never published",
                             why="its recipe variant says release = false, so dist writes no tarball or SBOM for it",
                             hint=f"publish {recipe.name}-{recipe.version}, the recipe it is a variant of")
    registry_host(target)
    manifest = fileio.read_json_object(dist.manifest_path(recipe))
    module = build.dist_dir(recipe) / recipe.artifact.module_name
    tarball, sbom = dist.tarball_path(recipe), dist.sbom_path(recipe)
    missing = [p for p in (dist.manifest_path(recipe), module, tarball, sbom) if not p.is_file()]
    if manifest is None or missing:
        raise WasiportsError(f"{recipe.id} is not packaged: {(missing or [dist.manifest_path(recipe)])[0]} "
                             "is missing or unreadable",
                             why="publish sends the packaged module, tarball and SBOM",
                             hint=f"run `scripts/build dist:{recipe.id}` first")
    epoch = int(manifest.get("source_date_epoch", 0))
    created = datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = {"created": created, "author": "wasiports", "architecture": "wasm", "os": "wasip1",
              "layerDigests": [f"sha256:{sha256_of(module)}"]}
    annotations = {
        "org.opencontainers.image.title": f"{recipe.id}-wasi",
        "org.opencontainers.image.version": recipe.version,
        "org.opencontainers.image.licenses": recipe.license,
        "org.opencontainers.image.created": created,
        "org.opencontainers.image.description": f"{recipe.summary}, for wasm32-wasi (WASI preview 1)",
        "dev.wasiports.source.sha256": str(manifest.get("source", {}).get("sha256", "")),
        "dev.wasiports.sbom.digest": f"sha256:{sha256_of(sbom)}",
    }
    return Push(f"{target}:{recipe.id}", ((module, WASM), (tarball, TARBALL), (sbom, SBOM)),
                config, annotations)


def _client(target: str) -> Any:
    import oras.client

    host = registry_host(target)
    client = oras.client.OrasClient(hostname=host, insecure=is_loopback(host))
    user, password = os.environ.get("WASIPORTS_OCI_USERNAME"), os.environ.get("WASIPORTS_OCI_PASSWORD")
    if user and password:
        client.auth.set_basic_auth(user, password)
    return client


def push(p: Push) -> str:
    """Send ``p``; return the manifest digest the registry answered with."""
    client = _client(p.reference)
    with tempfile.TemporaryDirectory(prefix="wasiports-oci-") as tmp:
        config = Path(tmp) / "config.json"
        config.write_text(json.dumps(p.config, sort_keys=True))
        try:
            response = client.push(
                target=p.reference, files=[f"{path}:{media}" for path, media in p.layers],
                manifest_config=f"{config}:{CONFIG}", manifest_annotations=p.annotations,
                disable_path_validation=True, quiet=True)
        except Exception as exc:  # oras raises requests' and its own errors, and ValueError
            raise WasiportsError(f"push of {p.reference} failed", why=f"{type(exc).__name__}: {exc}",
                                 hint="check the registry's address and credentials "
                                 "(WASIPORTS_OCI_USERNAME/WASIPORTS_OCI_PASSWORD)") from None
    digest = response.headers.get("Docker-Content-Digest", "")
    print(f"publish: {p.reference} {digest}")
    return digest


def pull(reference: str, outdir: Path) -> list[Path]:
    """Fetch every layer of ``reference`` into ``outdir`` (named by their titles)."""
    client = _client(reference)
    return [Path(f) for f in client.pull(target=reference, outdir=str(outdir))]


def manifest(reference: str) -> dict[str, Any]:
    """The manifest of ``reference`` as the registry serves it."""
    return dict(_client(reference).get_manifest(reference))
