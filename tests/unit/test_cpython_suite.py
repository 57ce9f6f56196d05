"""Parsing regrtest's output and JUnit files into the result model."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolchain.results import CaseResult, Outcome
from toolchain.suites.cpython import parse_junit, unit_outcome

FIXTURES = Path(__file__).parent.parent / "fixtures" / "regrtest"

SYNTHETIC = """<testsuites tests="4" errors="1" failures="1"><testsuite tests="4">
<testcase name="test.test_x.T.test_ok" status="run" result="completed" time="0.5" />
<testcase name="test.test_x.T.test_bad" status="run" result="completed" time="0.1"><failure type="AssertionError" message="AssertionError: 1 != 2&#10;">Traceback …</failure></testcase>
<testcase name="test.test_x.T.test_boom" status="run" result="completed" time="0.1"><error type="OSError" message="OSError: [Errno 58] Not supported">Traceback …</error></testcase>
<testcase name="test.test_x.T.test_xf" status="run" result="completed" time="0.1"><output type="AssertionError" message="m">tb</output></testcase>
</testsuite></testsuites>"""


def test_real_junit_file_cases_and_skip_reasons() -> None:
    cases = parse_junit(FIXTURES / "test_fstring.junit.xml")
    assert len(cases) == 88
    skipped = [c for c in cases if c.outcome == Outcome.SKIP]
    assert len(skipped) == 5
    assert {c.message for c in skipped} == {"requires subprocess support", "exhausts limited stack on WASI"}
    assert all(c.id.startswith("test_fstring.") for c in cases)


def test_failures_errors_and_upstream_expected_failures(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(SYNTHETIC)
    by_id = {c.id: c for c in parse_junit(junit)}
    assert by_id["test_x.T.test_ok"].outcome == Outcome.PASS
    assert by_id["test_x.T.test_ok"].duration == 0.5
    assert by_id["test_x.T.test_bad"].outcome == Outcome.FAIL
    assert by_id["test_x.T.test_bad"].message == "AssertionError: 1 != 2"
    assert by_id["test_x.T.test_boom"].outcome == Outcome.ERROR
    assert by_id["test_x.T.test_xf"].outcome == Outcome.PASS


def test_missing_or_truncated_junit_gives_no_cases(tmp_path: Path) -> None:
    assert parse_junit(tmp_path / "absent.xml") == []
    cut = tmp_path / "cut.xml"
    cut.write_text(SYNTHETIC[:200])
    assert parse_junit(cut) == []


def test_whole_file_skip_reason_from_the_output() -> None:
    out = ("0:00:00 [1/1] test_socket\ntest_socket skipped -- requires socket support\n"
           "0:00:00 [1/1] test_socket skipped\n== Tests result: SUCCESS ==\n")
    assert unit_outcome("test_socket", 0, out, []) == (Outcome.SKIP, "requires socket support")


def test_resource_denied_skip_keeps_its_kind() -> None:
    out = "test_largefile skipped (resource denied) -- Use of the 'largefile' resource not enabled\n"
    outcome, reason = unit_outcome("test_largefile", 4, out + "== Tests result: NO TESTS RAN ==\n", [])
    assert outcome == Outcome.SKIP
    assert reason == "resource denied: Use of the 'largefile' resource not enabled"


def test_exit_statuses() -> None:
    bad = [CaseResult(id="a", outcome=Outcome.FAIL), CaseResult(id="b", outcome=Outcome.PASS)]
    assert unit_outcome("test_x", 2, "", bad) == (Outcome.FAIL, "1 failing case(s)")
    assert unit_outcome("test_x", 0, "", [])[0] == Outcome.PASS
    assert unit_outcome("test_x", 3, "", [])[0] == Outcome.PASS
    assert unit_outcome("test_x", 4, "", []) == (Outcome.SKIP, "regrtest: no tests ran")
    crash = unit_outcome("test_x", 134, "wasiports run: python3.13.wasm: wasm trap: call stack exhausted\n", [])
    assert crash == (Outcome.CRASH, "wasm trap: call stack exhausted")
    timed_out = "wasiports run: python3.13.wasm: timed out after 900 s\n"
    assert unit_outcome("test_x", 124, timed_out, [])[0] == Outcome.TIMEOUT
    assert unit_outcome("test_x", 124, "", [])[0] == Outcome.FAIL  # the guest's own exit(124)


def test_command_runs_the_installed_module_with_the_artifact_options(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from toolchain import build, paths, recipe
    from toolchain.suites.cpython import RegrtestAdapter

    monkeypatch.setattr(paths, "BUILD", tmp_path / "build")
    build.sdk_record().parent.mkdir(parents=True)
    build.sdk_record().write_text(json.dumps({"path": str(tmp_path / "sdk"), "origin": "debian",
                                              "clang_version": "19.1.7"}))
    r = recipe.load(paths.RECIPES / "python" / "3.13.5.toml")
    assert r.artifact is not None
    r = r.model_copy(update={"artifact": r.artifact.model_copy(update={"stack_size": 1 << 25})})
    stage = build.stage_dir(r)
    (stage / "usr/local/bin").mkdir(parents=True)
    (stage / "usr/local/bin/python3.13.wasm").write_bytes(b"\0asm")
    command = RegrtestAdapter.from_recipe(r).command("test_json", tmp_path / "scratch")
    argv = list(command.argv)
    assert argv[argv.index("--wasm") + 1] == f"max-wasm-stack={1 << 25}"  # the artifact's, not the default
    at = argv.index("--dir-ro")
    assert argv[at + 1] == f"{stage}/usr/local/lib::/usr/local/lib"
    assert argv[argv.index("--dir") + 1] == f"{tmp_path / 'scratch'}::/"
    assert argv[-8:-1] == [str(stage / "usr/local/bin/python3.13.wasm"), "-m", "test", "test_json",
                           "--tempdir", "/tmp/regrtest", "--junit-xml"]
    assert command.timeout == r.test.unit_timeout and (tmp_path / "scratch" / "tmp").is_dir()
