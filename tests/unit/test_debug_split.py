"""The checks around the debug split (the split itself runs llvm-objcopy: tests/integration/test_release.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime

from toolchain import dist, recipe
from toolchain.errors import CommandError

RECIPES = recipe.discover()
SPLIT = next(r for r in RECIPES if r.kind == "interpreter" and dist.has_debug_companion(r))
NO_DWARF = next(r for r in RECIPES if r.kind == "interpreter" and not dist.has_debug_companion(r))


def write(path: Path, dwarf: bool, named: bool = True) -> Path:
    name = "$main" if named else ""
    debug = '(@custom ".debug_info" "abc")' if dwarf else ""
    path.write_bytes(bytes(wasmtime.wat2wasm(f'(module {debug} (func {name} (export "_start")))')))
    return path


def test_every_interpreter_either_splits_or_says_why_not() -> None:
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


def test_a_recipe_saying_no_dwarf_must_be_right(tmp_path: Path) -> None:
    for module in dist.launches(NO_DWARF).values():
        write(tmp_path / module, False)
    assert dist._no_dwarf(NO_DWARF, tmp_path) == {}
    write(tmp_path / next(iter(dist.launches(NO_DWARF).values())), True)
    with pytest.raises(CommandError, match="carries .* bytes of DWARF"):
        dist._no_dwarf(NO_DWARF, tmp_path)
