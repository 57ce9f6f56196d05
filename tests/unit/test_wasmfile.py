"""Section framing of WebAssembly modules: what the debug split checks and the repro check names."""

from __future__ import annotations

import pytest
import wasmtime

from toolchain import wasmfile
from toolchain.errors import WasiportsError


def module(debug: str = "abcdef", body: str = "nop", extra: str = "") -> bytes:
    return bytes(wasmtime.wat2wasm(
        f'(module (@custom ".debug_info" "{debug}") (func $main (export "_start") {body}) {extra})'))


def test_sections_in_file_order_with_custom_names() -> None:
    found = wasmfile.sections(module())
    assert [s.name for s in found] == ["type", "function", "export", "code", ".debug_info", "name"]
    assert [s.is_debug for s in found].count(True) == 1
    data = module()
    assert sum(s.size for s in found) == len(data) - 8  # every byte after the header is framed


def test_debug_bytes_counts_only_dwarf_sections() -> None:
    small, large = wasmfile.sections(module("a")), wasmfile.sections(module("a" * 300))
    assert wasmfile.debug_bytes(large) - wasmfile.debug_bytes(small) == 299 + 1  # content + longer LEB
    assert wasmfile.debug_bytes(wasmfile.sections(bytes(wasmtime.wat2wasm("(module)")))) == 0


def test_identical_modules_have_no_difference() -> None:
    assert wasmfile.first_difference(module(), module()) is None


def test_the_first_differing_section_is_named() -> None:
    assert wasmfile.first_difference(module("abcdef"), module("abcdeg")) == \
        "section '.debug_info' (#4) differs from byte 19 of it"  # id, size, name (1+11), "abcde"
    said = wasmfile.first_difference(module(body="nop"), module(body="nop nop"))
    assert said is not None and said.startswith("section 'code' (#3) differs") and "sizes" in said


def test_a_missing_section_is_named() -> None:
    plain = module()
    longer = module(extra='(@custom "producers" "x")')
    said = wasmfile.first_difference(plain, longer)
    assert said == "section #5 is 'name' in the first module, 'producers' in the second"
    assert wasmfile.first_difference(plain, plain + bytes([0, 2, 1, 0x61])) == \
        "only the second module has section 'a' (#6)"


@pytest.mark.parametrize("data, said", [(b"\x7fELF\x02\x01\x01\x00", "not a WebAssembly module"),
                                        (module()[:-3], "truncated WebAssembly module")])
def test_bad_modules_are_refused_with_what_is_wrong(data: bytes, said: str) -> None:
    with pytest.raises(WasiportsError, match=said):
        wasmfile.sections(data, "x.wasm")
