"""``wasiports lint``: every patch series follows the conventions, and applies exactly.

Checks, each reported as ``path:line: problem``:

- every file of ``patches/<name>/<version>/`` is ``NNNN-subject.patch``, numbered from 0001
  without gaps or repeats, and the folder belongs to a recipe;
- each patch is in ``git format-patch`` form with ``From:``, ``Date:``, ``Subject: [PATCH] …``, a
  message that says what and why, one ``Upstream-Status:`` from the closed vocabulary
  (:data:`toolchain.patchfile.UPSTREAM_STATUS`), a ``Signed-off-by:`` and a diff;
- no line a patch adds ends in whitespace;
- with ``apply``: the series applies in order to the recipe's pinned tarball (fetched through
  the usual origins, or found in the cache) with no offset and no fuzz (:mod:`patchtrial`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from . import build, patchfile, patchtrial, paths
from .errors import PatchError
from .patchfile import PatchFile
from .recipe import Recipe
from .validation import display

MIN_MESSAGE = 40  # characters of message before the trailers: a what and a why


def check_names(series_dir: Path) -> list[str]:
    """File names and numbering of one series folder."""
    problems: list[str] = []
    expected = 1
    for path in sorted(p for p in series_dir.iterdir() if not p.name.startswith(".")):
        where = f"{display(path)}:1:"
        if not patchfile.NAME.match(path.name):
            problems.append(f"{where} not a series file name (NNNN-subject.patch with letters, "
                            "digits, '.', '_' and '-')")
            continue
        number = int(path.name[:4])
        if number < expected:
            problems.append(f"{where} number {path.name[:4]} is used twice")
            continue
        if number > expected:
            problems.append(f"{where} numbered {path.name[:4]}, expected {expected:04d} "
                            "(the series is numbered from 0001 without gaps)")
        expected = number + 1
    return problems


def check_patch(parsed: PatchFile) -> list[str]:
    """Form, headers, message, trailers and added whitespace of one patch file."""
    p = display(parsed.path)
    if not parsed.lines or not patchfile.MBOX_FROM.match(parsed.lines[0]):
        return [f"{p}:1: not in git format-patch form (the first line must be "
                "'From <40 hex digits> Mon Sep 17 00:00:00 2001')"]
    problems = [f"{p}:1: missing header {name.title()}:" for name in ("from", "date", "subject")
                if name not in parsed.headers]
    subject, at = parsed.headers.get("subject", ("", 1))
    if subject and not subject.startswith("[PATCH] "):
        problems.append(f"{p}:{at}: Subject: must start with '[PATCH] ' (git format-patch -N)")
    message = parsed.message()
    block = patchfile.trailer_block(message)
    prose = "\n".join(t for _, t in message[:block[0] if block else len(message)]).strip()
    if len(prose) < MIN_MESSAGE:
        problems.append(f"{p}:{at}: no message body: say what the patch changes and why")
    problems += _trailers(parsed, p)
    if not parsed.files:
        problems.append(f"{p}:{parsed.message_end}: no diff (no 'diff --git' line)")
    elif not parsed.separator:
        problems.append(f"{p}:{parsed.files[0].line}: no '---' line between message and diff")
    for diff in parsed.files:
        for hunk in diff.hunks:
            problems += [f"{p}:{n}: trailing whitespace added" for n, text in hunk.added()
                         if text != text.rstrip()]
    return problems


def _trailers(parsed: PatchFile, p: str) -> list[str]:
    """``Upstream-Status:`` (once, from the vocabulary) and ``Signed-off-by:``."""
    problems = []
    statuses = parsed.status()
    if not statuses:
        problems.append(f"{p}:{parsed.message_end}: missing Upstream-Status: (one of: "
                        f"{patchfile.VOCABULARY})")
    for n, value in statuses:
        if not patchfile.UPSTREAM_STATUS.match(f"{patchfile.STATUS_KEY} {value}"):
            problems.append(f"{p}:{n}: Upstream-Status: {value!r} is not one of: "
                            f"{patchfile.VOCABULARY}")
    problems += [f"{p}:{n}: Upstream-Status: given twice (first on line {statuses[0][0]})"
                 for n, _ in statuses[1:]]
    signed = [(n, t) for n, t in parsed.message() if t.startswith("Signed-off-by:")]
    if not signed:
        problems.append(f"{p}:{parsed.message_end}: missing Signed-off-by: Name <email>")
    problems += [f"{p}:{n}: Signed-off-by: must be 'Name <email>'" for n, t in signed
                 if not patchfile.SIGNED_OFF.match(t)]
    return problems


def lint_series(series_dir: Path) -> list[str]:
    """Names, numbering and every patch of one series folder."""
    problems = check_names(series_dir)
    for path in sorted(series_dir.glob("*.patch")):
        problems += check_patch(patchfile.read(path))
    return problems


def series_dirs(root: Path | None = None) -> list[Path]:
    """Every ``patches/<name>/<version>/`` folder."""
    return sorted(p for p in (root or paths.PATCHES).glob("*/*") if p.is_dir())


def lint_headers(recipes: list[Recipe], root: Path | None = None) -> list[str]:
    """The checks that need no tarball, over every series folder (and folders of no recipe)."""
    owned = {r.patch_dir.resolve() for r in recipes}
    problems = []
    for series in series_dirs(root):
        if series.resolve() not in owned:
            problems.append(f"{display(series)}:1: no recipe "
                            f"recipes/{series.parent.name}/{series.name}.toml uses this series")
        problems += lint_series(series)
    return problems


def apply_problems(trials: list[patchtrial.Trial]) -> list[str]:
    """``path:line: problem`` for each hunk that did not apply exactly."""
    problems = []
    for trial in trials:
        p = display(trial.patch)
        if trial.outcome == patchtrial.UPSTREAM:
            problems.append(f"{p}:1: already in the source (the patch applies in reverse)")
        for f in trial.findings:
            what = f"hunk #{f.hunk} of {f.file}" if f.hunk else f.file
            problems.append(f"{p}:{f.line}: {what}: {f.detail}")
        if not trial.applies:
            return problems  # later patches would be tried on the wrong tree
    return problems


def lint_apply(recipe: Recipe) -> list[str]:
    """The series applies in order, exactly, to the recipe's pinned tarball."""
    series = recipe.patches()
    if not series:
        return []
    with tempfile.TemporaryDirectory(prefix=f"wasiports-lint-{recipe.id}-") as tmp:
        tree = build.unpack_pristine(recipe, Path(tmp) / "src")
        return apply_problems(patchtrial.try_series(series, tree))


def lint(recipes: list[Recipe], *, apply: bool = True) -> list[str]:
    """Every check over every series; the apply check once per series (variants share it)."""
    problems = lint_headers(recipes)
    if apply:
        seen: set[Path] = set()
        for r in recipes:
            if r.patch_dir not in seen and not r.variant:
                seen.add(r.patch_dir)
                problems += lint_apply(r)
    return problems


def main(*, apply: bool = True) -> int:
    """``wasiports lint``: print each problem; 0 when there is none, else 1."""
    from . import recipe

    recipes = recipe.discover()
    problems = lint(recipes, apply=apply)
    for problem in problems:
        print(problem)
    count = len(series_dirs())
    checked = "names, headers" + (" and application to the pinned tarballs" if apply else "")
    print(f"lint: {count} series, {checked}: "
          + (f"{len(problems)} problem(s)" if problems else "ok"))
    return 1 if problems else 0


def check() -> None:
    """``doit lint``: :func:`main`, failing the task when any series has a problem."""
    if main(apply=True) != 0:
        raise PatchError("the patch series have problems (listed above as path:line: problem)",
                         hint="fix each one, or remake the series from a dev tree "
                         "(doit devtree:<id>, edit, doit refresh:<id>)")

