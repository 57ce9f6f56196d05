"""Try patches on a source tree with patch(1), as the pipeline applies them, and say how each went.

One patch's outcome is one of:

- ``applies cleanly``: every hunk at its stated line, no fuzz;
- ``applies with offset``: every hunk found, some at other lines (the source moved around it);
- ``applies with fuzz``: some hunk needed fuzz (its context lines changed: review it);
- ``conflicts``: some hunk does not apply (the rejected hunks are listed);
- ``already upstream``: it does not apply forwards but applies in reverse, without fuzz.

:func:`try_series` applies each patch that applies before trying the next, so later patches see
the earlier ones, as in the pipeline. Hunk results are tied back to the patch file's lines
(``path:line``) through :mod:`toolchain.patchfile`: patch(1) reports hunks per file, in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from . import cmd, patchfile
from .errors import CommandError

CLEAN = "applies cleanly"
OFFSET = "applies with offset"
FUZZ = "applies with fuzz"
CONFLICT = "conflicts"
UPSTREAM = "already upstream"
APPLIES = (CLEAN, OFFSET, FUZZ)

PATCH = ["patch", "-p1", "--forward", "--batch", "--no-backup-if-mismatch"]
_FILE = re.compile(r"^(?:checking|patching) file (.+)$|^can't find file to patch at input line \d+")
_RESULT = re.compile(r"^Hunk #(\d+) (succeeded|FAILED|already applied) at (\d+)"
                     r"(?: with fuzz (\d+))?(?: \(offset (-?\d+) lines?\))?")
_SKIPPED = re.compile(r"^(Reversed \(or previously applied\) patch detected|No file to patch|"
                      r"The next patch would \w+ the file .*)")


@dataclass(frozen=True)
class Finding:
    """A hunk (or a whole file's diff) that did not apply exactly as written."""

    line: int  # in the patch file: the hunk's "@@" line, or the file's "diff --git" line
    file: str
    hunk: int  # 1-based within its file; 0 for the whole file
    kind: str  # "offset" | "fuzz" | "failed"
    detail: str  # patch(1)'s words
    text: str  # the hunk (or the file's hunks) as written in the patch


@dataclass(frozen=True)
class Trial:
    patch: Path
    outcome: str
    findings: tuple[Finding, ...]

    @property
    def applies(self) -> bool:
        return self.outcome in APPLIES

    def rejected(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "failed"]


def _run(args: list[str], patch: Path, tree: Path, log: Path | None) -> tuple[bool, str]:
    try:
        return True, cmd.run([*args, "-i", patch], cwd=tree, log=log, capture=True)
    except CommandError as exc:
        return False, exc.output


def findings(output: str, parsed: patchfile.PatchFile) -> list[Finding]:
    """What patch(1)'s ``output`` says of each hunk that was not applied exactly as written."""
    found: list[Finding] = []
    index = -1
    for raw in output.splitlines():
        if _FILE.match(raw):
            index += 1
            continue
        diff = parsed.files[index] if 0 <= index < len(parsed.files) else None
        name = diff.path if diff else "?"
        if m := _RESULT.match(raw):
            number = int(m[1])
            hunk = diff.hunks[number - 1] if diff and number <= len(diff.hunks) else None
            line, text = (hunk.line, hunk.text()) if hunk else (diff.line if diff else 1, "")
            if m[2] != "succeeded":
                found.append(Finding(line, name, number, "failed", raw.rstrip("."), text))
            elif m[4]:
                found.append(Finding(line, name, number, "fuzz", raw.rstrip("."), text))
            elif m[5]:
                found.append(Finding(line, name, number, "offset", raw.rstrip("."), text))
        elif _SKIPPED.match(raw) and not any(f.file == name and f.hunk == 0 for f in found):
            text = "".join(h.text() for h in diff.hunks) if diff else ""
            found.append(Finding(diff.line if diff else 1, name, 0, "failed", raw.strip(), text))
    return found


def try_patch(patch: Path, tree: Path, *, log: Path | None = None) -> Trial:
    """Dry-run ``patch`` on ``tree`` (forwards, then in reverse if it does not apply)."""
    parsed = patchfile.read(patch)
    ok, output = _run([*PATCH, "--dry-run"], patch, tree, log)
    found = tuple(findings(output, parsed))
    if ok:
        kinds = {f.kind for f in found}
        outcome = FUZZ if "fuzz" in kinds else OFFSET if "offset" in kinds else CLEAN
        return Trial(patch, outcome, found)
    back, out_back = _run([*PATCH, "--reverse", "--dry-run"], patch, tree, log)
    if back and not any(f.kind == "fuzz" for f in findings(out_back, parsed)):
        return Trial(patch, UPSTREAM, ())
    if not any(f.kind == "failed" for f in found):  # refused for a reason patch did not itemise
        found += (Finding(1, "?", 0, "failed", output.strip().splitlines()[-1:][0]
                          if output.strip() else "patch(1) refused it", ""),)
    return Trial(patch, CONFLICT, found)


def try_series(patches: list[Path], tree: Path, *, log: Path | None = None) -> list[Trial]:
    """Try each patch in order on ``tree``, applying each one that applies."""
    trials = []
    for patch in patches:
        trial = try_patch(patch, tree, log=log)
        if trial.applies:
            cmd.run([*PATCH, "-i", patch], cwd=tree, log=log, capture=True)
        trials.append(trial)
    return trials
