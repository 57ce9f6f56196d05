"""toolchain.unpack and links: no member may write outside the tree, whatever the Python patch level.

The first test builds the shape of CVE-2025-4517 (a chain of long-named directories and symlinks
that outgrows PATH_MAX, so os.path.realpath stops resolving and tarfile's ``data`` filter lets a
later hard link and regular file write outside the destination on unpatched interpreters).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from toolchain.errors import CachedFileChanged, UnpackError
from tests.unit.test_unpack import _add, _dir
from toolchain.unpack import unpack

Build = Callable[[tarfile.TarFile], None]


def _sym(tar: tarfile.TarFile, name: str, target: str) -> None:
    _add(tar, name, type=tarfile.SYMTYPE, linkname=target)


def _hard(tar: tarfile.TarFile, name: str, target: str) -> None:
    _add(tar, name, type=tarfile.LNKTYPE, linkname=target)


def _tarball(path: Path, build: Build) -> Path:
    with tarfile.open(path, "w") as tar:
        build(tar)
    return path


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """The destination's parent, with a file an escaping member would overwrite."""
    directory = tmp_path / "out"
    directory.mkdir()
    (directory / "flag").write_text("original\n")
    return directory


def _assert_nothing_escaped(out: Path) -> None:
    assert sorted(p.name for p in out.iterdir()) == ["flag"]  # no dest, no temp dir, no newfile
    assert (out / "flag").read_text() == "original\n"


def _realpath_limit_attack(extract_root: Path) -> Build:
    """CVE-2025-4517's shape, sized so that the expanded chain outgrows PATH_MAX below
    ``extract_root`` (where unpack's temporary tree is made)."""
    steps = "abcdefghijklmnop"
    path_max = os.pathconf(extract_root.parent, "PC_PATH_MAX")
    component = "d" * ((path_max - len(str(extract_root)) - 1) // (len(steps) + 1))

    def build(tar: tarfile.TarFile) -> None:
        _dir(tar, "pkg")
        real = "pkg"
        for step in steps:  # pkg/ddd…/ddd…/… are directories; each step is a symlink to ddd…
            _dir(tar, f"{real}/{component}")
            _sym(tar, f"{real}/{step}", component)
            real = f"{real}/{component}"
        linkpath = "pkg/" + "/".join(steps) + "/" + "l" * 254
        _sym(tar, linkpath, "/".join([".."] * len(steps)))  # back to the top, never expanded
        _sym(tar, "pkg/escape", linkpath[len("pkg/"):] + "/..")  # …and one level above it
        _hard(tar, "pkg/flaglink", "pkg/escape/flag")
        _add(tar, "pkg/flaglink", b"overwritten\n")
        _add(tar, "pkg/escape/newfile", b"new\n")

    return build


def test_realpath_limit_attack_is_refused(tmp_path: Path, out: Path) -> None:
    dest = out / "pkg"
    extract_root = out / ".pkg.unpack-12345678"  # the length of unpack's temporary tree's name
    archive = _tarball(tmp_path / "poc.tar", _realpath_limit_attack(extract_root))
    with pytest.raises(UnpackError) as info:
        unpack(archive, dest)
    message = str(info.value)
    assert f"refusing to unpack {archive}: member 'pkg/" in message
    assert "passes through the symlink" in message
    _assert_nothing_escaped(out)


def _member_under_symlink(tar: tarfile.TarFile) -> None:
    _dir(tar, "pkg/sub")
    _sym(tar, "pkg/link", "sub")
    _add(tar, "pkg/link/file", b"through the link")


def _hardlink_through_symlink(tar: tarfile.TarFile) -> None:
    _add(tar, "pkg/sub/f", b"f")
    _sym(tar, "pkg/link", "sub")
    _hard(tar, "pkg/h", "pkg/link/f")


def _hardlink_to_symlink(tar: tarfile.TarFile) -> None:
    _add(tar, "pkg/f", b"f")
    _sym(tar, "pkg/s", "f")
    _hard(tar, "pkg/h", "pkg/s")


def _symlink_replaced_by_file(tar: tarfile.TarFile) -> None:
    _add(tar, "pkg/f", b"f")
    _sym(tar, "pkg/l", "f")
    _add(tar, "pkg/l", b"written through the link into f")


def _symlink_climbs_out(tar: tarfile.TarFile) -> None:
    _sym(tar, "pkg/sub/up", "../../outside")


def _symlink_climbs_out_through_symlink(tar: tarfile.TarFile) -> None:
    _dir(tar, "pkg/sub")
    _sym(tar, "pkg/sub/s", "..")  # the top of the tree
    _sym(tar, "pkg/sub/up", "s/../..")  # lexically the top; really two levels above it


def _symlink_redirected_later(tar: tarfile.TarFile) -> None:
    _sym(tar, "pkg/up", "x/y/../..")  # the top of the tree while x is not a link…
    _sym(tar, "pkg/x", ".")  # …and its parent once it is


@pytest.mark.parametrize(
    "build,member,why",
    [
        (_member_under_symlink, "pkg/link/file", "passes through the symlink 'link'"),
        (_hardlink_through_symlink, "pkg/h", "passes through the symlink 'link'"),
        (_hardlink_to_symlink, "pkg/h", "which is the symlink 's'"),
        (_symlink_replaced_by_file, "pkg/l", "would replace the symlink 'l'"),
        (_symlink_climbs_out, "pkg/sub/up", "outside"),
        (_symlink_climbs_out_through_symlink, "pkg/sub/up", "outside"),
        (_symlink_redirected_later, "pkg/up", "once later members are in place"),
    ],
    ids=lambda v: getattr(v, "__name__", "").lstrip("_") or None,
)
def test_links_leading_out_or_through_symlinks_are_refused(
    tmp_path: Path, out: Path, build: Build, member: str, why: str
) -> None:
    archive = _tarball(tmp_path / "evil.tar", build)
    with pytest.raises(UnpackError) as info:
        unpack(archive, out / "pkg")
    message = str(info.value)
    assert f"refusing to unpack {archive}: member {member!r}" in message
    assert why in message
    _assert_nothing_escaped(out)
    assert not (tmp_path / "outside").exists()


def _in_tree_links(tar: tarfile.TarFile) -> None:
    """What real source tarballs hold: links to files and directories of the same tree."""
    _dir(tar, "pkg-1.0")
    _add(tar, "pkg-1.0/src/include/lib.h", b"#define X 1\n")
    _sym(tar, "pkg-1.0/include", "src/include")  # a symlink to a directory
    _sym(tar, "pkg-1.0/lib.h", "include/lib.h")  # a target that passes through a symlink
    _sym(tar, "pkg-1.0/src/top", "..")  # up, but not out
    _sym(tar, "pkg-1.0/doc/readme", "../src/./include/../include/lib.h")
    _hard(tar, "pkg-1.0/copy.h", "pkg-1.0/src/include/lib.h")
    _sym(tar, "pkg-1.0/dangling", "not/there")
    _sym(tar, "pkg-1.0/loop1", "loop2")  # a loop: ELOOP for the kernel, leads nowhere
    _sym(tar, "pkg-1.0/loop2", "loop1")


def test_in_tree_symlinks_still_extract(tmp_path: Path, out: Path) -> None:
    dest = unpack(_tarball(tmp_path / "pkg-1.0.tar", _in_tree_links), out / "pkg")
    assert (dest / "lib.h").read_bytes() == b"#define X 1\n"
    assert (dest / "doc" / "readme").read_bytes() == b"#define X 1\n"
    assert (dest / "copy.h").read_bytes() == b"#define X 1\n"
    assert (dest / "include").is_symlink() and (dest / "src" / "top").resolve() == dest.resolve()
    assert os.readlink(dest / "dangling") == "not/there"
    assert sorted(p.name for p in out.iterdir()) == ["flag", "pkg"]


def test_archive_with_another_sha256_is_refused_before_unpacking(tmp_path: Path, out: Path) -> None:
    archive = _tarball(tmp_path / "pkg-1.0.tar", _in_tree_links)
    actual = hashlib.sha256(archive.read_bytes()).hexdigest()
    pin = "0" * 64
    with pytest.raises(CachedFileChanged) as info:
        unpack(archive, out / "pkg", sha256=pin, refetch="doit fetch:pkg-1.0")
    message = str(info.value)
    assert str(archive) in message and pin in message and actual in message
    assert f"rm {archive} && doit fetch:pkg-1.0" in message
    assert sorted(p.name for p in out.iterdir()) == ["flag"]  # not even a temporary tree

    assert (unpack(archive, out / "pkg", sha256=actual.upper()) / "lib.h").is_symlink()
