"""php-src run-tests: units from the .phpt tree, JUnit parsing, unit outcomes."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolchain.results import CaseResult, Outcome
from toolchain.suites import php
from toolchain.suites.php import parse_junit, unit_outcome

# The shape run-tests.php (JUnit class in 8.2) writes.
JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="php" tests="5" failures="1" errors="1" skip="1" time="3">
<testsuite name="Zend" tests="5" failures="1" errors="1" skip="1" time="3">
<testcase name='/src/Zend/tests/a.phpt (Test a)' time='0.25'>
</testcase>
<testcase name='/src/Zend/tests/b.phpt (Test b)' time='0.5'>
<failure type='FAILED' message='Test b'>001+ Warning: chmod(): Function not implemented in /src/b.php on line 3
001- bool(true)
002+ bool(false)</failure>
</testcase>
<testcase name='/src/Zend/tests/c.phpt (Test c)' time='0.1'>
<skipped>needs 64-bit platform</skipped>
</testcase>
<testcase name='/src/Zend/tests/d.phpt (Test d)' time='0.1'>
<error type='BORKED' message='no such section'/>
</testcase>
<testcase name='/src/Zend/tests/e.phpt (Test e)' time='0.1'>
<warning>SKIPIF said warn</warning>
</testcase>
</testsuite>
</testsuites>
"""
TESTS = [f"Zend/tests/{x}.phpt" for x in "abcde"]


def test_junit_cases_are_named_by_their_path_in_the_source_tree(tmp_path: Path) -> None:
    (tmp_path / "j.xml").write_text(JUNIT)
    cases = {c.id: c for c in parse_junit(tmp_path / "j.xml", TESTS)}
    assert list(cases) == TESTS
    assert cases["Zend/tests/a.phpt"].outcome == Outcome.PASS
    assert cases["Zend/tests/a.phpt"].duration == 0.25
    assert cases["Zend/tests/b.phpt"].outcome == Outcome.FAIL
    assert cases["Zend/tests/b.phpt"].message == (
        "Warning: chmod(): Function not implemented in /src/b.php on line 3 | bool(false)")
    assert cases["Zend/tests/c.phpt"].outcome == Outcome.SKIP
    assert cases["Zend/tests/c.phpt"].message == "needs 64-bit platform"
    assert cases["Zend/tests/d.phpt"].outcome == Outcome.ERROR
    assert cases["Zend/tests/d.phpt"].message == "BORKED: no such section"
    assert cases["Zend/tests/e.phpt"].outcome == Outcome.PASS


def test_missing_or_broken_junit_gives_no_cases(tmp_path: Path) -> None:
    assert parse_junit(tmp_path / "none.xml", TESTS) == []
    (tmp_path / "cut.xml").write_text(JUNIT[:300])
    assert parse_junit(tmp_path / "cut.xml", TESTS) == []


def case(outcome: Outcome) -> CaseResult:
    return CaseResult(id="x.phpt", outcome=outcome, duration=0.1, message="m")


@pytest.mark.parametrize(("exit_code", "cases", "expected"), [
    (0, [case(Outcome.PASS), case(Outcome.SKIP)], Outcome.PASS),
    (1, [case(Outcome.PASS), case(Outcome.FAIL)], Outcome.FAIL),
    (1, [case(Outcome.ERROR)], Outcome.FAIL),
    (0, [case(Outcome.SKIP), case(Outcome.SKIP)], Outcome.SKIP),
    (0, [], Outcome.SKIP),
    (134, [], Outcome.CRASH),
    (None, [case(Outcome.PASS)], Outcome.CRASH),
])
def test_unit_outcome(exit_code: int | None, cases: list[CaseResult], expected: Outcome) -> None:
    assert unit_outcome(exit_code, "", cases)[0] == expected


def test_units_are_directories_cut_into_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(php.CHUNK + 5):
        (tmp_path / "Zend" / "tests").mkdir(parents=True, exist_ok=True)
        (tmp_path / "Zend" / "tests" / f"t{i:04d}.phpt").write_text("")
    (tmp_path / "ext" / "ctype" / "tests").mkdir(parents=True)
    (tmp_path / "ext" / "ctype" / "tests" / "a.phpt").write_text("")
    adapter = php.RunTestsAdapter(suite="php-8.2.32", src=tmp_path, launcher=tmp_path / "php",
                                  launchers=[], host_php="php8.2")
    assert adapter.list_units() == ["Zend/tests:1", "Zend/tests:2", "ext/ctype/tests"]
    assert len(adapter._tests()["Zend/tests:1"]) == php.CHUNK
    assert adapter._tests()["Zend/tests:2"][-1] == f"Zend/tests/t{php.CHUNK + 4:04d}.phpt"


def test_each_launch_gets_twice_the_per_test_limit_of_the_recipe() -> None:
    assert php.launch_timeout(["-n", "--set-timeout", "60"]) == 120
    assert php.launch_timeout(["--set-timeout", "15"]) == 30
    assert php.launch_timeout([]) == 120  # run-tests' own default is 60 s


def test_the_host_php_comes_from_the_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolchain import paths, recipe
    from toolchain.errors import HarnessError
    from toolchain.suites.host import host_program

    r = recipe.load(paths.RECIPES / "php" / "8.2.32.toml")
    assert r.test.host is not None and r.test.host.names[0] == "php8.2"
    mine = tmp_path / "my-php"
    mine.write_text("#!/bin/sh\n")
    mine.chmod(0o755)
    monkeypatch.setenv("WASIPORTS_HOST_PHP", str(mine))
    assert host_program(r) == str(mine)
    monkeypatch.setenv("WASIPORTS_HOST_PHP", "")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(HarnessError) as err:
        host_program(r)
    text = err.value.render()
    assert "no host program to run run-tests.php" in text and "8.2.32.toml: test.host" in text
    assert "php8.2-cli" in text and "WASIPORTS_HOST_PHP" in text


def test_cases_the_expectations_skip_are_not_started(tmp_path: Path) -> None:
    from toolchain import expectations

    src = tmp_path / "src"
    (src / "Zend" / "tests").mkdir(parents=True)
    for name in ("a.phpt", "hang_1.phpt", "hang_2.phpt"):
        (src / "Zend" / "tests" / name).write_text("")
    (src / "run-tests.php").write_text("")
    expected = expectations.loads(
        '[[expect]]\nunit = "Zend/tests"\ncase = "Zend/tests/hang_*.phpt"\noutcome = "skip"\n'
        'reason = "ends only by a timeout on WASI"\n', source="exp.toml")
    assert expected.case_skips("Zend/tests") == [
        ("Zend/tests/hang_*.phpt", "expected skip: ends only by a timeout on WASI")]
    adapter = php.RunTestsAdapter(suite="php-8.2.32", src=src, launcher=tmp_path / "php",
                                  launchers=[], host_php="php8.2", expected=expected)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    argv = adapter.command("Zend/tests", scratch).argv
    assert argv[-1] == "Zend/tests/a.phpt" and not any("hang_" in a for a in argv)
