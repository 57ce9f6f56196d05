"""Damaged bookkeeping (timings.json, test/inputs.json) counts as absent; it is rewritten whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolchain import build, paths, recipe, testing

ZLIB = paths.RECIPES / "zlib" / "1.3.1.toml"


@pytest.fixture
def zlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> recipe.Recipe:
    monkeypatch.setattr(paths, "BUILD", tmp_path / "build")
    return recipe.load(ZLIB)


def _timings(r: recipe.Recipe) -> Path:
    return build.work_dir(r) / "timings.json"


@pytest.mark.parametrize("content", ['{"configure": 1', "[1, 2]\n", "\x00\x00"])
def test_timed_starts_afresh_from_a_damaged_record(zlib: recipe.Recipe, content: str) -> None:
    _timings(zlib).parent.mkdir(parents=True)
    _timings(zlib).write_text(content)
    ran: list[str] = []
    build.timed("make", zlib, lambda r: ran.append(r.id))
    assert ran == [zlib.id]
    assert list(json.loads(_timings(zlib).read_text())) == ["make"]
    assert sorted(p.name for p in _timings(zlib).parent.iterdir()) == ["timings.json"]


def test_timed_keeps_earlier_steps(zlib: recipe.Recipe) -> None:
    build.timed("configure", zlib, lambda r: None)
    build.timed("make", zlib, lambda r: None)
    assert list(json.loads(_timings(zlib).read_text())) == ["configure", "make"]


@pytest.fixture
def suite(zlib: recipe.Recipe, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[object]]:
    """test_task with the suite, the gate and the inputs replaced by recorders."""
    calls: dict[str, list[object]] = {"run": [], "load": [], "check": []}
    inputs = {"installed": "zlib-1.3.1 abc\n", "skip": []}
    monkeypatch.setattr(testing, "_inputs", lambda r: inputs)
    monkeypatch.setattr(testing, "run_tests", lambda r, **_: calls["run"].append(r.id) or "fresh run")
    monkeypatch.setattr(testing.results, "load", lambda p: calls["load"].append(p) or "old run")
    monkeypatch.setattr(testing, "check", lambda r, run: calls["check"].append(run))
    testing.results_path(zlib).parent.mkdir(parents=True)
    testing.results_path(zlib).write_text("{}")
    return calls


def test_test_task_runs_again_when_its_inputs_record_is_damaged(
    zlib: recipe.Recipe, suite: dict[str, list[object]]
) -> None:
    record = testing.test_dir(zlib) / "inputs.json"
    record.write_text('{"installed": "zlib-1.3.1 ab')  # a run killed while writing it
    testing.test_task(zlib)
    assert suite == {"run": [zlib.id], "load": [], "check": ["fresh run"]}
    assert json.loads(record.read_text()) == {"installed": "zlib-1.3.1 abc\n", "skip": []}

    testing.test_task(zlib)  # now the record is whole: the same inputs gate the old run again
    assert suite["run"] == [zlib.id] and suite["check"] == ["fresh run", "old run"]
