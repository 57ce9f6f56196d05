"""The one subprocess wrapper: print the exact command, tee its output to a log, fail clearly."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import CommandError

TAIL_LINES = 40


def _verbose() -> bool:
    return os.environ.get("WASIPORTS_VERBOSE", "") not in ("", "0")


def describe(argv: Sequence[str | os.PathLike[str]]) -> str:
    return shlex.join(os.fspath(a) for a in argv)


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    capture: bool = False,
) -> str:
    """Run ``argv``; return its output if ``capture``.

    ``env`` holds only the *changes* to the current environment; they are printed. Output goes to
    ``log`` (appended, one file per recipe) and, with ``WASIPORTS_VERBOSE=1``, to the console too.
    On failure the last lines are printed and :class:`CommandError` names command, cwd and log;
    its ``output`` holds the last lines, or all of the output with ``capture``.
    """
    line = _announce(argv, cwd, env or {})
    full_env = {**os.environ, **(env or {})}
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    captured: list[str] = []
    log_file = None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log_file = log.open("a", encoding="utf-8", errors="replace")
        log_file.write(f"\n{line}\n" + (f"  (in {cwd})\n" if cwd else ""))
    try:
        proc = subprocess.Popen(
            [os.fspath(a) for a in argv],
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise CommandError(
            f"could not start {describe(argv)}",
            why=str(exc),
            hint="install the missing program (the sdk task installs the toolchain)",
        ) from exc
    assert proc.stdout is not None
    with proc:
        for text in proc.stdout:
            tail.append(text)
            if capture:
                captured.append(text)
            if log_file is not None:
                log_file.write(text)
            if _verbose() or (log_file is None and not capture):
                sys.stdout.write(text)
    if log_file is not None:
        log_file.close()
    if proc.returncode != 0:
        sys.stdout.write("".join(tail))
        error = _failed(argv, proc.returncode, cwd, log)
        error.output = "".join(captured if capture else tail)  # captured: all of it
        raise error
    return "".join(captured)


def _announce(argv: Sequence[str | os.PathLike[str]], cwd: Path | None,
              env: Mapping[str, str]) -> str:
    """Print the exact command, its directory and the environment changes; return its line."""
    line = f"+ {describe(argv)}"
    print(line, flush=True)
    if cwd is not None:
        print(f"  (in {cwd})", flush=True)
    for key in sorted(env):
        print(f"  {key}={env[key]}", flush=True)
    return line


def _failed(argv: Sequence[str | os.PathLike[str]], status: int, cwd: Path | None,
            log: Path | None) -> CommandError:
    where = f" (full log: {log})" if log else ""
    return CommandError(
        f"command failed with exit status {status}: {describe(argv)}",
        why=f"run in {cwd or os.getcwd()}{where}; its last lines are printed above",
        hint="fix the cause shown in the log, then rerun the same doit task",
    )
