"""Debian's archive as an offline origin, through a private apt state.

The archive's address is read from the machine's own apt configuration (never written in code),
and nothing under ``/etc/apt`` is changed: apt gets its own source list, lists and cache under the
wasiports cache. ``apt-get --print-uris`` then names the exact pool URL and sha256 of a source
tarball or .deb, which the ordinary downloader fetches and verifies against the recipe's pin.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from . import cmd, locks, paths
from .errors import CommandError, FetchError

ETC_APT = Path("/etc/apt")
LIST_MAX_AGE = 24 * 3600
_URI_LINE = re.compile(r"^'(?P<url>[^']+)' (?P<name>\S+) (?P<size>\d+) (?:SHA256:(?P<sha>[0-9a-f]{64}))?")


@dataclass(frozen=True)
class Archive:
    uri: str
    signed_by: str | None


@dataclass(frozen=True)
class PoolFile:
    url: str
    name: str
    size: int
    sha256: str | None


@dataclass(frozen=True)
class SourceEntry:
    """One version of a source package as the archive's signed Sources index lists it."""

    package: str
    version: str
    files: dict[str, tuple[str, int]]  # file name -> (sha256, size), from Checksums-Sha256

    @property
    def upstream_version(self) -> str:
        """The version without epoch and Debian revision: ``8.2.32`` of ``8.2.32-1~deb12u1``."""
        version = re.sub(r"^\d+:", "", self.version)
        return version.rsplit("-", 1)[0] if "-" in version else version


def parse_sources(text: str) -> list[SourceEntry]:
    """The stanzas of ``apt-cache showsrc`` (deb822, as in the Sources index)."""
    entries = []
    for stanza in _deb822_stanzas(text):
        files: dict[str, tuple[str, int]] = {}
        for line in stanza.get("checksums-sha256", "").splitlines():
            parts = line.split()
            if len(parts) == 3 and re.fullmatch(r"[0-9a-f]{64}", parts[0]) and parts[1].isdigit():
                files[parts[2]] = (parts[0], int(parts[1]))
        if "package" in stanza and "version" in stanza:
            entries.append(SourceEntry(stanza["package"], stanza["version"], files))
    return entries


def _deb822_stanzas(text: str) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if current:
                stanzas.append(current)
            current, key = {}, ""
            continue
        if raw[0] in " \t" and key:
            current[key] += "\n" + raw.strip()
            continue
        key, _, value = raw.partition(":")
        key = key.strip().lower()
        current[key] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def _is_main_suite(suites: list[str]) -> bool:
    return any(not s.endswith(("-security", "-updates", "-backports")) for s in suites)


def machine_archive(etc: Path = ETC_APT) -> Archive:
    """The Debian archive this machine's apt uses for its main suite."""
    candidates: list[Archive] = []
    for sources in sorted((etc / "sources.list.d").glob("*.sources")):
        for stanza in _deb822_stanzas(sources.read_text(encoding="utf-8", errors="replace")):
            if "deb" not in stanza.get("types", "").split() or stanza.get("enabled") == "no":
                continue
            if not _is_main_suite(stanza.get("suites", "").split()):
                continue
            for uri in stanza.get("uris", "").split():
                candidates.append(Archive(uri.rstrip("/"), stanza.get("signed-by")))
    legacy = [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]
    for path in legacy:
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb" and _is_main_suite([words[2]]):
                candidates.append(Archive(words[1].rstrip("/"), None))
    if not candidates:
        raise FetchError(
            "no Debian archive found in this machine's apt configuration",
            why=f"no enabled 'deb' source for a main suite in {etc}/sources.list(.d)",
            hint="configure apt for a Debian archive or mirror, or use WASIPORTS_MIRRORS",
        )
    return candidates[0]


class AptState:
    """apt-get with its own sources, lists and cache; the system's apt.conf.d stays in effect."""

    def __init__(self, suites: list[str], components: list[str], root: Path | None = None,
                 etc: Path = ETC_APT) -> None:
        self.root = root or paths.apt_state_dir()
        self.suites = suites
        self.components = components
        self.etc = etc

    @property
    def options(self) -> list[str]:
        r = self.root
        return [
            "-o", f"Dir::Etc::SourceList={r / 'wasiports.sources'}",
            "-o", f"Dir::Etc::SourceParts={r / 'sources.list.d'}",
            "-o", f"Dir::Etc::PreferencesParts={r / 'preferences.d'}",
            "-o", f"Dir::State::Lists={r / 'lists'}",
            "-o", f"Dir::Cache={r / 'cache'}",
            "-o", "Debug::NoLocking=1",
        ]

    def sources_text(self) -> str:
        archive = machine_archive(self.etc)
        lines = [
            "# Written by wasiports from this machine's apt configuration; private to wasiports.",
            "Types: deb deb-src",
            f"URIs: {archive.uri}",
            f"Suites: {' '.join(self.suites)}",
            f"Components: {' '.join(self.components)}",
        ]
        if archive.signed_by:
            lines.append(f"Signed-By: {archive.signed_by}")
        return "\n".join(lines) + "\n"

    def _locked(self) -> locks.Held:
        """This state's lock. apt-get runs on it with apt's own locking off (``Debug::NoLocking``
        in :attr:`options`), so two fetches at once (doit's parallel tasks, two checkouts sharing
        the cache) would each rewrite the index files the other reads: every use of the state
        holds this lock instead."""
        return locks.acquire(self.root / "state.lock", what=f"wasiports' apt state {self.root}",
                             why="two apt-get runs on one state directory lose each other's index files")

    def _update(self, log: Path | None) -> None:
        """Write the private source list and refresh its indexes when missing or a day old (the
        caller holds :meth:`_locked`)."""
        for sub in ("sources.list.d", "preferences.d", "lists/partial", "cache/archives/partial"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        source_list = self.root / "wasiports.sources"
        text = self.sources_text()
        stamp = self.root / "updated"
        fresh = stamp.is_file() and time.time() - stamp.stat().st_mtime < LIST_MAX_AGE
        if source_list.is_file() and source_list.read_text() == text and fresh:
            return
        source_list.write_text(text)
        cmd.run(["apt-get", *self.options, "update"], log=log)
        stamp.touch()

    def _uris(self, verb: str, package: str, version: str, log: Path | None) -> list[PoolFile]:
        with self._locked():
            self._update(log)
            out = cmd.run(
                ["apt-get", *self.options, "--print-uris", verb, f"{package}={version}"],
                cwd=self.root, log=log, capture=True,
            )
        files = []
        for line in out.splitlines():
            if m := _URI_LINE.match(line):
                files.append(PoolFile(m["url"], m["name"], int(m["size"]), m["sha"]))
        return files

    def sources(self, package: str, *, log: Path | None = None) -> list[SourceEntry]:
        """Every version of source package ``package`` in the private state's suites, with the
        sha256 of each file from the Sources index (which apt-get update verified against the
        suites' signed InRelease files)."""
        with self._locked():
            self._update(log)
            try:
                out = cmd.run(["apt-cache", *self.options, "showsrc", package], cwd=self.root,
                              log=log, capture=True)
            except CommandError as exc:
                if "Unable to find a source package" in exc.output:
                    return []
                raise
        return [e for e in parse_sources(out) if e.package == package]

    def source_file(self, package: str, version: str, name: str, *, log: Path | None = None) -> PoolFile:
        """The pool URL of one file (e.g. the orig tarball) of a source package."""
        return self._pick(self._uris("source", package, version, log), package, version, name)

    def binary_file(self, package: str, version: str, name: str, *, log: Path | None = None) -> PoolFile:
        """The pool URL of a binary package (.deb)."""
        return self._pick(self._uris("download", package, version, log), package, version, name)

    @staticmethod
    def _pick(files: list[PoolFile], package: str, version: str, name: str) -> PoolFile:
        for f in files:
            if f.name == name:
                return f
        raise FetchError(
            f"Debian package {package}={version} has no file {name!r}",
            why="apt listed: " + (", ".join(f.name for f in files) or "nothing"),
            hint="check source.debian in the recipe (package, version, file)",
        )
