"""Write a dev tree's commits after its ``upstream`` tag back to ``patches/<name>/<version>/``.

Each commit becomes ``NNNN-subject.patch``, made by ``git format-patch`` with flags chosen so
that the same commits always give the same bytes, and so that the files stay reviewable:

- ``--no-numbered``: ``Subject: [PATCH] …``, not ``[PATCH 3/11]`` (adding a patch would change
  every other file);
- ``--zero-commit``: the mbox ``From`` line carries forty zeros, not the commit id (which
  changes with every rebase and with the committer date);
- ``--no-signature``: no ``-- \\n2.39.5`` trailer naming the git version;
- ``--full-index``: full blob ids in ``index`` lines (abbreviated ones grow with the number of
  objects in the repository; full ones also let ``git am -3`` merge on the upstream repository);
- ``--no-renames``: renames as deletion plus creation, which patch(1) in the pipeline applies;
- the user's git configuration is ignored (:mod:`toolchain.git`), and the diffstat stays (it
  depends only on the diff).

A patch whose commit message has no ``Upstream-Status:`` line gets ``Upstream-Status: Pending``
in the file, with a warning. A file keeps its name while its number and subject stay the same
(names made by hand before survive); otherwise it is named as git names it.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import fileio, git, patchfile
from .errors import PatchError
from .validation import display

BASE_TAG = "upstream"
SAVED = "wasiports-saved-head"  # in .git/: HEAD when patches/ last held the tree's commits
FORMAT_PATCH = ["format-patch", "--no-numbered", "--zero-commit", "--no-signature",
                "--full-index", "--no-renames", "--no-thread"]


@dataclass(frozen=True)
class Rendered:
    name: str
    data: bytes
    warnings: tuple[str, ...]


def render(tree: Path, series_dir: Path) -> list[Rendered]:
    """The series the commits after ``upstream`` make, named for ``series_dir`` (not written)."""
    with tempfile.TemporaryDirectory(prefix="wasiports-refresh-") as tmp:
        git.run(tree, *FORMAT_PATCH, "-o", tmp, f"{BASE_TAG}..HEAD")
        made = sorted(Path(tmp).glob("*.patch"))
        existing = {p.name[:4]: p for p in series_dir.glob("[0-9][0-9][0-9][0-9]-*.patch")}
        out = []
        for path in made:
            text, warnings = with_status(patchfile.decode(path.read_bytes()), path.name)
            out.append(Rendered(_name(path.name, text, existing), patchfile.encode(text),
                                tuple(warnings)))
        return out


def _name(made: str, text: str, existing: dict[str, Path]) -> str:
    """The name the series already uses for this number and subject, else git's name."""
    old = existing.get(made[:4])
    if old is not None:
        new_subject = patchfile.parse(text, Path(made)).subject
        if patchfile.read(old).subject == new_subject:
            return old.name
    return made


def with_status(text: str, name: str) -> tuple[str, list[str]]:
    """``text`` with ``Upstream-Status: Pending`` added when its message has no status line."""
    parsed = patchfile.parse(text, Path(name))
    warnings = []
    if not any(re.match(r"^Signed-off-by: ", t) for _, t in parsed.message()):
        warnings.append(f"{name}: no Signed-off-by: line (add yours: git commit --amend -s)")
    if parsed.status():
        return text, warnings
    message = parsed.message()
    block = patchfile.trailer_block(message)
    lines = list(parsed.lines)
    if block is None:  # a paragraph of its own, after the message
        end = len(message)
        while end and not message[end - 1][1].strip():
            end -= 1
        at = message[end - 1][0] if end else parsed.message_end - 1
        lines[at:at] = ["", "Upstream-Status: Pending"] if end else ["Upstream-Status: Pending"]
    else:  # in the trailer block, before the sign-offs
        start, end = block
        signed = [n for n, t in message[start:end] if t.startswith("Signed-off-by:")]
        at = (signed[0] if signed else message[end - 1][0] + 1) - 1
        lines[at:at] = ["Upstream-Status: Pending"]
    warnings.append(f"{name}: no Upstream-Status: line in the commit message; wrote "
                    "'Upstream-Status: Pending' (say it in the commit: git commit --amend)")
    return "\n".join(lines), warnings


def mark_saved(tree: Path) -> None:
    """Note that the series in ``patches/`` holds the tree's commits up to HEAD."""
    (tree / ".git" / SAVED).write_text((git.rev(tree, "HEAD") or "") + "\n")


def saved(tree: Path) -> bool:
    """Whether HEAD is what the series held when the tree was made or last refreshed."""
    try:
        return (tree / ".git" / SAVED).read_text().strip() == git.rev(tree, "HEAD")
    except OSError:
        return False


def check_clean(tree: Path) -> None:
    """Refuse a tree with uncommitted changes or a git operation stopped half-way."""
    if (what := git.in_progress(tree)) is not None:
        raise PatchError(f"{display(tree)}: {what} is in progress",
                         why="its commits are not finished, so there is nothing whole to write",
                         hint=f"finish it (git -C {display(tree)} am --continue) or abort it "
                         "(… am --abort), then run this again")
    changed = git.uncommitted(tree)
    if changed:
        raise PatchError(f"{display(tree)} has uncommitted changes",
                         why="only commits become patches; these would be left out:\n    "
                         + "\n    ".join(changed[:10]) + ("\n    …" if len(changed) > 10 else ""),
                         hint=f"commit them (git -C {display(tree)} commit -a) or drop them "
                         "(git checkout -- <file>), then run this again")


def differences(rendered: list[Rendered], series_dir: Path) -> list[str]:
    """What writing ``rendered`` would change in ``series_dir``: one line per file."""
    changes = []
    names = {r.name for r in rendered}
    for r in rendered:
        target = series_dir / r.name
        if not target.is_file():
            changes.append(f"new      {r.name}")
        elif target.read_bytes() != r.data:
            changes.append(f"updated  {r.name}")
    for old in sorted(series_dir.glob("[0-9][0-9][0-9][0-9]-*.patch")):
        if old.name not in names:
            changes.append(f"removed  {old.name}")
    return changes


def refresh(tree: Path, series_dir: Path) -> list[str]:
    """Write the tree's commits to ``series_dir``; return what changed (empty: nothing)."""
    if not git.is_repo(tree) or git.rev(tree, BASE_TAG) is None:
        raise PatchError(f"{display(tree)} is not a dev tree",
                         why=f"no git repository with a {BASE_TAG!r} tag there",
                         hint="make one first: doit devtree:<id>")
    git.require()
    check_clean(tree)
    rendered = render(tree, series_dir)
    for r in rendered:
        for warning in r.warnings:
            print(f"refresh: warning: {warning}")
    changes = differences(rendered, series_dir)
    names = {r.name for r in rendered}
    for r in rendered:
        if not (series_dir / r.name).is_file() or (series_dir / r.name).read_bytes() != r.data:
            fileio.write_bytes(series_dir / r.name, r.data)
    for old in series_dir.glob("[0-9][0-9][0-9][0-9]-*.patch"):
        if old.name not in names:
            old.unlink()
    mark_saved(tree)
    for line in changes:
        print(f"refresh: {line}")
    print(f"refresh: {display(series_dir)}: {len(rendered)} patch(es), "
          + (f"{len(changes)} file(s) changed" if changes else "no change"))
    return changes
