"""Edit a recipe's TOML text in place, keeping its comments and layout: a new version's recipe is
the previous one with a few values changed, and a reviewer should see just those in a diff.

Only single-line ``key = value`` entries are set; values are written as TOML literals through
:func:`literal` (JSON's string escapes are TOML's basic-string escapes).
"""

from __future__ import annotations

import json
import re

_HEADER = re.compile(r"^\s*\[\[?([^\]]+)\]\]?\s*(#.*)?$")


def literal(value: str | bool | list[str]) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    return json.dumps(value)


def _table_span(lines: list[str], table: str) -> tuple[int, int] | None:
    """[start, end) of the lines of ``[table]`` (its header line first), or None."""
    start = next((i for i, line in enumerate(lines)
                  if (m := _HEADER.match(line)) and m[1].strip() == table), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
    return start, end


def set_key(text: str, table: str, key: str, value: str | bool | list[str]) -> str:
    """``key = value`` in ``[table]``: the existing line replaced, else one added after the
    table's header (a new table at the end when there is none)."""
    lines = text.split("\n")
    span = _table_span(lines, table)
    entry = f"{key} = {literal(value)}"
    if span is None:
        return text.rstrip("\n") + f"\n\n[{table}]\n{entry}\n"
    start, end = span
    pattern = re.compile(rf"^{re.escape(key)}\s*=")
    for i in range(start + 1, end):
        if pattern.match(lines[i]):
            lines[i] = entry
            return "\n".join(lines)
    lines.insert(start + 1, entry)
    return "\n".join(lines)


def drop_key(text: str, table: str, key: str) -> str:
    """``text`` without ``key`` in ``[table]``."""
    lines = text.split("\n")
    span = _table_span(lines, table)
    if span is None:
        return text
    pattern = re.compile(rf"^{re.escape(key)}\s*=")
    return "\n".join(line for i, line in enumerate(lines)
                     if not (span[0] < i < span[1] and pattern.match(line)))


def drop_table(text: str, table: str) -> str:
    """``text`` without ``[table]`` and its entries."""
    lines = text.split("\n")
    span = _table_span(lines, table)
    if span is None:
        return text
    return "\n".join(lines[:span[0]] + lines[span[1]:])


def replace_version(text: str, old: str, new: str) -> str:
    """Every mention of version ``old`` (not inside a longer version number) as ``new``."""
    return re.sub(rf"(?<![0-9.]){re.escape(old)}(?![0-9])", new, text)
