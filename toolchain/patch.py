"""Apply a recipe's patch series in order; stop at the first hunk that does not apply."""

from __future__ import annotations

import re
from pathlib import Path

from . import cmd
from .errors import CommandError, PatchError

_FAILED = re.compile(r"Hunk #\d+ FAILED at \d+.*|can't find file to patch.*|Reversed \(or previously applied\) patch detected.*|No file to patch.*|malformed patch.*")


def apply_series(patches: list[Path], tree: Path, *, log: Path | None = None) -> None:
    """``patch -p1`` each file; a dry run first, so a failing patch leaves the tree untouched."""
    for patch in patches:
        args = ["patch", "-p1", "--forward", "--batch", "--no-backup-if-mismatch", "-i", patch]
        try:
            cmd.run([*args, "--dry-run"], cwd=tree, log=log, capture=True)
        except CommandError as exc:
            out = exc.output
            hunks = _FAILED.findall(out)
            files = re.findall(r"patching file (\S+)", out)
            raise PatchError(
                f"patch {patch.name} does not apply to {tree.name}",
                why="; ".join(dict.fromkeys(hunks)) + (f" (last file: {files[-1]})" if files else "")
                or "patch(1) refused it (see the log)",
                hint=f"refresh {patch} against this version (edit the patched tree, then "
                "regenerate the patch) or drop it from the series",
            ) from None
        cmd.run(args, cwd=tree, log=log, capture=True)
        print(f"patch: applied {patch.name}")
