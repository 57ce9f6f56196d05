"""The one downloader: try origins in order, verify the sha256 pin, never leave a partial file.

Every origin is streamed into ``.<filename>.part-<random>`` next to the final file while being
hashed; only a verified file is moved into place, with :func:`os.replace` (atomic). Transient
failures (connection errors, timeouts, HTTP 5xx, truncated bodies) are retried with exponential
backoff; HTTP 4xx and checksum mismatches move on to the next origin at once.

Beside each verified file, ``.<filename>.origin.json`` records the origin that served it and a
stat stamp (size, mtime_ns, ctime_ns, inode) taken when its sha256 was last verified, so that
:func:`still_verified` can tell cheaply whether the file was touched since. A part file is
locked (``flock``) by its download; one that nobody holds, left by a download killed hard, is
removed by the next fetch of the same file name (see :func:`_clean_stale_parts`).
"""

from __future__ import annotations

import fcntl
import glob
import os
import re
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


from . import fileio, paths
from .fileio import sha256_of
from .transfer import _copy_file, _copy_http, _LocalError, _Retry, _Sink, _Skip
from .errors import ChecksumError, FetchError, WasiportsError

ORIGIN_KINDS = frozenset({"upstream", "mirror", "debian", "cache"})
URL_SCHEMES = frozenset({"http", "https", "file"})

#: Attempts per origin for transient failures; ``$WASIPORTS_FETCH_RETRIES`` overrides it.
RETRIES = 3
#: Seconds before the first retry; doubled for each further one.
BACKOFF_BASE = 1.0
#: A part file untouched for this many seconds and locked by no process is a dead download's.
STALE_PART_AGE = 60.0

MIRRORS_ENV = "WASIPORTS_MIRRORS"
RETRIES_ENV = "WASIPORTS_FETCH_RETRIES"

_SHA256_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Origin:
    """A place a file can come from."""

    kind: str  # "upstream" | "mirror" | "debian" | "cache"
    url: str  # http(s):// or file:// URL

    def __post_init__(self) -> None:
        if self.kind not in ORIGIN_KINDS:
            raise ValueError(f"unknown origin kind {self.kind!r} (one of {sorted(ORIGIN_KINDS)})")
        if urllib.parse.urlsplit(self.url).scheme not in URL_SCHEMES:
            raise ValueError(f"origin URL must be http(s):// or file://, not {self.url!r}")


@dataclass(frozen=True)
class Fetched:
    """A verified file in the cache and the origin that served it."""

    path: Path
    sha256: str
    size: int
    origin: Origin
    downloaded_from: Origin | None = None
    """For a cache hit: the origin that first served the file, when it was recorded."""


def _provenance_file(final: Path) -> Path:
    return final.with_name(f".{final.name}.origin.json")


def _stat_stamp(path: Path) -> dict[str, int]:
    """What changes when a file is rewritten, replaced or touched (ctime cannot be set back)."""
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns,
            "ino": st.st_ino}


def _write_provenance(final: Path, origin: Origin | None, sha256: str) -> None:
    """Remember which origin served a verified file (so later cache hits can still say so), its
    sha256 and its stat stamp now (so :func:`still_verified` can skip re-hashing it)."""
    record: dict[str, object] = {"kind": origin.kind, "url": origin.url} if origin else {}
    record.update(sha256=sha256, **_stat_stamp(final))
    fileio.write_json(_provenance_file(final), record)


def _read_provenance(final: Path) -> Origin | None:
    data = fileio.read_json_object(_provenance_file(final)) or {}
    try:
        return Origin(str(data["kind"]), str(data["url"]))
    except (ValueError, KeyError):
        return None


def still_verified(path: Path, sha256: str) -> bool:
    """Whether the cached file ``path`` still has ``sha256``, without reading it when possible.

    Cheap path: the provenance note holds this sha256 and a stat stamp (size, mtime_ns,
    ctime_ns, inode) equal to the file's now, i.e. nothing wrote, replaced or touched the file
    since it was verified. Otherwise the file is hashed in full (~0.1 s per 30 MB) and, if it
    matches, the stamp is recorded again. What the stamp cannot see (bytes damaged with no
    metadata change) the full check before unpacking does (:func:`toolchain.unpack.unpack`)."""
    path = Path(path)
    expected = sha256.strip().lower()
    note = fileio.read_json_object(_provenance_file(path)) or {}
    try:
        stamp = _stat_stamp(path)
    except OSError:
        return False
    if note.get("sha256") == expected and all(note.get(k) == v for k, v in stamp.items()):
        return True
    try:
        if sha256_of(path) != expected:
            return False
    except OSError:
        return False
    try:
        _write_provenance(path, _read_provenance(path), expected)
    except OSError:
        pass  # a read-only cache: correct, only slower next time
    return True


def mirror_bases() -> list[str]:
    """Base URLs from ``$WASIPORTS_MIRRORS`` (separated by whitespace or commas).

    Each is an https:// (or http://: the pin guards integrity) or file:// URL, or an absolute
    path, which is turned into a file:// URL.
    """
    bases: list[str] = []
    for entry in re.split(r"[\s,]+", os.environ.get(MIRRORS_ENV, "")):
        if not entry:
            continue
        if entry.startswith("/"):
            entry = Path(entry).as_uri()
        if urllib.parse.urlsplit(entry).scheme not in URL_SCHEMES:
            raise FetchError(
                f"{MIRRORS_ENV}: {entry!r} is not a mirror base URL",
                why="each entry must be an https://, http:// or file:// URL or an absolute path",
                hint=f"fix {MIRRORS_ENV}, e.g. "
                f"{MIRRORS_ENV}='https://example.org/wasiports file:///srv/mirror'",
            )
        bases.append(entry)
    return bases


def upstream_origins(urls: Sequence[str]) -> list[Origin]:
    """Origins of kind ``upstream`` for a recipe's URLs, in order."""
    return [Origin("upstream", url) for url in urls]


def mirror_origins(filename: str) -> list[Origin]:
    """Origins of kind ``mirror``: ``filename`` under each base of ``$WASIPORTS_MIRRORS``."""
    quoted = urllib.parse.quote(filename)
    return [Origin("mirror", f"{base.rstrip('/')}/{quoted}") for base in mirror_bases()]


def fetch(
    filename: str,
    sha256: str,
    origins: Sequence[Origin],
    *,
    dest_dir: Path | None = None,
    lazy_origins: Sequence[Callable[[], Origin | None]] = (),
) -> Fetched:
    """Return ``dest_dir/filename`` with the pinned ``sha256``, downloading it if needed.

    ``origins`` are tried in order, then ``lazy_origins`` (each resolved only when reached; one
    returning None is skipped). Raises :class:`ChecksumError` if no origin succeeded and one
    served wrong bytes, else :class:`FetchError`; either lists every origin tried.
    """
    _check_filename(filename)
    expected = _check_sha256(filename, sha256)
    dest_dir = Path(dest_dir) if dest_dir is not None else paths.downloads_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / filename
    _clean_stale_parts(dest_dir, filename)
    if (cached := _from_cache(final, expected)) is not None:
        return cached

    failures: list[str] = []
    mismatch: ChecksumError | None = None
    seen: set[str] = set()
    for origin in _resolve(filename, origins, lazy_origins, failures):
        if origin.url in seen:
            continue
        seen.add(origin.url)
        try:
            part, actual, size = _download(filename, origin, dest_dir)
        except _Skip as exc:
            failures.append(f"{origin.kind} {origin.url}: {exc}")
            continue
        try:
            if actual != expected:
                _say(
                    f"fetch: {filename} checksum mismatch from {origin.kind} {origin.url}: "
                    f"expected sha256 {expected}, got {actual}; deleted"
                )
                failures.append(f"{origin.kind} {origin.url}: checksum mismatch (got {actual})")
                mismatch = ChecksumError(origin.url, expected, actual)
                continue
            _install(part, final, origin, actual)
        finally:
            part.unlink(missing_ok=True)  # a no-op once it has become the final file
        _say(f"fetch: {filename} ok ({size} bytes, sha256 {actual}) from {origin.kind}")
        return Fetched(final, actual, size, origin)

    if mismatch is not None:
        raise ChecksumError(mismatch.url, expected, mismatch.actual, tried=failures)
    raise _nothing_served(final, expected, failures)


def _nothing_served(final: Path, expected: str, failures: list[str]) -> FetchError:
    if failures:
        why = "every origin failed:\n" + "\n".join(f"    - {line}" for line in failures)
    else:
        why = f"there was no origin to try (no URL given and {MIRRORS_ENV} is unset)"
    return FetchError(
        f"could not fetch {final.name} (sha256 {expected})",
        why=why,
        hint=f"set {MIRRORS_ENV} to https:// or file:// base URLs that hold {final.name}, "
        f"or put the verified file at {final}",
    )


def _from_cache(final: Path, expected: str) -> Fetched | None:
    """The cached file if it has the pin; a cached file that does not is deleted, with its note."""
    if not final.is_file():
        return None
    actual = sha256_of(final)
    if actual != expected:
        _say(f"fetch: {final.name} cached copy has sha256 {actual}, not {expected}; deleting it")
        final.unlink()
        _provenance_file(final).unlink(missing_ok=True)  # it spoke of the deleted file
        return None
    size = final.stat().st_size
    _say(f"fetch: {final.name} ok ({size} bytes, sha256 {actual}) from cache")
    served_by = _read_provenance(final)
    try:
        _write_provenance(final, served_by, actual)  # verified just now: a fresh stamp
    except OSError:
        pass  # a read-only cache still serves
    return Fetched(final, actual, size, Origin("cache", final.resolve().as_uri()),
                   downloaded_from=served_by)


def _install(part: Path, final: Path, origin: Origin, sha256: str) -> None:
    """Move a verified part file into place and write its provenance note."""
    try:
        os.chmod(part, 0o644)
        os.replace(part, final)
        _write_provenance(final, origin, sha256)
    except OSError as exc:
        raise _cache_error(final.name, final.parent, exc) from exc


def _clean_stale_parts(dest_dir: Path, filename: str) -> None:
    """Remove ``.<filename>.part-*`` files left behind by downloads that were killed hard.

    A download holds an exclusive ``flock`` on its part file while it writes it, and the kernel
    drops the lock when the process dies, however it dies. So a part file is removed only when
    no process holds its lock *and* nobody wrote it for :data:`STALE_PART_AGE` seconds: the age
    covers the instants in which a live download's part file is not locked (between ``mkstemp``
    and ``flock``, and between closing it and renaming it into place). Two processes fetching
    the same file at once each keep their own part file; neither removes the other's."""
    now = time.time()
    for part in dest_dir.glob(f".{glob.escape(filename)}.part-*"):
        try:
            if now - part.stat().st_mtime < STALE_PART_AGE:
                continue
            with open(part, "rb") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live download, however slow
                part.unlink(missing_ok=True)
        except OSError:
            continue  # gone meanwhile, or not ours to remove: leave it
        _say(f"fetch: removed {part.name}, left by an interrupted download")


def _resolve(
    filename: str,
    origins: Sequence[Origin],
    lazy_origins: Sequence[Callable[[], Origin | None]],
    failures: list[str],
) -> Iterator[Origin]:
    """Yield the eager origins, then each lazy one, resolving it only when reached."""
    yield from origins
    for resolve in lazy_origins:
        label = getattr(resolve, "__name__", repr(resolve))
        try:
            origin = resolve()
        except WasiportsError as exc:  # a lookup (e.g. apt-get) failing is one origin failing
            _say(f"fetch: {filename} could not resolve origin {label}: {exc.what}")
            failures.append(f"lazy origin {label}: {exc.what}")
            continue
        if origin is None:
            _say(f"fetch: {filename} origin {label} has nothing to offer; skipped")
            continue
        yield origin


def _retries() -> int:
    raw = os.environ.get(RETRIES_ENV, "").strip()
    if not raw:
        return max(1, RETRIES)
    try:
        return max(1, int(raw))
    except ValueError:
        raise FetchError(
            f"{RETRIES_ENV}={raw!r} is not a number",
            hint=f"set {RETRIES_ENV} to the number of attempts per origin, e.g. 3",
        ) from None


def _download(filename: str, origin: Origin, dest_dir: Path) -> tuple[Path, str, int]:
    """Fetch one origin into a temp file, retrying transient failures; raise _Skip when done."""
    attempts = _retries()
    for attempt in range(1, attempts + 1):
        suffix = f" (attempt {attempt}/{attempts})" if attempt > 1 else ""
        _say(f"fetch: {filename} from {origin.kind} {origin.url}{suffix}")
        try:
            return _attempt(filename, origin, dest_dir)
        except _Skip as exc:
            _say(f"fetch: {filename} failed from {origin.kind}: {exc}")
            raise
        except _Retry as exc:
            if attempt == attempts:
                _say(f"fetch: {filename} failed from {origin.kind}: {exc}; giving up on it")
                raise _Skip(f"{exc} (after {attempts} attempts)") from exc
            delay = BACKOFF_BASE * 2 ** (attempt - 1)
            _say(f"fetch: {filename} failed from {origin.kind}: {exc}; retrying in {delay:g} s")
            time.sleep(delay)
        except _LocalError as exc:
            raise _cache_error(filename, dest_dir, exc.__cause__ or exc) from exc
    raise AssertionError("unreachable")


def _attempt(filename: str, origin: Origin, dest_dir: Path) -> tuple[Path, str, int]:
    """One attempt: stream into ``.<filename>.part-<random>``; on any failure remove it."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{filename}.part-", dir=dest_dir)
    except OSError as exc:
        raise _LocalError(str(exc)) from exc
    # Held until the file is closed: tells _clean_stale_parts in other processes it is alive.
    fcntl.flock(fd, fcntl.LOCK_EX)
    part = Path(name)
    done = False
    out = os.fdopen(fd, "wb")
    try:
        sink = _Sink(out, filename)
        try:
            if urllib.parse.urlsplit(origin.url).scheme == "file":
                _copy_file(origin.url, sink)
            else:
                _copy_http(origin.url, sink)
        finally:
            sink.close()
        try:
            out.close()
        except OSError as exc:
            raise _LocalError(str(exc)) from exc
        done = True
        return part, sink.hexdigest(), sink.size
    finally:
        out.close()
        if not done:
            part.unlink(missing_ok=True)


def _cache_error(filename: str, dest_dir: Path, exc: BaseException) -> FetchError:
    return FetchError(
        f"could not write {filename} into {dest_dir}",
        why=str(exc),
        hint="check free space and permissions there, or point WASIPORTS_CACHE elsewhere",
    )


def _check_filename(filename: str) -> None:
    if not filename or filename in (".", "..") or "/" in filename or "\\" in filename:
        raise FetchError(
            f"invalid download file name {filename!r}",
            why="it must be a plain file name, without directories",
            hint="fix the file name in the recipe",
        )


def _check_sha256(filename: str, sha256: str) -> str:
    digest = sha256.strip().lower()
    if not _SHA256_RE.fullmatch(digest):
        raise FetchError(
            f"invalid sha256 pin for {filename}: {sha256!r}",
            why="a sha256 pin is 64 hexadecimal digits",
            hint="fix the pin in the recipe",
        )
    return digest


def _say(line: str) -> None:
    print(line, flush=True)
