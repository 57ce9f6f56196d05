"""toolchain.expectations: the expectations file format and the gate."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from toolchain import expectations
from toolchain.errors import RecipeError
from toolchain.expectations import Expectation, Expectations, gate
from toolchain.results import CaseResult, Host, Outcome, SuiteRun, UnitResult

SOURCE = "recipes/python/expectations/3.13.5.toml"
HOST = Host(
    hostname="h", system="Linux", release="6", machine="x86_64", python="3.11", cpus=2,
    wasiports="0.1.0", wasmtime="50.0.1",
)  # fmt: skip
T = datetime(2025, 6, 1, tzinfo=timezone.utc)

GOOD = """
[[expect]]
unit = "test_socket"
outcome = "skip"
reason = "WASI preview 1 has no sockets"

[[expect]]
unit = "test_os"
case = "test.test_os.*.test_umask*"
outcome = "fail"
reason = "umask is a no-op under WASI"
link = "https://github.com/python/cpython/issues/1"

[[expect]]
unit = "test_recursion"
outcome = "crash"
reason = "stack exhaustion traps"
"""


def exps(text: str) -> Expectations:
    return expectations.loads(text, source=SOURCE)


def entry(unit: str, outcome: str = "fail", case: str | None = None) -> Expectation:
    return Expectation(
        unit=unit, case=case, outcome=outcome, reason=f"why {unit}"  # type: ignore[arg-type]
    )


def unit(
    name: str, outcome: Outcome = Outcome.PASS, *cases: CaseResult, reason: str = ""
) -> UnitResult:
    return UnitResult(
        suite="python-3.13.5", unit=name, outcome=outcome, duration=1.0, exit_code=0,
        reason=reason, cases=cases,
    )  # fmt: skip


def case(case_id: str, outcome: Outcome = Outcome.PASS) -> CaseResult:
    return CaseResult(id=case_id, outcome=outcome)


def suite_run(*units: UnitResult) -> SuiteRun:
    return SuiteRun(suite="python-3.13.5", started=T, finished=T, host=HOST, units=units)


# --- the file format ----------------------------------------------------------------------------


def test_load_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "3.13.5.toml"
    path.write_text(GOOD)
    loaded = expectations.load(path)
    assert loaded.source == str(path)
    assert [e.target for e in loaded.entries] == [
        "test_socket", "test_os::test.test_os.*.test_umask*", "test_recursion",
    ]  # fmt: skip
    assert loaded.entries[1].link == "https://github.com/python/cpython/issues/1"
    assert loaded.unit_skips() == {"test_socket": "expected skip: WASI preview 1 has no sockets"}
    assert loaded.case_skips("test_os") == []
    assert [e.unit for e in loaded.for_unit("test_os")] == ["test_os"]
    assert expectations.loads("").entries == ()


def test_a_file_includes_files_next_to_it(tmp_path: Path) -> None:
    (tmp_path / "shared.toml").write_text('include = ["base.toml"]\n' + GOOD.replace("test_socket", "test_shared"))
    (tmp_path / "base.toml").write_text('[[expect]]\nunit = "test_base"\noutcome = "skip"\nreason = "why"\n')
    (tmp_path / "variant.toml").write_text('include = ["shared.toml"]\n\n[[expect]]\nunit = "test_own"\n'
                                           'outcome = "fail"\nreason = "why"\n')
    loaded = expectations.load(tmp_path / "variant.toml")
    assert [e.unit for e in loaded.entries] == ["test_base", "test_shared", "test_os", "test_recursion", "test_own"]
    assert loaded.source == str(tmp_path / "variant.toml")
    assert expectations.files(tmp_path / "variant.toml") == [
        tmp_path / "base.toml", tmp_path / "shared.toml", tmp_path / "variant.toml"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a.toml": 'include = ["gone.toml"]\n'}, r"gone\.toml: no such expectations file \(included by .*a\.toml\)"),
        ({"a.toml": 'include = ["b.toml"]\n', "b.toml": 'include = ["a.toml"]\n'},
         r"b\.toml: include: a\.toml leads back to itself"),
        ({"a.toml": 'include = ["../a.toml"]\n'}, r"a\.toml: include\.0: String should match pattern"),
        ({"a.toml": 'include = ["b.toml"]\n[[expect]]\nunit = "x"\noutcome = "skip"\nreason = "r"\n',
          "b.toml": '[[expect]]\nunit = "x"\noutcome = "skip"\nreason = "r"\n'}, r"a\.toml: expect\.1: repeats expect\.0 \(x\)"),
    ],
)  # fmt: skip
def test_bad_includes_are_named(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(RecipeError, match=message):
        expectations.load(tmp_path / "a.toml")
    assert expectations.files(tmp_path / "a.toml")[-1] == tmp_path / "a.toml", "load() names the problem"
    with pytest.raises(RecipeError, match="only a file's expectations can include others"):
        expectations.loads('include = ["b.toml"]\n')


def test_missing_reason_names_file_and_key_path() -> None:
    text = GOOD + '\n[[expect]]\nunit = "test_x"\noutcome = "fail"\n'
    with pytest.raises(RecipeError) as info:
        exps(text)
    assert info.value.what == f"{SOURCE}: expect.3.reason: missing"


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[expect]]\nunit = "a"\noutcome = "fail"\n')
    with pytest.raises(RecipeError, match=rf"^{path}: expect\.0\.reason: missing"):
        expectations.load(path)
    with pytest.raises(RecipeError, match="no such expectations file"):
        expectations.load(tmp_path / "none.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[expect]]\nunit = "a"\noutcome = "fail"\nreasn = "x"\n',
         "expect.0.reasn: unknown key (did you mean 'reason'?)"),
        ('[[expects]]\nunit = "a"\n', "expects: unknown key (did you mean 'expect'?)"),
        ('[[expect]]\nunit = "a"\noutcome = "broken"\nreason = "x"\n',
         "expect.0.outcome: Input should be 'fail', 'skip', 'crash' or 'timeout'"),
        ('[[expect]]\nunit = "a"\noutcome = "fail"\nreason = "  "\n',
         "expect.0.reason: must say why"),
        ('[[expect]]\nunit = "a"\noutcome = "fail"\nreason = "x"\nlink = "bugs #1"\n',
         "expect.0.link: 'bugs #1' is not an http(s):// URL"),
        ('[[expect]]\nunit = ""\noutcome = "fail"\nreason = "x"\n',
         "expect.0.unit: String should have"),
        ('[[expect]]\nunit = "a"\noutcome = "fail"\nreason = "x"\n' * 2,
         "expect.1: repeats expect.0 (a)"),
        ('[[expect]]\nunit = "a"\nmessage = "E*"\noutcome = "fail"\nreason = "x"\n',
         "expect.0: message: only for an entry with a case and outcome fail"),
        ('[[expect]]\nunit = "a"\ncase = "*"\nmessage = "E*"\noutcome = "skip"\nreason = "x"\n',
         "expect.0: message: only for an entry with a case"),
        ("[[expect]\n", "not valid TOML"),
    ],
)  # fmt: skip
def test_invalid_files(text: str, message: str) -> None:
    with pytest.raises(RecipeError) as info:
        exps(text)
    assert f"{SOURCE}: {message}" in str(info.value)


def test_several_problems_are_all_reported() -> None:
    text = '[[expect]]\nunit = "a"\n\n[[expect]]\nunit = "b"\noutcome = "x"\nreason = "y"\n'
    with pytest.raises(RecipeError) as info:
        exps(text)
    message = str(info.value)
    assert f"{SOURCE}: 3 problems" in message
    for problem in ("expect.0.outcome: missing", "expect.0.reason: missing", "expect.1.outcome"):
        assert f"{SOURCE}: {problem}" in message


def test_outcome_classes() -> None:
    fail = entry("a", "fail")
    assert fail.covers(Outcome.FAIL) and fail.covers(Outcome.ERROR)
    assert not fail.covers(Outcome.CRASH) and not fail.covers(Outcome.TIMEOUT)
    crash = entry("a", "crash")
    assert crash.covers(Outcome.CRASH) and not crash.covers(Outcome.FAIL)
    assert entry("a", "skip").covers(Outcome.SKIP)
    assert entry("a", case="t.*.test_x?").matches_case("t.Foo.test_x1")
    assert not entry("a").matches_case("anything")


# --- the gate -----------------------------------------------------------------------------------


def test_everything_passing_without_expectations_is_ok() -> None:
    verdict = gate(suite_run(unit("a"), unit("b")))
    assert verdict.ok and not verdict.regressions and not verdict.fixed
    assert verdict.run == suite_run(unit("a"), unit("b"))


def test_an_unexpected_failure_is_a_regression_naming_the_unit() -> None:
    run = suite_run(unit("test_a"), unit("test_b", Outcome.CRASH, reason="wasm trap: boom"))
    verdict = gate(run, exps(GOOD))
    assert not verdict.ok
    [finding] = verdict.regressions
    assert (finding.unit, finding.case, finding.outcome) == ("test_b", None, Outcome.CRASH)
    assert str(finding) == "test_b: crash: unexpected crash: wasm trap: boom"
    assert "test_b: crash" in verdict.report() and "FAILED: 1 regression(s)" in verdict.report()
    assert verdict.run.unit("test_b").outcome == Outcome.CRASH  # not marked


@pytest.mark.parametrize("bad", [Outcome.FAIL, Outcome.ERROR, Outcome.TIMEOUT, Outcome.CRASH])
def test_every_bad_outcome_is_a_regression(bad: Outcome) -> None:
    assert not gate(suite_run(unit("a", bad))).ok


def test_an_expected_failure_is_ok_and_marked_xfail() -> None:
    run = suite_run(unit("test_recursion", Outcome.CRASH, reason="wasm trap: call stack exhausted"))
    verdict = gate(run, exps(GOOD))
    assert verdict.ok
    [seen] = verdict.expected
    assert seen.unit == "test_recursion" and seen.expectation is not None
    marked = verdict.run.unit("test_recursion")
    assert marked.outcome == Outcome.XFAIL
    assert marked.reason == (
        "expected crash: stack exhaustion traps [was: wasm trap: call stack exhausted]"
    )
    counts = verdict.run.summary.units
    assert counts[Outcome.XFAIL] == 1 and counts[Outcome.CRASH] == 0
    assert run.unit("test_recursion").outcome == Outcome.CRASH  # the input is untouched


def test_expected_fail_that_crashes_is_a_regression() -> None:
    verdict = gate(suite_run(unit("a", Outcome.CRASH)), Expectations((entry("a", "fail"),)))
    assert not verdict.ok
    assert verdict.regressions[0].message == "expected fail: why a; got crash"
    assert gate(suite_run(unit("a", Outcome.ERROR)), Expectations((entry("a", "fail"),))).ok


def test_a_fixed_expected_failure_is_reported_and_marked_xpass() -> None:
    verdict = gate(suite_run(unit("test_recursion")), exps(GOOD))
    assert verdict.ok
    [fixed] = verdict.fixed
    assert fixed.unit == "test_recursion" and fixed.outcome == Outcome.PASS
    assert "expected crash: stack exhaustion traps; it passes" in fixed.message
    assert verdict.run.unit("test_recursion").outcome == Outcome.XPASS
    assert "fixed (delete these expectations):\n  test_recursion: pass" in verdict.report()


def test_suite_reported_skips_are_not_failures() -> None:
    run = suite_run(unit("test_socket", Outcome.SKIP, reason="requires socket support"),
                    unit("test_tty", Outcome.SKIP, reason="requires a terminal"))  # fmt: skip
    verdict = gate(run, exps(GOOD))
    assert verdict.ok and not verdict.regressions
    assert [f.unit for f in verdict.expected] == ["test_socket"]
    assert verdict.run.unit("test_tty").outcome == Outcome.SKIP


def test_case_expectations_with_globs() -> None:
    os_unit = unit(
        "test_os", Outcome.FAIL,
        case("test.test_os.FileTests.test_access"),
        case("test.test_os.PosixTests.test_umask", Outcome.FAIL),
        case("test.test_os.PosixTests.test_umask_2", Outcome.ERROR),
    )  # fmt: skip
    verdict = gate(suite_run(os_unit), exps(GOOD))
    assert verdict.ok, verdict.report()
    assert [f.case for f in verdict.expected] == [
        "test.test_os.PosixTests.test_umask", "test.test_os.PosixTests.test_umask_2",
    ]  # fmt: skip
    marked = verdict.run.unit("test_os")
    assert marked.outcome == Outcome.XFAIL  # every failing case of it is expected
    assert [c.outcome for c in marked.cases] == [Outcome.PASS, Outcome.XFAIL, Outcome.XFAIL]
    assert marked.cases[1].message == (
        "expected fail: umask is a no-op under WASI (https://github.com/python/cpython/issues/1)"
    )


MESSAGES = """
[[expect]]
unit = "test_futures"
case = "*"
message = "RuntimeError: can't start new thread*"
outcome = "fail"
reason = "no threads"

[[expect]]
unit = "test_futures"
case = "*.SockTests.*"
message = "OSError: *Not supported"
outcome = "fail"
reason = "no sockets"
"""


def test_message_entries_cover_only_the_cases_failing_that_way() -> None:
    def failing(case_id: str, message: str) -> CaseResult:
        return CaseResult(id=case_id, outcome=Outcome.ERROR, message=message)

    futures = unit(
        "test_futures", Outcome.FAIL,
        case("a.T.test_ok"),
        failing("a.T.test_thread", "RuntimeError: can't start new thread"),
        failing("a.SockTests.test_pair", "OSError: [Errno 58] Not supported"),
        failing("a.T.test_sock", "OSError: [Errno 58] Not supported"),  # not a SockTests case
        failing("a.T.test_other", "AssertionError: 1 != 2"),
    )  # fmt: skip
    verdict = gate(suite_run(futures), exps(MESSAGES))
    assert [f.case for f in verdict.expected] == ["a.T.test_thread", "a.SockTests.test_pair"]
    assert [f.case for f in verdict.regressions] == ["a.T.test_sock", "a.T.test_other"]
    assert not verdict.fixed  # a passing case has no failure message to match
    marked = verdict.run.unit("test_futures")
    assert [c.outcome for c in marked.cases][:3] == [Outcome.PASS, Outcome.XFAIL, Outcome.XFAIL]
    assert "test_futures::* [RuntimeError: can't start new thread*]" in [
        e.target for e in exps(MESSAGES).entries]


def test_a_message_entry_whose_unit_passes_is_stale() -> None:
    verdict = gate(suite_run(unit("test_futures", Outcome.PASS, case("a.T.test_thread"))),
                   exps(MESSAGES))
    assert verdict.ok
    assert len(verdict.fixed) == 2 and "no such case failed" in verdict.fixed[0].message


def test_an_unexpected_failing_case_is_the_regression() -> None:
    os_unit = unit(
        "test_os", Outcome.FAIL,
        case("test.test_os.PosixTests.test_umask", Outcome.FAIL),
        case("test.test_os.FileTests.test_write", Outcome.FAIL),
    )  # fmt: skip
    verdict = gate(suite_run(os_unit), exps(GOOD))
    assert not verdict.ok
    [finding] = verdict.regressions  # the case, not the unit a second time
    assert (finding.unit, finding.case) == ("test_os", "test.test_os.FileTests.test_write")
    assert "test_os::test.test_os.FileTests.test_write: fail: unexpected fail" in verdict.report()
    assert verdict.run.unit("test_os").outcome == Outcome.FAIL


def test_a_crash_of_a_unit_with_case_expectations_is_a_regression() -> None:
    umask = case("test.test_os.PosixTests.test_umask", Outcome.FAIL)
    os_unit = unit("test_os", Outcome.CRASH, umask)
    verdict = gate(suite_run(os_unit), exps(GOOD))
    assert [(f.unit, f.case) for f in verdict.regressions] == [("test_os", None)]


def test_a_fixed_case_and_a_stale_case_are_reported() -> None:
    passing = unit("test_os", Outcome.PASS, case("test.test_os.PosixTests.test_umask"))
    verdict = gate(suite_run(passing), exps(GOOD))
    assert verdict.ok
    fixed = [(f.unit, f.case) for f in verdict.fixed]
    assert fixed == [("test_os", "test.test_os.PosixTests.test_umask")]
    assert verdict.run.unit("test_os").cases[0].outcome == Outcome.XPASS
    stale = gate(suite_run(unit("test_os")), exps(GOOD))  # passed, no case info at all
    assert [(f.unit, f.case) for f in stale.fixed] == [("test_os", "test.test_os.*.test_umask*")]
    assert "no such case failed" in stale.fixed[0].message


def test_a_unit_expectation_covers_its_cases() -> None:
    cases = (case("a.t1", Outcome.FAIL), case("a.t2", Outcome.ERROR), case("a.t3"))
    broken = unit("a", Outcome.FAIL, *cases)
    verdict = gate(suite_run(broken), Expectations((entry("a", "fail"),)))
    assert verdict.ok
    marked = [c.outcome for c in verdict.run.unit("a").cases]
    assert marked == [Outcome.XFAIL, Outcome.XFAIL, Outcome.PASS]


def test_expectations_the_run_did_not_exercise() -> None:
    verdict = gate(suite_run(unit("test_a")), exps(GOOD))
    assert verdict.ok
    assert [e.target for e in verdict.not_seen] == [
        "test_socket", "test_os::test.test_os.*.test_umask*", "test_recursion",
    ]  # fmt: skip
    assert "expectations not exercised by this run:" in verdict.report()


def test_flaky_units_are_listed_but_ok() -> None:
    flaky = unit("a").model_copy(update={"flaky": True, "attempts": 2})
    verdict = gate(suite_run(flaky))
    assert verdict.ok and verdict.flaky == ("a",)
    assert "flaky (passed on retry):\n  a" in verdict.report()


def test_a_unit_glob_covers_every_chunk_and_is_not_stale_in_the_others() -> None:
    from toolchain.expectations import gate, loads
    from toolchain.results import CaseResult, Outcome, SuiteRun, UnitResult

    exps = loads('[[expect]]\nunit = "Zend/tests:*"\ncase = "Zend/tests/b.phpt"\noutcome = "fail"\n'
                 'reason = "64-bit integers on wasm32"\n')

    def unit(name: str, cases: list[tuple[str, Outcome]]) -> UnitResult:
        bad = any(o == Outcome.FAIL for _, o in cases)
        return UnitResult(suite="php", unit=name, outcome=Outcome.FAIL if bad else Outcome.PASS,
                          reason="", duration=1.0, exit_code=1 if bad else 0, trap=None,
                          cases=tuple(CaseResult(id=i, outcome=o, duration=0.1, message="") for i, o in cases))

    run = SuiteRun(suite="php", started=T, finished=T, host=HOST, units=(unit("Zend/tests:1", [("Zend/tests/a.phpt", Outcome.PASS)]),
                                       unit("Zend/tests:2", [("Zend/tests/b.phpt", Outcome.FAIL)])))
    verdict = gate(run, exps)
    assert verdict.ok and not verdict.fixed and not verdict.not_seen
    assert [u.outcome for u in verdict.run.units] == [Outcome.PASS, Outcome.XFAIL]
