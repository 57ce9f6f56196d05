"""Ruby's suites: parsing basictest, bootstraptest and test-all output; unit outcomes."""

from __future__ import annotations

from toolchain.results import CaseResult, Outcome
from toolchain.suites.ruby import parse_basictest, parse_bootstraptest, parse_test_all, unit_outcome

# basictest/test.rb: results on stdout, progress marks on stderr in the same stream.
BASIC = """test.rb:assignment .ok 1 (test.rb:135:in `<main>')
.ok 2 (test.rb:137:in `<main>')
.ok 3 (test.rb:137:in `<main>')
Fnot ok condition 1 -- test.rb:140:in `<main>'
.ok 2 (test.rb:141:in `<main>')
OK 4
end of test(test: 4)
"""

# bootstraptest/runner.rb -v --tty=no -j1
BOOTSTRAP = """2026-11-24 20:21:47 +0000
Driver is ruby 3.1.2p20 (2022-04-12 revision 4491bb740a) [x86_64-linux-gnu]
Target is ruby 3.3.8 (2025-04-09 revision b200bad6cd) [wasm32-wasi]

#1 /src/bootstraptest/test_io.rb:1 . 0.210
#2 /src/bootstraptest/test_io.rb:14 F 0.183
#2 /src/bootstraptest/test_io.rb:14:in `<top (required)>'
     r, w = IO.pipe
  #=> "ok" (expected) -- NotImplementedError
#3 /src/bootstraptest/test_io.rb:30 E
undefined method `fork'
Finished in 1.20 sec

FAIL 2/3 tests failed
"""

# test/runner.rb -v --tty=no
TEST_ALL = """Run options:
  --seed=64363
  -v

# Running tests:

[  1/4] TestHash#test_a = 0.00 s
[  2/4] TestHash#test_b
/lib/x.rb:2: warning: already initialized constant X
 = 0.01 s
[  3/4] TestHash::TestSubHash#test_c = 0.00 s
[  4/5] TestAst#"test_ranges:test/ruby/test_a b.rb" = 0.02 s
[  5/5] TestAst#"test_e_option" = 0.02 s
[  4/4] TestHash#test_d = 0.00 s

Finished tests in 0.5s, 8 tests/s, 10 assertions/s.

  1) Failure:
TestHash#test_b [/test/ruby/test_hash.rb:12]:
<1> expected but was
<2>.

  2) Error:
TestHash::TestSubHash#test_c:
NotImplementedError: fork() function is unimplemented on this machine
    /tool/lib/envutil.rb:1:in `spawn'

  3) Error:
TestAst#test_e_option:
Errno::ENOTSUP: Not supported

  4) Skipped:
TestHash#test_d [/test/ruby/test_hash.rb:40]:
no fork

4 tests, 10 assertions, 1 failures, 1 errors, 1 skips
"""


def by_id(cases: list[CaseResult]) -> dict[str, CaseResult]:
    return {c.id: c for c in cases}


def test_basictest_checks_are_named_by_their_line_and_duplicates_numbered() -> None:
    cases = parse_basictest(BASIC)
    assert [(c.id, c.outcome) for c in cases] == [
        ("test.rb:135", Outcome.PASS), ("test.rb:137", Outcome.PASS), ("test.rb:137#2", Outcome.PASS),
        ("test.rb:141", Outcome.PASS), ("test.rb:140", Outcome.FAIL)]
    assert cases[-1].message == "condition check 1"


def test_bootstraptest_assertions_with_their_failure_messages() -> None:
    cases = by_id(parse_bootstraptest(BOOTSTRAP))
    assert list(cases) == ["test_io.rb:1", "test_io.rb:14", "test_io.rb:30"]
    assert cases["test_io.rb:1"].outcome == Outcome.PASS
    assert cases["test_io.rb:1"].duration == 0.21
    assert cases["test_io.rb:14"].outcome == Outcome.FAIL
    assert "NotImplementedError" in cases["test_io.rb:14"].message
    assert cases["test_io.rb:30"].outcome == Outcome.ERROR
    assert cases["test_io.rb:30"].message == "undefined method `fork'"


def test_test_all_cases_take_their_outcome_from_the_fault_list() -> None:
    cases = by_id(parse_test_all(TEST_ALL))
    assert {k: v.outcome for k, v in cases.items()} == {
        "TestHash#test_a": Outcome.PASS, "TestHash#test_b": Outcome.FAIL,
        "TestHash::TestSubHash#test_c": Outcome.ERROR, "TestHash#test_d": Outcome.SKIP,
        "TestAst#test_ranges:test/ruby/test_a b.rb": Outcome.PASS, "TestAst#test_e_option": Outcome.ERROR}
    assert cases["TestHash#test_b"].message == "<1> expected but was <2>."
    assert cases["TestHash::TestSubHash#test_c"].message.startswith("NotImplementedError: fork()")
    assert cases["TestHash#test_d"].message == "no fork"
    assert cases["TestHash#test_b"].duration == 0.01


def test_a_test_all_process_that_died_names_the_test_it_died_in() -> None:
    died = TEST_ALL.split("[  4/4]")[0] + (
        "[  4/4] TestHash#test_d/tool/lib/core_assertions.rb:59: [BUG] rb_gc_mark(): 0x291 is T_NONE\n"
        "wasiports run: ruby.wasm: wasm trap: wasm `unreachable` instruction executed\n")
    cases = by_id(parse_test_all(died, crashed=True))
    assert cases["TestHash#test_d"].outcome == Outcome.CRASH
    assert cases["TestHash#test_d"].message == "rb_gc_mark(): 0x291 is T_NONE"
    assert cases["TestHash#test_a"].outcome == Outcome.PASS
    outcome, reason = unit_outcome(134, died, list(cases.values()), finished=False)
    # a trap right after the name: the runner's message is glued to it
    trapped = TEST_ALL.split("[  4/4]")[0] + (
        "[  4/4] TestHash#test_dwasiports run: ruby.wasm: wasm trap: out of bounds memory access\n")
    assert by_id(parse_test_all(trapped, crashed=True))["TestHash#test_d"].outcome == Outcome.CRASH
    fatal = TEST_ALL.split("[  4/4]")[0] + "[  4/4] TestHash#test_d[FATAL] failed to allocate memory\n"
    assert by_id(parse_test_all(fatal, crashed=True))["TestHash#test_d"].message == "failed to allocate memory"
    assert outcome == Outcome.CRASH
    assert reason.startswith("TestHash#test_d: ")


def test_unit_outcomes() -> None:
    passing = [CaseResult(id="a", outcome=Outcome.PASS)]
    failing = passing + [CaseResult(id="b", outcome=Outcome.ERROR)]
    skipped = [CaseResult(id="a", outcome=Outcome.SKIP, message="no fork")]
    assert unit_outcome(0, "", passing, finished=True) == (Outcome.PASS, "")
    # test-all exits with its number of failures: the cases decide, not the status
    assert unit_outcome(16, "", failing, finished=True) == (Outcome.FAIL, "1 failing test(s)")
    assert unit_outcome(0, "", failing, finished=True) == (Outcome.FAIL, "1 failing test(s)")
    assert unit_outcome(0, "", skipped, finished=True) == (Outcome.SKIP, "no fork")
    # a failing exit that names no failing test, a clean exit that ran nothing or stopped
    # before its summary, a trap: none of them is a pass
    assert unit_outcome(1, "", passing, finished=True) == (Outcome.FAIL, "exit status 1 with no failing test named")
    assert unit_outcome(0, "", [], finished=False) == (Outcome.FAIL, "no test ran")
    assert unit_outcome(0, "", passing, finished=False) == (Outcome.FAIL, "exited before its summary")
    assert unit_outcome(134, "", passing, finished=False)[0] == Outcome.CRASH


def test_a_file_that_does_not_load_or_defines_no_test() -> None:
    empty = "# Running tests:\n\n0 tests, 0 assertions, 0 failures, 0 errors, 0 skips\n"
    unloadable = "test/ruby/test_file.rb: cannot load such file -- -test-/file\n" + empty
    assert unit_outcome(1, unloadable, [], finished=True) == (
        Outcome.ERROR, "the file does not load: cannot load such file -- -test-/file")
    assert unit_outcome(0, empty, [], finished=True)[0] == Outcome.SKIP
