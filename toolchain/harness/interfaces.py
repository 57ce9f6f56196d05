"""The plug-in interfaces of the harness: what a language's :class:`Adapter` provides, what an
:class:`Executor` does, and the values between them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..errors import HarnessError
from ..results import CaseResult, Outcome


@dataclass(frozen=True, kw_only=True)
class UnitCommand:
    """How to run one unit on the host."""

    argv: tuple[str, ...]
    timeout: float
    """The unit's own time budget in seconds (the executor adds a grace before killing)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Changes to the harness's environment for the host process (not the guest's)."""
    cwd: Path | None = None

    def __post_init__(self) -> None:
        if not self.argv:
            raise HarnessError("a unit command needs a program to run")
        if self.timeout <= 0:
            raise HarnessError(f"unit timeout must be positive, not {self.timeout!r}")
        object.__setattr__(self, "argv", tuple(os.fspath(a) for a in self.argv))


@dataclass(frozen=True, kw_only=True)
class Completed:
    """How a unit's process ended."""

    exit_code: int | None
    """Its exit status; ``None`` when it had none (killed by a signal)."""
    output: str
    """stdout and stderr (interleaved by :class:`ProcessExecutor`)."""
    duration: float
    timed_out: bool = False
    """The executor killed it for running past ``timeout`` + grace."""
    signal: int | None = None
    """The signal that ended it, if one did."""
    pid: int | None = None
    """The host process id (also its process group id), if it was a process."""
    note: str = ""
    """What the executor did or saw, e.g. ``killed after 32 s (timeout 2 s + 30 s grace)``."""
    output_cut: int = 0
    """Bytes of output the executor dropped to stay within its cap (see :mod:`toolchain.capture`)."""


@dataclass(frozen=True)
class Parsed:
    """What an adapter reads from a unit's output. The harness makes the unit's result of it,
    adding what it owns: suite, unit, duration, exit status, the trap line, attempts, flakiness
    and the output's tail; and it overrides the outcome with ``timeout``/``crash`` when the
    executor killed the process or it died of a signal (the cases parsed so far are kept)."""

    outcome: Outcome
    reason: str = ""
    cases: tuple[CaseResult, ...] = ()


class Adapter(Protocol):
    """A language's test suite, seen as a list of independent units."""

    uses_launcher: bool
    """Its units start the packaged launcher (per test): the run gets a runner server, so a
    launch is a fork of a process that has wasmtime loaded (:mod:`toolchain.runner_server`)."""

    @property
    def suite(self) -> str:
        """The suite's name, the recipe id (``python-3.13.5``)."""
        ...

    def list_units(self) -> list[str]:
        """Every unit id of the suite (any order; the harness sorts)."""
        ...

    def command(self, unit: str, scratch: Path) -> UnitCommand:
        """The command for ``unit``. ``scratch`` is a fresh, empty directory of this attempt, the
        adapter's to use as it needs (see "Scratch directories" in :mod:`toolchain.harness`)."""
        ...

    def parse(self, unit: str, scratch: Path, completed: Completed) -> Parsed:
        """Read the unit's output: its outcome, why, and its cases (see :class:`Parsed`)."""
        ...


class Executor(Protocol):
    """Runs unit commands; must be safe to call from several threads at once."""

    def execute(self, command: UnitCommand, scratch: Path) -> Completed:
        """Run ``command`` to its end (or kill it); :class:`HarnessError` if it cannot start."""
        ...

    def cancel(self) -> None:
        """Kill everything running now (the harness was interrupted); later calls may fail."""
        ...
