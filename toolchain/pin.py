"""Pin a new upstream version's tarball, but only when a second source vouches for its sha256.

A download's hash proves nothing about the file by itself: whoever served it chose it. So a new
pin needs a second, independent statement of the sha256, one of

- the Debian archive's signed Sources index (:meth:`toolchain.debian.AptState.sources`; apt
  checks the index against the suite's signed ``InRelease``): the orig tarball of a source
  package whose upstream version is the new one;
- a checksum the maintainer gives (``--sha256``), read from upstream's release announcement.

Which one vouched is written into the recipe (``source.provenance``) and the report. When only
Debian vouches and upstream's tarball cannot be fetched (or differs from Debian's), the pinned
archive is Debian's own file (``urls = []``, as in ``recipes/util-linux/2.41.5.toml``): the
recipe never claims that upstream's file is identical when nobody compared the two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from . import fetch, recipetext
from .debian import AptState, SourceEntry
from .errors import ChecksumError, FetchError
from .recipe import Recipe


@dataclass(frozen=True)
class Pin:
    archive: str
    sha256: str
    urls: list[str]
    path: Path  # the verified file in the cache
    provenance: str
    verified_by: str
    debian: dict[str, str | bool] | None  # the new [source.debian], or None to drop it


@dataclass(frozen=True)
class DebianOrig:
    entry: SourceEntry
    file: str

    @property
    def sha256(self) -> str:
        return self.entry.files[self.file][0]

    def label(self) -> str:
        return f"{self.entry.package} {self.entry.version}"


def find_orig(entries: list[SourceEntry], version: str) -> DebianOrig | None:
    """The orig tarball of the newest entry whose upstream version is ``version`` (a Debian
    repack suffix such as ``+dfsg`` allowed)."""
    matches = []
    for e in entries:
        up = e.upstream_version
        if up != version and not re.match(rf"{re.escape(version)}[+~]", up):
            continue
        name = rf"{re.escape(e.package)}_{re.escape(up)}\.orig\.tar\.\w+"
        orig = next((f for f in e.files if re.fullmatch(name, f)), None)
        if orig:
            matches.append(DebianOrig(e, orig))
    key = lambda m: [int(n) for n in re.findall(r"\d+", m.entry.version)]  # noqa: E731
    return max(matches, key=key, default=None)


def upstream_urls(previous: Recipe, version: str) -> list[str]:
    """The previous URLs for ``version``: the full version, then ``X.Y/`` directories."""
    short_old = ".".join(previous.version.split(".")[:2])
    short_new = ".".join(version.split(".")[:2])
    urls = [recipetext.replace_version(u, previous.version, version) for u in previous.source.urls]
    return [u.replace(f"/{short_old}/", f"/{short_new}/") for u in urls]


def _debian_origin(apt: AptState, orig: DebianOrig) -> fetch.Origin:
    pool = apt.source_file(orig.entry.package, orig.entry.version, orig.file)
    return fetch.Origin("debian", pool.url)


def _debian_section(orig: DebianOrig | None, identical: bool, note: str) -> dict[str, str | bool] | None:
    if orig is None:
        return None
    section: dict[str, str | bool] = {"package": orig.entry.package, "version": orig.entry.version,
                                      "file": orig.file, "identical": identical, "note": note}
    if not identical:
        section["sha256"] = orig.sha256
    return section


def pin_version(previous: Recipe, version: str, *, sha256: str | None, package: str | None,
                apt: AptState) -> Pin:
    """Fetch and pin ``version``'s tarball, vouched for by Debian's index or by ``sha256``."""
    entries = apt.sources(package) if package else []
    orig = find_orig(entries, version)
    if sha256 is None and orig is None:
        listed = ", ".join(e.version for e in entries) or "nothing"
        raise FetchError(
            f"refusing to pin {previous.name} {version}: no second source for its sha256",
            why=f"Debian's signed Sources index has no orig tarball of {package} {version} "
            f"(it lists {package}: {listed})" if package else "the recipe names no Debian "
            "source package and no --sha256 was given",
            hint="pass --sha256 with the checksum from upstream's release announcement, or "
            "--debian-package with the source package that carries this version (e.g. php8.4)")
    upstream = (recipetext.replace_version(previous.source.archive, previous.version, version)
                if previous.source.urls else None)
    if sha256 is not None:
        return _pin_given(previous, version, sha256.strip().lower(), orig, upstream, apt)
    assert orig is not None
    return _pin_debian(previous, version, orig, upstream, apt)


def _pin_given(previous: Recipe, version: str, sha256: str, orig: DebianOrig | None,
               upstream: str | None, apt: AptState) -> Pin:
    """Pinned by the maintainer's checksum (and by Debian's too when its orig is the same)."""
    both = orig is not None and orig.sha256 == sha256
    lazy = [lambda: _debian_origin(apt, orig)] if both and orig else []
    if upstream is not None:
        archive, urls = upstream, upstream_urls(previous, version)
        origins = [*fetch.upstream_origins(urls), *fetch.mirror_origins(archive)]
    elif both and orig is not None:
        archive, urls, origins = orig.file, [], []
    else:
        raise FetchError(f"refusing to pin {previous.name} {version}: the recipe pins Debian's "
                         "own file, and Debian's index does not vouch for this sha256",
                         hint="check the --sha256 value against Debian's orig tarball")
    got = fetch.fetch(archive, sha256, origins, lazy_origins=lazy)
    debian_too = f"; the same as Debian's orig in its signed Sources index ({orig.label()})" \
        if both and orig else ""
    note = ("Debian ships upstream's tarball unchanged as its orig tarball" if both else
            "Debian's orig tarball is not upstream's file (another sha256): a repack")
    return Pin(archive, sha256, urls, got.path,
               provenance=f"sha256 given to `wasiports bump --sha256`{debian_too}",
               verified_by=f"the checksum given with --sha256{debian_too}",
               debian=_debian_section(orig, both, note))


def _pin_debian(previous: Recipe, version: str, orig: DebianOrig, upstream: str | None,
                apt: AptState) -> Pin:
    """Pinned by Debian's index: upstream's file when it is Debian's orig, else Debian's file."""
    why_not = "the previous recipe pins Debian's own file"
    if upstream is not None:
        urls = upstream_urls(previous, version)
        try:
            got = fetch.fetch(upstream, orig.sha256,
                              [*fetch.upstream_origins(urls), *fetch.mirror_origins(upstream)])
        except ChecksumError:
            why_not = f"upstream's {upstream} differs from Debian's {orig.file}"
        except FetchError:
            why_not = f"upstream's {upstream} could not be fetched from {', '.join(urls)}"
        else:
            same = f"Debian's signed Sources index ({orig.label()}): upstream's file is its orig"
            return Pin(upstream, orig.sha256, urls, got.path, provenance=f"{same}; checked by "
                       "wasiports bump", verified_by=same, debian=_debian_section(
                           orig, True, "Debian ships upstream's tarball unchanged as its orig"))
    got = fetch.fetch(orig.file, orig.sha256, [], lazy_origins=[lambda: _debian_origin(apt, orig)])
    return Pin(orig.file, orig.sha256, [], got.path,
               provenance=f"Debian's orig tarball of {orig.label()} (sha256 from the signed "
               f"Sources index); {why_not}",
               verified_by=f"Debian's signed Sources index ({orig.label()}); {why_not}, so the "
               "pin is Debian's own file",
               debian=_debian_section(orig, True, "the archive is Debian's own file "
                                      "(see source.provenance)"))
