"""The checks around the debug split (the split itself runs llvm-objcopy: tests/integration/test_release.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime

from toolchain import dist, recipe, wasmfile
from toolchain.errors import CommandError

RECIPES = recipe.discover()
SPLIT = next(r for r in RECIPES if r.kind == "interpreter" and dist.has_debug_companion(r))
NO_DWARF = next(r for r in RECIPES if r.kind == "interpreter" and not dist.has_debug_companion(r))


def write(path: Path, dwarf: bool, named: bool = True) -> Path:
    name = "$main" if named else ""
    debug = '(@custom ".debug_info" "abc")' if dwarf else ""
    path.write_bytes(bytes(wasmtime.wat2wasm(f'(module {debug} (func {name} (export "_start")))')))
    return path


def test_every_interpreter_built_without_dwarf_says_why() -> None:
    for r in RECIPES:
        if r.kind == "interpreter" and not dist.has_debug_companion(r):
            assert r.artifact is not None and len(r.artifact.no_debug_info) > 40, r.id


def test_a_good_split_is_recorded(tmp_path: Path) -> None:
    whole, stripped = write(tmp_path / "m.debug.wasm", True), write(tmp_path / "m.wasm", False)
    entry = dist._check_split(SPLIT, whole, stripped)
    assert entry["module"] == "m.debug.wasm" and entry["dwarf_bytes"] > 0
    assert entry["stripped_bytes"] == stripped.stat().st_size < entry["debug_bytes"]


@pytest.mark.parametrize("whole_dwarf, stripped_dwarf, stripped_named, said", [
    (False, False, True, "no DWARF"),
    (True, True, True, "DWARF is left"),
    (True, False, False, "lost its name section"),
])
def test_a_bad_split_stops_the_build(tmp_path: Path, whole_dwarf: bool, stripped_dwarf: bool,
                                     stripped_named: bool, said: str) -> None:
    whole = write(tmp_path / "m.debug.wasm", whole_dwarf)
    stripped = write(tmp_path / "m.wasm", stripped_dwarf, stripped_named)
    with pytest.raises(CommandError, match=said):
        dist._check_split(SPLIT, whole, stripped)


def test_dwarf_a_build_without_debug_info_still_carries_is_dropped(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's libc brings DWARF that wasm-opt without -g leaves stale: it is stripped, with no
    companion. (The strip itself is llvm-objcopy, a process: replaced here by a section filter.)"""
    def strip(_r: object, whole: Path, out: Path) -> None:
        named = any(sec.name == "name" for sec in wasmfile.read_sections(whole))
        write(out, False, named)
    monkeypatch.setattr(dist, "_strip", strip)
    modules = list(dist.launches(NO_DWARF).values())
    for module in modules:
        write(tmp_path / module, module == modules[0])
    assert dist._drop_dwarf(NO_DWARF, tmp_path) == {}
    for module in modules:
        assert wasmfile.debug_bytes(wasmfile.read_sections(tmp_path / module)) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(modules)  # nothing left beside them
