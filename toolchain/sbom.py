"""One SPDX 2.3 JSON document per artifact (``dist/<id>-wasi.spdx.json``), made and checked with
the ``spdx-tools`` library (its model, its JSON writer, its validator).

What the document holds (SPDX ids in brackets)::

    DOCUMENT DESCRIBES [Artifact]          the tarball <id>-wasi.tar.gz (sha256)
    [Artifact] CONTAINS [Module-<file>]    each .wasm module (sha256)
    [Module-…] GENERATED_FROM [Source-<id>]       the interpreter's source tarball: sha256, the URL
                                                  of the origin that served it, licence
    [Patch-<id>-NNNN] PATCH_APPLIED [Source-<id>] each patch (sha1, sha256; Upstream-Status in
                                                  its comment), for libraries too
    [Module-…] STATIC_LINK [Source-<lib>]         each linked library recipe, its source and licence
    [Sdk] BUILD_TOOL_OF [Module-…]                the wasi-sdk release, or clang (Debian)
    [WasiLibc] … STATIC_LINK                      wasi-libc, linked into every module
    [Tool-<name>] BUILD_TOOL_OF [Module-…]        binaryen's wasm-opt and the other pinned tools

``created`` is the release's SOURCE_DATE_EPOCH and the namespace is derived from the tarball's
sha256, so the same build gives the same document; no host path is in it (:mod:`provenance`).
spdx-tools takes a second to import: only this module imports it, and only when called.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__, paths
from .errors import WasiportsError
from .provenance import ComponentFacts, Provenance

if TYPE_CHECKING:
    from spdx_tools.spdx.model import Document, Package, Relationship

SPDX_VERSION = "SPDX-2.3"
NAMESPACE = "https://spdx.org/spdxdocs/wasiports"
"""SPDX's advice for tools without a domain of their own: spdxdocs/<name>-<unique part>."""


@dataclass(frozen=True)
class ArtifactFacts:
    """What the packaging step made: the tarball and the modules in it."""

    id: str  # python-3.13.5
    name: str
    version: str
    license: str
    homepage: str
    tarball: str  # file name
    tarball_sha256: str
    modules: dict[str, str]  # module file name -> sha256
    source_date_epoch: int


@dataclass(frozen=True)
class ToolLock:
    """A pinned tool as the lock file names it (npm's package-lock.json)."""

    version: str
    sha512: str  # hex, "" when the lock has no integrity
    license: str


def spdx_id(*parts: str) -> str:
    return "SPDXRef-" + "-".join(re.sub(r"[^A-Za-z0-9.]+", "-", p).strip("-") for p in parts)


@functools.cache
def _licensing() -> Any:
    """The SPDX licence list as license-expression reads it (0.7 s to build: once)."""
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


def _license(expression: str) -> Any:
    from spdx_tools.spdx.model import SpdxNoAssertion

    return _licensing().parse(expression) if expression else SpdxNoAssertion()


def _location(url: str) -> Any:
    """An SPDX download location: the URL when it is one SPDX accepts (a local mirror's
    ``file:`` name is not), else NOASSERTION."""
    from spdx_tools.spdx.model import SpdxNoAssertion

    return url if url.startswith(("https://", "http://", "ftp://")) else SpdxNoAssertion()


def _source_package(c: ComponentFacts, purpose: str) -> Package:
    from spdx_tools.spdx.model import (Checksum, ChecksumAlgorithm, Package, PackagePurpose,
                                       SpdxNoAssertion)

    src = c.source
    info = f"{src.archive} served by {src.origin} ({src.url}); sha256 pin: {src.pin_provenance}"
    if src.repack:
        info += f"; Debian repack: {src.repack_note}"
    return Package(
        spdx_id=spdx_id("Source", c.id), name=c.name, version=c.version, file_name=src.archive,
        download_location=_location(src.url), files_analyzed=False,
        checksums=[Checksum(ChecksumAlgorithm.SHA256, src.sha256)],
        homepage=c.homepage or SpdxNoAssertion(), source_info=info, summary=c.summary,
        license_concluded=SpdxNoAssertion(), license_declared=_license(c.license),
        copyright_text=SpdxNoAssertion(), primary_package_purpose=PackagePurpose[purpose])


def _patches(c: ComponentFacts) -> tuple[list[Any], list[Relationship]]:
    from spdx_tools.spdx.model import (Checksum, ChecksumAlgorithm, File, FileType, Relationship,
                                       RelationshipType, SpdxNoAssertion)

    files, links = [], []
    for p in c.patches:
        ident = spdx_id("Patch", c.id, p.name.split("-", 1)[0])
        files.append(File(
            name=f"./{p.path}", spdx_id=ident, file_types=[FileType.SOURCE],
            checksums=[Checksum(ChecksumAlgorithm.SHA1, p.sha1), Checksum(ChecksumAlgorithm.SHA256, p.sha256)],
            license_concluded=SpdxNoAssertion(), copyright_text=SpdxNoAssertion(),
            comment=f"Upstream-Status: {p.upstream_status or '(none given)'}"))
        links.append(Relationship(ident, RelationshipType.PATCH_APPLIED, spdx_id("Source", c.id)))
    return files, links


def _artifact_packages(a: ArtifactFacts) -> tuple[list[Package], list[Relationship]]:
    from spdx_tools.spdx.model import (Checksum, ChecksumAlgorithm, Package, PackagePurpose,
                                       Relationship, RelationshipType, SpdxNoAssertion)

    artifact = Package(
        spdx_id=spdx_id("Artifact"), name=f"{a.id}-wasi", version=a.version, file_name=a.tarball,
        download_location=SpdxNoAssertion(), files_analyzed=False,
        checksums=[Checksum(ChecksumAlgorithm.SHA256, a.tarball_sha256)],
        homepage=a.homepage or SpdxNoAssertion(), license_concluded=SpdxNoAssertion(),
        license_declared=_license(a.license), copyright_text=SpdxNoAssertion(),
        summary=f"{a.name} {a.version} for wasm32-wasi (WASI preview 1), packaged by wasiports",
        primary_package_purpose=PackagePurpose.ARCHIVE,
        built_date=datetime.fromtimestamp(a.source_date_epoch, timezone.utc))
    packages, links = [artifact], [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, artifact.spdx_id)]
    for module, sha256 in sorted(a.modules.items()):
        packages.append(Package(
            spdx_id=spdx_id("Module", module), name=module, version=a.version, file_name=module,
            download_location=SpdxNoAssertion(), files_analyzed=False,
            checksums=[Checksum(ChecksumAlgorithm.SHA256, sha256)],
            license_concluded=SpdxNoAssertion(), license_declared=_license(a.license),
            copyright_text=SpdxNoAssertion(), primary_package_purpose=PackagePurpose.APPLICATION))
        links.append(Relationship(artifact.spdx_id, RelationshipType.CONTAINS, packages[-1].spdx_id))
    return packages, links


def _sdk_packages(facts: Provenance, tools: dict[str, ToolLock]) -> list[Package]:
    """The SDK (or its clang), wasi-libc and the pinned tools: each a package."""
    from spdx_tools.spdx.model import (Checksum, ChecksumAlgorithm, ExternalPackageRef,
                                       ExternalPackageRefCategory, Package, PackagePurpose,
                                       SpdxNoAssertion)

    sdk, none = facts.sdk, SpdxNoAssertion()
    d = sdk.details
    common: dict[str, Any] = {"files_analyzed": False, "license_concluded": none,
                              "copyright_text": none}
    mixed = "wasi-libc combines CC0-1.0, MIT (musl), BSD-2-Clause and Apache-2.0 parts"
    if sdk.release:
        main = Package(spdx_id=spdx_id("Sdk"), name="wasi-sdk", version=sdk.release,
                       file_name=d.get("archive"), download_location=_location(d.get("url", "")),
                       checksums=[Checksum(ChecksumAlgorithm.SHA256, d["sha256"])] if d.get("sha256") else [],
                       source_info=f"clang {sdk.clang_version}; served by {d.get('served_by', '?')}",
                       license_declared=_license("Apache-2.0 WITH LLVM-exception"),
                       primary_package_purpose=PackagePurpose.INSTALL, **common)
        libc = Package(spdx_id=spdx_id("WasiLibc"), name="wasi-libc", version=f"wasi-sdk-{sdk.release}",
                       download_location=none, license_declared=none, license_comment=mixed,
                       source_info=f"the sysroot of wasi-sdk {sdk.release}",
                       primary_package_purpose=PackagePurpose.LIBRARY, **common)
    else:
        main = Package(spdx_id=spdx_id("Sdk"), name="clang", version=sdk.clang_version,
                       download_location=none, license_declared=_license("Apache-2.0 WITH LLVM-exception"),
                       source_info=f"{sdk.origin}: {d.get('llvm_packages', '')}".strip(),
                       primary_package_purpose=PackagePurpose.INSTALL, **common)
        libc_version = sdk.wasi_libc.split(" ", 1)[-1] if sdk.wasi_libc else "unknown"
        libc = Package(spdx_id=spdx_id("WasiLibc"), name="wasi-libc", version=libc_version,
                       download_location=_location(d.get("wasi_libc_url", "")),
                       checksums=[Checksum(ChecksumAlgorithm.SHA256, d["wasi_libc_sha256"])]
                       if d.get("wasi_libc_sha256") else [],
                       license_declared=none, license_comment=mixed,
                       primary_package_purpose=PackagePurpose.LIBRARY, **common)
    packages = [main, libc]
    for tool in sdk.tools:
        lock = tools.get(tool.name)
        packages.append(Package(
            spdx_id=spdx_id("Tool", tool.name), name=tool.package, version=tool.version,
            download_location=none, summary=tool.why or None,
            checksums=[Checksum(ChecksumAlgorithm.SHA512, lock.sha512)] if lock and lock.sha512 else [],
            license_declared=_license(lock.license) if lock and lock.license else none,
            external_references=[ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl",
                                                    f"pkg:npm/{tool.package}@{tool.version}")],
            primary_package_purpose=PackagePurpose.APPLICATION, **common))
    return packages


def document(artifact: ArtifactFacts, facts: Provenance, tools: dict[str, ToolLock]) -> Document:
    """The SPDX document of one artifact (validated by :func:`validate`, not here)."""
    from spdx_tools.spdx.model import (Actor, ActorType, CreationInfo, Document, Relationship,
                                       RelationshipType)

    packages, links = _artifact_packages(artifact)
    modules = [p.spdx_id for p in packages[1:]]
    files: list[Any] = []
    for index, c in enumerate((facts.component, *facts.libraries)):
        packages.append(_source_package(c, "SOURCE" if index == 0 else "LIBRARY"))
        kind = RelationshipType.GENERATED_FROM if index == 0 else RelationshipType.STATIC_LINK
        links += [Relationship(m, kind, packages[-1].spdx_id) for m in modules]
        patch_files, patch_links = _patches(c)
        files += patch_files
        links += patch_links
    for package in _sdk_packages(facts, tools):
        packages.append(package)
        if package.spdx_id == spdx_id("WasiLibc"):
            links += [Relationship(m, RelationshipType.STATIC_LINK, package.spdx_id) for m in modules]
        else:
            links += [Relationship(package.spdx_id, RelationshipType.BUILD_TOOL_OF, m) for m in modules]
    info = CreationInfo(
        spdx_version=SPDX_VERSION, spdx_id="SPDXRef-DOCUMENT", name=f"{artifact.id}-wasi",
        document_namespace=f"{NAMESPACE}/{artifact.id}-wasi-{artifact.tarball_sha256}",
        creators=[Actor(ActorType.TOOL, f"wasiports-{__version__}")],
        created=datetime.fromtimestamp(artifact.source_date_epoch, timezone.utc),
        creator_comment="created = the release's SOURCE_DATE_EPOCH, not the time of the build")
    return Document(info, packages=packages, files=files, relationships=links)


def validate(doc: Document, where: str) -> None:
    """spdx-tools' own validator; every message it has is an error here."""
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    messages = validate_full_spdx_document(doc)
    if messages:
        raise WasiportsError(f"{where}: the SPDX document is not valid SPDX 2.3",
                             why="; ".join(m.validation_message for m in messages[:5]),
                             hint="this is a bug in toolchain/sbom.py: report it with the message")


def to_json(doc: Document) -> str:
    """The document as SPDX JSON (spdx-tools' converter), keys sorted, one trailing newline."""
    from spdx_tools.spdx.writer.write_utils import convert

    return json.dumps(convert(doc, None), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def npm_locks(lock_file: Path | None = None) -> dict[str, ToolLock]:
    """Tool name -> its lock entry, for each ``recipes/sdk.toml`` tool npm installs."""
    from . import sdk

    lock = json.loads((lock_file or paths.ROOT / "package-lock.json").read_text(encoding="utf-8"))
    found = {}
    for name, tool in sdk.load_data().tools.items():
        entry = lock.get("packages", {}).get(f"node_modules/{tool.package}")
        if entry is None:
            continue
        integrity = entry.get("integrity", "")
        sha512 = base64.b64decode(integrity[7:]).hex() if integrity.startswith("sha512-") else ""
        found[name] = ToolLock(entry.get("version", ""), sha512, entry.get("license", ""))
    return found
