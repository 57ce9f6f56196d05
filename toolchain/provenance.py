"""What an artifact was made from, in a form fit to publish (the manifest and the SBOM read it).

For a recipe: its source tarball (sha256, size, the origin that served it: ``build/<id>/fetch.json``),
its patch series (sha256, sha1 and the ``Upstream-Status:`` trailer of each patch), the library
recipes it links (each with its own source, patches and licence), the SDK (``build/sdk.json``:
the wasi-sdk release, or the Debian LLVM and wasi-libc it was assembled from) and the pinned tools
of ``recipes/sdk.toml`` ``[tools]``. No host path survives: the cache path of the tarball is left
out, URLs and SDK details go through :mod:`toolchain.hostpaths`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from . import build, hostpaths, paths, sdk, sdk_model
from .errors import WasiportsError
from .recipe import Recipe
from .validation import display

_STATUS = re.compile(r"^Upstream-Status:\s*(.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class SourceFacts:
    archive: str
    sha256: str
    size: int | None
    origin: str  # "upstream" | "mirror" | "debian" | "cache"…, as fetch.json says
    url: str
    pin_provenance: str
    repack: bool
    repack_note: str = ""


@dataclass(frozen=True)
class PatchFacts:
    name: str
    path: str  # relative to the checkout: patches/<name>/<version>/NNNN-….patch
    sha256: str
    sha1: str
    upstream_status: str


@dataclass(frozen=True)
class ComponentFacts:
    """One recipe as built: the interpreter, or a library linked into it."""

    id: str
    name: str
    version: str
    kind: str
    license: str
    homepage: str
    summary: str
    source: SourceFacts
    patches: tuple[PatchFacts, ...]


@dataclass(frozen=True)
class ToolFacts:
    name: str
    package: str
    version: str
    why: str


@dataclass(frozen=True)
class SdkFacts:
    origin: str  # "wasi-sdk release" | "debian" | "WASI_SDK_PATH"
    clang_version: str
    release: str  # the wasi-sdk release, "" when assembled or given
    wasi_libc: str  # "wasi-libc <debian version>", "" for a release (it carries its own)
    details: dict[str, str]
    tools: tuple[ToolFacts, ...]

    @property
    def label(self) -> str:
        """``wasi-sdk 25.0 (clang 19.1.7)`` or ``clang 19.1.7 + wasi-libc 0.0~git…``."""
        if self.release:
            return f"wasi-sdk {self.release} (clang {self.clang_version})"
        libc = f" + {self.wasi_libc}" if self.wasi_libc else ""
        return f"clang {self.clang_version}{libc} ({self.origin})"


@dataclass(frozen=True)
class Provenance:
    component: ComponentFacts
    libraries: tuple[ComponentFacts, ...]
    sdk: SdkFacts

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _missing(path: Path, recipe: Recipe, step: str) -> WasiportsError:
    return WasiportsError(f"{display(path)} is missing: {recipe.id} has not been {step}",
                          why="the manifest and the SBOM record what the build was made from",
                          hint=f"run `scripts/build dist:{recipe.id}` (or `doit install:{recipe.id}`) first")


def source_facts(recipe: Recipe) -> SourceFacts:
    """The fetch record of ``recipe`` without its cache path; for a file found in the download
    cache, the origin that served it when it was downloaded."""
    path = build.fetch_record(recipe)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise _missing(path, recipe, "fetched") from None
    served = record
    if record.get("origin") == "cache" and isinstance(record.get("downloaded_from"), dict):
        served = record["downloaded_from"]  # the origin that served the cached file
    return SourceFacts(
        archive=record["archive"], sha256=record["sha256"], size=record.get("size"),
        origin=served.get("origin", ""), url=hostpaths.portable_url(served.get("url", "")),
        pin_provenance=hostpaths.scrub(record.get("pin_provenance", "")),
        repack=bool(record.get("repack")), repack_note=record.get("repack_note", ""))


def upstream_status(text: str) -> str:
    """The patch's ``Upstream-Status:`` trailer (the last one), or ``""``."""
    found = _STATUS.findall(text)
    return found[-1] if found else ""


def patch_facts(recipe: Recipe) -> tuple[PatchFacts, ...]:
    """The series as applied: the patched stamp's list, checked against the files of today."""
    stamp = build.patched_stamp(recipe)
    try:
        applied = {p["name"]: p["sha256"] for p in json.loads(stamp.read_text())["patches"]}
    except OSError:
        raise _missing(stamp, recipe, "patched") from None
    series = recipe.patches()
    out = []
    for patch in series:
        data = patch.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        if applied.get(patch.name) != sha256:
            raise WasiportsError(
                f"{recipe.id}: {display(patch)} is not the patch the build applied",
                why=f"{display(stamp)} records {applied.get(patch.name, 'no such patch')}, the file has {sha256}",
                hint=f"rebuild: `scripts/build dist:{recipe.id}` (doit reruns from patch)")
        rel = "/".join(("patches", *patch.relative_to(paths.PATCHES).parts))
        out.append(PatchFacts(patch.name, rel, sha256, hashlib.sha1(data).hexdigest(),
                              upstream_status(data.decode("utf-8", "replace"))))
    if len(series) != len(applied):
        raise WasiportsError(f"{recipe.id}: the patch series changed since the build",
                             why=f"{len(applied)} applied, {len(series)} in {display(recipe.patch_dir)}",
                             hint=f"rebuild: `scripts/build dist:{recipe.id}`")
    return tuple(out)


def component(recipe: Recipe) -> ComponentFacts:
    return ComponentFacts(recipe.id, recipe.name, recipe.version, recipe.kind, recipe.license,
                          recipe.homepage, recipe.summary, source_facts(recipe), patch_facts(recipe))


def sdk_facts(info: sdk.SdkInfo, tools: Mapping[str, sdk_model.Tool]) -> SdkFacts:
    """``info`` (build/sdk.json) without its paths; ``tools`` is recipes/sdk.toml's [tools]."""
    details = {k: v for k, v in hostpaths.scrub_json(info.details).items() if isinstance(v, str)}
    return SdkFacts(
        origin=info.origin, clang_version=info.clang_version,
        release=details.get("release", ""), wasi_libc=details.get("wasi_libc", ""),
        details=details,
        tools=tuple(ToolFacts(name, t.package, t.version, t.why)
                    for name, t in sorted(tools.items())))


def collect(recipe: Recipe) -> Provenance:
    """Everything above for ``recipe``, read from its build tree and ``build/sdk.json``."""
    try:
        info = build.load_sdk()
    except OSError:
        raise WasiportsError(f"{display(build.sdk_record())} is missing: no SDK was provisioned",
                             hint="run `scripts/build sdk`") from None
    return Provenance(component(recipe), tuple(component(d) for d in build.dependencies(recipe)),
                      sdk_facts(info, sdk.load_data().tools))
