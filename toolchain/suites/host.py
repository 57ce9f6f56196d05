"""What suite adapters that drive a packaged launcher from a host interpreter share."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .. import dist
from ..errors import HarnessError
from ..recipe import Recipe


def host_program(recipe: Recipe) -> str:
    """The host program of the recipe's ``test.host`` (e.g. the PHP that runs run-tests.php):
    the first of its ``env`` variable and its ``names`` found on PATH."""
    host = recipe.test.host
    if host is None:
        raise HarnessError(f"{recipe.id}: the suite needs a host program and [test.host] names none",
                           hint=f"add [test.host] to {recipe.path.name}")
    for name in (os.environ.get(host.env, ""), *host.names):
        if name and (found := shutil.which(name)):
            return found
    raise HarnessError(f"no host program to {host.purpose}",
                       why=f"none of {', '.join(host.names)} is on PATH ({recipe.path.name}: test.host)",
                       hint=f"run scripts/setup (it installs {host.package}) or set {host.env}")


def packaged_launcher(recipe: Recipe) -> Path:
    """The recipe's launcher in dist/, which the suite starts per test; an error if not packaged."""
    launcher = dist.launcher_path(recipe)
    if not launcher.is_file():
        raise HarnessError(f"{recipe.id}: no packaged launcher at {launcher}",
                           hint=f"run `doit dist:{recipe.id}` first")
    return launcher
