"""One patch file of a series, read as data: its mail headers, message, trailers and diff.

Our patches are ``git format-patch`` files::

    From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001   (line 1)
    From: Name <email>
    Date: Tue, 24 Nov 2026 12:00:00 +0000
    Subject: [PATCH] what it changes        (folded onto indented lines when long)

    Why: the message body.

    Upstream-Status: Pending
    Signed-off-by: Name <email>
    ---
     diffstat
    diff --git a/file b/file
    ...

This module also holds the one definition of the ``Upstream-Status`` vocabulary (Yocto's), which
the lint, refresh, export and the unit tests all use. Line numbers are 1-based, as in editors
and in ``path:line: problem`` messages. Text is decoded with ``surrogateescape`` so that a patch
to a file in another encoding reads and writes back byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: Yocto's closed vocabulary for the upstream state of a patch.
UPSTREAM_STATUS = re.compile(
    r"^Upstream-Status: (?P<value>Pending|Submitted \[.+\]|Backport \[.+\]|Denied|"
    r"Inactive-Upstream|Inappropriate \[.+\])$", re.M)
VOCABULARY = ("Pending | Submitted [url] | Backport [ref] | Denied | Inactive-Upstream | "
              "Inappropriate [reason]")
STATUS_KEY = "Upstream-Status:"
SIGNED_OFF = re.compile(r"^Signed-off-by: .+ <.+>$")
NAME = re.compile(r"^\d{4}-[A-Za-z0-9._-]+\.patch$")
MBOX_FROM = re.compile(r"^From [0-9a-f]{40} Mon Sep 17 00:00:00 2001$")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_TRAILER = re.compile(r"^[A-Za-z][A-Za-z0-9-]*: \S")


@dataclass(frozen=True)
class Hunk:
    line: int  # of its "@@" header in the patch file
    header: str
    body: tuple[str, ...]  # its " ", "-", "+" and "\" lines

    def text(self) -> str:
        return "\n".join((self.header, *self.body)) + "\n"

    def added(self) -> list[tuple[int, str]]:
        """(line in the patch file, text) of each line the hunk adds."""
        return [(self.line + 1 + i, b[1:]) for i, b in enumerate(self.body) if b.startswith("+")]


@dataclass(frozen=True)
class FileDiff:
    line: int  # of its "diff --git" line
    path: str  # the new name, without "b/"
    hunks: tuple[Hunk, ...]


@dataclass(frozen=True)
class PatchFile:
    path: Path
    lines: tuple[str, ...]
    headers: dict[str, tuple[str, int]]  # lowercase name -> (value, line), continuations joined
    message_start: int  # first line after the header block
    message_end: int  # the "---" line, or the first diff line when there is none
    separator: bool  # a "---" line ends the message
    files: tuple[FileDiff, ...]

    @property
    def subject(self) -> str:
        """The subject without git's ``[PATCH]`` prefix."""
        return re.sub(r"^\[PATCH[^]]*\]\s*", "", self.headers.get("subject", ("", 0))[0])

    def message(self) -> list[tuple[int, str]]:
        """(line, text) of the message body: after the headers, before ``---``."""
        return [(n, self.lines[n - 1]) for n in range(self.message_start, self.message_end)]

    def status(self) -> list[tuple[int, str]]:
        """(line, value) of every ``Upstream-Status:`` line of the message."""
        return [(n, text[len(STATUS_KEY):].strip()) for n, text in self.message()
                if text.startswith(STATUS_KEY)]

    def inappropriate(self) -> bool:
        return any(value.startswith("Inappropriate") for _, value in self.status())

    def touched(self) -> list[str]:
        return [f.path for f in self.files]


def decode(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")


def encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")


def read(path: Path) -> PatchFile:
    return parse(decode(Path(path).read_bytes()), Path(path))


def parse(text: str, path: Path) -> PatchFile:
    lines = tuple(text.split("\n"))
    headers, n = _headers(lines)
    diff_at = next((i + 1 for i in range(n - 1, len(lines))
                    if lines[i].startswith("diff --git ")), len(lines) + 1)
    dashes = [i + 1 for i in range(n - 1, diff_at - 1) if lines[i] == "---"]
    end = dashes[0] if dashes else diff_at
    return PatchFile(path, lines, headers, n, end, bool(dashes), _files(lines, diff_at))


def _headers(lines: tuple[str, ...]) -> tuple[dict[str, tuple[str, int]], int]:
    """The mail headers after the mbox ``From`` line, and the first line after their block."""
    headers: dict[str, tuple[str, int]] = {}
    last = ""
    i = 1 if lines and lines[0].startswith("From ") else 0
    while i < len(lines) and lines[i].strip():
        text = lines[i]
        if text[0] in " \t" and last:
            value, at = headers[last]
            headers[last] = (f"{value} {text.strip()}", at)
        elif ":" in text:
            name, _, value = text.partition(":")
            last = name.strip().lower()
            headers.setdefault(last, (value.strip(), i + 1))
        i += 1
    return headers, i + 2  # skip the blank line; 1-based


def _files(lines: tuple[str, ...], start: int) -> tuple[FileDiff, ...]:
    files: list[FileDiff] = []
    i = start - 1
    while i < len(lines):
        if not lines[i].startswith("diff --git "):
            i += 1
            continue
        at, path = i + 1, lines[i].rsplit(" b/", 1)[-1]
        hunks: list[Hunk] = []
        i += 1
        while i < len(lines) and not lines[i].startswith("diff --git "):
            if m := _HUNK.match(lines[i]):
                hunk, i = _hunk(lines, i, m)
                hunks.append(hunk)
            else:
                i += 1
        files.append(FileDiff(at, path, tuple(hunks)))
    return tuple(files)


def _hunk(lines: tuple[str, ...], i: int, m: re.Match[str]) -> tuple[Hunk, int]:
    """The hunk whose header is ``lines[i]``: exactly as many lines as its header counts."""
    old = int(m[2]) if m[2] is not None else 1
    new = int(m[4]) if m[4] is not None else 1
    j = i + 1
    while j < len(lines) and (old > 0 or new > 0 or lines[j].startswith("\\")):
        tag = lines[j][:1]
        if tag in (" ", ""):
            old, new = old - 1, new - 1
        elif tag == "-":
            old -= 1
        elif tag == "+":
            new -= 1
        elif tag != "\\":
            break
        j += 1
    return Hunk(i + 1, lines[i], lines[i + 1:j]), j


def trailer_block(message: list[tuple[int, str]]) -> tuple[int, int] | None:
    """Indexes [start, end) into ``message`` of its last paragraph when every line of it is a
    ``Key: value`` trailer (git's trailer block), else None."""
    end = len(message)
    while end and not message[end - 1][1].strip():
        end -= 1
    start = end
    while start and message[start - 1][1].strip():
        start -= 1
    if start == end or not all(_TRAILER.match(text) for _, text in message[start:end]):
        return None
    return start, end
