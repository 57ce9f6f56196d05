"""What suite adapters that drive a packaged launcher from a host interpreter share."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .. import dist
from ..errors import HarnessError
from ..recipe import Recipe


def host_program(names: tuple[str, ...], *, env: str, purpose: str, package: str) -> str:
    """The first of ``$env`` and ``names`` found on PATH, e.g. the host PHP that runs run-tests.php."""
    for name in (os.environ.get(env, ""), *names):
        if name and (found := shutil.which(name)):
            return found
    raise HarnessError(f"no host program to {purpose}",
                       why=f"none of {', '.join(names)} is on PATH",
                       hint=f"run scripts/setup (it installs {package}) or set {env}")


def packaged_launcher(recipe: Recipe) -> Path:
    """The recipe's launcher in dist/, which the suite starts per test; an error if not packaged."""
    launcher = dist.launcher_path(recipe)
    if not launcher.is_file():
        raise HarnessError(f"{recipe.id}: no packaged launcher at {launcher}",
                           hint=f"run `doit dist:{recipe.id}` first")
    return launcher
