"""``dist/SHA256SUMS``: the sha256 of every published file, in ``sha256sum`` format.

Published files are the artifacts' tarballs (``<id>-wasi.tar.gz``), their debug companions
(``<id>-wasi-debug.tar.gz``) and SBOMs (``<id>-wasi.spdx.json``) directly in the dist directory, and the packed report
(``wasiports-report.tar.gz``) when the release made one; each line is ``<hex>  <name>`` (two
spaces: binary-safe, what ``sha256sum -c SHA256SUMS`` reads), sorted by name. The file names no
directory, so it checks wherever the files are downloaded to. Costs the time to read the files
(about 0.5 s for the four interpreters' 90 MB).
"""

from __future__ import annotations

import re
from pathlib import Path

from . import fileio
from .errors import WasiportsError
from .fileio import sha256_of

NAME = "SHA256SUMS"
PUBLISHED = ("*-wasi.tar.gz", "*-wasi-debug.tar.gz", "*-wasi.spdx.json", "wasiports-report.tar.gz")
_LINE = re.compile(r"^([0-9a-f]{64})  ([^/\n]+)$")


def published(dist: Path) -> list[Path]:
    """The files a release publishes from ``dist``, sorted by name."""
    return sorted({p for pattern in PUBLISHED for p in dist.glob(pattern) if p.is_file()},
                  key=lambda p: p.name)


def render(files: list[Path]) -> str:
    return "".join(f"{sha256_of(p)}  {p.name}\n" for p in sorted(files, key=lambda p: p.name))


def write(dist: Path) -> Path:
    """Write ``dist/SHA256SUMS`` over :func:`published` (atomically); refuse an empty release."""
    files = published(dist)
    if not files:
        raise WasiportsError(f"nothing to checksum in {dist}",
                             why=f"no {' or '.join(PUBLISHED)} there",
                             hint="package first: `scripts/build dist` (or download the build jobs' dist/)")
    out = dist / NAME
    fileio.write_text(out, render(files))
    print(f"checksums: {out} ({len(files)} files)")
    return out


def verify(sums: Path) -> list[str]:
    """Check every line of ``sums`` against the file beside it; return the problems (none: ok)."""
    problems = []
    for number, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), 1):
        match = _LINE.match(line)
        if not match:
            problems.append(f"{sums.name}:{number}: not '<sha256>  <name>': {line[:80]!r}")
            continue
        want, name = match.groups()
        path = sums.parent / name
        if not path.is_file():
            problems.append(f"{sums.name}:{number}: {name}: missing")
        elif (got := sha256_of(path)) != want:
            problems.append(f"{sums.name}:{number}: {name}: sha256 {got}, expected {want}")
    return problems
