"""git, run the way the contributor tools need it: through :func:`toolchain.cmd.run` (printed,
logged), and, for what writes commits or patch files, isolated from the user's and the system's
git configuration, so that ``format.*``, ``diff.*`` or hook settings in ``~/.gitconfig`` cannot
change a patch file's bytes (``GIT_CONFIG_GLOBAL`` needs git 2.32 or newer)."""

from __future__ import annotations

import os
from pathlib import Path

from . import cmd
from .errors import CommandError, WasiportsError

ISOLATED = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
#: Who commits in a dev tree made by wasiports (the base commit; git am keeps each author).
IDENTITY = {"GIT_AUTHOR_NAME": "wasiports", "GIT_AUTHOR_EMAIL": "wasiports@users.noreply.invalid",
            "GIT_COMMITTER_NAME": "wasiports",
            "GIT_COMMITTER_EMAIL": "wasiports@users.noreply.invalid"}


def run(tree: Path, *args: str, env: dict[str, str] | None = None, isolated: bool = True,
        log: Path | None = None) -> str:
    """``git <args>`` in ``tree``; its output (stdout and stderr)."""
    changes = {**(ISOLATED if isolated else {}), **(env or {})}
    return cmd.run(["git", *args], cwd=tree, env=changes, log=log, capture=True)


def is_repo(tree: Path) -> bool:
    return (tree / ".git").is_dir()


def uncommitted(tree: Path) -> list[str]:
    """``git status --porcelain`` lines: changed, staged and untracked files. Read with the
    user's own configuration, so their global ignore rules count."""
    return [line for line in run(tree, "status", "--porcelain", isolated=False).splitlines()
            if line.strip()]


def in_progress(tree: Path) -> str | None:
    """The git operation stopped half-way in ``tree`` (``git am`` after a conflict), if any."""
    git_dir = tree / ".git"
    for marker, what in (("rebase-apply", "git am (or rebase)"), ("rebase-merge", "git rebase"),
                         ("MERGE_HEAD", "git merge"), ("CHERRY_PICK_HEAD", "git cherry-pick")):
        if (git_dir / marker).exists():
            return what
    return None


def rev(tree: Path, name: str) -> str | None:
    """The commit ``name`` names in ``tree``, or None."""
    try:
        return run(tree, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}").strip() or None
    except CommandError:
        return None


def require(version: tuple[int, int] = (2, 32)) -> None:
    """Refuse a git older than ``version`` (GIT_CONFIG_GLOBAL, which isolation needs)."""
    out = cmd.run(["git", "--version"], capture=True).split()
    found = tuple(int(p) for p in (out[2].split(".")[:2] if len(out) > 2 else ["0", "0"])
                  if p.isdigit())
    if found < version:
        raise WasiportsError(
            f"git {'.'.join(map(str, version))} or newer is needed, found {' '.join(out[2:3])}",
            why="patch files are written with git isolated from ~/.gitconfig "
            "(GIT_CONFIG_GLOBAL), which older git ignores",
            hint="install a newer git (Debian 12 has 2.39)",
        )
