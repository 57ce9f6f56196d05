"""The report's front page and report.md tell the whole story at a glance: the unit columns add
up to the units (expected failures and fixed ones included), regressions and flaky units are
counted, and each artifact's module and tarball sizes, SDK and runner are shown."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from toolchain import build, expectations, paths, recipe, report, results, testing
from toolchain.expectations import Expectation, Expectations
from toolchain.results import Outcome, SuiteRun, UnitResult

from tests.unit.test_report import env as report_env  # noqa: F401 (a fixture)

PHP = recipe.load(paths.RECIPES / "php" / "8.2.32.toml")


def unit(name: str, outcome: Outcome, *, flaky: bool = False) -> UnitResult:
    return UnitResult(suite=PHP.id, unit=name, outcome=outcome, duration=1.0, exit_code=0,
                      flaky=flaky, attempts=2 if flaky else 1)


@pytest.fixture
def env(report_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811 (the fixture)
    """test_report's build/, dist/ and report assets, a PHP run with every outcome and
    expectations for two of its units."""
    known = Expectations((
        Expectation(unit="ext/known", outcome="fail", reason="no processes"),
        Expectation(unit="ext/fixed", outcome="fail", reason="was broken"),
    ), "fixture")
    monkeypatch.setattr(expectations, "for_recipe", lambda r: known)
    now = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
    run = SuiteRun(suite=PHP.id, started=now, finished=now, host=results.host_info(), units=(
        unit("ext/ok", Outcome.PASS), unit("ext/flaky", Outcome.PASS, flaky=True),
        unit("ext/known", Outcome.FAIL), unit("ext/fixed", Outcome.PASS),
        unit("ext/new", Outcome.ERROR), unit("ext/skip", Outcome.SKIP),
        unit("ext/trap", Outcome.CRASH)))
    testing.results_path(PHP).parent.mkdir(parents=True)
    testing.results_path(PHP).write_text(results.to_json(run))
    return report_env


def package(dist: Path) -> None:
    final = dist / f"{PHP.id}-wasi"
    final.mkdir(parents=True)
    manifest = {"files": [{"path": "php.wasm", "size": 12_345_678, "sha256": "0" * 64,
                           "debug": {"module": "php.debug.wasm", "debug_bytes": 34_567_890}},
                          {"path": "php", "size": 100, "sha256": "0" * 64}],
                "sdk": {"origin": "wasi-sdk release", "clang_version": "19.1.5", "release": "25.0"},
                "runner": {"wasmtime-py": "50.0.1"}}
    (final / "manifest.json").write_text(json.dumps(manifest))
    (dist / f"{PHP.id}-wasi.tar.gz").write_bytes(b"x" * 4321)


def test_the_columns_add_up_in_report_json(env: Path) -> None:
    suite = report.write([PHP])["suites"][0]
    assert suite["unit_columns"] == {"passed": 2, "fixed": 1, "failed": 1, "expected failures": 1,
                                     "skipped": 1, "crashed/timed out": 1}
    assert sum(suite["unit_columns"].values()) == suite["total_units"] == 7
    assert len(suite["regressions"]) == 2 and suite["flaky"] == ["ext/flaky"]


def test_the_columns_add_up_on_the_front_page(env: Path) -> None:
    report.write([PHP])
    page = (env / "dist" / "report" / "index.html").read_text()
    row = page[page.index(f'<a href="{PHP.id}.html">'):]
    row = row[:row.index("</tr>")]
    columns = {name: int(n) for name, n in re.findall(r'data-column="([^"]+)">(\d+)<', row)}
    total = int(re.findall(r'<td class="num">(\d+)</td>', row)[0])
    assert set(columns) == set(report.UNIT_COLUMNS)
    assert sum(columns.values()) == total == 7
    assert columns["expected failures"] == 1 and columns["fixed"] == 1
    assert "<th class=\"num\">expected failures</th>" in page and ">flaky<" in page


def test_the_columns_add_up_in_report_md(env: Path) -> None:
    report.write([PHP])
    md = (env / "dist" / "report" / "report.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| interpreter | verdict |"))
    row = next(line for line in md.splitlines() if line.startswith(f"| {PHP.id} |"))
    names = [c.strip() for c in header.strip("|").split("|")]
    cells = dict(zip(names, (c.strip() for c in row.strip("|").split("|"))))
    assert sum(int(cells[name]) for name in report.UNIT_COLUMNS) == int(cells["units"]) == 7
    assert cells["regressions"] == "2" and cells["flaky"] == "1"


def test_artifact_sizes_sdk_and_runner(env: Path) -> None:
    package(env / "dist")
    suite = report.write([PHP])["suites"][0]
    assert suite["artifact"] == {"packaged": True, "modules": {"php.wasm": 12_345_678},
                                 "debug": {"php.wasm": 34_567_890}, "tarball_bytes": 4321, "sdk": "wasi-sdk 25.0 (clang 19.1.5)",
                                 "built_with_runner": "wasmtime-py 50.0.1"}
    page = (env / "dist" / "report" / "index.html").read_text()
    assert "php.wasm 12,345,678 B (debug companion 34,567,890 B)" in page and "4,321 B" in page
    assert "wasi-sdk 25.0 (clang 19.1.5)" in page and suite["runner"] in page
    md = (env / "dist" / "report" / "report.md").read_text()
    assert f"| {PHP.id} | php.wasm 12,345,678 B (debug companion 34,567,890 B) | 4,321 B | wasi-sdk 25.0 (clang 19.1.5) |" in md


def test_an_artifact_packaged_elsewhere_is_said_so(env: Path) -> None:
    suite = report.write([PHP])["suites"][0]
    assert not suite["artifact"]["packaged"] and build.dist_dir(PHP).exists() is False
    assert "not packaged on the machine that rendered this report" in \
        (env / "dist" / "report" / "index.html").read_text()
