"""Sharding a suite's units across machines, and merging the shards' runs back into one.

The unit list is sorted; shard ``i`` of ``n`` (1-based) takes the units at 0-based positions
``k`` with ``k % n == i - 1`` (round-robin over the sorted list). The shards of one list
partition it, and neighbours (often of similar cost, e.g. ``test_asyncio.*``) are spread."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..errors import HarnessError
from ..results import RunPart, SuiteRun


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` → ``(2, 4)``; a :class:`HarnessError` for anything else."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise HarnessError(f"bad shard {text!r}", hint="write it as I/N, e.g. 2/4 (1-based)")
    shard = (int(match[1]), int(match[2]))
    _check_shard(shard)
    return shard


def _check_shard(shard: tuple[int, int]) -> None:
    index, count = shard
    if count < 1 or not 1 <= index <= count:
        raise HarnessError(
            f"bad shard {index}/{count}", hint="the shard index runs from 1 to the shard count"
        )


def shard_units(units: Iterable[str], shard: tuple[int, int] | None) -> list[str]:
    """The sorted units of shard ``(i, n)``: every n-th, starting at the i-th (all if ``None``)."""
    ordered = sorted(set(units))
    if shard is None:
        return ordered
    _check_shard(shard)
    index, count = shard
    return ordered[index - 1 :: count]


def _shard_set(run: SuiteRun) -> tuple[set[int], int] | None:
    if run.shard is None:
        return None
    indices, _, count = run.shard.partition("/")
    return {int(i) for i in indices.split(",")}, int(count)


def merge(runs: Sequence[SuiteRun], *, allow_partial: bool = False) -> SuiteRun:
    """Combine shard runs of one suite into one run, losing nothing.

    Units are kept as they are (sorted by id); each input's shard, host and times are kept in
    ``parts`` (flattened if an input was itself merged). Refused: no runs, different suites,
    a unit in two runs, a shard twice, shard counts that differ, an unsharded run among
    shards, and (unless ``allow_partial``) missing shards. A partial merge gets a shard such
    as ``"1,3/4"``; a complete one none.
    """
    if not runs:
        raise HarnessError("nothing to merge")
    suites = sorted({r.suite for r in runs})
    if len(suites) > 1:
        raise HarnessError(f"cannot merge runs of different suites: {', '.join(suites)}")
    suite = suites[0]
    _check_disjoint(suite, runs)
    shard = _merged_shard(suite, runs, allow_partial)
    parts: list[RunPart] = []
    for run in runs:
        parts.extend(run.parts or [
            RunPart(shard=run.shard, host=run.host, started=run.started,
                    finished=run.finished, units=len(run.units))
        ])  # fmt: skip
    parts.sort(key=lambda p: (_first_index(p.shard), p.started))
    units = sorted((u for r in runs for u in r.units), key=lambda u: u.unit)
    return SuiteRun(
        suite=suite,
        started=min(r.started for r in runs),
        finished=max(r.finished for r in runs),
        host=parts[0].host,
        shard=shard,
        parts=tuple(parts) if len(parts) > 1 or runs[0].parts else (),
        units=tuple(units),
    )


def _check_disjoint(suite: str, runs: Sequence[SuiteRun]) -> None:
    """No unit may be in two runs."""
    owner: dict[str, int] = {}
    for n, run in enumerate(runs):
        for unit in run.units:
            if unit.unit in owner:
                raise HarnessError(
                    f"{suite}: unit {unit.unit!r} is in run {owner[unit.unit] + 1} and run {n + 1}",
                    why="shards must partition the units",
                    hint="were the shards made from different unit lists or the same shard twice?",
                )
            owner[unit.unit] = n


def _merged_shard(suite: str, runs: Sequence[SuiteRun], allow_partial: bool) -> str | None:
    """The merged run's shard: ``None`` when complete (or one unsharded run), else ``"1,3/4"``."""
    shards = [_shard_set(r) for r in runs]
    if any(s is None for s in shards):
        if len(runs) > 1:
            raise HarnessError(
                f"{suite}: cannot merge an unsharded run with other runs",
                hint="merge only the runs of one `--shard I/N` split",
            )
        return None
    counts = {s[1] for s in shards if s is not None}
    if len(counts) > 1:
        splits = ", ".join(f"/{n}" for n in sorted(counts))
        raise HarnessError(f"{suite}: shards of different splits: {splits}")
    count = counts.pop()
    seen: set[int] = set()
    for s in shards:
        assert s is not None
        if seen & s[0]:
            raise HarnessError(f"{suite}: shard {min(seen & s[0])}/{count} appears twice")
        seen |= s[0]
    missing = sorted(set(range(1, count + 1)) - seen)
    if missing and not allow_partial:
        raise HarnessError(
            f"{suite}: shards missing: {', '.join(f'{i}/{count}' for i in missing)}",
            hint="merge all shards, or pass allow_partial to merge what there is",
        )
    return f"{','.join(map(str, sorted(seen)))}/{count}" if missing else None


def _first_index(shard: str | None) -> int:
    return int(shard.partition("/")[0].split(",")[0]) if shard else 0
