"""Test support for the harness: an executor that runs runner commands on a thread of the test
process (for unit tests, which may not start processes), and a generic adapter whose units are
WASI command modules (unit and integration tests subclass it)."""

from __future__ import annotations

import dataclasses
import shlex
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from toolchain import runner, runner_cli
from toolchain.capture import read_guest_file
from toolchain.errors import HarnessError, RunnerError
from toolchain.harness import Completed, Parsed, UnitCommand
from toolchain.runner_outcome import exit_outcome

MAX_OUTPUT_CHARS = 32 * 1024 * 1024
"""Bytes read at most from an output file of :class:`InProcessExecutor`."""


def _read_output(path: Path) -> str:
    """A file the runner wrote for :class:`InProcessExecutor` (no symlink followed; bounded)."""
    data = read_guest_file(path, MAX_OUTPUT_CHARS) or b""
    return data.decode("utf-8", errors="replace")


class InProcessExecutor:
    """Runs ``… -m toolchain.runner run ARGS…`` commands with :func:`toolchain.runner.run` on a
    thread of this process (for tests that may not start processes).

    Only the runner arguments are used: ``UnitCommand.env`` and ``cwd`` (host-process settings)
    are ignored. The guest's stdout and stderr go to two files in ``scratch``; ``output`` is
    stdout followed by stderr and the runner's own trap/timeout line, as the command line prints.
    """

    def execute(self, command: UnitCommand, scratch: Path) -> Completed:
        argv = list(command.argv)
        if "toolchain.runner" not in argv:
            raise HarnessError(
                f"InProcessExecutor runs toolchain.runner commands, not {shlex.join(argv)}"
            )
        args = argv[argv.index("toolchain.runner") + 1 :]
        if args[:1] != ["run"]:
            raise HarnessError(f"expected 'toolchain.runner run …', got {shlex.join(argv)}")
        began = time.monotonic()
        try:
            spec = runner_cli.parse_args(args[1:])
        except (runner_cli.UsageError, RunnerError) as e:
            raise HarnessError(f"bad runner command {shlex.join(argv)}", why=str(e)) from e
        out, err = scratch / "stdout.log", scratch / "stderr.log"
        spec = _replace_stdio(spec, out, err)
        try:
            result = runner.run(spec)
            exit_code, diagnostic = result.exit_code, result.trap
        except RunnerError as e:
            exit_code, diagnostic = RunnerError.exit_code, e.render()
        output = _read_output(out) + _read_output(err)
        if diagnostic is not None:
            output += f"{runner.PROG}: {spec.module.name}: {diagnostic}\n"
        return Completed(
            exit_code=exit_code, output=output, duration=time.monotonic() - began
        )

    def cancel(self) -> None:
        """Nothing to kill: in-process guests stop at their runner timeout."""


def _replace_stdio(spec: runner.RunSpec, stdout: Path, stderr: Path) -> runner.RunSpec:
    return dataclasses.replace(spec, stdout=stdout, stderr=stderr)


class WasmCommandAdapter:
    """A suite whose units are WASI command modules (named by file name); exit 0 passes.

    Each unit runs as ``python -m toolchain.runner run --timeout T --dir SCRATCH::/tmp
    [runner_options] MODULE``. Useful on its own for suites of small test programs.
    """

    uses_launcher = False

    def __init__(
        self,
        suite: str,
        modules: Iterable[Path],
        *,
        timeout: float = 60.0,
        runner_options: Sequence[str] = (),
        python: str = sys.executable,
    ) -> None:
        self._suite = suite
        self.timeout = timeout
        self.runner_options = tuple(runner_options)
        self.python = python
        self.modules: dict[str, Path] = {}
        for module in modules:
            if module.name in self.modules:
                raise HarnessError(
                    f"two modules named {module.name}: {self.modules[module.name]} and {module}",
                    hint="unit ids are file names and must be unique",
                )
            self.modules[module.name] = module

    @property
    def suite(self) -> str:
        return self._suite

    def list_units(self) -> list[str]:
        return sorted(self.modules)

    def command(self, unit: str, scratch: Path) -> UnitCommand:
        argv = (
            self.python, "-m", "toolchain.runner", "run",
            "--timeout", f"{self.timeout:g}", "--dir", f"{scratch}::/tmp",
            *self.runner_options, str(self.modules[unit]),
        )  # fmt: skip
        return UnitCommand(argv=argv, timeout=self.timeout)

    def parse(self, unit: str, scratch: Path, completed: Completed) -> Parsed:
        outcome, reason = exit_outcome(completed.exit_code, completed.output)
        return Parsed(outcome=outcome, reason=reason)
