"""The report: pages, JSON, Markdown, JUnit, and the diff against a previous report.json."""

from __future__ import annotations

import json
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
    assert f"| {PYTHON.id} | 1 regression(s) | 3 | 1 | 1 | 0 | 1 | 0 | 4 | 66.67 % |" in md
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
