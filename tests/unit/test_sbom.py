"""The SBOM: an SPDX 2.3 document from fixture build facts, checked with spdx-tools' own validator
(on the model, and on the JSON we write, parsed back by spdx-tools' parser)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolchain import sbom
from toolchain.provenance import (ComponentFacts, PatchFacts, Provenance, SdkFacts, SourceFacts,
                                  ToolFacts, upstream_status)

SHA = "ab" * 32


def _source(name: str, url: str = "https://example.org/x.tar.gz") -> SourceFacts:
    return SourceFacts(archive=f"{name}.tar.gz", sha256=SHA, size=10, origin="upstream", url=url,
                       pin_provenance="the release page", repack=False)


def component(name: str, license: str, kind: str = "library", patches: int = 0) -> ComponentFacts:
    series = tuple(PatchFacts(f"000{i}-fix-{i}.patch", f"patches/{name}/1.0/000{i}-fix-{i}.patch",
                              SHA, "cd" * 20, "Pending") for i in range(1, patches + 1))
    return ComponentFacts(f"{name}-1.0", name, "1.0", kind, license, "https://example.org/",
                          f"{name} summary", _source(name), series)


def provenance(*, release: str = "") -> Provenance:
    details = ({"release": release, "archive": "wasi-sdk.tar.gz", "sha256": SHA, "url": "https://example.org/sdk"}
               if release else {"wasi_libc": "wasi-libc 0.0~git1-2", "wasi_libc_sha256": SHA,
                                "wasi_libc_url": "http://example.org/wasi-libc.deb",
                                "llvm_packages": "clang-19 lld-19"})
    sdk = SdkFacts(origin="wasi-sdk release" if release else "debian", clang_version="19.1.7",
                   release=release, wasi_libc=details.get("wasi_libc", ""), details=details,
                   tools=(ToolFacts("wasm-opt", "binaryen", "132.0.0", "exceptions"),))
    return Provenance(component("ruby", "Ruby OR BSD-2-Clause", "interpreter", patches=2),
                      (component("zlib", "Zlib", patches=1), component("libyaml", "MIT")), sdk)


ARTIFACT = sbom.ArtifactFacts(id="ruby-1.0", name="ruby", version="1.0", license="Ruby OR BSD-2-Clause",
                              homepage="https://example.org/", tarball="ruby-1.0-wasi.tar.gz",
                              tarball_sha256=SHA, modules={"ruby.wasm": SHA}, source_date_epoch=1700000000)
TOOLS = {"wasm-opt": sbom.ToolLock("132.0.0", "ef" * 64, "Apache-2.0")}


def parse_back(text: str, tmp_path: Path):  # noqa: ANN201
    from spdx_tools.spdx.parser.parse_anything import parse_file

    path = tmp_path / "doc.spdx.json"
    path.write_text(text)
    return parse_file(str(path))


@pytest.mark.parametrize("release", ["", "25.0"])
def test_the_document_is_valid_spdx_2_3(release: str, tmp_path: Path) -> None:
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    doc = sbom.document(ARTIFACT, provenance(release=release), TOOLS)
    assert validate_full_spdx_document(doc) == []
    sbom.validate(doc, where="fixture")  # no exception
    again = parse_back(sbom.to_json(doc), tmp_path)
    assert validate_full_spdx_document(again) == []
    assert again.creation_info.spdx_version == "SPDX-2.3"


def test_packages_patches_and_relationships(tmp_path: Path) -> None:
    data = json.loads(sbom.to_json(sbom.document(ARTIFACT, provenance(), TOOLS)))
    packages = {p["SPDXID"]: p for p in data["packages"]}
    assert packages["SPDXRef-Source-zlib-1.0"]["licenseDeclared"] == "Zlib"
    assert packages["SPDXRef-Source-ruby-1.0"]["licenseDeclared"] == "Ruby OR BSD-2-Clause"
    assert packages["SPDXRef-Source-ruby-1.0"]["checksums"] == [{"algorithm": "SHA256", "checksumValue": SHA}]
    assert packages["SPDXRef-Source-ruby-1.0"]["downloadLocation"] == "https://example.org/x.tar.gz"
    assert packages["SPDXRef-WasiLibc"]["versionInfo"] == "0.0~git1-2"
    assert packages["SPDXRef-Tool-wasm-opt"]["licenseDeclared"] == "Apache-2.0"
    files = {f["SPDXID"]: f for f in data["files"]}
    assert set(files) == {"SPDXRef-Patch-ruby-1.0-0001", "SPDXRef-Patch-ruby-1.0-0002",
                          "SPDXRef-Patch-zlib-1.0-0001"}
    assert files["SPDXRef-Patch-zlib-1.0-0001"]["comment"] == "Upstream-Status: Pending"
    links = {(r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"])
             for r in data["relationships"]}
    module = "SPDXRef-Module-ruby.wasm"
    assert ("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Artifact") in links
    assert ("SPDXRef-Artifact", "CONTAINS", module) in links
    assert (module, "GENERATED_FROM", "SPDXRef-Source-ruby-1.0") in links
    assert (module, "STATIC_LINK", "SPDXRef-Source-zlib-1.0") in links
    assert (module, "STATIC_LINK", "SPDXRef-WasiLibc") in links
    assert ("SPDXRef-Sdk", "BUILD_TOOL_OF", module) in links
    assert ("SPDXRef-Tool-wasm-opt", "BUILD_TOOL_OF", module) in links
    assert ("SPDXRef-Patch-zlib-1.0-0001", "PATCH_APPLIED", "SPDXRef-Source-zlib-1.0") in links


def test_the_same_build_gives_the_same_document() -> None:
    one = sbom.to_json(sbom.document(ARTIFACT, provenance(), TOOLS))
    assert one == sbom.to_json(sbom.document(ARTIFACT, provenance(), TOOLS))
    data = json.loads(one)
    assert data["creationInfo"]["created"] == "2023-11-14T22:13:20Z"  # the epoch, not today
    assert data["documentNamespace"].endswith(f"ruby-1.0-wasi-{SHA}")


def test_an_unknown_licence_id_fails_validation() -> None:
    bad = Provenance(component("ruby", "Ruby OR BSD-2-Clause", "interpreter"),
                     (component("zlib", "NotALicence-1.0"),), provenance().sdk)
    with pytest.raises(Exception, match="NotALicence-1.0"):
        sbom.validate(sbom.document(ARTIFACT, bad, TOOLS), where="fixture")


def test_upstream_status_is_read_from_the_trailer() -> None:
    text = "Subject: x\n\nwhy\n\nUpstream-Status: Backport [ruby/ruby pull request 1]\nSigned-off-by: a\n---\n"
    assert upstream_status(text) == "Backport [ruby/ruby pull request 1]"
    assert upstream_status("no trailer") == ""


def test_npm_locks_reads_the_integrity_as_hex(tmp_path: Path) -> None:
    lock = tmp_path / "package-lock.json"
    lock.write_text(json.dumps({"packages": {"node_modules/binaryen": {
        "version": "132.0.0", "license": "Apache-2.0",
        "integrity": "sha512-" + __import__("base64").b64encode(bytes(range(64))).decode()}}}))
    found = sbom.npm_locks(lock)
    assert found["wasm-opt"] == sbom.ToolLock("132.0.0", bytes(range(64)).hex(), "Apache-2.0")


def test_every_recipe_licence_is_a_known_spdx_expression() -> None:
    from toolchain import recipe

    for r in recipe.discover():
        info = sbom._licensing().validate(r.license)
        assert info.errors == [], (r.id, r.license, info.errors)
        assert r.kind == "library" or (r.artifact is not None and r.artifact.limits), r.id
