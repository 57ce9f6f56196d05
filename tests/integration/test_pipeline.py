"""The real pipeline: CPython 3.13.5 built for wasm32-wasi, packaged, run through the launcher.

On a cold machine this builds everything (about ten minutes on 2 cores); with build/ and the cache
up to date it takes seconds."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from toolchain import paths

from .conftest import doit

ID = "python-3.13.5"
ARTIFACT = paths.DIST / f"{ID}-wasi"
LAUNCHER = ARTIFACT / "python"


def python(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LAUNCHER), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


@pytest.fixture(scope="module")
def built(python_built: None) -> None:
    return None


def test_launcher_reports_the_version(built: None) -> None:
    out = python("-c", "import sys, platform; print(sys.version); print(sys.platform)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("3.13.5 ")
    assert "wasi" in out.stdout


def test_stdlib_modules_work(built: None) -> None:
    code = ("import json, decimal, hashlib, re, datetime, pathlib, zipfile, io, unittest;"
            "print(json.dumps([str(decimal.Decimal(2).sqrt())[:6], hashlib.md5(b'').hexdigest()]))")
    out = python("-c", code)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ["1.4142", "d41d8cd98f00b204e9800998ecf8427e"]


def test_exit_status_propagates(built: None) -> None:
    assert python("-c", "raise SystemExit(3)").returncode == 3
    failing = python("-c", "1/0")
    assert failing.returncode == 1 and "ZeroDivisionError" in failing.stderr


def test_host_is_invisible_except_the_working_directory(built: None, tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("granted\n")
    script = tmp_path / "probe.py"
    script.write_text(
        "import os\n"
        "print(open('data.txt').read().strip())\n"
        f"print(open({str(tmp_path / 'data.txt')!r}).read().strip())\n"
        "print(os.path.exists('/etc/passwd'), os.path.exists('/root'))\n"
        "print(sorted(k for k in os.environ if k not in ('PWD',)))\n"
    )
    out = python("probe.py", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == lines[1] == "granted"
    assert lines[2] == "False False"
    assert "HOME" not in lines[3] and "PATH" not in lines[3]


def test_manifest_records_origins_and_files(built: None) -> None:
    manifest = json.loads((ARTIFACT / "manifest.json").read_text())
    assert manifest["source"]["sha256"] == "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640"
    assert manifest["source"]["origin"] in ("upstream", "mirror", "debian", "cache")
    assert manifest["sdk"]["origin"] in ("WASI_SDK_PATH", "wasi-sdk release", "debian")
    module = next(f for f in manifest["files"] if f["path"] == "python.wasm")
    assert module["size"] == (ARTIFACT / "python.wasm").stat().st_size


def test_second_run_does_nothing(built: None) -> None:
    result = doit(f"smoke:{ID}")  # the fixture ran it once; everything it needs is up to date
    assert result.returncode == 0, result.stdout[-3000:]
    ran = [line for line in result.stdout.splitlines() if line.startswith(".  ")]
    assert ran == [], f"tasks ran again: {ran}"
