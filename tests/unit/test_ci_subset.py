"""WASIPORTS_TEST_SUBSET=ci: `doit test` runs each recipe's declared test.ci_subset, records why
in the results, and the report says that only part of the suite ran."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from toolchain import build, paths, recipe, results, testing
from toolchain.errors import HarnessError, RecipeError

TESTED = [r for r in recipe.discover() if r.test.suite]
PHP = next(r for r in TESTED if r.id == "php-8.2.32")


def test_every_tested_interpreter_declares_a_ci_subset_with_a_reason() -> None:
    for r in TESTED:
        part = r.test.ci_subset
        assert part is not None and part.units and len(part.why) > 40, r.id
        assert len(set(part.units)) == len(part.units), r.id


def test_the_variable_chooses_the_subset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(testing.SUBSET_VARIABLE, raising=False)
    assert testing.subset(PHP) is None
    monkeypatch.setenv(testing.SUBSET_VARIABLE, "ci")
    assert testing.subset(PHP) == PHP.test.ci_subset
    monkeypatch.setenv(testing.SUBSET_VARIABLE, "quick")
    with pytest.raises(HarnessError, match="not a subset"):
        testing.subset_choice()


def test_a_subset_without_units_or_reason_is_refused(tmp_path: Path) -> None:
    text = PHP.path.read_text().replace('why = "the engine', 'why = "x" #', 1)
    bad = tmp_path / PHP.path.name
    bad.write_text(text)
    with pytest.raises(RecipeError, match="ci_subset"):
        recipe.load(bad)


def test_the_task_runs_the_subset_and_records_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "BUILD", tmp_path)
    build.installed_stamp(PHP).parent.mkdir(parents=True)
    build.installed_stamp(PHP).write_text("php abc\n")
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(testing, "run_tests", lambda r, **kw: calls.append(kw) or "run")
    monkeypatch.setattr(testing, "check", lambda r, run: None)
    monkeypatch.setenv(testing.SUBSET_VARIABLE, "ci")
    testing.test_task(PHP)
    assert calls[-1] == {"units": PHP.test.ci_subset.units, "subset": PHP.test.ci_subset.why}
    monkeypatch.delenv(testing.SUBSET_VARIABLE)
    testing.test_task(PHP)  # another choice of units: the recorded inputs differ, so it runs again
    assert calls[-1] == {"units": (), "subset": None}


def test_the_subset_is_kept_in_the_results_file() -> None:
    now = datetime.now(UTC)
    host = results.Host(hostname="h", system="Linux", release="6", machine="x86_64", python="3.11",
                        cpus=2, wasiports="0", wasmtime="1")
    run = results.SuiteRun(suite=PHP.id, started=now, finished=now, host=host, subset="why these")
    assert results.loads(results.to_json(run)).subset == "why these"


def test_changed_wasiports_code_runs_the_suite_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same build and units: the old results are gated again; a changed harness runs anew."""
    monkeypatch.setattr(paths, "BUILD", tmp_path)
    monkeypatch.delenv(testing.SUBSET_VARIABLE, raising=False)
    build.installed_stamp(PHP).parent.mkdir(parents=True)
    build.installed_stamp(PHP).write_text("php abc\n")
    ran: list[str] = []
    monkeypatch.setattr(testing, "run_tests", lambda r, **kw: ran.append("run") or "run")
    monkeypatch.setattr(testing.results, "load", lambda p: ran.append("load") or "old")
    monkeypatch.setattr(testing, "check", lambda r, run: None)
    monkeypatch.setattr(testing, "_code_digest", lambda: "a")
    testing.test_task(PHP)
    testing.results_path(PHP).write_text("{}")
    testing.test_task(PHP)
    monkeypatch.setattr(testing, "_code_digest", lambda: "b")
    testing.test_task(PHP)
    assert ran == ["run", "load", "run"]


def test_the_code_digest_covers_the_suite_adapters() -> None:
    assert len(testing._code_digest()) == 64
    assert any(p.name == "php.py" for p in (Path(testing.__file__).parent / "suites").glob("*.py"))
