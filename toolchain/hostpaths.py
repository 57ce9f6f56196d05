"""No host facts in what we publish: the build machine's paths, found and replaced.

Contract: a published file (the manifest, the SBOM, SHA256SUMS, the artifact's README and
launchers, the tarball's headers) names no directory of the machine that built it. What the
pipeline records with absolute paths (``build/<id>/fetch.json``'s cache path, ``build/sdk.json``'s
SDK and tool paths, configure arguments such as ``--with-build-python=/…/build/…``) goes through
:func:`scrub` on its way into a published file: each known root becomes a placeholder::

    $BUILD     the build directory (build/, or $WASIPORTS_BUILD_DIR)
    $DIST      the output directory (dist/, or $WASIPORTS_DIST_DIR)
    $CHECKOUT  the wasiports checkout
    $VENV      the Python environment running wasiports
    $CACHE     the download/SDK cache ($WASIPORTS_CACHE, default ~/.cache/wasiports)
    $HOME      the user's home directory
    $TMP       the temporary directory

:func:`needles` lists the byte strings a published file must not contain; the packaging tests
grep every published file for them (``tests/integration/test_release.py``). The user name is not
grepped on its own (``root`` or ``runner`` occur in any stdlib); it is caught through the home
directory, which holds it. The home directory is grepped as its entries (``/root/.npm/``…), not as
a bare prefix: a path under it that names nothing on this machine is data, not a leak (CPython's
distutils tests hold ``/root/old/its/here``).

Files that the interpreters' own builds write with the build machine's paths in them (CPython's
``_sysconfigdata``, Ruby's ``rbconfig.rb``, PHP's configure line) are rewritten by
:func:`relabel_file`, which the build runs on the files a recipe's ``build.relabel`` names.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import paths

MIN_ROOT = 5
"""Shorter roots (``/``, ``/tmp``…) are not replaced: too many unrelated strings start with them.
``/tmp`` is still replaced when it is the temporary directory (its own placeholder, ``$TMP``)."""


def roots() -> list[tuple[str, str]]:
    """(absolute path, placeholder) for each host directory, longest path first, both the
    spelling as configured and the resolved one (``/work`` may be a symlink)."""
    named = [(paths.BUILD, "$BUILD"), (paths.DIST, "$DIST"), (paths.ROOT, "$CHECKOUT"),
             (Path(sys.prefix), "$VENV"), (paths.cache_root(), "$CACHE"),
             (Path.home(), "$HOME"), (Path(tempfile.gettempdir()), "$TMP")]
    found: dict[str, str] = {}
    for path, name in named:
        for spelling in (str(path), os.path.realpath(path)):
            spelling = spelling.rstrip("/")
            if spelling not in found and (len(spelling) >= MIN_ROOT or name == "$TMP"):
                found[spelling] = name
    return sorted(found.items(), key=lambda item: len(item[0]), reverse=True)


def scrub(text: str, known: Iterable[tuple[str, str]] | None = None) -> str:
    """``text`` with every host root replaced by its placeholder (a root matches only as a whole
    path component: ``/work/main`` in ``/work/main/build``, not in ``/work/mainline``)."""
    for root, name in known or roots():
        start = 0
        while (at := text.find(root, start)) >= 0:
            end = at + len(root)
            if end < len(text) and text[end] not in "/:;,'\" \t\n)]}=":
                start = end
                continue
            text = text[:at] + name + text[end:]
            start = at + len(name)
    return text


def scrub_json(value: Any, known: list[tuple[str, str]] | None = None) -> Any:
    """:func:`scrub` on every string (keys too) of a JSON-shaped value."""
    known = known if known is not None else roots()
    if isinstance(value, str):
        return scrub(value, known)
    if isinstance(value, dict):
        return {scrub(str(k), known): scrub_json(v, known) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_json(v, known) for v in value]
    return value


def portable_url(url: str) -> str:
    """An origin URL fit to publish: ``file://`` URLs of a local mirror name the file only."""
    if url.startswith("file://"):
        return "file:" + url.rstrip("/").rsplit("/", 1)[-1]
    return scrub(url)


def too_short(root: str, name: str) -> bool:
    """A temporary directory as short as ``/tmp`` is neither grepped for nor renamed: too many
    unrelated strings start with it."""
    return name == "$TMP" and len(root) < MIN_ROOT + 3


def needles() -> list[bytes]:
    """What no published file may contain: each host root as a path prefix; the home directory as
    each of its entries (``/root/.cache/``); the temporary directory only when it is longer than
    ``/tmp``."""
    out: list[bytes] = []
    for root, name in roots():
        if too_short(root, name):
            continue
        if name == "$HOME":
            try:
                entries = sorted(os.listdir(root))
            except OSError:
                entries = []
            candidates = [f"{root}/{e}/".encode() for e in entries]
        else:
            candidates = [(root + "/").encode()]
        out += [c for c in candidates if c not in out]
    return out


def relabel_file(path: Path, known: list[tuple[str, str]]) -> bool:
    """Rewrite a text file with each host root of ``known`` (path, new name; longest first)
    replaced; False if nothing in it named a root. The modification
    time is kept, so the build system does not take the file for a new input and regenerate
    what depends on it."""
    data = path.read_bytes()
    text = data.decode("utf-8", "surrogateescape")
    new = scrub(text, known).encode("utf-8", "surrogateescape")
    if new == data:
        return False
    st = path.stat()
    path.write_bytes(new)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    return True


def leaks(data: bytes, where: str, needles_: list[bytes] | None = None) -> list[str]:
    """``where: …context…`` for each needle found in ``data`` (at most three per needle)."""
    found: list[str] = []
    for needle in needles_ if needles_ is not None else needles():
        start = 0
        for _ in range(3):
            at = data.find(needle, start)
            if at < 0:
                break
            context = data[max(0, at - 40): at + len(needle) + 40].decode("utf-8", "replace")
            found.append(f"{where}: {needle.decode()!r} in …{context!r}…")
            start = at + 1
    return found
