"""The sections of a WebAssembly module, as the debug split and the repro check need them.

A module is a header (``\\0asm`` and a version) then sections: an id byte, a LEB128 length and the
content; custom sections (id 0) start their content with a LEB128-prefixed name (``name``,
``producers``, ``.debug_info``…). That framing is all this module reads: what is inside a section
is left to the tools that own it (llvm-objcopy, llvm-dwarfdump, wasmtime).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import WasiportsError

MAGIC = b"\0asm"
STANDARD = {1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 6: "global", 7: "export",
            8: "start", 9: "element", 10: "code", 11: "data", 12: "datacount", 13: "tag"}
DEBUG_PREFIX = ".debug_"


@dataclass(frozen=True)
class Section:
    """One section: ``name`` is a custom section's own name, else the standard one (``code``)."""

    id: int
    name: str
    offset: int
    """where the section (its id byte) starts in the file"""
    size: int
    """bytes from the id byte to the end of the content"""

    @property
    def is_debug(self) -> bool:
        return self.id == 0 and self.name.startswith(DEBUG_PREFIX)


def _leb(data: bytes, at: int, where: str) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise WasiportsError(f"{where}: truncated WebAssembly module",
                                 why=f"a length runs past the end of the file at byte {at}",
                                 hint="rebuild the module; a copy may have been cut short")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def sections(data: bytes, where: str = "module") -> list[Section]:
    """The sections of the module ``data``, in file order."""
    if data[:4] != MAGIC or len(data) < 8:
        raise WasiportsError(f"{where}: not a WebAssembly module",
                             why=f"it starts with {data[:8]!r}, not {MAGIC!r} and a version",
                             hint="pass a .wasm file")
    found, at = [], 8
    while at < len(data):
        start, section_id = at, data[at]
        length, content = _leb(data, at + 1, where)
        end = content + length
        if end > len(data):
            raise WasiportsError(f"{where}: truncated WebAssembly module",
                                 why=f"section {section_id} at byte {start} claims {length} bytes, "
                                     f"the file ends {end - len(data)} bytes short",
                                 hint="rebuild the module; a copy may have been cut short")
        if section_id == 0:
            name_length, name_at = _leb(data, content, where)
            name = data[name_at:name_at + name_length].decode("utf-8", "replace")
        else:
            name = STANDARD.get(section_id, f"section {section_id}")
        found.append(Section(section_id, name, start, end - start))
        at = end
    return found


def read_sections(path: Path) -> list[Section]:
    return sections(path.read_bytes(), where=str(path))


def debug_bytes(found: list[Section]) -> int:
    """How many bytes of the module are DWARF (``.debug_*`` custom sections)."""
    return sum(s.size for s in found if s.is_debug)


def first_difference(a: bytes, b: bytes, where: str = "module") -> str | None:
    """None when ``a`` and ``b`` are the same bytes; else which section differs first, with the
    offset inside it (or that the section lists differ: one has a section the other lacks)."""
    if a == b:
        return None
    left, right = sections(a, f"{where} (first)"), sections(b, f"{where} (second)")
    for number, (x, y) in enumerate(zip(left, right)):
        if (x.id, x.name) != (y.id, y.name):
            return f"section #{number} is {x.name!r} in the first module, {y.name!r} in the second"
        chunk_a, chunk_b = a[x.offset:x.offset + x.size], b[y.offset:y.offset + y.size]
        if chunk_a != chunk_b:
            at = next((i for i, (p, q) in enumerate(zip(chunk_a, chunk_b)) if p != q),
                      min(len(chunk_a), len(chunk_b)))
            sizes = "" if x.size == y.size else f"; sizes {x.size:,} and {y.size:,} bytes"
            return f"section {x.name!r} (#{number}) differs from byte {at:,} of it{sizes}"
    if len(left) != len(right):
        extra = (left if len(left) > len(right) else right)[min(len(left), len(right))]
        side = "first" if len(left) > len(right) else "second"
        return f"only the {side} module has section {extra.name!r} (#{min(len(left), len(right))})"
    return "the module headers differ"
