"""The build machine's own Debian packages: which of a list are missing, and installing them.

Used where wasiports needs something of the host itself (Debian's LLVM for the assembled SDK,
the headers a native build of an interpreter compiles against). Installing needs root; without it
the error names the exact command to run. Nothing under ``/etc/apt`` is read or changed here: the
system's apt installs from the system's sources.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import cmd
from .errors import WasiportsError


def missing(packages: list[str], log: Path | None = None) -> list[str]:
    """The packages of ``packages`` that dpkg does not list as installed, in order."""
    out = []
    for pkg in packages:
        try:
            status = cmd.run(["dpkg-query", "-W", "-f=${Status}", pkg], log=log, capture=True)
        except WasiportsError:  # dpkg-query exits 1 for a package it does not know
            status = ""
        if "install ok installed" not in status:
            out.append(pkg)
    return out


def install_command(packages: list[str]) -> str:
    return "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y " + " ".join(packages)


def ensure(packages: list[str], purpose: str, *, log: Path | None = None,
           error: type[WasiportsError] = WasiportsError, euid: int | None = None) -> list[str]:
    """Install the missing ones of ``packages`` (needed for ``purpose``); returns what was installed.

    Not root: ``error`` naming the packages and the command that installs them."""
    absent = missing(packages, log)
    if not absent:
        return []
    if (os.geteuid() if euid is None else euid) != 0:
        raise error(f"the host packages {purpose} needs are not installed",
                    why="missing: " + ", ".join(absent) + "; installing them needs root",
                    hint=f"run as root: {install_command(absent)}")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    cmd.run(["apt-get", "update"], env=env, log=log)
    cmd.run(["apt-get", "install", "-y", "--no-install-recommends", *absent], env=env, log=log)
    return absent
