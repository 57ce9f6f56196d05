"""A test unit's own copy of a source tree, so that no unit sees what another one writes.

PHP's run-tests.php and Ruby's test-all run their tests inside the source tree: the tests (and
run-tests itself) write temporary files next to themselves and under ``tmp/``. When units share
one tree, two chunks of one directory running on two workers delete each other's files (seven
PHP tests were intermittent for that reason), and a guest can leave a symlink for the next unit's
host-side writes to follow. So each unit gets a fresh tree in its scratch directory:

* the directories the unit writes to are its own: its test directory a real copy, ``tmp`` new;
* every other file is a hard link to the pristine tree (a link costs no data; ~1 s for php-src's
  22,500 files), every directory a real directory, every in-tree symlink a copy of the symlink;
* build products (object files, archives, wasm modules, ``cross-build/``) are left out: the
  tests run the packaged interpreter, never the tree's.

A hard link shares its file with the pristine tree: a guest that rewrites an existing file in
place, outside the copied directories, still changes it for later units. Tests do not do that to
files outside their own directory; the copy of the unit's own directory covers what they do.
The tree is removed with the unit's scratch directory (``shutil.rmtree`` never follows links).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

BUILD_PRODUCTS = ("*.o", "*.lo", "*.a", "*.la", "*.so", "*.wasm", ".libs", ".deps", "cross-build")
"""Names never put into a unit's tree: what the build made, not what the tests read."""


def _matcher(patterns: Iterable[str]) -> Callable[[str], bool]:
    """One compiled test for a set of name patterns (called once per file of a 22,000-file tree)."""
    regex = re.compile("|".join(fnmatch.translate(p) for p in patterns) or r"(?!)")
    return lambda name: regex.match(name) is not None


def _is_under(rel: str, dirs: tuple[str, ...]) -> bool:
    return any(rel == d or rel.startswith(d + "/") for d in dirs)


def make(src: Path, dest: Path, *, copy: Iterable[str] = (), empty: Iterable[str] = (),
         exclude: Iterable[str] = (), read_only: Iterable[str] = (),
         own_only: Iterable[str] = ()) -> Path:
    """Build ``dest`` (which must not exist) as a unit's tree of ``src``; return it.

    ``copy`` are directories relative to ``src`` that get real copies; ``empty`` ones start
    empty whatever ``src`` holds there (``tmp``: leftovers of earlier runs are not the unit's);
    ``exclude`` are more name patterns (like :data:`BUILD_PRODUCTS`, matched against each file
    and directory name) left out, e.g. a tree of specs no unit reads; ``read_only`` are name
    patterns of files that are links even in ``copy`` directories, because the driver only reads
    them (``*.phpt``: a copy of php-src's largest test directory is 2,452 files, 82 of them not
    test definitions); ``own_only`` are name patterns of files left out everywhere but in the
    ``copy`` directories (another directory's ``*.phpt`` files: 18,000 of php-src's 22,500
    files, which no unit but their own reads)."""
    copied = tuple(os.path.normpath(d) for d in copy)
    emptied = {os.path.normpath(d) for d in empty}
    excluded, linked = _matcher((*BUILD_PRODUCTS, *exclude)), _matcher(read_only)
    elsewhere = _matcher(own_only)
    dest.mkdir(parents=True)
    for root, dirs, files in os.walk(src):
        rel_root = os.path.normpath(os.path.relpath(root, src))
        here = os.path.join(dest, rel_root)
        dirs[:] = [d for d in dirs if not excluded(d) and os.path.normpath(os.path.join(rel_root, d)) not in emptied]
        for d in dirs:
            _place_dir(os.path.join(root, d), os.path.join(here, d))
        own = _is_under(rel_root, copied)
        for f in files:
            if not excluded(f) and (own or not elsewhere(f)):
                _place_file(os.path.join(root, f), os.path.join(here, f), copy=own and not linked(f))
    for d in (*copied, *emptied):
        (dest / d).mkdir(parents=True, exist_ok=True)
    return dest


def _place_dir(source: str, target: str) -> None:
    if os.path.islink(source):  # os.walk lists links to directories as directories
        os.symlink(os.readlink(source), target)
    else:
        os.mkdir(target)


def _place_file(source: str, target: str, *, copy: bool) -> None:
    if os.path.islink(source):
        os.symlink(os.readlink(source), target)
    elif copy:
        shutil.copy2(source, target, follow_symlinks=False)
    else:
        os.link(source, target, follow_symlinks=False)


def write_new(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data``; never through a link, never over an existing file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with os.fdopen(os.open(path, flags, 0o644), "wb") as f:
        f.write(data)
