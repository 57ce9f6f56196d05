"""``wasiports repro`` on the small recipe CI checks (zlib, about 20 s): built a second time in
build/repro/ with its own doit state and TMPDIR, its install stage must be byte-identical. The
interpreters are checked on demand (``wasiports repro ID``, docs/releasing.md): minutes each."""

from __future__ import annotations

import json

import pytest

from toolchain import recipe, repro

pytestmark = pytest.mark.integration

ZLIB = next(r for r in recipe.discover() if r.name == "zlib")


def test_zlib_rebuilt_elsewhere_is_byte_identical() -> None:
    outcome = repro.check(ZLIB)
    assert outcome.differences == {}
    assert "stage/lib/libz.a" in outcome.compared and "stage/include/zlib.h" in outcome.compared
    assert outcome.second_build == f"build/repro/{ZLIB.id}"
    recorded = json.loads(repro.result_path(ZLIB).read_text())
    assert recorded["identical"] is True and recorded["compared"] == outcome.compared
