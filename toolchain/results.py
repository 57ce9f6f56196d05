"""The normalized result of a test-suite run, whatever the language: one JSON file per run.

A :class:`SuiteRun` holds one :class:`UnitResult` per unit (a test file or module, run as one
wasm process), each with the :class:`CaseResult` list the adapter could parse from its output.
The format is versioned (:data:`SCHEMA_VERSION`); ``schemas/results-1.schema.json`` is generated
from these models (``python -m toolchain.results --write-schema``) and a unit test keeps the
committed file in step with them.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import socket
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    computed_field,
    field_validator,
    model_validator,
)

from . import paths
from .errors import HarnessError

SCHEMA_VERSION = 1
SCHEMA_FILE = paths.ROOT / "schemas" / f"results-{SCHEMA_VERSION}.schema.json"
LOG_TAIL_CHARS = 4096
"""The most of a unit's output kept in :attr:`UnitResult.log_tail` (its end, cut at a line)."""
SHARD_PATTERN = r"^[1-9][0-9]*(,[1-9][0-9]*)*/[1-9][0-9]*$"
SUITE_PATTERN = r"^[a-z0-9][a-z0-9.+_-]*$"
"""A suite is a recipe id (``python-3.13.5``): the report names its files after it, so no ``/``,
no ``..`` and no leading dot (recipe.SLUG allows the same names)."""


class Outcome(StrEnum):
    """How a unit or case ended. ``xfail``/``xpass``: expected to fail, and it did / did not."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    SKIP = "skip"
    XFAIL = "xfail"
    XPASS = "xpass"
    TIMEOUT = "timeout"
    CRASH = "crash"


BAD_OUTCOMES = frozenset({Outcome.FAIL, Outcome.ERROR, Outcome.TIMEOUT, Outcome.CRASH})
"""Outcomes that fail a run unless expected (and that the harness retries once)."""


def is_bad(outcome: Outcome) -> bool:
    return outcome in BAD_OUTCOMES


def tail_text(text: str, limit: int = LOG_TAIL_CHARS) -> str:
    """The end of ``text`` in at most ``limit`` characters, from a line start when one is near."""
    if len(text) <= limit:
        return text
    keep = text[len(text) - (limit - 40) :]  # 40: room for the marker
    newline = keep.find("\n")
    if 0 <= newline < min(200, len(keep) - 1):
        keep = keep[newline + 1 :]
    return f"[… {len(text) - len(keep)} characters cut …]\n" + keep


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_serialization_defaults_required=True
    )


class CaseResult(_Strict):
    """One test case inside a unit, as the suite's own output named it."""

    id: str = Field(min_length=1, description="the suite's own name, e.g. test_os.FileTests.test_x")
    outcome: Outcome
    duration: float = Field(default=0.0, ge=0, description="seconds; 0 when the suite omits it")
    message: str = Field(default="", description="failure message or skip reason")


class UnitResult(_Strict):
    """One unit: a test file or module the harness ran as one process."""

    suite: str = Field(pattern=SUITE_PATTERN, description="recipe id, e.g. python-3.13.5")
    unit: str = Field(min_length=1, description="the unit id, e.g. test_os or ext/json/tests")
    outcome: Outcome = Field(description="the outcome of the unit as a whole")
    duration: float = Field(ge=0, description="wall-clock seconds of the (last) attempt")
    exit_code: int | None = Field(description="the process's exit status; null if it had none")
    trap: str | None = Field(default=None, description="the wasm trap message, if it trapped")
    reason: str = Field(default="", description="why: skip reason, crash signal, timeout, …")
    attempts: int = Field(default=1, ge=1)
    flaky: bool = Field(default=False, description="failed first, passed on retry")
    cases: tuple[CaseResult, ...] = ()
    log_tail: str = Field(default="", max_length=LOG_TAIL_CHARS, description="end of the output")
    output_cut: int = Field(default=0, ge=0,
                            description="bytes of output the harness dropped to stay within its cap")

    @field_validator("log_tail", mode="before")
    @classmethod
    def _cut(cls, value: Any) -> Any:
        return tail_text(value) if isinstance(value, str) else value


class Host(_Strict):
    """Where a run happened (enough to tell machines and tool versions apart)."""

    hostname: str
    system: str
    release: str
    machine: str
    python: str
    cpus: int = Field(ge=1)
    wasiports: str
    wasmtime: str


class RunPart(_Strict):
    """One of the runs a merged :class:`SuiteRun` was made of (kept so merging loses nothing)."""

    shard: str | None = Field(pattern=SHARD_PATTERN)
    host: Host
    started: AwareDatetime
    finished: AwareDatetime
    units: int = Field(ge=0, description="how many units that part contributed")


class Summary(_Strict):
    """Counts by outcome, every outcome present (zeros included)."""

    units: dict[Outcome, int]
    cases: dict[Outcome, int]
    total_units: int
    total_cases: int


def _count(outcomes: list[Outcome]) -> dict[Outcome, int]:
    counts = dict.fromkeys(Outcome, 0)
    for outcome in outcomes:
        counts[outcome] += 1
    return counts


class SuiteRun(_Strict):
    """A run of one suite (or a shard of it), e.g. ``python-3.13.5``."""

    schema_version: Literal[1] = Field(default=SCHEMA_VERSION)
    suite: str = Field(pattern=SUITE_PATTERN, description="recipe id, e.g. python-3.13.5")
    started: AwareDatetime
    finished: AwareDatetime
    host: Host = Field(description="the machine of the run (of its first part, if merged)")
    shard: str | None = Field(
        default=None,
        pattern=SHARD_PATTERN,
        description="'i/n' for shard i of n; '1,3/4' for a partial merge; null for a whole run",
    )
    parts: tuple[RunPart, ...] = Field(
        default=(), description="the runs a merged run was made of; empty if not merged"
    )
    subset: str | None = Field(
        default=None,
        description="why only some units ran (the recipe's test.ci_subset); null when all ran",
    )
    units: tuple[UnitResult, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _drop_summary(cls, data: Any) -> Any:
        """``summary`` is computed: accept it on input (it is in every file) but do not store it."""
        if isinstance(data, dict) and "summary" in data:
            data = {k: v for k, v in data.items() if k != "summary"}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> SuiteRun:
        seen: set[str] = set()
        for unit in self.units:
            if unit.unit in seen:
                raise ValueError(f"unit {unit.unit!r} appears twice")
            if unit.suite != self.suite:
                raise ValueError(f"unit {unit.unit!r} belongs to suite {unit.suite!r}")
            seen.add(unit.unit)
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def summary(self) -> Summary:
        cases = [c.outcome for u in self.units for c in u.cases]
        return Summary(
            units=_count([u.outcome for u in self.units]),
            cases=_count(cases),
            total_units=len(self.units),
            total_cases=len(cases),
        )

    def unit(self, unit_id: str) -> UnitResult:
        """The result of ``unit_id`` (KeyError if the run has none)."""
        for unit in self.units:
            if unit.unit == unit_id:
                return unit
        raise KeyError(unit_id)


def host_info() -> Host:
    """This machine and the tool versions in use."""

    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "unknown"

    uname = platform.uname()
    return Host(
        hostname=socket.gethostname(),
        system=uname.system,
        release=uname.release,
        machine=uname.machine,
        python=platform.python_version(),
        cpus=os.cpu_count() or 1,
        wasiports=version("wasiports"),
        wasmtime=version("wasmtime"),
    )


def to_json(run: SuiteRun) -> str:
    """The run as indented JSON (with its computed ``summary``), newline-terminated."""
    return run.model_dump_json(indent=2) + "\n"


def loads(text: str, *, source: str = "<string>") -> SuiteRun:
    """Parse and validate a results document; ``source`` names it in errors."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise HarnessError(f"{source}: not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise HarnessError(f"{source}: not a results document (the top level is not an object)")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise HarnessError(
            f"{source}: results schema version {version!r}, this wasiports reads "
            f"{SCHEMA_VERSION}",
            why="the file was written by another wasiports version (or is not a results file)",
            hint="read it with the wasiports version that wrote it, or rerun the suite",
        )
    try:
        run = SuiteRun.model_validate(data)
    except ValidationError as e:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in e.errors()
        ]
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise HarnessError(
            f"{source}: invalid results document", why="; ".join(problems[:5]) + more
        ) from None
    if "summary" in data and data["summary"] != run.summary.model_dump(mode="json"):
        raise HarnessError(
            f"{source}: summary does not match the units",
            why="the file was edited by hand or truncated",
            hint="rerun the suite, or delete the summary to have it recomputed",
        )
    return run


def load(path: Path) -> SuiteRun:
    """Read and validate a results file written by :func:`to_json`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise HarnessError(f"cannot read results file {path}", why=str(e)) from None
    return loads(text, source=str(path))


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a results file, as :func:`to_json` writes it."""
    schema = SuiteRun.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": "generated by `python -m toolchain.results --write-schema`; do not edit",
        **schema,
    }


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m toolchain.results", description=__doc__)
    parser.add_argument(
        "--write-schema",
        nargs="?",
        const=SCHEMA_FILE,
        type=Path,
        metavar="PATH",
        help=f"write the JSON Schema (default: {SCHEMA_FILE.relative_to(paths.ROOT)})",
    )
    parser.add_argument("--check", type=Path, metavar="RESULTS", help="validate a results file")
    args = parser.parse_args(argv)
    if args.write_schema is None and args.check is None:
        parser.print_usage(sys.stderr)
        return 2
    try:
        if args.write_schema is not None:
            args.write_schema.parent.mkdir(parents=True, exist_ok=True)
            args.write_schema.write_text(schema_text(), encoding="utf-8")
            print(f"wrote {args.write_schema}")
        if args.check is not None:
            run = load(args.check)
            counts = {k: v for k, v in run.summary.units.items() if v}
            print(f"{args.check}: {run.suite}, {len(run.units)} units, {counts}")
    except HarnessError as e:
        print(f"error: {e.render()}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())

