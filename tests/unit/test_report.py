"""The report: pages, JSON, Markdown, JUnit, and the diff against a previous report.json."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import pytest

from toolchain import paths, recipe, report, results, testing
from toolchain.results import CaseResult, Outcome, SuiteRun, UnitResult

PYTHON = recipe.load(paths.RECIPES / "python" / "3.13.5.toml")


def unit(name: str, outcome: Outcome, cases: tuple[CaseResult, ...] = (), reason: str = "") -> UnitResult:
    return UnitResult(suite=PYTHON.id, unit=name, outcome=outcome, duration=1.5, exit_code=0,
                      reason=reason, cases=cases)


def a_run(*units: UnitResult) -> SuiteRun:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
    return SuiteRun(suite=PYTHON.id, started=now, finished=now, host=results.host_info(), units=units)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(paths, "BUILD", tmp_path / "build")
    monkeypatch.setattr(paths, "DIST", tmp_path / "dist")
    modules = tmp_path / "node_modules"
    for source in report.ASSETS:
        (modules / source).parent.mkdir(parents=True, exist_ok=True)
        (modules / source).write_text(f"/* {source} */")
    monkeypatch.setattr(report, "NODE_MODULES", modules)
    return tmp_path


def save(run: SuiteRun) -> None:
    target = testing.results_path(PYTHON)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(results.to_json(run))


def test_report_files_and_numbers(env: Path) -> None:
    ok = (CaseResult(id="t.a", outcome=Outcome.PASS), CaseResult(id="t.b", outcome=Outcome.PASS),
          CaseResult(id="t.c", outcome=Outcome.SKIP, message="requires subprocess support"))
    bad = (CaseResult(id="u.a", outcome=Outcome.FAIL, message="AssertionError"),)
    save(a_run(unit("test_ok", Outcome.PASS, ok), unit("test_bad", Outcome.FAIL, bad),
               unit("test_socket", Outcome.SKIP, reason="requires socket support")))
    data = report.write([PYTHON])
    out = env / "dist" / "report"
    suite = data["suites"][0]
    assert suite["total_units"] == 3 and suite["total_cases"] == 4
    assert suite["case_pass_rate"] == pytest.approx(66.67)  # 2 passed of 3 runnable cases
    assert [tuple(r) for r in suite["unit_skip_reasons"]] == [("requires socket support", 1)]
    assert not suite["ok"] and "test_bad" in suite["regressions"][0]
    assert json.loads((out / "report.json").read_text())["suites"][0]["suite"] == PYTHON.id
    page = (out / f"{PYTHON.id}.html").read_text()
    assert "test_bad" in page and "requires socket support" in page and "1 regression(s)" in page
    assert "assets/simple-datatables.js" in page and (out / "assets" / "chart.umd.min.js").is_file()
    assert f'href="{PYTHON.id}.html"' in (out / "index.html").read_text()
    md = (out / "report.md").read_text()
    # units | passed, fixed, failed, expected failures, skipped, crashed | regressions, flaky | cases
    assert f"| {PYTHON.id} | 1 regression(s) | 3 | 1 | 0 | 1 | 0 | 1 | 0 | 1 | 0 | 4 | 66.67 % |" in md
    tree = ET.parse(out / "junit" / f"{PYTHON.id}.xml").getroot()
    assert len(tree.findall("testsuite")) == 3
    assert len(tree.findall(".//failure")) == 1 and len(tree.findall(".//skipped")) == 2


def test_diff_against_the_previous_report(env: Path) -> None:
    save(a_run(unit("test_a", Outcome.PASS), unit("test_b", Outcome.FAIL), unit("test_c", Outcome.PASS)))
    report.write([PYTHON])
    save(a_run(unit("test_a", Outcome.FAIL), unit("test_b", Outcome.PASS), unit("test_c", Outcome.SKIP),
               unit("test_d", Outcome.PASS)))
    data = report.write([PYTHON])
    changes = data["diff"][PYTHON.id]
    assert changes["new_failures"] == ["test_a (pass → fail)"]
    assert changes["new_passes"] == ["test_b (fail → pass)"]
    assert changes["newly_skipped"] == ["test_c (pass → skip)"]
    assert changes["added"] == ["test_d"]
    assert "1 new failures" in (env / "dist" / "report" / "report.md").read_text()


def test_no_results_is_a_clear_error(env: Path) -> None:
    with pytest.raises(report.WasiportsError) as info:
        report.write([PYTHON])
    assert "no test results to report" in str(info.value)


def test_markdown_is_not_html_escaped(env: Path) -> None:
    save(a_run(unit("test_socket", Outcome.SKIP, reason="No module named '_socket' & <more>")))
    report.write([PYTHON])
    md = (env / "dist" / "report" / "report.md").read_text()
    assert "| 1 | No module named '_socket' & <more> |" in md
    page = (env / "dist" / "report" / f"{PYTHON.id}.html").read_text()
    assert "&#39;_socket&#39; &amp; &lt;more&gt;" in page


# --- bad inputs (hardening: defect 8) -----------------------------------------------------------

@pytest.mark.parametrize("broken", [
    lambda text: text[: len(text) // 2],  # truncated: a crash while it was written
    lambda text: "",
    lambda text: "[1, 2]",
    lambda text: json.dumps({"report_version": 1, "suites": [{"suite": "x", "rows": "many"}]}),
    lambda text: json.dumps({"report_version": 7, "suites": []}),
    lambda text: b"\xff\xfe{ not UTF-8",
])
def test_a_bad_previous_report_is_named_and_the_diff_left_out(
        env: Path, capsys: pytest.CaptureFixture[str], broken: object) -> None:
    save(a_run(unit("test_a", Outcome.PASS)))
    report.write([PYTHON])
    previous = env / "dist" / "report" / "report.json"
    damaged = broken(previous.read_text())  # type: ignore[operator]
    previous.write_bytes(damaged if isinstance(damaged, bytes) else damaged.encode())
    capsys.readouterr()
    data = report.write([PYTHON])
    assert data["diff"] == {}
    err = capsys.readouterr().err
    assert f"report: warning: previous report {previous} not used, the diff is left out" in err
    assert "  why: " in err
    assert json.loads(previous.read_text())["suites"][0]["suite"] == PYTHON.id  # rewritten whole


def test_a_missing_previous_report_named_by_the_user_is_reported(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save(a_run(unit("test_a", Outcome.PASS)))
    report.write([PYTHON], previous=env / "nope.json")
    assert f"previous report {env / 'nope.json'} not used" in capsys.readouterr().err


def test_report_files_are_replaced_whole_or_not_at_all(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save(a_run(unit("test_a", Outcome.PASS)))
    report.write([PYTHON])
    out = env / "dist" / "report"
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert len(before) == 8  # json, md, index, page, junit, 3 assets

    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    save(a_run(unit("test_a", Outcome.FAIL), unit("test_b", Outcome.PASS)))
    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        report.write([PYTHON])
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # no file half-written, no temporary file left behind


def test_a_suite_that_is_no_recipe_id_writes_nothing(env: Path) -> None:
    target = testing.results_path(PYTHON)
    target.parent.mkdir(parents=True, exist_ok=True)
    empty = a_run().model_dump(mode="json")
    empty["suite"] = "../../../escaped"
    target.write_text(json.dumps(empty))
    with pytest.raises(results.HarnessError) as info:
        report.write([PYTHON])
    assert str(target) in info.value.what and "suite: String should match pattern" in info.value.why
    assert not list(env.rglob("escaped*"))


def test_a_results_file_of_another_recipe_is_refused(env: Path) -> None:
    other = a_run().model_copy(update={"suite": "php-8.2.32"})
    target = testing.results_path(PYTHON)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(results.to_json(other))
    with pytest.raises(results.HarnessError) as info:
        report.write([PYTHON])
    assert info.value.what == f"{target}: suite 'php-8.2.32' is not the recipe id '{PYTHON.id}'"
    assert not (env / "dist" / "report" / "php-8.2.32.html").exists()


NASTY = "boom \x1b[31mred\x1b[0m\x00 bell\x07 \x0b\x0c del\x7f \ufffe end"
CLEAN = "boom [31mred[0m bell  del\x7f  end"


def save_raw(run: SuiteRun, **replace: str) -> None:
    """Save ``run`` with placeholders replaced by raw JSON (lone surrogates cannot be dumped)."""
    text = results.to_json(run)
    for placeholder, raw in replace.items():
        text = text.replace(placeholder, raw)
    target = testing.results_path(PYTHON)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def test_control_characters_give_well_formed_junit_html_and_markdown(env: Path) -> None:
    cases = (CaseResult(id="t.fail\x01", outcome=Outcome.FAIL, message=NASTY),
             CaseResult(id="t.skip", outcome=Outcome.SKIP, message="skipped\x08 here"))
    save(a_run(unit("test_ctl\x02", Outcome.FAIL, cases), unit("test_crash", Outcome.CRASH, reason=NASTY),
               unit("test_skip", Outcome.SKIP, reason=NASTY)))
    report.write([PYTHON])
    out = env / "dist" / "report"
    root = ET.parse(out / "junit" / f"{PYTHON.id}.xml").getroot()  # well-formed, or this raises
    assert root.find(".//testcase[@name='t.fail']/failure").get("message") == CLEAN
    assert root.find(".//testsuite[@name='test_crash']/testcase/error").get("message") == CLEAN
    assert root.find(".//testcase[@name='t.skip']/skipped").get("message") == "skipped here"
    assert root.find("testsuite").get("name") == "test_ctl"
    for name in (f"{PYTHON.id}.html", "index.html", "report.md"):
        text = (out / name).read_text(encoding="utf-8")
        assert not any(c in text for c in "\x00\x01\x02\x07\x08\x0b\x0c\x1b\ufffe"), name
    assert f"| 1 | {CLEAN} |" in (out / "report.md").read_text()
    assert "boom [31mred[0m bell" in (out / f"{PYTHON.id}.html").read_text()


def test_lone_surrogates_from_a_results_file_are_dropped(env: Path) -> None:
    """JSON may spell a lone surrogate (``\\ud800``); it cannot be written as UTF-8."""
    cases = (CaseResult(id="t.fail", outcome=Outcome.FAIL, message="SURROGATE"),)
    save_raw(a_run(unit("test_a", Outcome.FAIL, cases), unit("test_skip", Outcome.SKIP, reason="SURROGATE")),
             SURROGATE="lone \\ud800 surrogate")
    report.write([PYTHON])
    out = env / "dist" / "report"
    root = ET.parse(out / "junit" / f"{PYTHON.id}.xml").getroot()
    assert root.find(".//testcase[@name='t.fail']/failure").get("message") == "lone  surrogate"
    assert "| 1 | lone  surrogate |" in (out / "report.md").read_text(encoding="utf-8")
    assert "lone  surrogate" in (out / f"{PYTHON.id}.html").read_text(encoding="utf-8")


def test_markdown_values_stay_on_their_line(env: Path) -> None:
    save(a_run(unit("test_a", Outcome.SKIP, reason="first line\nsecond | line\r\nthird"),
               unit("test_b", Outcome.FAIL, reason="x")))
    report.write([PYTHON])
    md = (env / "dist" / "report" / "report.md").read_text()
    assert "| 1 | first line second \\| line third |" in md


def test_xml_text_keeps_what_xml_allows() -> None:
    allowed = "tab\tnl\ncr\r ü € 𝄞 \ud7ff \ue000 \ufffd"
    assert report.xml_text(allowed) == allowed
    assert report.xml_text("".join(map(chr, range(32)))) == "\t\n\r"
    assert report.xml_text("a\ud800b\udfffc\ufffe\uffff") == "abc"
