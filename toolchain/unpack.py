"""Unpack a source tarball safely: into a temporary sibling first, then renamed into place.

Extraction uses tarfile's ``data`` filter (no device files, no links or paths leaving the tree,
no setuid bits) and additionally refuses absolute and ``..`` member names outright. Any failure
removes the temporary tree, so ``dest`` is either the complete new tree or left as it was.

Links are checked by this module itself, without trusting the interpreter's patch level: the
``data`` filter checks a link with :func:`os.path.realpath`, which stops resolving once a path
grows past ``PATH_MAX``, so a chain of long-named directories and symlinks let later members
write outside the destination on Python releases before the fix (CVE-2025-4517; 3.11.7 is one).
:class:`_LinkGuard` keeps its own record of the symlinks extracted so far and resolves link
targets against it, component by component, as the kernel would. It refuses

- a member whose path passes through an already-extracted symlink, or that replaces one
  (tarfile opens a regular file's path for writing and so would write through the link);
- a hard link whose target passes through, or is, a symlink;
- a symlink whose target leaves the tree, checked when it is extracted and again for every
  symlink once all members are in place (a later symlink can change where an earlier one leads).

``tar`` never stores a member below a symlink (it does not follow them when archiving), so real
source tarballs, whose in-tree symlinks point at files and directories of the same tree, pass.

With ``sha256``, :func:`unpack` hashes the archive through the same open file it extracts from,
so what was verified is what is unpacked.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import BinaryIO, NoReturn

from .errors import CachedFileChanged, UnpackError

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


#: Symlinks followed in one resolution before giving up. Above the kernel's own limit (Linux: 40,
#: BSDs and macOS: 32): a chain too long for us is too long for the kernel (ELOOP), so it cannot
#: lead anywhere and is harmless.
MAX_SYMLINK_HOPS = 64


class _LinkGuard:
    """The symlinks extracted so far, and where a path through them leads.

    Paths are tuples of components relative to the top of the extracted (stripped) tree."""

    def __init__(self) -> None:
        self.symlinks: dict[tuple[str, ...], tuple[str, str]] = {}  # path -> (target, member)

    def check(self, parts: tuple[str, ...], member: tarfile.TarInfo) -> str | None:
        """Why ``member``, to be extracted at ``parts``, must be refused; None if it may go."""
        if (via := self._first_symlink(parts[:-1])) is not None:
            return f"its path passes through the symlink {'/'.join(via)!r}"
        if parts in self.symlinks:
            return f"it would replace the symlink {'/'.join(parts)!r} (and write through it)"
        if member.islnk():
            target = tuple(p for p in member.linkname.split("/") if p not in ("", "."))
            if (via := self._first_symlink(target)) is not None:
                relation = "is" if via == target else "passes through"
                return (f"hard link to {member.linkname!r}, which {relation} the symlink "
                        f"{'/'.join(via)!r}")
        if member.issym():
            if self.escapes(parts[:-1], member.linkname):
                return f"symlink to {member.linkname!r}, which leads outside the tree"
        return None

    def record(self, parts: tuple[str, ...], member: tarfile.TarInfo, name: str) -> None:
        """Remember an extracted member (only symlinks matter); ``name`` as in the archive."""
        if member.issym():
            self.symlinks[parts] = (member.linkname, name)

    def escaping_symlink(self) -> tuple[str, str] | None:
        """(member, target) of a symlink that now leads outside the tree, if any."""
        for parts, (target, member) in self.symlinks.items():
            if self.escapes(parts[:-1], target):
                return member, target
        return None

    def _first_symlink(self, parts: tuple[str, ...]) -> tuple[str, ...] | None:
        for end in range(1, len(parts) + 1):
            if parts[:end] in self.symlinks:
                return parts[:end]
        return None

    def escapes(self, start: tuple[str, ...], target: str) -> bool:
        """Whether ``target``, followed from directory ``start``, ever leaves the tree.

        Resolves as the kernel does: a symlink component is replaced by its target before the
        components after it (so ``link/..`` is the parent of where ``link`` points)."""
        if target.startswith("/"):
            return True
        here = list(start)
        pending = list(reversed(target.split("/")))  # the components still to walk, last first
        hops = 0
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if not here:
                    return True
                here.pop()
                continue
            here.append(part)
            link = self.symlinks.get(tuple(here))
            if link is None:
                continue
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                return False  # ELOOP for the kernel too: leads nowhere
            if link[0].startswith("/"):
                return True
            here.pop()
            pending.extend(reversed(link[0].split("/")))
        return False


class _Stripper:
    """A tarfile extraction filter: checks names, strips leading components, applies ``data``."""

    def __init__(self, archive: Path, strip_components: int) -> None:
        self.archive = archive
        self.strip = strip_components
        self.prefix: tuple[str, ...] = ()  # the leading components seen so far (at most strip)
        self.current = ""  # the member being processed, for error messages
        self.extracted = 0
        self.links = _LinkGuard()

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
        stripped = member.replace(**changes, deep=False)
        where = tuple(parts[self.strip :])
        if (why := self.links.check(where, stripped)) is not None:
            self._fail(member.name, why)
        filtered = tarfile.data_filter(stripped, dest_path)
        if filtered is not None:
            self.links.record(where, filtered, member.name)
            self.extracted += 1
        return filtered

    def check_final_tree(self) -> None:
        """Refuse the tree if a symlink leads outside it now that every member is in place."""
        if (found := self.links.escaping_symlink()) is not None:
            member, target = found
            self._fail(member, f"symlink to {target!r}, which leads outside the tree once "
                       "later members are in place")

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


def unpack(archive: Path, dest: Path, *, strip_components: int = 1, sha256: str | None = None,
           refetch: str = "") -> Path:
    """Extract ``archive`` (.tar, .tar.gz/.tgz, .tar.xz, .tar.bz2) to ``dest``; return ``dest``.

    The first ``strip_components`` path components are removed from each member; all members
    must share them. An existing ``dest`` is replaced only once the new tree is complete.
    With ``sha256``, an archive with another hash is refused (:class:`CachedFileChanged`, whose
    hint ends with the ``refetch`` command, e.g. ``doit fetch:<id>``) before anything is written.
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
    with open(archive, "rb") as f:
        if sha256 is not None:
            _verify(f, archive, sha256, refetch)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.unpack-", dir=dest.parent))
        stripper = _Stripper(archive, strip_components)
        try:
            _extract(f, archive, tmp, stripper)
            _move_into_place(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    print(f"unpack: {archive.name} -> {dest} ({stripper.extracted} members)", flush=True)
    return dest


def _verify(f: BinaryIO, archive: Path, sha256: str, refetch: str) -> None:
    """Hash the open archive; refuse it unless it has ``sha256``; rewind it for extraction."""
    actual = hashlib.file_digest(f, "sha256").hexdigest()
    expected = sha256.strip().lower()
    if actual != expected:
        raise CachedFileChanged(archive, expected, actual, refetch=refetch)
    f.seek(0)


def _extract(f: BinaryIO, archive: Path, tmp: Path, stripper: _Stripper) -> None:
    """Extract the open archive into ``tmp`` through ``stripper``; check the finished tree."""
    try:
        # errorlevel=1: filter refusals and OS errors raise (0 would only log them).
        with tarfile.open(fileobj=f, mode="r:*", tarinfo=_StrictTarInfo, errorlevel=1) as tar:
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
            why=f"the archive holds no files below {stripper.strip} leading component(s)",
            hint="check the archive and the recipe's strip_components",
        )
    stripper.check_final_tree()


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
