"""harness.exit_outcome with the runner's real output: a timeout is told by the runner's own
line, never by the bare status (a guest may exit 124 itself)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_runner import exit_module, loop_module
from tests.unit.test_runner import private_cache  # noqa: F401 - the autouse fixture
from toolchain import harness, runner_cli
from toolchain.results import Outcome


def test_a_guest_exiting_124_fails_and_is_no_timeout(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    status = runner_cli.main(["run", str(exit_module(tmp_path, 124))])
    err = capfd.readouterr().err
    assert (status, err) == (124, "")
    assert harness.exit_outcome(status, err) == (Outcome.FAIL, "exit status 124")


def test_the_runner_timeout_line_makes_a_timeout(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    status = runner_cli.main(["run", "--timeout", "0.2", str(loop_module(tmp_path))])
    err = capfd.readouterr().err
    assert harness.exit_outcome(status, "guest output\n" + err) == (
        Outcome.TIMEOUT, "timed out after 0.2 s",
    )  # fmt: skip
    abandoned = "wasiports run: t.wasm: timed out after 2 s (guest blocked in a host call; abandoned)\n"
    assert harness.exit_outcome(124, abandoned)[0] == Outcome.TIMEOUT
    assert harness.exit_outcome(124, "wasiports run: t.wasm: wasm trap: x\n")[0] == Outcome.FAIL


def test_exit_256_is_0_as_posix_truncates(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # WASI statuses are 32-bit; like a wait status, only the low byte survives (runner docstring)
    status = runner_cli.main(["run", str(exit_module(tmp_path, 256))])
    assert (status, capfd.readouterr().err) == (0, "")
    assert harness.exit_outcome(status) == (Outcome.PASS, "")


def test_runner_warnings_are_not_diagnostics() -> None:
    warning = "wasiports run: warning: module cache entry /c/x.cwasm is unusable (…); deleted, recompiling\n"
    assert harness.runner_diagnostic(warning) is None
    assert harness.runner_diagnostic("wasiports run: warning: ignoring --wasm k=1\n") is None
    # a guest's own status 8 after a cache warning is the guest's failure, not a load error
    assert harness.exit_outcome(8, warning) == (Outcome.FAIL, "exit status 8")
    assert harness.exit_outcome(124, warning) == (Outcome.FAIL, "exit status 124")
    trap = "wasiports run: t.wasm: wasm trap: wasm `unreachable` instruction executed\n"
    assert harness.trap_message(134, warning + trap) == "wasm trap: wasm `unreachable` instruction executed"
