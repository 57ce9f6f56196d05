"""The wheel: built from the sources, installed NON-editable into a fresh virtualenv, its commands
run from outside the checkout. A missing subpackage (``toolchain.suites``) or package data file (the
report's templates) shows up here and nowhere else: the checkout's own virtualenv is editable.

Offline: the wheel is built with the setuptools already installed (``--no-build-isolation``), and
the fresh virtualenv gets the dependencies from the running interpreter's site-packages through a
``.pth`` file (a path line only: ``.pth`` files of that directory, such as the checkout's editable
install, are not processed), so nothing is downloaded; ``wheel`` (the test extra) lets the
installed setuptools build wheels. Measured: 12-17 s on 2 cores while a build ran (wheel and
venv 6-7 s, then 1-2 s per command).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest
import wasmtime

from toolchain import paths, report, results

pytestmark = pytest.mark.integration

WASI = "wasi_snapshot_preview1"
HELLO = f"""(module
  (import "{WASI}" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "{WASI}" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from wasm\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 16))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $exit (i32.const 7))))"""
RECIPE = """schema = 1
kind = "library"
name = "demo"
version = "1.0"
summary = "a recipe that only the report reads"
license = "MIT"
homepage = "https://example.invalid/"
depends = []

[source]
archive = "demo-1.0.tar.gz"
sha256 = "{zeros}"
provenance = "none: this recipe is never built"
urls = ["https://example.invalid/demo-1.0.tar.gz"]

[sdk]
min_clang = 18

[build]
host = "wasm32-wasip1"
product = "libdemo.a"

[test]
suite = "cpython-regrtest"
""".format(zeros="0" * 64)


def sh(argv: list[str | Path], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300, **kw)  # type: ignore[call-overload]


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}: {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed; returns its directory."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # a copy: building in the checkout would write build/ and *.egg-info there
    src.mkdir()
    shutil.copy2(paths.ROOT / "pyproject.toml", src)
    shutil.copytree(paths.ROOT / "toolchain", src / "toolchain",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    ok(sh([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
           "-w", tmp / "wheels", src]))
    (wheel,) = (tmp / "wheels").glob("wasiports-*.whl")
    venv = tmp / "venv"
    ok(sh([sys.executable, "-m", "venv", "--without-pip", venv]))
    python = venv / "bin" / "python"
    purelib = Path(ok(sh([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])).strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (purelib / "wasiports-test-deps.pth").write_text("".join(f"{d}\n" for d in sorted(deps)))
    ok(sh([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
           "--no-compile", wheel]))
    return venv


@pytest.fixture
def outside(tmp_path: Path, installed: Path) -> tuple[Path, dict[str, str]]:
    """A working directory outside the checkout and an environment with only the fresh venv."""
    work = tmp_path / "work"
    work.mkdir()
    env = {"PATH": f"{installed / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path / "home"),
           "LANG": "C.UTF-8", "WASIPORTS_CACHE": str(tmp_path / "cache"),
           "WASIPORTS_BUILD_DIR": str(tmp_path / "build"), "WASIPORTS_DIST_DIR": str(tmp_path / "dist"),
           "WASIPORTS_SERVER": "off"}
    return work, env


def a_shard(suite: str, shard: str, unit: str, outcome: str) -> dict[str, object]:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    run = results.SuiteRun(suite=suite, started=now, finished=now, host=results.host_info(), shard=shard,
                           units=(results.UnitResult(suite=suite, unit=unit, outcome=results.Outcome(outcome),
                                                     duration=0.5, exit_code=0 if outcome == "pass" else 1),))
    document = json.loads(results.to_json(run))
    jsonschema.validate(document, json.loads(results.SCHEMA_FILE.read_text()))
    return document


def test_the_installed_package_is_complete(outside: tuple[Path, dict[str, str]], installed: Path) -> None:
    work, env = outside
    probe = ("import toolchain, toolchain.suites, toolchain.report as r; print(toolchain.__file__); "
             "print(' '.join(sorted(p.name for p in r.TEMPLATES.glob('*.j2'))))")
    where, templates = ok(sh([installed / "bin" / "python", "-c", probe], cwd=work, env=env)).splitlines()
    assert Path(where).is_relative_to(installed), where  # the wheel's copy, not the checkout
    assert templates == "base.html.j2 index.html.j2 report.md.j2 suite.html.j2"
    assert "--shard" in ok(sh(["wasiports", "test", "--help"], cwd=work, env=env))


def test_run_a_wat_module(outside: tuple[Path, dict[str, str]]) -> None:
    work, env = outside
    (work / "hello.wasm").write_bytes(wasmtime.wat2wasm(HELLO))
    result = sh(["wasiports", "run", "hello.wasm"], cwd=work, env=env)
    assert (result.returncode, result.stdout) == (7, "hello from wasm\n"), result.stderr


def test_the_installed_package_serves_launches(outside: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    # `wasiports run` starts the user's runner server from the wheel (its client is the wheel's
    # runner_client.py); `wasiports server` reports and stops it.
    from toolchain import runner_server

    work, env = outside
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    env = {**env, "XDG_RUNTIME_DIR": str(run)}
    del env["WASIPORTS_SERVER"]
    (work / "hello.wasm").write_bytes(wasmtime.wat2wasm(HELLO))
    try:
        result = sh(["wasiports", "run", "hello.wasm"], cwd=work, env=env)
        assert (result.returncode, result.stdout) == (7, "hello from wasm\n"), result.stderr
        sock = runner_server.user_dir(env) / runner_server.SOCKET_NAME
        deadline = time.monotonic() + 120
        while not runner_server.answers(sock):
            assert time.monotonic() < deadline, "no runner server after `wasiports run`"
            time.sleep(0.1)
        client = runner_server.user_dir(env) / runner_server.CLIENT_NAME
        served = sh([client, sock, "hello.wasm"], cwd=work, env=env)
        assert (served.returncode, served.stdout) == (7, "hello from wasm\n"), served.stderr
        assert "runner server: pid" in ok(sh(["wasiports", "server", "status"], cwd=work, env=env))
    finally:
        stopped = sh(["wasiports", "server", "stop"], cwd=work, env=env)
    assert stopped.returncode == 0 and "stopped pid" in stopped.stdout, stopped.stderr
    assert sh(["wasiports", "server", "status"], cwd=work, env=env).returncode == 1


def test_merge_shards(outside: tuple[Path, dict[str, str]]) -> None:
    work, env = outside
    for i, (unit, outcome) in enumerate([("test_a", "pass"), ("test_b", "fail")], start=1):
        (work / f"shard{i}.json").write_text(json.dumps(a_shard("demo-1.0", f"{i}/2", unit, outcome)))
    out = ok(sh(["wasiports", "merge", "--out", "merged.json", "shard1.json", "shard2.json"], cwd=work, env=env))
    assert "merge: 2 units from 2 file(s)" in out
    merged = json.loads((work / "merged.json").read_text())
    jsonschema.validate(merged, json.loads(results.SCHEMA_FILE.read_text()))
    assert merged["shard"] is None and [u["unit"] for u in merged["units"]] == ["test_a", "test_b"]


def test_report_outside_a_checkout(outside: tuple[Path, dict[str, str]], tmp_path: Path, installed: Path) -> None:
    """The command itself says that it needs a checkout's recipes; pointed at a recipes folder (the
    one thing a checkout adds), the installed package renders every report file."""
    work, env = outside
    result = sh(["wasiports", "report"], cwd=work, env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "error: no recipes with a test suite under" in result.stderr

    recipes, modules = tmp_path / "recipes", tmp_path / "node_modules"
    (recipes / "demo").mkdir(parents=True)
    (recipes / "demo" / "1.0.toml").write_text(RECIPE)
    for source in report.ASSETS:
        (modules / source).parent.mkdir(parents=True, exist_ok=True)
        (modules / source).write_text(f"/* {source} */")
    results_file = tmp_path / "build" / "demo-1.0" / "test" / "results.json"
    results_file.parent.mkdir(parents=True)
    run = a_shard("demo-1.0", "1/1", "test_a", "fail") | {"shard": None}
    results_file.write_text(json.dumps(run))
    driver = work / "report_here.py"
    driver.write_text(textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from toolchain import __main__, paths, report
        paths.RECIPES = Path({str(recipes)!r})
        report.NODE_MODULES = Path({str(modules)!r})
        sys.exit(__main__.main(["report"]))
    """))
    ok(sh([installed / "bin" / "python", driver], cwd=work, env=env))
    out = tmp_path / "dist" / "report"
    assert "1 regression(s)" in (out / "demo-1.0.html").read_text()
    assert "| demo-1.0 | 1 regression(s) |" in (out / "report.md").read_text()
    assert ET.parse(out / "junit" / "demo-1.0.xml").getroot().find(".//failure") is not None
    assert json.loads((out / "report.json").read_text())["suites"][0]["suite"] == "demo-1.0"
    assert os.path.isfile(out / "index.html")
