"""A handful of real CPython test files through the harness, into a report, seen in a browser."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from toolchain import paths, recipe, report, results

from .conftest import PYTHON_ID

UNITS = ["test_bisect", "test_socket", "test_json", "test_importlib"]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def run_file(python_built: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("suite") / "results.json"
    proc = subprocess.run([sys.executable, "-m", "toolchain", "test", PYTHON_ID, "--units", *UNITS,
                           "--out", str(out)], capture_output=True, text=True, cwd=paths.ROOT)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return out


def test_real_units_have_cases_and_reasons(run_file: Path) -> None:
    run = results.load(run_file)
    by_unit = {u.unit: u for u in run.units}
    assert by_unit["test_bisect"].outcome == "pass" and len(by_unit["test_bisect"].cases) >= 40
    assert by_unit["test_socket"].outcome == "skip"
    assert by_unit["test_socket"].reason == "requires socket support"
    # ".." out of /tmp stays inside the per-unit root the harness maps (the probe's one failure).
    assert by_unit["test_importlib"].outcome == "pass", by_unit["test_importlib"].log_tail
    assert run.summary.total_cases > 500


def test_report_renders_in_a_real_browser(run_file: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is installed by scripts/setup"
    monkeypatch.setattr(report, "results_path", lambda r: run_file)
    python = next(r for r in recipe.discover() if r.id == PYTHON_ID)
    report.write([python], dest=tmp_path)
    page = tmp_path / f"{PYTHON_ID}.html"
    dom = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert 'data-ready="yes"' in dom, "the page's scripts did not finish"
    assert "datatable-input" in dom, "the units table was not made sortable/filterable"
    assert "test_bisect" in dom and "requires socket support" in dom
    shot = paths.BUILD / "report-screenshot.png"
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile2'}",
                    "--window-size=1280,1600", "--virtual-time-budget=5000",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 10_000
