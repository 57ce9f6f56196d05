"""Reproducible tarballs: the same tree and epoch give the same bytes on any machine and day.

What is fixed: the gzip header (mtime = ``SOURCE_DATE_EPOCH``, no file name, compression level 9),
the member order (sorted path components), each member's owner (uid/gid 0, no user or group
names), mtime (the epoch), mode (0755 for directories and executables, 0644 for other files,
0777 for symlinks) and name (``<top>/<relative path>``, POSIX separators). Hard links are stored
as plain files (whether ``cp`` made one is a fact of the build machine). A symlink that points to
an absolute path (a host path, or a path that means something else in the guest) is refused.
"""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
from pathlib import Path

from .errors import WasiportsError

COMPRESSLEVEL = 9


def _member(path: Path, name: str, epoch: int) -> tarfile.TarInfo:
    st = path.lstat()
    info = tarfile.TarInfo(name)
    info.mtime = epoch
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(path)
        if os.path.isabs(target):
            raise WasiportsError(
                f"{path} is a symlink to the absolute path {target}",
                why="a published tarball holds no path of the build machine, and an absolute "
                "link means another file once unpacked elsewhere",
                hint="make the link relative in the recipe's post_install, or exclude it")
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
    elif stat.S_ISDIR(st.st_mode):
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    elif stat.S_ISREG(st.st_mode):
        info.type, info.size = tarfile.REGTYPE, st.st_size
        info.mode = 0o755 if st.st_mode & 0o111 else 0o644
    else:
        raise WasiportsError(f"{path}: not a file, directory or symlink",
                             why="a tarball of an artifact holds only those",
                             hint="remove it from the artifact (artifact.exclude in the recipe)")
    return info


def members(top: Path) -> list[Path]:
    """``top`` and everything under it, in the tarball's order."""
    return [top, *sorted(top.rglob("*"), key=lambda p: p.relative_to(top).parts)]


def write(top: Path, out: Path, epoch: int) -> None:
    """Pack directory ``top`` as ``out`` (``<top.name>/…``), replacing ``out`` atomically."""
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with open(tmp, "wb") as raw, \
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=epoch,
                              compresslevel=COMPRESSLEVEL) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in members(top):
                rel = path.relative_to(top)
                name = "/".join((top.name, *rel.parts))
                info = _member(path, name, epoch)
                if info.type == tarfile.REGTYPE:
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
