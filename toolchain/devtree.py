"""``doit devtree:<id>``: a recipe's pinned source as a git repository for editing its patches.

``dev/<id>/`` (git-ignored, apart from the pipeline's ``build/`` trees) gets:

- the pristine tarball, unpacked, as the first commit, tagged ``upstream`` (author and date fixed:
  the same tarball gives the same commit);
- each patch of ``patches/<name>/<version>/`` as one commit, applied with ``git am``: author,
  date and message come from the patch file.

The contributor edits and commits there (``git commit --amend``, ``git rebase -i upstream``,
new commits), then ``doit refresh:<id>`` writes the series back (:mod:`toolchain.refresh`).

An existing dev tree is replaced only when nothing in it would be lost: no uncommitted changes,
no ``git am``/rebase stopped half-way, and no commits the series in ``patches/`` does not hold.
The tarball's own ``.gitattributes`` may not rewrite file contents in the repository (PHP's
marks files ``ident``), and its ``.gitignore`` files may not keep tarball files out of the base
commit (PHP ships its generated ``configure``, which its ``.gitignore`` lists).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from . import build, git, paths, refresh
from .errors import CommandError, PatchError, WasiportsError
from .recipe import Recipe
from .unpack import unpack
from .validation import display

ATTRIBUTES = "# written by wasiports: the files are the tarball's, byte for byte\n" \
             "* -text -ident -filter !eol\n"
LOCAL_CONFIG = (("core.autocrlf", "false"), ("gc.auto", "0"))


@dataclass(frozen=True)
class Pristine:
    """The verified tarball a dev tree starts from."""

    archive: Path
    sha256: str
    strip_components: int
    label: str  # where it came from, for the base commit's message


def dev_dir(recipe: Recipe) -> Path:
    return paths.DEV / recipe.id


def for_recipe(recipe: Recipe) -> Path:
    """``doit devtree:<id>``: fetch the pinned tarball (or find it in the cache), make the tree."""
    if recipe.variant:
        base = recipe.id.removesuffix(f"-{recipe.variant}")
        raise WasiportsError(f"{recipe.id} is a variant: it has no patch series of its own",
                             hint=f"make the dev tree of its recipe: doit devtree:{base}")
    got, record = build.fetch_pinned(recipe)
    pristine = Pristine(got.path, got.sha256, recipe.source.strip_components,
                        f"{record['archive']} (sha256 {got.sha256}, from {got.origin.kind})")
    return create(dev_dir(recipe), pristine, recipe.patch_dir, recipe_id=recipe.id)


def create(tree: Path, pristine: Pristine, series_dir: Path, *, recipe_id: str) -> Path:
    """(Re)make ``tree`` from ``pristine`` and the series in ``series_dir``."""
    git.require()
    check_replaceable(tree, series_dir, recipe_id)
    staging = tree.parent / f".{tree.name}.new"
    shutil.rmtree(staging, ignore_errors=True)
    unpack(pristine.archive, staging, strip_components=pristine.strip_components,
           sha256=pristine.sha256)
    try:
        _commit_base(staging, pristine, series_dir, recipe_id)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if tree.exists():
        shutil.rmtree(tree)
    staging.rename(tree)
    series = sorted(series_dir.glob("[0-9][0-9][0-9][0-9]-*.patch"))
    _apply(tree, series, recipe_id)
    refresh.mark_saved(tree)
    print(f"devtree: {display(tree)}: {len(series)} patch(es) applied on {refresh.BASE_TAG} "
          f"({pristine.archive.name}); edit and commit there, then: doit refresh:{recipe_id}")
    return tree


def check_replaceable(tree: Path, series_dir: Path, recipe_id: str) -> None:
    """Refuse to replace ``tree`` when that would lose work."""
    if not tree.exists():
        return
    if not git.is_repo(tree) or git.rev(tree, refresh.BASE_TAG) is None:
        raise PatchError(f"{display(tree)} exists and is not a dev tree",
                         why=f"no git repository with a {refresh.BASE_TAG!r} tag there",
                         hint=f"move it away or delete it (rm -rf {display(tree)})")
    refresh.check_clean(tree)
    if refresh.saved(tree):
        return
    changes = refresh.differences(refresh.render(tree, series_dir), series_dir)
    if changes:
        raise PatchError(
            f"{display(tree)} has commits that {display(series_dir)} does not hold",
            why="making the tree again would lose them:\n    " + "\n    ".join(changes),
            hint=f"save them first (doit refresh:{recipe_id}), or drop them "
            f"(rm -rf {display(tree)})")


def _commit_base(tree: Path, pristine: Pristine, series_dir: Path, recipe_id: str) -> None:
    """``git init``, the whole tarball as the first commit, tagged ``upstream``."""
    git.run(tree, "init", "--quiet", "--initial-branch=main")
    (tree / ".git" / "info").mkdir(exist_ok=True)
    (tree / ".git" / "info" / "attributes").write_text(ATTRIBUTES)
    for key, value in LOCAL_CONFIG:
        git.run(tree, "config", key, value)
    git.run(tree, "add", "--all", "--force", ".")
    epoch = max((int(p.stat().st_mtime) for p in tree.iterdir() if p.is_file()), default=0)
    when = f"@{epoch} +0000"
    message = (f"{recipe_id}: {pristine.archive.name} as released\n\n"
               f"The pinned tarball, unpacked: {pristine.label}.\n"
               f"Each commit after the tag {refresh.BASE_TAG!r} is one patch of "
               f"{display(series_dir)};\n`doit refresh:{recipe_id}` writes them back there.\n")
    message_file = tree / ".git" / "wasiports-base-message"
    message_file.write_text(message)
    git.run(tree, "commit", "--quiet", "--no-verify", "-F", str(message_file),
            env={**git.IDENTITY, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when})
    git.run(tree, "tag", refresh.BASE_TAG)


def _apply(tree: Path, series: list[Path], recipe_id: str) -> None:
    """``git am`` the series; a patch that does not apply leaves the session open to fix."""
    if not series:
        return
    committer = {k: v for k, v in git.IDENTITY.items() if k.startswith("GIT_COMMITTER")}
    try:
        git.run(tree, "am", "--quiet", "--committer-date-is-author-date",
                *(str(p) for p in series), env=committer)
    except CommandError as exc:
        failed = next((line for line in exc.output.splitlines()
                       if line.startswith("Patch failed at")), "git am stopped")
        where = display(tree)
        raise PatchError(
            f"{where}: a patch does not apply: {failed}",
            why="its context is not in this source (see git am's words above); the patches "
            "before it are committed, and git am waits in the tree",
            hint=f"git -C {where} apply --reject .git/rebase-apply/patch applies the hunks "
            "that fit and leaves *.rej files; fix those by hand, delete the .rej files, "
            f"git -C {where} add -A && git -C {where} am --continue; then doit refresh:{recipe_id}",
        ) from None
