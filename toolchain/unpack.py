"""Unpack a source tarball safely: into a temporary sibling first, then renamed into place.

Extraction uses tarfile's ``data`` filter (no device files, no links or paths leaving the tree,
no setuid bits) and additionally refuses absolute and ``..`` member names outright. Any failure
removes the temporary tree, so ``dest`` is either the complete new tree or left as it was.
"""

from __future__ import annotations

import lzma
import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import NoReturn

from .errors import UnpackError

# Errors tarfile and its decompressors raise for corrupt, truncated or hostile archives (bz2 and
# gzip raise OSError subclasses; OSError also covers a full disk).
_ARCHIVE_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError,  # ReadError, CompressionError, FilterError, ExtractError, …
    EOFError,
    zlib.error,
    lzma.LZMAError,
    OSError,
)


class _StrictTarInfo(tarfile.TarInfo):
    """Treat a damaged or truncated header as an error, not as the end of the archive.

    tarfile stops silently at a header with a bad checksum after the first member, which would
    unpack a damaged archive half-way without a word.
    """

    @classmethod
    def frombuf(cls, buf: bytes, encoding: str, errors: str) -> tarfile.TarInfo:
        try:
            return super().frombuf(buf, encoding, errors)
        except (tarfile.EOFHeaderError, tarfile.EmptyHeaderError):
            raise  # a zero block or the end of the data: the archive ends here
        except tarfile.TruncatedHeaderError as exc:
            raise tarfile.ReadError(f"truncated header: {exc}") from None
        except tarfile.HeaderError as exc:
            raise tarfile.ReadError(f"damaged header: {exc}") from None


class _Stripper:
    """A tarfile extraction filter: checks names, strips leading components, applies ``data``."""

    def __init__(self, archive: Path, strip_components: int) -> None:
        self.archive = archive
        self.strip = strip_components
        self.prefix: tuple[str, ...] = ()  # the leading components seen so far (at most strip)
        self.current = ""  # the member being processed, for error messages
        self.extracted = 0

    def __call__(self, member: tarfile.TarInfo, dest_path: str) -> tarfile.TarInfo | None:
        self.current = member.name
        parts = self._parts(member.name, member)
        if len(parts) <= self.strip:
            if parts and not member.isdir():
                self._fail(
                    member.name,
                    f"a non-directory within the {self.strip} leading component(s) to strip",
                    hint="if the archive has no single top directory, unpack it with "
                    "strip_components=0 (set it in the recipe)",
                )
            self._agree(parts, member.name)
            return None
        self._agree(parts[: self.strip], member.name)
        changes: dict[str, str] = {"name": "/".join(parts[self.strip :])}
        if member.islnk():  # hard link targets are archive member names: strip them too
            target = self._parts(member.linkname, member)
            if len(target) <= self.strip or tuple(target[: self.strip]) != self.prefix:
                why = f"hard link to {member.linkname!r} outside the stripped tree"
                self._fail(member.name, why)
            changes["linkname"] = "/".join(target[self.strip :])
        filtered = tarfile.data_filter(member.replace(**changes, deep=False), dest_path)
        if filtered is not None:
            self.extracted += 1
        return filtered

    def _parts(self, name: str, member: tarfile.TarInfo) -> list[str]:
        if name.startswith("/") or os.path.isabs(name):
            self._fail(member.name, "absolute path")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            self._fail(member.name, "'..' in the path")
        return parts

    def _agree(self, lead: list[str], name: str) -> None:
        """All members must share the stripped leading components."""
        lead_t = tuple(lead)
        shorter, longer = sorted((lead_t, self.prefix), key=len)
        if longer[: len(shorter)] != shorter:
            top = "/".join(self.prefix)
            self._fail(
                name,
                f"outside the common top directory {top!r} that would be stripped",
                hint="if the archive has no single top directory, unpack it with "
                "strip_components=0 (set it in the recipe)",
            )
        self.prefix = longer

    def _fail(self, member: str, why: str, hint: str = "") -> NoReturn:
        raise UnpackError(
            f"refusing to unpack {self.archive}: member {member!r}",
            why=why,
            hint=hint or "check where the archive came from; real source tarballs never do this",
        )


def unpack(archive: Path, dest: Path, *, strip_components: int = 1) -> Path:
    """Extract ``archive`` (.tar, .tar.gz/.tgz, .tar.xz, .tar.bz2) to ``dest``; return ``dest``.

    The first ``strip_components`` path components are removed from each member; all members
    must share them. An existing ``dest`` is replaced only once the new tree is complete.
    """
    archive = Path(archive)
    dest = Path(dest)
    if strip_components < 0:
        raise ValueError("strip_components must be >= 0")
    if not archive.is_file():
        raise UnpackError(
            f"cannot unpack {archive}: no such file",
            hint="run the fetch step first",
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.unpack-", dir=dest.parent))
    stripper = _Stripper(archive, strip_components)
    try:
        try:
            # errorlevel=1: filter refusals and OS errors raise (0 would only log them).
            with tarfile.open(archive, mode="r:*", tarinfo=_StrictTarInfo, errorlevel=1) as tar:
                tar.extractall(tmp, filter=stripper)
        except _ARCHIVE_ERRORS as exc:
            member = stripper.current
            if isinstance(exc, tarfile.FilterError):
                what = f"refusing to unpack {archive}: member {member!r}"
            elif member:
                what = f"cannot unpack {archive}: corrupt at or after member {member!r}"
            else:
                what = f"cannot unpack {archive}: corrupt before the first member"
            raise UnpackError(
                what,
                why=f"{type(exc).__name__}: {exc}",
                hint="the archive is corrupt, truncated or hostile: delete it from the download "
                "cache and fetch it again; if that persists, check its origin",
            ) from exc
        if stripper.extracted == 0:
            raise UnpackError(
                f"cannot unpack {archive}: nothing to extract",
                why=f"the archive holds no files below {strip_components} leading component(s)",
                hint="check the archive and the recipe's strip_components",
            )
        _move_into_place(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"unpack: {archive.name} -> {dest} ({stripper.extracted} members)", flush=True)
    return dest


def _move_into_place(tmp: Path, dest: Path) -> None:
    """Rename ``tmp`` to ``dest``; an existing ``dest`` is moved aside first and then removed."""
    if not dest.exists() and not dest.is_symlink():
        os.rename(tmp, dest)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
    aside = old / "tree"
    os.rename(dest, aside)
    try:
        os.rename(tmp, dest)
    except BaseException:
        os.rename(aside, dest)
        shutil.rmtree(old, ignore_errors=True)
        raise
    if aside.is_symlink() or not aside.is_dir():
        aside.unlink()
    shutil.rmtree(old, ignore_errors=True)
