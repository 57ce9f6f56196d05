"""What a ``toolchain.runner`` exit status and its diagnostic line mean for a test unit: the
runner defines the codes (:data:`toolchain.runner.EXIT_TRAP` …), this module reads them back
for the suite adapters."""

from __future__ import annotations

import re

from . import runner
from .errors import RunnerError
from .results import Outcome

_RUNNER_LINE = re.compile(rf"^{re.escape(runner.PROG)}: (?:(?P<module>[^:\s]+): )?(?P<msg>.+)$")


def runner_diagnostic(output: str) -> str | None:
    """The last line the wasm runner itself printed (a trap, a timeout, a load error), if any."""
    found = None
    for line in output.splitlines():
        match = _RUNNER_LINE.match(line.strip())
        # "wasiports run: warning: …" (the "warning" would otherwise pass for a module name)
        if match is None or match["module"] == "warning" or match["msg"].startswith("warning:"):
            continue
        found = match["msg"]
    return found


def exit_outcome(exit_code: int | None, output: str = "") -> tuple[Outcome, str]:
    """Outcome and reason for a ``toolchain.runner`` exit status (see its module docstring).

    A timeout is told by the runner's own ``timed out after …`` line, not by the status: a
    guest may ``exit(124)`` itself, and that is a failing exit status like any other.
    """
    diagnostic = runner_diagnostic(output)
    if exit_code is None:
        return Outcome.CRASH, "the process ended without an exit status"
    if exit_code == 0:
        return Outcome.PASS, ""
    if exit_code == runner.EXIT_TIMEOUT and diagnostic is not None:
        if diagnostic.startswith(runner.TIMEOUT_MESSAGE):
            return Outcome.TIMEOUT, diagnostic
    if exit_code == runner.EXIT_TRAP:
        return Outcome.CRASH, diagnostic or "the guest trapped"
    if exit_code == runner.EXIT_INTERRUPTED and diagnostic:
        return Outcome.ERROR, diagnostic
    if exit_code == RunnerError.exit_code and diagnostic:
        return Outcome.ERROR, diagnostic  # the runner could not load or start the module
    return Outcome.FAIL, f"exit status {exit_code}"


def trap_message(exit_code: int | None, output: str) -> str | None:
    """The wasm trap of a run that trapped (exit status 134), else ``None``."""
    if exit_code != runner.EXIT_TRAP:
        return None
    return runner_diagnostic(output) or "unknown trap"
