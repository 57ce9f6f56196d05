"""`wasiports bench --smoke` on each packaged interpreter (tiny sizes, one round: a check that
every column runs and agrees, not figures): start-up and one CPU-bound program per language.
PHP's and Ruby's native column is their bench.native build, made here (`doit native:<id>`)."""

from __future__ import annotations

import json

import pytest

from toolchain import bench, recipe

from .conftest import native, smoke

pytestmark = pytest.mark.integration

MAIN = [r for r in recipe.discover() if r.kind == "interpreter" and not r.variant]


@pytest.mark.parametrize("r", MAIN, ids=[r.id for r in MAIN])
def test_every_column_runs_and_agrees(r: recipe.Recipe) -> None:
    smoke(r.id)
    if r.bench.native:
        native(r.id)
    assert bench.main([r], smoke=True, only=["startup", "nbody"]) == 0
    data = json.loads(bench.result_path(r, partial=True).read_text())
    assert data["smoke"] and data["only"] == ["nbody", "startup"]
    expected = {"launcher", "cli", "native"} | ({"wlr"} if r.name == "python" else {"host"})
    assert {c for c, v in data["columns"].items() if not v["skipped"]} == expected, data["columns"]
    for p in data["programs"]:
        assert set(p["times"]) == expected and not p["failed"], p
    assert set(data["geomean"]) == expected - {"native"}
    if r.name != "python":  # the native column is this recipe's version, built here
        assert r.version in data["columns"]["native"]["version"], data["columns"]["native"]
        assert set(data["geomean_host"]) == {"launcher", "cli"}
