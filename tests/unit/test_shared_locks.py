"""The locks on what is shared: doit's beside .doit.db, the SDK's in the shared cache.

The other process is played by a second open file description of the same lock file (flock
treats it as another holder), so these tests start no process."""

from __future__ import annotations

import fcntl
import importlib.util
import os
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import IO

import pytest

from toolchain import locks, paths, sdk

DODO = paths.ROOT / "dodo.py"


def _hold(path: Path) -> IO[str]:
    """Lock ``path`` as another process would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "a+")
    fcntl.flock(f, fcntl.LOCK_EX)
    return f


def _load_dodo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dodo_under_test", DODO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout root whose lock is ours to take, with the build directory elsewhere."""
    root = tmp_path / "checkout"
    root.mkdir()
    monkeypatch.setattr(paths, "ROOT", root)
    monkeypatch.setattr(paths, "BUILD", tmp_path / "elsewhere" / "build")
    return root


def test_doit_lock_is_beside_doit_state_whatever_the_build_dir(checkout: Path) -> None:
    holder = _hold(checkout / ".doit.lock")  # a doit run with another WASIPORTS_BUILD_DIR
    try:
        with pytest.raises(SystemExit) as info:
            _load_dodo()
    finally:
        holder.close()
    assert "another doit is running in this checkout (.doit.lock)" in str(info.value.code)

    module = _load_dodo()  # free now: dodo takes it and keeps it
    try:
        from toolchain import locks
        from toolchain.errors import LockBusyError

        assert (checkout / ".doit.lock").read_text() == f"{os.getpid()}\n"
        assert not (paths.BUILD / ".doit.lock").exists()
        with pytest.raises(LockBusyError):
            locks.checkout(wait=False)  # what `wasiports test`/`report` take
    finally:
        module._LOCK.release()


def test_doit_lock_file_is_ignored_by_git() -> None:
    assert "/.doit.lock" in (paths.ROOT / ".gitignore").read_text().splitlines()


def test_sdk_assembly_waits_for_another_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WASIPORTS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("WASI_SDK_PATH", raising=False)
    monkeypatch.setattr(sdk, "load_data", lambda: None)
    started: list[float] = []

    def from_release(data: object, log: object) -> sdk.SdkInfo:
        started.append(time.monotonic())
        return sdk.SdkInfo(tmp_path / "cache" / "sdk" / "wasi-sdk", "wasi-sdk release", "19.1.0")

    monkeypatch.setattr(sdk, "from_release", from_release)
    holder = _hold(tmp_path / "cache" / "sdk" / ".lock")  # another checkout assembling it
    worker = threading.Thread(target=sdk.provision, daemon=True)
    try:
        worker.start()
        time.sleep(0.3)
        assert started == []  # waits for the other checkout
    finally:
        released = time.monotonic()
        holder.close()
    worker.join(timeout=5)
    assert started and started[0] >= released


def test_wasiports_test_and_report_refuse_to_run_beside_doit(capsys: pytest.CaptureFixture[str]) -> None:
    from toolchain import __main__ as cli
    from toolchain.errors import LockBusyError

    with locks.checkout(wait=False):  # what a running doit holds
        for command in (["test", "python-3.13.5", "--units", "test_os"], ["report"]):
            assert cli.main(command) == LockBusyError.exit_code
            assert ".doit.lock" in capsys.readouterr().err


def test_install_follows_the_patch_series(checkout: Path) -> None:
    """A patch that touches only files make does not compile (CPython's Lib/*.py) leaves the
    product byte-identical: install must still run again, so it depends on the patched stamp."""
    from toolchain import build, recipe

    recipes = recipe.discover()
    assert len(recipes) > 5
    module = _load_dodo()
    try:
        installs = {task["name"]: task for task in module.task_install()}
        for r in recipes:
            assert build.patched_stamp(r) in installs[r.id]["file_dep"], r.id
    finally:
        module._LOCK.release()
