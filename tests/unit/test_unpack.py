"""toolchain.unpack: good tarballs land whole; hostile or corrupt ones leave nothing behind."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from toolchain.errors import UnpackError
from toolchain.unpack import unpack


def _add(tar: tarfile.TarFile, name: str, data: bytes = b"", **attrs: object) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    for key, value in attrs.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if info.isreg() else None)


def _dir(tar: tarfile.TarFile, name: str) -> None:
    _add(tar, name, type=tarfile.DIRTYPE, mode=0o755)


def _tarball(path: Path, build: object, mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        build(tar)  # type: ignore[operator]
    return path


def _good(tar: tarfile.TarFile) -> None:
    _dir(tar, "pkg-1.0")
    _add(tar, "pkg-1.0/README", b"hello\n")
    _dir(tar, "pkg-1.0/src")
    _add(tar, "pkg-1.0/src/main.c", b"int main(void) { return 0; }\n")
    _add(tar, "pkg-1.0/configure", b"#!/bin/sh\n", mode=0o4755)
    _add(tar, "pkg-1.0/src/link.c", type=tarfile.SYMTYPE, linkname="main.c")
    _add(tar, "pkg-1.0/hard.c", type=tarfile.LNKTYPE, linkname="pkg-1.0/src/main.c")


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "out").mkdir()
    return tmp_path


def _assert_clean(out: Path, dest: Path) -> None:
    assert not dest.exists()
    assert list(out.iterdir()) == []  # no temp dirs left beside dest


@pytest.mark.parametrize("mode,suffix", [("w:gz", "tar.gz"), ("w:gz", "tgz"), ("w:xz", "tar.xz"),
                                         ("w:bz2", "tar.bz2"), ("w", "tar")])  # fmt: skip
def test_good_tarball_unpacks_with_strip(work: Path, mode: str, suffix: str) -> None:
    archive = _tarball(work / f"pkg-1.0.{suffix}", _good, mode)
    dest = work / "out" / "pkg"
    assert unpack(archive, dest) == dest
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == [
        "README", "configure", "hard.c", "src", "src/link.c", "src/main.c",
    ]  # fmt: skip
    assert (dest / "README").read_bytes() == b"hello\n"
    assert (dest / "src" / "link.c").is_symlink()
    assert (dest / "hard.c").read_bytes() == (dest / "src" / "main.c").read_bytes()
    assert (dest / "configure").stat().st_mode & 0o7777 == 0o755  # setuid dropped, exec kept
    assert sorted(p.name for p in (work / "out").iterdir()) == ["pkg"]


def test_dot_slash_names_and_no_strip(work: Path) -> None:
    def build(tar: tarfile.TarFile) -> None:
        _dir(tar, ".")
        _add(tar, "./pkg/a.txt", b"a")

    archive = _tarball(work / "x.tar.gz", build)
    assert (unpack(archive, work / "out" / "s1") / "a.txt").read_bytes() == b"a"
    assert (unpack(archive, work / "out" / "s0", strip_components=0) / "pkg" / "a.txt").exists()


def test_existing_dest_replaced_only_after_success(work: Path) -> None:
    dest = work / "out" / "pkg"
    dest.mkdir()
    (dest / "stale").write_text("old")
    bad = work / "bad.tar.gz"
    bad.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(UnpackError):
        unpack(bad, dest)
    assert (dest / "stale").read_text() == "old"  # untouched by the failure

    unpack(_tarball(work / "good.tar.gz", _good), dest)
    assert not (dest / "stale").exists() and (dest / "README").exists()
    assert sorted(p.name for p in (work / "out").iterdir()) == ["pkg"]


def _abs(tar: tarfile.TarFile) -> None:
    _dir(tar, "pkg")
    _add(tar, "pkg/ok", b"ok")
    _add(tar, "/etc/evil", b"root")


def _dotdot(tar: tarfile.TarFile) -> None:
    _dir(tar, "pkg")
    _add(tar, "pkg/../../escape", b"out")


def _dotdot_top(tar: tarfile.TarFile) -> None:
    _add(tar, "../escape", b"out")


def _symlink_out(tar: tarfile.TarFile) -> None:
    _dir(tar, "pkg")
    _add(tar, "pkg/link", type=tarfile.SYMTYPE, linkname="../../../outside")
    _add(tar, "pkg/link/evil", b"written through the link")


def _symlink_abs(tar: tarfile.TarFile) -> None:
    _add(tar, "pkg/link", type=tarfile.SYMTYPE, linkname="/etc")


def _hardlink_out(tar: tarfile.TarFile) -> None:
    _add(tar, "pkg/a", b"a")
    _add(tar, "pkg/h", type=tarfile.LNKTYPE, linkname="other/a")


def _fifo(tar: tarfile.TarFile) -> None:
    _add(tar, "pkg/ok", b"ok")
    _add(tar, "pkg/fifo", type=tarfile.FIFOTYPE)


def _device(tar: tarfile.TarFile) -> None:
    _add(tar, "pkg/sda", type=tarfile.BLKTYPE, devmajor=8, devminor=0)


def _two_tops(tar: tarfile.TarFile) -> None:
    _add(tar, "pkg/a", b"a")
    _add(tar, "other/b", b"b")


def _top_level_file(tar: tarfile.TarFile) -> None:
    _add(tar, "README", b"loose")
    _add(tar, "pkg/a", b"a")


def _empty(tar: tarfile.TarFile) -> None:
    _dir(tar, "pkg")


@pytest.mark.parametrize(
    "build,member",
    [
        (_abs, "/etc/evil"),
        (_dotdot, "pkg/../../escape"),
        (_dotdot_top, "../escape"),
        (_symlink_out, "pkg/link"),
        (_symlink_abs, "pkg/link"),
        (_hardlink_out, "pkg/h"),
        (_fifo, "pkg/fifo"),
        (_device, "pkg/sda"),
        (_two_tops, "other/b"),
        (_top_level_file, "README"),
        (_empty, ""),
    ],
    ids=lambda v: getattr(v, "__name__", "").lstrip("_") or None,
)
def test_hostile_or_odd_tarballs_are_refused(work: Path, build: object, member: str) -> None:
    archive = _tarball(work / "evil.tar.gz", build)
    dest = work / "out" / "pkg"
    with pytest.raises(UnpackError) as info:
        unpack(archive, dest)
    message = str(info.value)
    assert str(archive) in message
    assert repr(member) in message if member else "nothing to extract" in message
    _assert_clean(work / "out", dest)
    assert not (work / "outside").exists() and not (work / "escape").exists()


@pytest.mark.parametrize("cut", [0.3, 0.9])
def test_truncated_tar_gz(work: Path, cut: float) -> None:
    def build(tar: tarfile.TarFile) -> None:
        _dir(tar, "pkg")
        for i in range(20):
            _add(tar, f"pkg/f{i}", bytes(range(256)) * 64 * (i + 1))

    whole = _tarball(work / "whole.tar.gz", build).read_bytes()
    archive = work / "cut.tar.gz"
    archive.write_bytes(whole[: int(len(whole) * cut)])
    dest = work / "out" / "pkg"
    with pytest.raises(UnpackError, match="cut.tar.gz"):
        unpack(archive, dest)
    _assert_clean(work / "out", dest)


@pytest.mark.parametrize("suffix,data", [("tar.gz", b"\x1f\x8b\x08\x00 not really gzip" * 10),
                                         ("tar.xz", b"\xfd7zXZ\x00 broken" * 10),
                                         ("tar.bz2", b"BZh9 broken" * 10),
                                         ("tar", b"plain nonsense" * 10)])  # fmt: skip
def test_corrupt_archives(work: Path, suffix: str, data: bytes) -> None:
    archive = work / f"corrupt.{suffix}"
    archive.write_bytes(data)
    dest = work / "out" / "pkg"
    with pytest.raises(UnpackError, match="corrupt"):
        unpack(archive, dest)
    _assert_clean(work / "out", dest)


def test_corrupt_member_data(work: Path) -> None:
    whole = bytearray(_tarball(work / "whole.tar", _good, "w").read_bytes())
    # Damage the checksum field of the third header (dir, README header + data, then src/).
    whole[1536 + 148 : 1536 + 156] = b"9999999\x00"
    archive = work / "damaged.tar"
    archive.write_bytes(bytes(whole))
    dest = work / "out" / "pkg"
    with pytest.raises(UnpackError, match="damaged.tar"):
        unpack(archive, dest)
    _assert_clean(work / "out", dest)


def test_missing_archive(work: Path) -> None:
    with pytest.raises(UnpackError, match="no such file"):
        unpack(work / "absent.tar.gz", work / "out" / "pkg")
